import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { StoreUnavailableError } from '../../src/core/errors.js';
import type { FeedState, StoredEvent, Stores, UserRecord } from '../../src/core/ports.js';
import { openPostgresStores } from '../../src/stores/postgres.js';
import { postgresMigrations } from '../../src/stores/sql/postgres-migrations.js';
import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { storeContract } from './contract.js';
import { eventually } from '../helpers/wait.js';

/*
 * One throwaway PostgreSQL server for the file; every opened store set gets its
 * own fresh schema, so each contract test starts empty and the migrations run
 * every time.
 */

let server: PostgresServer;
before(async () => {
  server = await startPostgres();
});
after(() => server.stop());

let schemas = 0;
const freshSchema = (): string => `s${++schemas}_${process.pid}`;

storeContract('postgres', async () => {
  const stores = await openPostgresStores({ url: server.url, schema: freshSchema(), poolSize: 4 });
  return { stores, close: () => stores.close() };
});

const T0 = Date.UTC(2026, 0, 1);
const alice: UserRecord = {
  id: 'u-alice',
  username: 'Alice',
  usernameKey: 'alice',
  name: 'Alice',
  role: 'admin',
  disabled: false,
  passwordHash: 'hash',
  createdAt: T0,
  updatedAt: T0,
};

async function sql<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: server.url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}


