import { closeSync, chmodSync, constants, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StoreUnavailableError } from '../core/errors.js';
import type {
  AccessGrant,
  FamilyRecord,
  RevokeReason,
  RevokedFamily,
  Role,
  RotateInput,
  RotateResult,
  Stores,
  UserRecord,
} from '../core/ports.js';
import { EventHub, checkLimit, decodeUserCursor, encodeUserCursor, parseEventCursor } from './memory.js';
import { sqliteMigrations, type Migration } from './sql/sqlite-migrations.js';
import { toEvent, toFamily, toKey, toSession, type EventRow, type FamilyRow, type GrantRow, type KeyRow, type SessionRow } from './sql/rows.js';

/*
 * The embedded backend: one better-sqlite3 connection per node. The driver is
 * synchronous, so every method finishes its SQL before its promise settles;
 * multi-step operations run in BEGIN IMMEDIATE transactions so that several
 * processes sharing the file also serialise (busy_timeout makes them wait).
 * Nothing SQLite-specific escapes: driver errors become StoreUnavailableError
 * (cannot reach the database) or a plain Error with the driver error as cause.
 */

const STORE = 'sqlite';
// How long a writer waits for another connection's lock before the request fails as unavailable.
const DEFAULT_BUSY_TIMEOUT_MS = 5000;
// Driver codes meaning "the database cannot be reached right now", not "the request was wrong".
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|CANTOPEN|FULL|READONLY)/;

interface UserRow {
  id: string;
  username: string;
  username_key: string;
  name: string;
  role: Role;
  disabled: 0 | 1;
  password_hash: string;
  created_at: number;
  updated_at: number;
}



/** A token with its family, as the rotation reads them in one look-up. */
interface TokenFamilyRow extends FamilyRow {
  rotated_at: number | null;
  successor_hash: string | null;
}



const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  username: r.username,
  usernameKey: r.username_key,
  name: r.name,
  role: r.role,
  disabled: r.disabled === 1,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});





/**
 * Opens (creating if needed) the SQLite database at `file`, applies pending
 * migrations and returns the stores. The file holds private signing keys, so its
 * directory is created 0700 and the file itself is kept 0600.
 *
 * `busyTimeoutMs` (default 5000) is how long a write waits for another
 * process holding the lock before it fails as unavailable.
 *
 * Throws StoreUnavailableError if SQLite cannot open the file, and a plain Error
 * if the path cannot be prepared or the database was written by a newer Frontdesk.
 *
 * @example
 * const stores = openSqliteStores({ file: './data/frontdesk.db' });
 * await stores.ping(); // { sqlite: 'ok' }
 * await stores.close();
 */
export function openSqliteStores(options: { file: string; busyTimeoutMs?: number; pollEventsMs?: number }): Stores {
  const busyTimeoutMs = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS;
  if (!Number.isSafeInteger(busyTimeoutMs) || busyTimeoutMs < 0) {
    throw new RangeError(`busyTimeoutMs must be a non-negative integer, got ${busyTimeoutMs}`);
  }
  const db = openDatabase(options.file, busyTimeoutMs);
  try {
    migrate(db, sqliteMigrations);
  } catch (error) {
    // Translate while the connection is still open: a closed one would make every error look like an outage.
    const e = translate(error, db, 'migrate');
    db.close();
    throw e;
  }
  return createStores(db, options.pollEventsMs ?? 250);
}

function openDatabase(file: string, busyTimeoutMs: number): Database.Database {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    // Create the file ourselves so it never exists, even briefly, with umask-default permissions.
    closeSync(openSync(file, constants.O_CREAT | constants.O_RDWR, 0o600));
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
  } catch (error) {
    // A permissions or path problem is configuration, not an outage: say which file.
    throw new Error(`Cannot prepare the SQLite database file ${file}`, { cause: error });
  }
  let db: Database.Database;
  try {
    db = new Database(file, { timeout: busyTimeoutMs });
  } catch (error) {
    throw new StoreUnavailableError(STORE, { cause: error });
  }
  try {
    db.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // WAL: readers never block the writer; NORMAL is durable across process crashes in WAL mode.
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
  } catch (error) {
    const e = translate(error, db, 'open');
    db.close();
    throw e;
  }
  return db;
}

