import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient } from 'redis';
import { StoreUnavailableError } from '../../src/core/errors.js';
import type { FeedState, StoredEvent } from '../../src/core/ports.js';
import { composeStores } from '../../src/stores/index.js';
import { createMemoryStores } from '../../src/stores/memory.js';
import { openRedisStores, type RedisStores } from '../../src/stores/redis.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { startProxy } from '../multinode/proxy.js';
import { storeContract } from './contract.js';
import { eventually } from '../helpers/wait.js';

/*
 * One throwaway redis-server for the file. Each opened store set gets its own
 * key prefix, so every contract test starts empty without a FLUSHALL. Users and
 * keys come from the memory backend (Redis does not hold them); families are
 * Redis's own here, so its Lua rotation runs the whole contract.
 */

let server: RedisServer;
before(async () => {
  server = await startRedis();
});
after(() => server.stop());

let prefixes = 0;
const freshPrefix = (): string => `t${++prefixes}:`;

storeContract('redis', async () => {
  const redis = await openRedisStores({ url: server.url, prefix: freshPrefix() });
  const stores = composeStores(createMemoryStores(), redis, { familiesIn: 'redis' });
  return { stores, close: () => stores.close() };
});

const T0 = Date.UTC(2026, 0, 1);


async function withRedis<T>(fn: (r: RedisStores) => Promise<T>, prefix = freshPrefix()): Promise<T> {
  const r = await openRedisStores({ url: server.url, prefix, timeoutMs: 1000 });
  try {
    return await fn(r);
  } finally {
    await r.close();
  }
}