void describe('postgres store specifics', () => {
  void it('applies each migration exactly once when several nodes open a fresh database at the same moment', async () => {
    const schema = freshSchema();
    const opened = await Promise.all(Array.from({ length: 5 }, () => openPostgresStores({ url: server.url, schema, poolSize: 2 })));
    await Promise.all(opened.map((s) => s.close()));
    const rows = await sql<{ version: number; name: string }>(`SELECT version, name FROM ${schema}.schema_migrations ORDER BY version`);
    assert.deepEqual(
      rows,
      postgresMigrations.map((m) => ({ version: m.version, name: m.name })),
    );
  });

  void it('moves the grants of families written before the grants table into it, so a revocation still denies them', async () => {
    const schema = freshSchema();
    const before = postgresMigrations.findIndex((m) => m.name === 'refresh_grants_table');
    assert.ok(before > 0);
    // A database as the release before the grants table left it: migrations up to it, a family with its JSON grants.
    await sql(`CREATE SCHEMA ${schema}`);
    await sql(`CREATE TABLE ${schema}.schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
    for (const m of postgresMigrations.slice(0, before)) {
      await sql(`SET search_path = ${schema}; ${m.sql}`);
      await sql(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
    }
    await sql(
      `INSERT INTO ${schema}.users (id, username, username_key, name, role, disabled, password_hash, created_at, updated_at)
       VALUES ('u-alice', 'Alice', 'alice', 'Alice', 'admin', false, 'hash', $1, $1)`,
      [T0],
    );
    const grants = [{ jti: 'old-live', exp: T0 / 1000 + 600 }, { jti: 'old-expired', exp: T0 / 1000 - 1 }, { jti: 'old-live-2', exp: T0 / 1000 + 900 }];
    await sql(
      `INSERT INTO ${schema}.refresh_families (id, user_id, csrf_hash, current_hash, created_at, last_used_at, expires_at, user_agent, grants)
       VALUES ('fam-old', 'u-alice', 'c', 'rt-old', $1, $1, $2, 'ua', $3)`,
      [T0, T0 + 3_600_000, JSON.stringify(grants)],
    );
    await sql(`INSERT INTO ${schema}.refresh_tokens (token_hash, family_id) VALUES ('rt-old', 'fam-old')`);

    const stores = await openPostgresStores({ url: server.url, schema, poolSize: 2 });
    try {
      const r = await stores.refresh.rotateRefresh({ oldHash: 'rt-old', nextHash: 'rt-new', now: T0, graceMs: 10_000, grant: { jti: 'new', exp: T0 / 1000 + 600 } });
      assert.ok(r.status === 'rotated');
      assert.deepEqual(r.family, {
        id: 'fam-old', userId: 'u-alice', csrfHash: 'c', currentHash: 'rt-new', createdAt: T0, lastUsedAt: T0,
        expiresAt: T0 + 3_600_000, userAgent: 'ua', revokedAt: null, revokedReason: null,
      });
      const revoked = await stores.refresh.revokeFamily('u-alice', 'fam-old', 'logout', T0);
      assert.deepEqual(revoked?.grants.map((g) => g.jti).sort(), ['new', 'old-live', 'old-live-2']);
    } finally {
      await stores.close();
    }
  });

  void it('refuses a database written by a newer Frontdesk, naming both versions', async () => {
    const schema = freshSchema();
    await (await openPostgresStores({ url: server.url, schema })).close();
    const future = postgresMigrations.length + 1;
    await sql(`INSERT INTO ${schema}.schema_migrations (version, name) VALUES ($1, 'from_the_future')`, [future]);
    await assert.rejects(
      openPostgresStores({ url: server.url, schema }),
      new RegExp(`schema version ${future}, newer than this Frontdesk build knows \\(${postgresMigrations.length}\\)`),
    );
  });

  void it('names DATABASE_URL, without the password, when the database cannot be reached at start-up', async () => {
    const url = `postgres://frontdesk:s3cret@127.0.0.1:${server.port + 1}/frontdesk`;
    await assert.rejects(openPostgresStores({ url, timeoutMs: 1000 }), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /DATABASE_URL/);
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    });
  });

  void it('lets exactly one of 50 rotations spread over three nodes (three pools) rotate, the rest get grace', async () => {
    const schema = freshSchema();
    const nodes = await Promise.all([1, 2, 3].map(() => openPostgresStores({ url: server.url, schema, poolSize: 5, feed: false })));
    try {
      const [a] = nodes as [Stores, Stores, Stores];
      await a.users.createUser(alice);
      await a.refresh.createFamily({
        id: 'fam-race', userId: alice.id, csrfHash: 'c', currentHash: 'rt-race', createdAt: T0, lastUsedAt: T0,
        expiresAt: T0 + 3_600_000, userAgent: 'ua', revokedAt: null, revokedReason: null,
      });
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          nodes[i % 3]!.refresh.rotateRefresh({ oldHash: 'rt-race', nextHash: 'rt-next', now: T0 + 1000, graceMs: 10_000, grant: { jti: `j${i}`, exp: T0 / 1000 + 600 } }),
        ),
      );
      const statuses = results.map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 'rotated').length, 1, statuses.join());
      assert.equal(statuses.filter((s) => s === 'grace').length, 49, statuses.join());
      const family = await a.refresh.findFamilyByToken('rt-next', T0 + 1000);
      assert.equal(family?.currentHash, 'rt-next');
      assert.equal((await a.refresh.revokeFamily(alice.id, 'fam-race', 'logout', T0 + 1000))?.grants.length, 50);
    } finally {
      await Promise.all(nodes.map((n) => n.close()));
    }
  });

  void it("hears another node's revocation events through LISTEN/NOTIFY, in order", async () => {
    const schema = freshSchema();
    const [a, b] = await Promise.all([1, 2].map(() => openPostgresStores({ url: server.url, schema, poolSize: 2 })));
    try {
      const heard: StoredEvent[] = [];
      const off = b!.revocations.subscribe((e) => heard.push(e));
      const sent: StoredEvent[] = [];
      for (let i = 0; i < 5; i++) sent.push(await a!.revocations.append({ type: 'jti', jti: `j${i}`, exp: T0 / 1000 }, T0 + 60_000));
      await eventually('5 events', () => (heard.length >= 5 ? true : undefined));
      assert.deepEqual(heard, sent);
      off();
    } finally {
      await Promise.all([a!.close(), b!.close()]);
    }
  });

  void it('reports the feed down while PostgreSQL restarts, then catches up on what it missed before it says live', { timeout: 60_000 }, async () => {
    const schema = freshSchema();
    const listener = await openPostgresStores({ url: server.url, schema, poolSize: 2, timeoutMs: 2000 });
    const heard: StoredEvent[] = [];
    const states: FeedState[] = [];
    listener.revocations.subscribe(
      (e) => heard.push(e),
      (s) => states.push(s),
    );
    try {
      await server.restart();
      await eventually('feed down', () => (states.includes('down') ? true : undefined));
      // Another node writes while the listener may still be reconnecting.
      const writer = await openPostgresStores({ url: server.url, schema, poolSize: 2, feed: false });
      const missed = await writer.revocations.append({ type: 'all', not_before: T0 / 1000 }, Date.now() + 60_000);
      await writer.close();
      await eventually('feed live', () => (states.at(-1) === 'live' ? true : undefined), 30_000);
      await eventually('the missed event', () => (heard.some((e) => e.id === missed.id) ? true : undefined));
      // Service resumed without reopening: the pool replaced its dead connections.
      assert.equal((await listener.ping())['postgres'], 'ok');
      assert.equal(await listener.users.findUserById('nobody'), null);
    } finally {
      await listener.close();
    }
  });

  void it('answers unavailable (not a crash, not a hang) while PostgreSQL is down, and recovers by itself', { timeout: 60_000 }, async () => {
    const schema = freshSchema();
    const stores = await openPostgresStores({ url: server.url, schema, poolSize: 2, timeoutMs: 1000, feed: false });
    try {
      await stores.users.createUser(alice);
      // The harness runs with synchronous_commit=off: without a checkpoint a kill may take the fresh schema with it.
      await sql('CHECKPOINT');
      await server.kill();
      const t0 = Date.now();
      await assert.rejects(stores.users.findUserById(alice.id), StoreUnavailableError);
      await assert.rejects(stores.refresh.rotateRefresh({ oldHash: 'a', nextHash: 'b', now: T0, graceMs: 0, grant: { jti: 'j', exp: 0 } }), StoreUnavailableError);
      assert.ok(Date.now() - t0 < 5000, 'failed fast');
      assert.equal((await stores.ping())['postgres'], 'unavailable');
      await server.restart();
      assert.deepEqual(await eventually('recovery', () => stores.users.findUserById(alice.id).then((u) => u ?? undefined, () => undefined)), alice);
      await stores.users.createUser({ ...alice, id: 'u-after', usernameKey: 'after' });
      assert.equal((await stores.users.findUserById('u-after'))?.usernameKey, 'after');
    } finally {
      await stores.close();
    }
  });

  void it('reports rows swept and bytes per row, for the resolve note', async () => {
    const schema = freshSchema();
    const stores = await openPostgresStores({ url: server.url, schema, poolSize: 2, feed: false });
    try {
      const n = 1000;
      await stores.users.createUser(alice);
      for (let i = 0; i < n; i++) {
        await stores.sessions.createSession({
          idHash: `h${i}`.padEnd(43, 'x'), publicId: `p${i}`.padEnd(22, 'x'), userId: alice.id, csrfHash: `c${i}`.padEnd(43, 'x'),
          createdAt: T0, lastUsedAt: T0, idleExpiresAt: T0 + (i % 2 === 0 ? 1 : 1_800_000), expiresAt: T0 + 43_200_000, userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
        });
        await stores.refresh.createFamily({
          id: `f${i}`.padEnd(22, 'x'), userId: alice.id, csrfHash: `c${i}`.padEnd(43, 'x'), currentHash: `t${i}`.padEnd(43, 'x'),
          createdAt: T0, lastUsedAt: T0, expiresAt: T0 + (i % 2 === 0 ? 1 : 1_209_600_000), userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
          revokedAt: null, revokedReason: null,
        }, { jti: `j${i}`.padEnd(22, 'x'), exp: T0 / 1000 + 600 });
        await stores.revocations.append({ type: 'jti', jti: `j${i}`.padEnd(22, 'x'), exp: T0 / 1000 + (i % 2 === 0 ? 0 : 600) }, T0 + (i % 2 === 0 ? 1 : 630_000));
      }
      await sql(`ANALYZE ${schema}.sessions, ${schema}.refresh_families, ${schema}.refresh_tokens, ${schema}.refresh_grants, ${schema}.revocation_events`);
      const size = async (table: string): Promise<number> =>
        Math.round(Number((await sql<{ b: string }>(`SELECT pg_total_relation_size('${schema}.${table}') AS b`))[0]?.b) / n);
      const perRow = {
        session: await size('sessions'), family: await size('refresh_families'), token: await size('refresh_tokens'),
        grant: await size('refresh_grants'), event: await size('revocation_events'),
      };
      const t0 = performance.now();
      const swept = await stores.sweepExpired(T0 + 2);
      const ms = Math.round(performance.now() - t0);
      assert.deepEqual({ sessions: swept['sessions'], families: swept['families'], events: swept['events'] }, { sessions: n / 2, families: n / 2, events: n / 2 });
      console.log(`# postgres: bytes per row incl. indexes ${JSON.stringify(perRow)}; one sweep of ${n * 1.5} expired rows (+${n / 2} tokens by cascade): ${JSON.stringify(swept)} in ${ms} ms`);
    } finally {
      await stores.close();
    }
  });
});