/**
 * Applies the migrations newer than the recorded schema version, all in one
 * IMMEDIATE transaction so that two processes opening the same file at once
 * cannot both apply them.
 */
function migrate(db: Database.Database, migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`SQLite migration "${m.name}" has version ${m.version}; expected ${i + 1}`);
  });
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
  )`);
  db.transaction(() => {
    const applied = db.prepare<[], { version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version').all();
    const known = migrations.length;
    const newest = applied.at(-1)?.version ?? 0;
    if (newest > known) {
      throw new Error(
        `The database ${db.name} has schema version ${newest}, newer than this Frontdesk build knows (${known}). ` +
          'Run the Frontdesk version that wrote it, or point FRONTDESK_DATA_DIR elsewhere.',
      );
    }
    for (const row of applied) {
      const m = migrations[row.version - 1];
      if (m === undefined || m.name !== row.name) {
        throw new Error(`The database ${db.name} recorded migration ${row.version} "${row.name}", which this build calls "${m?.name ?? '(none)'}".`);
      }
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)');
    for (const m of migrations.slice(newest)) {
      db.exec(m.sql);
      record.run(m.version, m.name);
    }
  }).immediate();
}

/** Maps a driver error to the store's vocabulary; errors we raised ourselves pass through. */
function translate(error: unknown, db: Database.Database, op: string): Error {
  if (error instanceof Database.SqliteError) {
    return UNAVAILABLE.test(error.code)
      ? new StoreUnavailableError(STORE, { cause: error })
      : new Error(`SQLite store: ${op} failed`, { cause: error });
  }
  // better-sqlite3 throws a TypeError on a closed connection.
  if (!db.open) return new StoreUnavailableError(STORE, { cause: error });
  return error instanceof Error ? error : new Error(String(error));
}

/** The columns of `findSession`, in its SELECT order. */
type SessionTuple = [
  publicId: string,
  userId: string,
  csrfHash: string,
  createdAt: number,
  lastUsedAt: number,
  idleExpiresAt: number,
  expiresAt: number,
  userAgent: string,
];

function createStores(db: Database.Database, pollEventsMs: number): Stores {
  // Prepared once: parsing SQL per request would cost more than running it.
  const q = {
    insertUser: db.prepare<UserRow>(
      `INSERT INTO users (id, username, username_key, name, role, disabled, password_hash, created_at, updated_at)
       VALUES (@id, @username, @username_key, @name, @role, @disabled, @password_hash, @created_at, @updated_at)
       ON CONFLICT (username_key) DO NOTHING`,
    ),
    userById: db.prepare<[string], UserRow>('SELECT * FROM users WHERE id = ?'),
    userByKey: db.prepare<[string], UserRow>('SELECT * FROM users WHERE username_key = ?'),
    listUsers: db.prepare<{ after: string; q: string | null; limit: number }, UserRow>(
      `SELECT * FROM users
       WHERE username_key > @after AND (@q IS NULL OR instr(username_key, @q) > 0)
       ORDER BY username_key LIMIT @limit`,
    ),
    updateUser: db.prepare<{ id: string; role: Role | null; disabled: 0 | 1 | null; password_hash: string | null; now: number }, UserRow>(
      `UPDATE users SET role = coalesce(@role, role), disabled = coalesce(@disabled, disabled),
         password_hash = coalesce(@password_hash, password_hash), updated_at = @now
       WHERE id = @id RETURNING *`,
    ),

    insertSession: db.prepare<SessionRow>(
      `INSERT INTO sessions (id_hash, public_id, user_id, csrf_hash, created_at, last_used_at, idle_expires_at, expires_at, user_agent)
       VALUES (@id_hash, @public_id, @user_id, @csrf_hash, @created_at, @last_used_at, @idle_expires_at, @expires_at, @user_agent)`,
    ),
    // The session look-up is every session-mode request: positional parameters bind faster than named ones.
    // Raw (an array per row): an object row costs better-sqlite3 a column-name string and a
    // property transition per column on every call (callgrind: ~8k instructions of a ~120k request).
    findSession: db
      .prepare<[string, number, number], SessionTuple>(
        `SELECT public_id, user_id, csrf_hash, created_at, last_used_at, idle_expires_at, expires_at, user_agent
         FROM sessions WHERE id_hash = ? AND idle_expires_at > ? AND expires_at > ?`,
      )
      .raw(true),
    // The idle guard keeps a session that died of idleness dead even if a late touch arrives.
    touchSession: db.prepare<{ id_hash: string; last_used_at: number; idle_expires_at: number }>(
      `UPDATE sessions SET last_used_at = @last_used_at, idle_expires_at = @idle_expires_at
       WHERE id_hash = @id_hash AND idle_expires_at > @last_used_at`,
    ),
    deleteSession: db.prepare<[string]>('DELETE FROM sessions WHERE id_hash = ?'),
    deleteSessionByPublicId: db.prepare<[string, string]>('DELETE FROM sessions WHERE user_id = ? AND public_id = ?'),
    deleteUserSessions: db.prepare<[string, string | null]>('DELETE FROM sessions WHERE user_id = ? AND public_id IS NOT ?'),
    listUserSessions: db.prepare<{ user_id: string; now: number }, SessionRow>(
      `SELECT * FROM sessions WHERE user_id = @user_id AND idle_expires_at > @now AND expires_at > @now
       ORDER BY created_at DESC, public_id DESC`,
    ),
    deleteAllSessions: db.prepare('DELETE FROM sessions'),
    sweepSessions: db.prepare<{ now: number }>('DELETE FROM sessions WHERE idle_expires_at <= @now OR expires_at <= @now'),

    insertFamily: db.prepare<FamilyRow>(
      `INSERT INTO refresh_families
         (id, user_id, csrf_hash, current_hash, created_at, last_used_at, expires_at, user_agent, revoked_at, revoked_reason)
       VALUES (@id, @user_id, @csrf_hash, @current_hash, @created_at, @last_used_at, @expires_at, @user_agent, @revoked_at, @revoked_reason)`,
    ),
    insertToken: db.prepare<[string, string]>('INSERT INTO refresh_tokens (token_hash, family_id) VALUES (?, ?)'),
    // The token and its family in one look-up: the rotation decides on both.
    tokenWithFamily: db.prepare<[string], TokenFamilyRow>(
      `SELECT f.*, t.rotated_at, t.successor_hash FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
       WHERE t.token_hash = ?`,
    ),
    markRotated: db.prepare<[number, string, string]>('UPDATE refresh_tokens SET rotated_at = ?, successor_hash = ? WHERE token_hash = ?'),
    advanceFamily: db.prepare<[string, number, string]>('UPDATE refresh_families SET current_hash = ?, last_used_at = ? WHERE id = ?'),
    // A grace duplicate may repeat a jti only in tests; ignoring it keeps one row per token.
    insertGrant: db.prepare<[string, string, number]>('INSERT OR IGNORE INTO refresh_grants (family_id, jti, exp) VALUES (?, ?, ?)'),
    // exp is in seconds: `exp > now / 1000` is "unexpired at now", the same test as exp * 1000 > now.
    liveGrants: db.prepare<[string, number], GrantRow>('SELECT jti, exp FROM refresh_grants WHERE family_id = ? AND exp > ?'),
    sweepGrants: db.prepare<[number]>('DELETE FROM refresh_grants WHERE exp <= ?'),
    liveFamilyByToken: db.prepare<{ token_hash: string; now: number }, FamilyRow>(
      `SELECT f.* FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
       WHERE t.token_hash = @token_hash AND f.revoked_at IS NULL AND f.expires_at > @now`,
    ),
    revokeFamily: db.prepare<{ user_id: string; id: string; reason: RevokeReason; now: number }, FamilyRow>(
      `UPDATE refresh_families SET revoked_at = @now, revoked_reason = @reason
       WHERE id = @id AND user_id = @user_id AND revoked_at IS NULL AND expires_at > @now RETURNING *`,
    ),
    revokeFamilyById: db.prepare<[number, RevokeReason, string], FamilyRow>(
      'UPDATE refresh_families SET revoked_at = ?, revoked_reason = ? WHERE id = ? RETURNING *',
    ),
    revokeUserFamilies: db.prepare<{ user_id: string; except: string | null; reason: RevokeReason; now: number }, FamilyRow>(
      `UPDATE refresh_families SET revoked_at = @now, revoked_reason = @reason
       WHERE user_id = @user_id AND id IS NOT @except AND revoked_at IS NULL AND expires_at > @now RETURNING *`,
    ),
    listUserFamilies: db.prepare<{ user_id: string; now: number }, FamilyRow>(
      `SELECT * FROM refresh_families WHERE user_id = @user_id AND revoked_at IS NULL AND expires_at > @now
       ORDER BY created_at DESC, rowid DESC`,
    ),
    revokeAllFamilies: db.prepare<{ reason: RevokeReason; now: number }>(
      'UPDATE refresh_families SET revoked_at = @now, revoked_reason = @reason WHERE revoked_at IS NULL AND expires_at > @now',
    ),
    // Tokens and grants go with their family through ON DELETE CASCADE.
    sweepFamilies: db.prepare<[number]>('DELETE FROM refresh_families WHERE expires_at <= ?'),

    lastEventId: db.prepare<[], { id: number }>('SELECT max(id) AS id FROM revocation_events'),
    eventsAfter: db.prepare<[number], EventRow>('SELECT id, event FROM revocation_events WHERE id > ? ORDER BY id LIMIT 500'),
    appendEvent: db.prepare<[string, number], { id: number }>('INSERT INTO revocation_events (event, expires_at) VALUES (?, ?) RETURNING id'),
    eventsSince: db.prepare<[number, number, number], EventRow>(
      'SELECT id, event FROM revocation_events WHERE id > ? AND expires_at > ? ORDER BY id LIMIT ?',
    ),
    sweepEvents: db.prepare<[number]>('DELETE FROM revocation_events WHERE expires_at <= ?'),

    listKeys: db.prepare<[], KeyRow>('SELECT * FROM signing_keys ORDER BY created_at, rowid'),
    insertKey: db.prepare<KeyRow>(
      `INSERT INTO signing_keys (kid, alg, private_key, public_jwk, created_at, retired_at, publish_until)
       VALUES (@kid, @alg, @private_key, @public_jwk, @created_at, @retired_at, @publish_until)
       ON CONFLICT (kid) DO NOTHING`,
    ),
    retireKey: db.prepare<[number, number, string]>('UPDATE signing_keys SET retired_at = ?, publish_until = ? WHERE kid = ?'),
    sweepKeys: db.prepare<[number]>('DELETE FROM signing_keys WHERE publish_until <= ?'),
    insertSecret: db.prepare<[string, string]>('INSERT INTO server_secrets (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING'),
    secretByName: db.prepare<[string], { value: string }>('SELECT value FROM server_secrets WHERE name = ?'),

    // One statement, so a hit is atomic even across processes: starts a new window once the old one has ended.
    hit: db.prepare<{ key: string; now: number; window_ms: number }, { hits: number; reset_at: number }>(
      `INSERT INTO rate_limits (key, hits, reset_at) VALUES (@key, 1, @now + @window_ms)
       ON CONFLICT (key) DO UPDATE SET
         hits = CASE WHEN reset_at <= @now THEN 1 ELSE hits + 1 END,
         reset_at = CASE WHEN reset_at <= @now THEN @now + @window_ms ELSE reset_at END
       RETURNING hits, reset_at`,
    ),
    peek: db.prepare<[string, number], { hits: number; reset_at: number }>(
      'SELECT hits, reset_at FROM rate_limits WHERE key = ? AND reset_at > ?',
    ),
    resetLimit: db.prepare<[string]>('DELETE FROM rate_limits WHERE key = ?'),
    sweepLimits: db.prepare<[number]>('DELETE FROM rate_limits WHERE reset_at <= ?'),

    ping: db.prepare<[], { ok: number }>('SELECT 1 AS ok'),
  };

  const hub = new EventHub();
  // Events appended by other processes are found by polling from the newest id at open;
  // ids this process appended (and already published) are skipped once.
  const localIds = new Set<number>();
  let polledUpTo = 0;
  let poller: NodeJS.Timeout | undefined;
  let closed = false;

  const startPolling = (): void => {
    if (poller !== undefined || closed) return;
    polledUpTo = q.lastEventId.get()?.id ?? 0;
    poller = setInterval(() => {
      try {
        for (const row of q.eventsAfter.all(polledUpTo)) {
          polledUpTo = row.id;
          if (!localIds.delete(row.id)) hub.publish(toEvent(row));
        }
      } catch {
        // A busy or unavailable database: the next tick tries again; requests report the outage.
      }
    }, pollEventsMs);
    poller.unref();
  };

  const call = <T>(op: string, fn: () => T): Promise<T> => {
    if (closed) return Promise.reject(new StoreUnavailableError(STORE));
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(translate(error, db, op));
    }
  };

  // One row per issued access token, never a rewrite of the family's: rotation cost stays flat.
  const addGrant = (familyId: string, grant: AccessGrant, now: number): void => {
    if (grant.exp * 1000 > now) q.insertGrant.run(familyId, grant.jti, grant.exp);
  };

  const createFamily = db.transaction((f: FamilyRecord, grant: AccessGrant | undefined) => {
    q.insertFamily.run({
      id: f.id,
      user_id: f.userId,
      csrf_hash: f.csrfHash,
      current_hash: f.currentHash,
      created_at: f.createdAt,
      last_used_at: f.lastUsedAt,
      expires_at: f.expiresAt,
      user_agent: f.userAgent,
      revoked_at: f.revokedAt,
      revoked_reason: f.revokedReason,
    });
    q.insertToken.run(f.currentHash, f.id);
    if (grant) addGrant(f.id, grant, f.createdAt);
  });

  const withLiveGrants = (row: FamilyRow, now: number): RevokedFamily => ({ ...toFamily(row), grants: q.liveGrants.all(row.id, now / 1000) });

  const rotate = db.transaction(({ oldHash, nextHash, now, graceMs, grant }: RotateInput): RotateResult => {
    const row = q.tokenWithFamily.get(oldHash);
    if (row === undefined) return { status: 'unknown' };
    const family = toFamily(row);
    if (family.revokedAt !== null || now >= family.expiresAt) return { status: 'revoked', family };

    if (family.currentHash === oldHash) {
      q.insertToken.run(nextHash, family.id);
      q.markRotated.run(now, nextHash, oldHash);
      q.advanceFamily.run(nextHash, now, family.id);
      addGrant(family.id, grant, now);
      family.currentHash = nextHash;
      family.lastUsedAt = now;
      return { status: 'rotated', family };
    }

    // A rotated token: a concurrent duplicate (same successor, inside the window) or a replay.
    if (row.rotated_at !== null && row.successor_hash === nextHash && now - row.rotated_at <= graceMs) {
      addGrant(family.id, grant, now);
      return { status: 'grace', family };
    }
    return { status: 'reused', family: withLiveGrants(mustGet(q.revokeFamilyById.get(now, 'reused', family.id)), now) };
  });

  const revokeFamily = db.transaction((userId: string, familyId: string, reason: RevokeReason, now: number): RevokedFamily | null => {
    const row = q.revokeFamily.get({ user_id: userId, id: familyId, reason, now });
    return row === undefined ? null : withLiveGrants(row, now);
  });

  const getOrCreateSecret = db.transaction((name: string, candidate: string): string => {
    q.insertSecret.run(name, candidate);
    return mustGet(q.secretByName.get(name)).value;
  });

  const sweepAll = db.transaction((now: number) => ({
    sessions: q.sweepSessions.run({ now }).changes,
    families: q.sweepFamilies.run(now).changes,
    grants: q.sweepGrants.run(now / 1000).changes,
    events: q.sweepEvents.run(now).changes,
    keys: q.sweepKeys.run(now).changes,
    rateLimits: q.sweepLimits.run(now).changes,
  }));

  return {
    users: {
      createUser: (u) =>
        call('createUser', () => {
          const { changes } = q.insertUser.run({
            id: u.id,
            username: u.username,
            username_key: u.usernameKey,
            name: u.name,
            role: u.role,
            disabled: u.disabled ? 1 : 0,
            password_hash: u.passwordHash,
            created_at: u.createdAt,
            updated_at: u.updatedAt,
          });
          return changes === 0 ? ('conflict' as const) : { ...u };
        }),
      findUserById: (id) => call('findUserById', () => mapOrNull(q.userById.get(id), toUser)),
      findUserByUsername: (key) => call('findUserByUsername', () => mapOrNull(q.userByKey.get(key), toUser)),
      listUsers: ({ q: filter, limit, cursor }) =>
        call('listUsers', () => {
          checkLimit(limit);
          const after = cursor === undefined ? '' : decodeUserCursor(cursor);
          // One extra row tells whether another page exists without a COUNT.
          const rows = q.listUsers.all({ after, q: filter ?? null, limit: limit + 1 });
          const page = rows.slice(0, limit).map(toUser);
          const last = page.at(-1);
          return { users: page, nextCursor: rows.length > limit && last !== undefined ? encodeUserCursor(last.usernameKey) : null };
        }),
      updateUser: (id, patch, now) =>
        call('updateUser', () =>
          mapOrNull(
            q.updateUser.get({
              id,
              role: patch.role ?? null,
              disabled: patch.disabled === undefined ? null : patch.disabled ? 1 : 0,
              password_hash: patch.passwordHash ?? null,
              now,
            }),
            toUser,
          ),
        ),
    },

    sessions: {
      createSession: (s) =>
        call('createSession', () => {
          q.insertSession.run({
            id_hash: s.idHash,
            public_id: s.publicId,
            user_id: s.userId,
            csrf_hash: s.csrfHash,
            created_at: s.createdAt,
            last_used_at: s.lastUsedAt,
            idle_expires_at: s.idleExpiresAt,
            expires_at: s.expiresAt,
            user_agent: s.userAgent,
          });
        }),
      // Synchronous (better-sqlite3 is): the session hot path awaits nothing.
      findSession: (idHash, now) => {
        if (closed) throw new StoreUnavailableError(STORE);
        let t: SessionTuple | undefined;
        try {
          t = q.findSession.get(idHash, now, now);
        } catch (error) {
          throw translate(error, db, 'findSession');
        }
        if (t === undefined) return null;
        return {
          idHash,
          publicId: t[0],
          userId: t[1],
          csrfHash: t[2],
          createdAt: t[3],
          lastUsedAt: t[4],
          idleExpiresAt: t[5],
          expiresAt: t[6],
          userAgent: t[7],
        };
      },
      touchSession: (idHash, lastUsedAt, idleExpiresAt) =>
        call('touchSession', () => {
          q.touchSession.run({ id_hash: idHash, last_used_at: lastUsedAt, idle_expires_at: idleExpiresAt });
        }),
      deleteSession: (idHash) => call('deleteSession', () => q.deleteSession.run(idHash).changes > 0),
      deleteSessionByPublicId: (userId, publicId) =>
        call('deleteSessionByPublicId', () => q.deleteSessionByPublicId.run(userId, publicId).changes > 0),
      deleteUserSessions: (userId, exceptPublicId) =>
        call('deleteUserSessions', () => q.deleteUserSessions.run(userId, exceptPublicId ?? null).changes),
      listUserSessions: (userId, now) => call('listUserSessions', () => q.listUserSessions.all({ user_id: userId, now }).map(toSession)),
      deleteAllSessions: () => call('deleteAllSessions', () => q.deleteAllSessions.run().changes),
      sweepSessions: (now) => call('sweepSessions', () => q.sweepSessions.run({ now }).changes),
    },

    refresh: {
      createFamily: (f, grant) => call('createFamily', () => createFamily.immediate(f, grant)),
      // IMMEDIATE takes the write lock before the first read, so two processes cannot both see the token as current.
      rotateRefresh: (input) => call('rotateRefresh', () => rotate.immediate(input)),
      findFamilyByToken: (tokenHash, now) =>
        call('findFamilyByToken', () => mapOrNull(q.liveFamilyByToken.get({ token_hash: tokenHash, now }), toFamily)),
      revokeFamily: (userId, familyId, reason, now) => call('revokeFamily', () => revokeFamily.immediate(userId, familyId, reason, now)),
      revokeUserFamilies: (userId, reason, now, exceptFamilyId) =>
        call('revokeUserFamilies', () =>
          q.revokeUserFamilies.all({ user_id: userId, except: exceptFamilyId ?? null, reason, now }).map(toFamily),
        ),
      listUserFamilies: (userId, now) => call('listUserFamilies', () => q.listUserFamilies.all({ user_id: userId, now }).map(toFamily)),
      revokeAllFamilies: (reason, now) => call('revokeAllFamilies', () => q.revokeAllFamilies.run({ reason, now }).changes),
      sweepFamilies: (now) => call('sweepFamilies', () => q.sweepFamilies.run(now).changes),
      sweepGrants: (now) => call('sweepGrants', () => q.sweepGrants.run(now / 1000).changes),
    },

    revocations: {
      append: (event, expiresAt) =>
        call('append', () => {
          const json = JSON.stringify(event);
          const { id } = mustGet(q.appendEvent.get(json, expiresAt));
          // Built from the stored JSON so the caller gets exactly what `since` will replay.
          const stored = toEvent({ id, event: json });
          // Published after the insert committed, so a listener that reads `since` finds it.
          localIds.add(id);
          hub.publish(stored);
          return stored;
        }),
      since: (cursor, limit, now) =>
        call('since', () => {
          checkLimit(limit);
          const after = cursor === null ? 0 : parseEventCursor(cursor);
          return q.eventsSince.all(after, now, limit).map(toEvent);
        }),
      // This process's appends at once; another process's (the `frontdesk` CLI on the same
      // file) by polling, since SQLite has no notifications.
      subscribe: (listener) => {
        startPolling();
        return hub.subscribe(listener);
      },
      sweepEvents: (now) => call('sweepEvents', () => q.sweepEvents.run(now).changes),
    },

    keys: {
      listKeys: () => call('listKeys', () => q.listKeys.all().map(toKey)),
      insertKey: (k) =>
        call('insertKey', () => {
          const { changes } = q.insertKey.run({
            kid: k.kid,
            alg: k.alg,
            private_key: k.privateKey,
            public_jwk: k.publicJwk === null ? null : JSON.stringify(k.publicJwk),
            created_at: k.createdAt,
            retired_at: k.retiredAt,
            publish_until: k.publishUntil,
          });
          if (changes === 0) throw new Error(`a key with kid ${k.kid} already exists`);
        }),
      retireKey: (kid, retiredAt, publishUntil) =>
        call('retireKey', () => {
          q.retireKey.run(retiredAt, publishUntil, kid);
        }),
      sweepKeys: (now) => call('sweepKeys', () => q.sweepKeys.run(now).changes),
      getOrCreateSecret: (name, candidate) => call('getOrCreateSecret', () => getOrCreateSecret.immediate(name, candidate)),
    },

    rateLimits: {
      hit: (key, windowMs, now) =>
        call('hit', () => {
          const r = mustGet(q.hit.get({ key, now, window_ms: windowMs }));
          return { count: r.hits, resetAt: r.reset_at };
        }),
      peek: (key, now) =>
        call('peek', () => {
          const r = q.peek.get(key, now);
          return r === undefined ? { count: 0, resetAt: now } : { count: r.hits, resetAt: r.reset_at };
        }),
      reset: (key) =>
        call('reset', () => {
          q.resetLimit.run(key);
        }),
    },

    ping: () => {
      if (closed) return Promise.resolve({ [STORE]: 'closed' });
      try {
        q.ping.get();
        return Promise.resolve({ [STORE]: 'ok' });
      } catch (error) {
        // The reason is the answer here: readiness reports it instead of throwing.
        const e = translate(error, db, 'ping');
        return Promise.resolve({ [STORE]: e instanceof StoreUnavailableError ? 'unavailable' : `error: ${e.message}` });
      }
    },
    sweepExpired: (now) => call('sweepExpired', () => sweepAll.immediate(now)),
    close: () => {
      if (closed) return Promise.resolve();
      closed = true;
      if (poller !== undefined) clearInterval(poller);
      hub.clear();
      try {
        // Fold the WAL back into the main file so a copied .db is complete and the -wal file is emptied.
        db.pragma('optimize');
        db.pragma('wal_checkpoint(TRUNCATE)');
        db.close();
        return Promise.resolve();
      } catch (error) {
        const e = translate(error, db, 'close');
        if (db.open) db.close();
        return Promise.reject(e);
      }
    },
  };
}

function mapOrNull<R, T>(row: R | undefined, map: (row: R) => T): T | null {
  return row === undefined ? null : map(row);
}

/** For statements that return a row by construction (RETURNING after a write that cannot miss). */
function mustGet<R>(row: R | undefined): R {
  if (row === undefined) throw new Error('SQLite store: a statement returned no row where one was guaranteed');
  return row;
}
