import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { Stores, UserRecord } from '../../src/core/ports.js';
import { composeStores, openStores } from '../../src/stores/index.js';
import { openPostgresStores } from '../../src/stores/postgres.js';
import { openRedisStores } from '../../src/stores/redis.js';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { startRedis, type RedisServer } from '../harness/redis.js';
import { storeContract } from './contract.js';

/*
 * openStores in every combination the configuration allows, and the contract
 * against the composition it builds for PostgreSQL + Redis (users, keys and
 * families in SQL; sessions, events and rate limits in Redis), each test in a
 * fresh schema and key prefix.
 */

let postgres: PostgresServer;
let redis: RedisServer;
const root = mkdtempSync(join(tmpdir(), 'frontdesk-composite-'));
before(async () => {
  [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
});
after(async () => {
  await Promise.all([postgres?.stop(), redis?.stop()]);
  rmSync(root, { recursive: true, force: true });
});

let opened = 0;
storeContract('postgres + redis', async () => {
  const n = ++opened;
  // What openStores builds for DATABASE_URL + REDIS_URL, in a schema and a prefix of its own.
  const stores = composeStores(
    await openPostgresStores({ url: postgres.url, schema: `c${n}_${process.pid}`, poolSize: 3, feed: false }),
    await openRedisStores({ url: redis.url, prefix: `c${n}:` }),
  );
  return { stores, close: () => stores.close() };
});

const T0 = Date.UTC(2026, 0, 1);
const user: UserRecord = {
  id: 'u-1', username: 'Ada', usernameKey: 'ada', name: 'Ada', role: 'user', disabled: false, passwordHash: 'h', createdAt: T0, updatedAt: T0,
};

async function sqlCount(table: string): Promise<number> {
  const c = new pg.Client({ connectionString: postgres.url });
  await c.connect();
  try {
    return Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM public.${table}`)).rows[0]?.n);
  } finally {
    await c.end();
  }
}

/** Writes one of each record through `stores`, for the tests that then look where it landed. */
async function writeOneOfEach(stores: Stores): Promise<void> {
  await stores.users.createUser({ ...user, id: `u-${Math.random()}`, usernameKey: `ada-${Math.random()}` });
  const [u] = (await stores.users.listUsers({ limit: 1 })).users;
  await stores.sessions.createSession({
    idHash: `s-${Math.random()}`, publicId: `p-${Math.random()}`, userId: u!.id, csrfHash: 'c', createdAt: T0, lastUsedAt: T0, idleExpiresAt: Date.now() + 60_000, expiresAt: Date.now() + 60_000, userAgent: 'ua',
  });
  await stores.refresh.createFamily({
    id: `f-${Math.random()}`, userId: u!.id, csrfHash: 'c', currentHash: `t-${Math.random()}`, createdAt: T0, lastUsedAt: T0, expiresAt: Date.now() + 60_000, userAgent: 'ua',
    revokedAt: null, revokedReason: null,
  });
  await stores.revocations.append({ type: 'all', not_before: 1 }, Date.now() + 60_000);
}

void describe('openStores in every combination', () => {
  void it('SQLite alone when neither DATABASE_URL nor REDIS_URL is set', async () => {
    const stores = await openStores({ dataDir: join(root, 'sqlite-only') });
    try {
      assert.deepEqual(await stores.ping(), { sqlite: 'ok' });
    } finally {
      await stores.close();
    }
  });

  void it('PostgreSQL alone: everything in SQL, events between nodes by LISTEN/NOTIFY', async () => {
    const stores = await openStores({ dataDir: join(root, 'unused-1'), databaseUrl: postgres.url });
    try {
      assert.deepEqual(await stores.ping(), { postgres: 'ok' });
      const before = await sqlCount('sessions');
      await writeOneOfEach(stores);
      assert.equal(await sqlCount('sessions'), before + 1);
      let heard = 0;
      const off = stores.revocations.subscribe(() => heard++);
      await stores.revocations.append({ type: 'key', kid: 'k' }, Date.now() + 60_000);
      for (let i = 0; heard === 0 && i < 500; i++) await new Promise((r) => setTimeout(r, 10));
      off();
      assert.equal(heard, 1);
    } finally {
      await stores.close();
    }
  });

  void it('PostgreSQL + Redis: users, keys and families in SQL; sessions, events and rate limits in Redis', async () => {
    const stores = await openStores({ dataDir: join(root, 'unused-2'), databaseUrl: postgres.url, redisUrl: redis.url });
    try {
      assert.deepEqual(await stores.ping(), { postgres: 'ok', redis: 'ok' });
      const [sessions, families, events, users] = await Promise.all(['sessions', 'refresh_families', 'revocation_events', 'users'].map(sqlCount));
      const keysBefore = Number(await redis.cli('DBSIZE'));
      await writeOneOfEach(stores);
      await stores.rateLimits.hit('k', 60_000, T0);
      assert.equal(await sqlCount('users'), users! + 1);
      assert.equal(await sqlCount('refresh_families'), families! + 1, 'families are durable SQL rows');
      assert.equal(await sqlCount('sessions'), sessions, 'no session row in SQL');
      assert.equal(await sqlCount('revocation_events'), events, 'no event row in SQL');
      // A session (+ its two index keys), the stream and a rate-limit window.
      assert.ok(Number(await redis.cli('DBSIZE')) >= keysBefore + 4);
      assert.equal(await redis.cli('TYPE', 'fd:{ev}'), 'stream');
      const swept = await stores.sweepExpired(Date.now() + 120_000);
      assert.deepEqual(Object.keys(swept).sort(), ['events', 'families', 'grants', 'keys', 'rateLimits', 'sessions']);
      assert.ok((swept['sessions'] ?? 0) >= 1 && (swept['families'] ?? 0) >= 1 && (swept['events'] ?? 0) >= 1);
    } finally {
      await stores.close();
    }
  });

  void it('SQLite + Redis: users, keys and families in the SQLite file; the rest in Redis', async () => {
    const stores = await openStores({ dataDir: join(root, 'sqlite-redis'), redisUrl: redis.url });
    try {
      assert.deepEqual(await stores.ping(), { sqlite: 'ok', redis: 'ok' });
      await writeOneOfEach(stores);
      assert.equal(await redis.cli('TYPE', 'fd:{ev}'), 'stream');
    } finally {
      await stores.close();
    }
  });

  void it('fails the start naming the variable (password masked) when a backend cannot be reached, and leaves nothing open', async () => {
    const deadPort = String(redis.port + 1);
    await assert.rejects(openStores({ dataDir: join(root, 'x'), redisUrl: `redis://:hunter22@127.0.0.1:${deadPort}` }), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /REDIS_URL redis:\/\/:\*\*\*@127\.0\.0\.1/);
      assert.doesNotMatch(e.message, /hunter22/);
      return true;
    });
    await assert.rejects(openStores({ dataDir: join(root, 'x'), databaseUrl: `postgres://fd:hunter22@127.0.0.1:${deadPort}/fd` }), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /DATABASE_URL postgres:\/\/fd:\*\*\*@127\.0\.0\.1/);
      assert.doesNotMatch(e.message, /hunter22/);
      return true;
    });
    await assert.rejects(openStores({ dataDir: join(root, 'x'), databaseUrl: postgres.url, redisUrl: `redis://127.0.0.1:${deadPort}` }), /REDIS_URL/);
  });
});
