import { join } from 'node:path';
import type { Stores } from '../core/ports.js';
import { openSqliteStores } from './sqlite.js';

/**
 * Opens the stores the configuration asks for. Today that is the embedded
 * SQLite database at `<dataDir>/frontdesk.db`; PostgreSQL (`databaseUrl`) and
 * Redis (`redisUrl`) are refused loudly rather than silently ignored, so a
 * deployment never believes it is on a shared backend while writing to a local file.
 *
 * @example
 * const stores = await openStores({ dataDir: './data' });
 * try { await stores.ping(); } finally { await stores.close(); }
 */
export function openStores(config: { dataDir: string; databaseUrl?: string; redisUrl?: string }): Promise<Stores> {
  if (config.databaseUrl !== undefined) {
    return Promise.reject(
      new Error('DATABASE_URL is set, but the PostgreSQL store lands with the stores issue; unset it to use SQLite in FRONTDESK_DATA_DIR.'),
    );
  }
  if (config.redisUrl !== undefined) {
    return Promise.reject(
      new Error('REDIS_URL is set, but the Redis store lands with the stores issue; unset it to use SQLite in FRONTDESK_DATA_DIR.'),
    );
  }
  try {
    return Promise.resolve(openSqliteStores({ file: join(config.dataDir, 'frontdesk.db') }));
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }
}