void describe('redis store specifics', () => {
  void it('puts a TTL on every key it writes except the event stream', async () => {
    const prefix = freshPrefix();
    await withRedis(async (r) => {
      await r.sessions.createSession({
        idHash: 'h1', publicId: 'p1', userId: 'u1', csrfHash: 'c', createdAt: T0, lastUsedAt: T0, idleExpiresAt: T0 + 1_800_000, expiresAt: T0 + 43_200_000, userAgent: 'ua',
      });
      await r.sessions.touchSession('h1', T0 + 60_000, T0 + 1_860_000);
      await r.refresh.createFamily({
        id: 'f1', userId: 'u1', csrfHash: 'c', currentHash: 't1', createdAt: T0, lastUsedAt: T0, expiresAt: T0 + 1_209_600_000, userAgent: 'ua',
        revokedAt: null, revokedReason: null,
      });
      await r.refresh.rotateRefresh({ oldHash: 't1', nextHash: 't2', now: T0 + 1000, graceMs: 10_000, grant: { jti: 'j', exp: T0 / 1000 + 600 } });
      await r.rateLimits.hit('login:user:alice', 900_000, T0);
      await r.revocations.append({ type: 'jti', jti: 'j', exp: T0 / 1000 }, T0 + 600_000);
      const keys = (await server.cli('--scan', '--pattern', `${prefix}*`)).split('\n').filter(Boolean).sort();
      assert.equal(keys.length, 12, keys.join(' '));
      for (const key of keys) {
        const pttl = Number(await server.cli('PTTL', key));
        if (key === r.keys.events) assert.equal(pttl, -1, 'the stream keeps its last id: trimmed by MINID and sweeps instead');
        else assert.ok(pttl > 0, `${key} has a TTL (${pttl})`);
      }
      // The session lives until its idle deadline plus a minute of slack, measured from its last use.
      assert.ok(Number(await server.cli('PTTL', r.keys.session('h1'))) <= 1_800_000 + 60_000);
      // A family's grants live until its last access token expires, plus the slack: not for the family's two weeks.
      assert.ok(Number(await server.cli('PTTL', r.keys.familyGrants('f1'))) <= 600_000 - 1000 + 60_000);
    }, prefix);
  });

  void it("adopts a family's grants written as a JSON field by an earlier release, for rotation and revocation alike", async () => {
    await withRedis(async (r) => {
      const now = Date.now();
      const nowS = Math.floor(now / 1000);
      const legacy = JSON.stringify([{ jti: 'old-live', exp: nowS + 600 }, { jti: 'old-expired', exp: nowS - 1 }]);
      for (const id of ['rotated-first', 'revoked-first']) {
        await r.refresh.createFamily({
          id, userId: 'u1', csrfHash: 'c', currentHash: `t-${id}`, createdAt: now, lastUsedAt: now, expiresAt: now + 3_600_000, userAgent: 'ua',
          revokedAt: null, revokedReason: null,
        });
        // As the earlier release left it: grants in the hash's `g` field, no grants key.
        await r.command(r.keys.family(id), ['HSET', r.keys.family(id), 'g', legacy]);
      }
      const rotated = await r.refresh.rotateRefresh({ oldHash: 't-rotated-first', nextHash: 't-next', now, graceMs: 10_000, grant: { jti: 'new', exp: nowS + 600 } });
      assert.ok(rotated.status === 'rotated');
      assert.equal(await r.command(r.keys.family('rotated-first'), ['HEXISTS', r.keys.family('rotated-first'), 'g']), 0, 'the field is gone once adopted');
      const a = await r.refresh.revokeFamily('u1', 'rotated-first', 'logout', now);
      assert.deepEqual(a?.grants.map((g) => g.jti).sort(), ['new', 'old-live']);
      const b = await r.refresh.revokeFamily('u1', 'revoked-first', 'logout', now);
      assert.deepEqual(b?.grants, [{ jti: 'old-live', exp: nowS + 600 }]);
      assert.ok(b && !('g' in b));
    });
  });

  void it('writes cursors as one decimal (like the SQL backends), replays an old SQL cursor from the start, and rejects forged ones', async () => {
    await withRedis(async (r) => {
      const e = await r.revocations.append({ type: 'key', kid: 'k' }, Date.now() + 60_000);
      const f = await r.revocations.append({ type: 'key', kid: 'k2' }, Date.now() + 60_000);
      assert.match(e.id, /^[1-9]\d{18}$/, 'milliseconds, then the sequence as 6 digits');
      assert.ok(BigInt(f.id) > BigInt(e.id));
      assert.deepEqual(await r.revocations.since(null, 10, Date.now()), [e, f]);
      assert.deepEqual(await r.revocations.since(e.id, 10, Date.now()), [f]);
      assert.deepEqual(await r.revocations.since('42', 10, Date.now()), [e, f]);
      await assert.rejects(r.revocations.since('1-0', 10, T0), /cursor/);
      await assert.rejects(r.revocations.since('+', 10, T0), /cursor/);
      await assert.rejects(r.revocations.since('01', 10, T0), /cursor/);
    });
  });

  void it("delivers another node's events within 100 ms, and publishes them on the pub/sub channel for other services", async () => {
    const prefix = freshPrefix();
    const a = await openRedisStores({ url: server.url, prefix });
    const b = await openRedisStores({ url: server.url, prefix });
    // A service that shares the Redis, listening the plain pub/sub way.
    const sub = createClient({ url: server.url });
    await sub.connect();
    const published: unknown[] = [];
    await sub.subscribe(a.keys.channel, (message) => published.push(JSON.parse(message)));
    try {
      const heard: { e: StoredEvent; at: number }[] = [];
      b.revocations.subscribe((e) => heard.push({ e, at: performance.now() }));
      const latencies: number[] = [];
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        const sent = await a.revocations.append({ type: 'jti', jti: `j${i}`, exp: T0 / 1000 }, Date.now() + 60_000);
        const got = await eventually('delivery', () => heard.find((h) => h.e.id === sent.id));
        latencies.push(got.at - t);
      }
      latencies.sort((x, y) => x - y);
      console.log(`# redis feed: append → other node's listener, 20 events: median ${latencies[10]?.toFixed(1)} ms, max ${latencies[19]?.toFixed(1)} ms`);
      assert.ok((latencies[19] ?? Infinity) < 100, `every event within 100 ms (max ${latencies[19]} ms)`);
      assert.deepEqual(
        heard.map((h) => h.e.event),
        Array.from({ length: 20 }, (_, i) => ({ type: 'jti', jti: `j${i}`, exp: T0 / 1000 })),
      );
      await eventually('20 messages', () => (published.length >= 20 ? true : undefined));
      assert.deepEqual(
        published,
        heard.map((h) => h.e),
        'the channel carries {id, event} with the same cursors',
      );
    } finally {
      await Promise.all([a.close(), b.close(), sub.close()]);
    }
  });

  void it('answers unavailable at once while Redis is down, and recovers by itself', { timeout: 60_000 }, async () => {
    const prefix = freshPrefix();
    const node = await openRedisStores({ url: server.url, prefix, timeoutMs: 1000 });
    const states: FeedState[] = [];
    node.revocations.subscribe(
      () => undefined,
      (s) => states.push(s),
    );
    try {
      await node.sessions.findSession('x', T0);
      await server.kill();
      await eventually('feed down', () => (states.includes('down') ? true : undefined));
      const t0 = Date.now();
      await assert.rejects(async () => node.sessions.findSession('x', T0), StoreUnavailableError);
      await assert.rejects(node.revocations.append({ type: 'all', not_before: 1 }, T0), StoreUnavailableError);
      await assert.rejects(node.rateLimits.hit('k', 1000, T0), StoreUnavailableError);
      assert.ok(Date.now() - t0 < 1000, 'commands are not queued while disconnected');
      assert.equal((await node.ping())['redis'], 'unavailable');

      await server.restart();
      await eventually('feed live again', () => (states.at(-1) === 'live' ? true : undefined), 30_000);
      assert.deepEqual(await node.ping(), { redis: 'ok' });
      assert.equal(await node.sessions.findSession('x', T0), null);
      // Scripts are gone from the restarted server's cache: EVALSHA falls back to EVAL once.
      assert.equal((await node.rateLimits.hit('k', 1000, T0)).count, 1);
    } finally {
      await node.close();
    }
  });

  void it('a node cut off from Redis catches up on the events it missed before its feed says live again', { timeout: 60_000 }, async () => {
    const prefix = freshPrefix();
    const proxy = await startProxy(server.port);
    const node = await openRedisStores({ url: `redis://127.0.0.1:${proxy.port}`, prefix, timeoutMs: 1000 });
    const other = await openRedisStores({ url: server.url, prefix });
    // One log of both callbacks, so the order of deliveries and states is visible.
    const log: string[] = [];
    node.revocations.subscribe(
      (e) => log.push(e.id),
      (s) => log.push(s),
    );
    try {
      const before = await other.revocations.append({ type: 'key', kid: 'k0' }, Date.now() + 60_000);
      await eventually('the first event', () => (log.includes(before.id) ? true : undefined));
      proxy.cut();
      await eventually('feed down', () => (log.includes('down') ? true : undefined));
      const missed = [];
      for (let i = 1; i <= 3; i++) missed.push((await other.revocations.append({ type: 'key', kid: `k${i}` }, Date.now() + 60_000)).id);
      assert.ok(!missed.some((id) => log.includes(id)), 'nothing reaches a node that is cut off');
      proxy.heal();
      await eventually('feed live again', () => (log.at(-1) === 'live' ? true : undefined), 30_000);
      assert.deepEqual(log, [before.id, 'down', ...missed, 'live']);
    } finally {
      await Promise.all([node.close(), other.close()]);
      await proxy.close();
    }
  });

  void it('reports MEMORY USAGE per session, family and denylist entry, for the resolve note', async () => {
    await withRedis(async (r) => {
      const n = 200;
      const now = Date.now();
      const pad = (s: string, len: number): string => s.padEnd(len, 'x');
      for (let i = 0; i < n; i++) {
        await r.sessions.createSession({
          idHash: pad(`h${i}`, 43), publicId: pad(`p${i}`, 22), userId: pad(`u${i % 50}`, 22), csrfHash: pad(`c${i}`, 43),
          createdAt: now, lastUsedAt: now, idleExpiresAt: now + 1_800_000, expiresAt: now + 43_200_000, userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
        });
        await r.refresh.createFamily({
          id: pad(`f${i}`, 22), userId: pad(`u${i % 50}`, 22), csrfHash: pad(`c${i}`, 43), currentHash: pad(`t${i}`, 43),
          createdAt: now, lastUsedAt: now, expiresAt: now + 1_209_600_000, userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
          revokedAt: null, revokedReason: null,
        }, { jti: pad(`j${i}`, 22), exp: Math.floor(now / 1000) + 600 });
        await r.revocations.append({ type: 'jti', jti: pad(`d${i}`, 22), exp: Math.floor(now / 1000) + 600 }, now + 630_000);
      }
      const usage = async (key: string): Promise<number> => Number(await r.command(key, ['MEMORY', 'USAGE', key, 'SAMPLES', '0']));
      const sum = async (keys: string[]): Promise<number> => (await Promise.all(keys.map(usage))).reduce((a, b) => a + b, 0);
      const sessionKeys = Array.from({ length: n }, (_, i) => r.keys.session(pad(`h${i}`, 43)));
      const users = Array.from({ length: 50 }, (_, i) => pad(`u${i}`, 22));
      const session = (await sum(sessionKeys)) / n;
      const sessionIdx = ((await sum(users.map((u) => r.keys.userSessions(u)))) + (await usage(r.keys.sessionIndex))) / n;
      const family = (await sum(Array.from({ length: n }, (_, i) => r.keys.family(pad(`f${i}`, 22))))) / n;
      const familyTokens =
        ((await sum(Array.from({ length: n }, (_, i) => r.keys.familyTokens(pad(`f${i}`, 22))))) + (await sum(Array.from({ length: n }, (_, i) => r.keys.token(pad(`t${i}`, 43)))))) / n;
      const familyIdx = ((await sum(users.map((u) => r.keys.userFamilies(u)))) + (await usage(r.keys.familyIndex))) / n;
      const denylist = (await usage(r.keys.events)) / n;
      const rotated = await r.refresh.rotateRefresh({ oldHash: pad('t0', 43), nextHash: pad('t0-next', 43), now: now + 1000, graceMs: 10_000, grant: { jti: pad('jn', 22), exp: Math.floor(now / 1000) + 1200 } });
      assert.equal(rotated.status, 'rotated');
      const perRotation = (await usage(r.keys.familyTokens(pad('f0', 22)))) + (await usage(r.keys.token(pad('t0-next', 43)))) - familyTokens;
      const grants = (await usage(r.keys.familyGrants(pad('f0', 22)))) / 2; // the login's grant and the rotation's
      const f = (x: number): string => `${Math.round(x)} B`;
      console.log(
        `# redis MEMORY USAGE: session ${f(session)} + ${f(sessionIdx)} in indexes; ` +
          `family ${f(family)} + first token ${f(familyTokens)} + ${f(familyIdx)} in indexes, each rotation ≈ +${f(perRotation)} ` +
          `+ ≈${f(grants)} per unexpired access token (grants ZSET, two members); ` +
          `denylist (stream) entry ${f(denylist)}`,
      );
      assert.ok(session > 0 && family > 0 && denylist > 0);
    });
  });
});
