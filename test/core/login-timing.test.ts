import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createArgon2Hasher } from '../../src/adapters/argon2.js';
import { Auth } from '../../src/core/auth.js';
import { cryptoRandom, ManualClock } from '../../src/core/clock.js';
import { loadConfig } from '../../src/core/config.js';
import type { AuthError } from '../../src/core/errors.js';
import type { PasswordHasher } from '../../src/core/passwords.js';
import { createMemoryStores } from '../../src/stores/memory.js';

const silent = { info() {}, warn() {}, error() {} };

describe('login timing', () => {
  it('an unknown username costs one Argon2 verify, like a wrong password', async () => {
    const real = createArgon2Hasher();
    const verified: string[] = [];
    // The real hasher, counting its calls: the equal-work property is what is under test.
    const hasher: PasswordHasher = {
      hash: (p) => real.hash(p),
      needsRehash: (h) => real.needsRehash(h),
      verify: (h, p) => {
        verified.push(h);
        return real.verify(h, p);
      },
    };
    const auth = await Auth.create({
      config: loadConfig({ FRONTDESK_DATA_DIR: '/unused' }),
      stores: createMemoryStores(),
      hasher,
      clock: new ManualClock(),
      random: cryptoRandom,
      log: silent,
    });
    await auth.register({ username: 'known', password: 'the right password' });
    const attempt = (username: string) =>
      auth.login({ username, password: 'a wrong password', mode: 'jwt', address: '127.0.0.1', userAgent: '' }).then(
        () => assert.fail('login should fail'),
        (e: unknown) => assert.equal((e as AuthError).code, 'invalid_credentials'),
      );
    await attempt('known');
    await attempt('nobody-by-this-name');
    assert.equal(verified.length, 2, 'one verify per attempt, known or not');
    assert.match(verified[1]!, /^\$argon2id\$v=19\$m=19456,p=1,t=2\$/, 'the dummy hash has the real parameters');
  });
});
