import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createArgon2Hasher } from '../../src/adapters/argon2.js';
import { Auth, type Log } from '../../src/core/auth.js';
import { ManualClock, cryptoRandom } from '../../src/core/clock.js';
import { loadConfig } from '../../src/core/config.js';
import { AuthError } from '../../src/core/errors.js';
import { composeStores } from '../../src/stores/index.js';
import { createMemoryStores } from '../../src/stores/memory.js';
import { openRedisStores } from '../../src/stores/redis.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { startProxy } from './proxy.js';
import { until } from '../helpers/wait.js';

/*
 * JWT verification during a Redis outage: the node keeps verifying with the
 * revocation state it has for Auth.REVOCATION_FEED_STALENESS_MS after its feed
 * went down, then fails closed with 503 until the feed is live again. The core's
 * clock is a ManualClock, so the bound is crossed without waiting for it.
 */

let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(() => server.stop());

const silent: Log = { info() {}, warn() {}, error() {} };
const PW = 'correct horse battery';
/** Redis going down and coming back takes seconds: a wider bound than the helper's default. */
const LONG = 20_000;


void describe('revocation feed staleness bound', () => {
  void it('verifies JWTs with the state it has while Redis is down, fails closed after the bound, and recovers by itself', { timeout: 60_000 }, async () => {
    const clock = new ManualClock(Date.now());
    const redis = await openRedisStores({ url: server.url, prefix: 'stale:', timeoutMs: 500 });
    const stores = composeStores(createMemoryStores(), redis);
    const config = loadConfig({ FRONTDESK_DATA_DIR: '/unused' });
    const auth = await Auth.create({ config, stores, hasher: createArgon2Hasher(), clock, random: cryptoRandom, log: silent });
    try {
      await auth.register({ username: 'ada', password: PW });
      const login = await auth.login({ username: 'ada', password: PW, mode: 'jwt', address: '192.0.2.1', userAgent: 'test' });
      assert.ok(login.mode === 'jwt');
      const token = login.accessToken;
      assert.equal(auth.authenticateBearer(token).kind, 'token');

      await server.kill();
      await until('the feed to go down', async () => (await stores.ping())['redis'] !== 'ok', LONG);
      clock.advance(Auth.REVOCATION_FEED_STALENESS_MS);
      assert.equal(auth.authenticateBearer(token).kind, 'token', 'still verified at the bound');
      clock.advance(1);
      assert.throws(
        () => auth.authenticateBearer(token),
        (e: unknown) => e instanceof AuthError && e.code === 'unavailable',
        'refused as unavailable past the bound',
      );
      assert.throws(() => auth.authenticateBearer('not.a.token'), (e: unknown) => e instanceof AuthError && e.code !== 'unavailable', 'a bad token is still just bad');

      await server.restart();
      await until('the feed to be live again', async () => {
        try {
          auth.authenticateBearer(token);
          return true;
        } catch {
          return false;
        }
      }, LONG);
      // The main connection reconnects on its own schedule, a moment before or after the feed's.
      await until('the stores to be ready', async () => (await stores.ping())['redis'] === 'ok', LONG);
    } finally {
      auth.close();
      await stores.close();
    }
  });

  void it('a node cut off from Redis while another revokes a token accepts it only within the bound, then 503, and refuses it once reconnected', { timeout: 60_000 }, async () => {
    const clock = new ManualClock(Date.now());
    const proxy = await startProxy(server.port);
    const shared = createMemoryStores(); // users and keys, as one SQL database would be
    const config = loadConfig({ FRONTDESK_DATA_DIR: '/unused' });
    const deps = { config, hasher: createArgon2Hasher(), clock, random: cryptoRandom, log: silent };
    const storesA = composeStores(shared, await openRedisStores({ url: `redis://127.0.0.1:${proxy.port}`, prefix: 'part:', timeoutMs: 500 }));
    const storesB = composeStores(shared, await openRedisStores({ url: server.url, prefix: 'part:' }));
    const a = await Auth.create({ ...deps, stores: storesA });
    const b = await Auth.create({ ...deps, stores: storesB });
    const code = (fn: () => unknown): string => {
      try {
        fn();
        return 'ok';
      } catch (e) {
        return e instanceof AuthError ? e.code : String(e);
      }
    };
    try {
      await b.register({ username: 'grace', password: PW });
      const login = await b.login({ username: 'grace', password: PW, mode: 'jwt', address: '192.0.2.2', userAgent: 'test' });
      assert.ok(login.mode === 'jwt');
      const token = login.accessToken;
      assert.equal(code(() => a.authenticateBearer(token)), 'ok');

      proxy.cut();
      await until('node A to lose its feed', async () => (await storesA.ping())['redis'] !== 'ok', LONG);
      await b.logout(b.authenticateBearer(token));
      assert.equal(code(() => b.authenticateBearer(token)), 'invalid_token', 'refused at once where it was revoked');
      // The documented degradation: A cannot know, and accepts the token up to the bound…
      clock.advance(Auth.REVOCATION_FEED_STALENESS_MS);
      assert.equal(code(() => a.authenticateBearer(token)), 'ok');
      // …and no longer after it.
      clock.advance(1);
      assert.equal(code(() => a.authenticateBearer(token)), 'unavailable');

      proxy.heal();
      await until('node A to answer again', () => code(() => a.authenticateBearer(token)) !== 'unavailable', LONG);
      // The missed logout was applied before the feed said live: A never accepts the token again.
      assert.equal(code(() => a.authenticateBearer(token)), 'invalid_token');
    } finally {
      a.close();
      b.close();
      await Promise.all([storesA.close(), storesB.close()]);
      await proxy.close();
    }
  });
});
