import { createMemoryStores } from '../../src/stores/memory.js';
import { storeContract } from './contract.js';

storeContract('memory', () => {
  const stores = createMemoryStores();
  return Promise.resolve({ stores, close: () => stores.close() });
});
