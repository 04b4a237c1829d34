import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { StoreUnavailableError } from '../../src/core/errors.js';
import type { UserRecord } from '../../src/core/ports.js';
import { openStores } from '../../src/stores/index.js';
import { openSqliteStores } from '../../src/stores/sqlite.js';
import { sqliteMigrations } from '../../src/stores/sql/sqlite-migrations.js';
import { storeContract } from './contract.js';

// One temp dir per run, one database file per opened store set, all removed at the end.
const root = mkdtempSync(join(tmpdir(), 'frontdesk-sqlite-'));
after(() => rmSync(root, { recursive: true, force: true }));
let files = 0;
const freshFile = (): string => join(root, `db-${++files}`, 'frontdesk.db');

storeContract('sqlite', () => {
  const stores = openSqliteStores({ file: freshFile() });
  return Promise.resolve({ stores, close: () => stores.close() });
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

void describe('sqlite store specifics', () => {
  void it('keeps data across close and reopen', async () => {
    const file = freshFile();
    const first = openSqliteStores({ file });
    await first.users.createUser(alice);
    await first.refresh.createFamily({
      id: 'fam-1', userId: alice.id, csrfHash: 'c', currentHash: 'rt-1', createdAt: T0, lastUsedAt: T0,
      expiresAt: T0 + 60_000, userAgent: 'ua', revokedAt: null, revokedReason: null,
    }, { jti: 'j', exp: T0 / 1000 + 60 });
    const event = await first.revocations.append({ type: 'key', kid: 'k1' }, T0 + 60_000);
    await first.close();

    const second = openSqliteStores({ file });
    try {
      assert.deepEqual(await second.users.findUserById(alice.id), alice);
      assert.equal((await second.refresh.findFamilyByToken('rt-1', T0))?.currentHash, 'rt-1');
      assert.deepEqual((await second.refresh.revokeFamily(alice.id, 'fam-1', 'logout', T0))?.grants, [{ jti: 'j', exp: T0 / 1000 + 60 }]);
      assert.deepEqual(await second.revocations.since(null, 10, T0), [event]);
      const next = await second.revocations.append({ type: 'key', kid: 'k2' }, T0 + 60_000);
      assert.ok(Number(next.id) > Number(event.id));
    } finally {
      await second.close();
    }
  });

  void it('records each migration once and does not re-apply them on reopen', async () => {
    const file = freshFile();
    await openSqliteStores({ file }).close();
    await openSqliteStores({ file }).close();
    const db = new Database(file, { readonly: true });
    try {
      const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
      assert.deepEqual(
        rows,
        sqliteMigrations.map((m) => ({ version: m.version, name: m.name })),
      );
    } finally {
      db.close();
    }
  });

  void it('moves the grants of families written before the grants table into it, so a revocation still denies them', async () => {
    const file = freshFile();
    const before = sqliteMigrations.findIndex((m) => m.name === 'refresh_grants_table');
    assert.ok(before > 0);
    // A database as the release before the grants table left it: migrations up to it, a family with its JSON grants.
    openSqliteStores({ file }); // creates the file and the directory with their modes
    rmSync(file);
    const db = new Database(file);
    db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)');
    for (const m of sqliteMigrations.slice(0, before)) {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)').run(m.version, m.name);
    }
    db.prepare(`INSERT INTO users (id, username, username_key, name, role, disabled, password_hash, created_at, updated_at)
                VALUES ('u-alice', 'Alice', 'alice', 'Alice', 'admin', 0, 'hash', ?, ?)`).run(T0, T0);
    const grants = [{ jti: 'old-live', exp: T0 / 1000 + 600 }, { jti: 'old-expired', exp: T0 / 1000 - 1 }, { jti: 'old-live-2', exp: T0 / 1000 + 900 }];
    db.prepare(`INSERT INTO refresh_families (id, user_id, csrf_hash, current_hash, created_at, last_used_at, expires_at, user_agent, grants)
                VALUES ('fam-old', 'u-alice', 'c', 'rt-old', ?, ?, ?, 'ua', ?)`).run(T0, T0, T0 + 3_600_000, JSON.stringify(grants));
    db.prepare("INSERT INTO refresh_tokens (token_hash, family_id) VALUES ('rt-old', 'fam-old')").run();
    db.close();

    const stores = openSqliteStores({ file });
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
    const file = freshFile();
    await openSqliteStores({ file }).close();
    const future = sqliteMigrations.length + 1;
    const db = new Database(file);
    db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)').run(future, 'from_the_future');
    db.close();
    assert.throws(() => openSqliteStores({ file }), new RegExp(`schema version ${future}, newer than this Frontdesk build knows \\(${sqliteMigrations.length}\\)`));
  });

  void it('creates the database file 0600 inside a 0700 directory, and keeps the WAL private too', async () => {
    const file = freshFile();
    const stores = openSqliteStores({ file });
    try {
      await stores.users.createUser(alice);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(`${file}-wal`).mode & 0o777, 0o600);
      assert.equal(statSync(join(file, '..')).mode & 0o777, 0o700);
    } finally {
      await stores.close();
    }
  });

  void it('runs in WAL mode with foreign keys on', async () => {
    const file = freshFile();
    await openSqliteStores({ file }).close();
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      db.close();
    }
    const stores = openSqliteStores({ file });
    try {
      // A session for a user that does not exist violates the foreign key: reported, not stored.
      await assert.rejects(
        stores.sessions.createSession({
          idHash: 'h', publicId: 'p', userId: 'nobody', csrfHash: 'c', createdAt: T0, lastUsedAt: T0,
          idleExpiresAt: T0 + 1, expiresAt: T0 + 1, userAgent: 'ua',
        }),
        (e: unknown) => e instanceof Error && !(e instanceof StoreUnavailableError) && /createSession failed/.test(e.message),
      );
    } finally {
      await stores.close();
    }
  });

  void it('reports a database that another connection holds locked as unavailable', async () => {
    const file = freshFile();
    // A short busy timeout keeps the test fast; the path is the same as after the default 5 s.
    const stores = openSqliteStores({ file, busyTimeoutMs: 20 });
    const locker = new Database(file, { timeout: 0 });
    try {
      locker.exec('BEGIN EXCLUSIVE');
      await assert.rejects(stores.rateLimits.hit('k', 1000, T0), StoreUnavailableError);
      await assert.rejects(stores.refresh.rotateRefresh({ oldHash: 'a', nextHash: 'b', now: T0, graceMs: 0, grant: { jti: 'j', exp: 0 } }), StoreUnavailableError);
      assert.deepEqual(await stores.users.findUserById('nobody'), null, 'WAL readers are not blocked by the writer');
    } finally {
      locker.exec('ROLLBACK');
      locker.close();
      await stores.close();
    }
  });

  void it('fails to open a path that cannot hold a database with a message naming the file', async () => {
    const blocker = freshFile();
    await openSqliteStores({ file: blocker }).close();
    // The "directory" is a regular file, so nothing can be created beneath it.
    assert.throws(() => openSqliteStores({ file: join(blocker, 'nested.db') }), (e: unknown) => e instanceof Error && e.message.includes(blocker));
  });

  void it('lets exactly one of several processes rotate the same token at once (BEGIN IMMEDIATE across connections)', { timeout: 30_000 }, async () => {
    const file = freshFile();
    const setup = openSqliteStores({ file });
    await setup.users.createUser(alice);
    await setup.refresh.createFamily({
      id: 'fam-race', userId: alice.id, csrfHash: 'c', currentHash: 'rt-race', createdAt: T0, lastUsedAt: T0,
      expiresAt: T0 + 3_600_000, userAgent: 'ua', revokedAt: null, revokedReason: null,
    });
    await setup.close();

    // Each worker is its own connection, as separate Frontdesk processes on one file would be.
    const workers = 4;
    const start = new Int32Array(new SharedArrayBuffer(4));
    const source = `
      const { parentPort, workerData } = require('node:worker_threads');
      (async () => {
        // Workers do not inherit the parent's loader hooks on Node 20, so TypeScript is registered here.
        const { tsImport } = await import('tsx/esm/api');
        const { openSqliteStores } = await tsImport(workerData.module, workerData.parent);
        const stores = openSqliteStores({ file: workerData.file });
        parentPort.postMessage('ready');
        Atomics.wait(workerData.start, 0, 0);
        const statuses = [];
        for (let i = 0; i < 10; i++) {
          const r = await stores.refresh.rotateRefresh({ oldHash: 'rt-race', nextHash: 'rt-race-next', now: workerData.now, graceMs: 10000, grant: { jti: 'w' + workerData.n + '-' + i, exp: workerData.now / 1000 + 600 } });
          statuses.push(r.status);
        }
        await stores.close();
        parentPort.postMessage(statuses);
      })().catch((e) => { throw e; });
    `;
    const module = new URL('../../src/stores/sqlite.ts', import.meta.url).href;
    const runs = Array.from({ length: workers }, (_, n) => {
      const w = new Worker(source, { eval: true, workerData: { module, parent: import.meta.url, file, start, now: T0 + 1000, n } });
      let onReady: () => void = () => undefined;
      const ready = new Promise<void>((resolve) => (onReady = resolve));
      const done = new Promise<string[]>((resolve, reject) => {
        w.on('message', (m: unknown) => (m === 'ready' ? onReady() : resolve(m as string[])));
        w.on('error', reject);
        w.on('exit', (code) => (code === 0 ? undefined : reject(new Error(`worker exited with ${code}`))));
      });
      return { ready, done };
    });
    await Promise.all(runs.map((r) => r.ready));
    Atomics.store(start, 0, 1);
    Atomics.notify(start, 0);
    const statuses = (await Promise.all(runs.map((r) => r.done))).flat();
    assert.equal(statuses.filter((s) => s === 'rotated').length, 1, statuses.join());
    assert.equal(statuses.filter((s) => s === 'grace').length, workers * 10 - 1, statuses.join());

    const check = openSqliteStores({ file });
    try {
      const family = await check.refresh.findFamilyByToken('rt-race-next', T0 + 1000);
      assert.equal(family?.currentHash, 'rt-race-next');
      assert.equal((await check.refresh.revokeFamily(alice.id, 'fam-race', 'logout', T0 + 1000))?.grants.length, workers * 10);
    } finally {
      await check.close();
    }
  });

  void it('opens SQLite in the data dir through openStores, and refuses backends that have not landed yet', async () => {
    const dataDir = join(root, `data-${++files}`);
    const stores = await openStores({ dataDir });
    try {
      assert.deepEqual(await stores.ping(), { sqlite: 'ok' });
      assert.ok(statSync(join(dataDir, 'frontdesk.db')).isFile());
    } finally {
      await stores.close();
    }
    await assert.rejects(openStores({ dataDir, databaseUrl: 'postgres://localhost/frontdesk' }), /DATABASE_URL/);
    await assert.rejects(openStores({ dataDir, redisUrl: 'redis://localhost' }), /REDIS_URL/);
  });
});

void describe('sqlite revocation events across processes', () => {
  void it("hears events another connection to the same file appends (the CLI's), and its own once", async () => {
    const file = join(root, 'shared-events.db');
    const server = openSqliteStores({ file, pollEventsMs: 20 });
    const cli = openSqliteStores({ file });
    try {
      const heard: string[] = [];
      const off = server.revocations.subscribe((e) => heard.push(e.event.type === 'jti' ? e.event.jti : e.event.type));
      await server.revocations.append({ type: 'jti', jti: 'mine', exp: 2e9 }, 2e12);
      await cli.revocations.append({ type: 'jti', jti: 'from-cli', exp: 2e9 }, 2e12);
      const deadline = Date.now() + 5000;
      while (!heard.includes('from-cli') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 60)); // a few more polls: nothing is delivered twice
      off();
      assert.deepEqual(heard, ['mine', 'from-cli']);
    } finally {
      await cli.close();
      await server.close();
    }
  });
});
