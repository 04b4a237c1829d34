import pg from 'pg';
import { AuthError, StoreUnavailableError } from '../core/errors.js';
import type {
  RevokedFamily,
  Role,
  RotateInput,
  RotateResult,
  StoredEvent,
  Stores,
  UserRecord,
} from '../core/ports.js';
import { FeedHub, backoff, pause, redactUrl } from './feed.js';
import { checkLimit, decodeUserCursor, encodeUserCursor, parseEventCursor } from './memory.js';
import { postgresMigrations } from './sql/postgres-migrations.js';
import type { Migration } from './sql/sqlite-migrations.js';
import { toEvent, toFamily, toKey, toSession, type EventRow, type FamilyRow, type GrantRow, type KeyRow, type SessionRow } from './sql/rows.js';

/*
 * The shared SQL backend: a `pg` pool per node. Single-use steps are one
 * statement (INSERT … ON CONFLICT, UPDATE … RETURNING) or one transaction that
 * locks the row it decides on (rotation: SELECT … FOR UPDATE), so several nodes
 * on one database agree. Revocation events are a table whose ids are cursors;
 * other nodes hear new ones through LISTEN/NOTIFY on a dedicated connection,
 * which catches up from its last id after every reconnect.
 *
 * Errors: anything that means "the database cannot be reached or is going away"
 * (connection refused or reset, pool timeout, SQLSTATE classes 08, 53, 57, 58,
 * serialization failures) is StoreUnavailableError → 503; anything else is a
 * plain Error with the driver error as cause. The pool replaces broken
 * connections by itself, so service resumes without a restart.
 */

const STORE = 'postgres';
const DEFAULT_POOL_SIZE = 10;
const DEFAULT_TIMEOUT_MS = 5000;
// How often the LISTEN connection proves it is alive: a silent half-open socket would otherwise look "live" forever.
const LISTENER_PING_MS = 5000;

/** How to reach PostgreSQL. */
export interface PostgresOptions {
  /** `postgres://user:password@host:port/database` */
  url: string;
  /**
   * Schema holding Frontdesk's tables, created if missing (lower-case letters, digits, `_`).
   * Default: the connection's own search_path, normally `public`.
   */
  schema?: string;
  /** Connections in this node's pool; default 10. */
  poolSize?: number;
  /** How long a request waits for a connection or a statement before it fails as unavailable, ms; default 5000. */
  timeoutMs?: number;
  /**
   * Whether this store carries revocation events between nodes (LISTEN on a
   * dedicated connection). Default true; false when another backend (Redis)
   * carries them, and then `revocations.subscribe` throws rather than hearing nothing.
   */
  feed?: boolean;
}

interface UserRow {
  id: string;
  username: string;
  username_key: string;
  name: string;
  role: Role;
  disabled: boolean;
  password_hash: string;
  created_at: number;
  updated_at: number;
}





const toUser = (r: UserRow): UserRecord => ({
  id: r.id,
  username: r.username,
  usernameKey: r.username_key,
  name: r.name,
  role: r.role,
  disabled: r.disabled,
  passwordHash: r.password_hash,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});





// Columns, not `*`, so the `seq` tie-breakers stay internal.
const USER_COLS = 'id, username, username_key, name, role, disabled, password_hash, created_at, updated_at';
const SESSION_COLS = 'id_hash, public_id, user_id, csrf_hash, created_at, last_used_at, idle_expires_at, expires_at, user_agent';
const FAMILY_COLS = 'id, user_id, csrf_hash, current_hash, created_at, last_used_at, expires_at, user_agent, revoked_at, revoked_reason';
const KEY_COLS = 'kid, alg, private_key, public_jwk, created_at, retired_at, publish_until';

// A grace duplicate may repeat a jti only in tests; DO NOTHING keeps one row per token.
const INSERT_GRANT = 'INSERT INTO refresh_grants (family_id, jti, exp) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING';
const ADVANCE_CTES = `WITH successor AS (INSERT INTO refresh_tokens (token_hash, family_id) VALUES ($2, $1)),
  rotated AS (UPDATE refresh_tokens SET rotated_at = $3, successor_hash = $2 WHERE token_hash = $4)`;
const ADVANCE_FAMILY = 'UPDATE refresh_families SET current_hash = $2, last_used_at = $3 WHERE id = $1';
const ADVANCE = `${ADVANCE_CTES} ${ADVANCE_FAMILY}`;
const ADVANCE_WITH_GRANT = `${ADVANCE_CTES},
  granted AS (INSERT INTO refresh_grants (family_id, jti, exp) VALUES ($1, $5, $6) ON CONFLICT DO NOTHING) ${ADVANCE_FAMILY}`;
// exp is whole seconds, so exp <= floor(now / 1000) is exactly "expired at now" (exp * 1000 <= now), and uses the index.
const SWEEP_GRANTS = 'DELETE FROM refresh_grants WHERE exp <= $1';

// BIGINT (oid 20) as a JS number: every BIGINT here is a millisecond time or an id, far below 2^53.
const INT8_OID = 20;
const parseInt8 = (v: string): number => Number(v);
const types: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : (pg.types.getTypeParser(oid, format) as unknown)) as pg.CustomTypesConfig['getTypeParser'],
};

// Node's socket errors that mean "not reachable now".
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);
// pg's own messages for a lost or unobtainable connection (it gives them no code).
const PG_CONNECTION_MESSAGE =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|not queryable|Client was closed|Cannot use a pool after calling end|Connection ended/i;

/** True for a driver error that means the database is unreachable or shutting down, rather than a bad statement. */
function isUnavailable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    // SQLSTATE: 08 connection exception, 53 insufficient resources, 57 operator intervention
    // (admin shutdown, statement timeout), 58 system error; 40001/40P01 are transient by definition.
    return /^(08|53|57|58)/.test(code) || code === '40001' || code === '40P01';
  }
  if (typeof code === 'string' && NET_CODES.has(code)) return true;
  return PG_CONNECTION_MESSAGE.test(error.message);
}

/** Maps a driver error to the store's vocabulary; errors we raised ourselves pass through. */
function translate(error: unknown, op: string): Error {
  if (error instanceof AuthError) return error;
  if (isUnavailable(error)) return new StoreUnavailableError(STORE, { cause: error });
  return new Error(`PostgreSQL store: ${op} failed`, { cause: error });
}

const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/**
 * Connects to PostgreSQL, applies pending migrations (once, even when several
 * nodes start together) and returns the stores.
 *
 * Throws an Error naming DATABASE_URL (with the password masked) when the
 * database cannot be reached at start-up, and a plain Error if it was written by
 * a newer Frontdesk.
 *
 * @example
 * const stores = await openPostgresStores({ url: 'postgres://frontdesk@db/frontdesk' });
 * await stores.ping(); // { postgres: 'ok' }
 * await stores.close();
 */
export async function openPostgresStores(options: PostgresOptions): Promise<Stores> {
  const schema = options.schema;
  if (schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
    throw new RangeError(`schema must be a lower-case SQL identifier, got ${JSON.stringify(schema)}`);
  }
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const clientConfig: pg.ClientConfig = {
    connectionString: options.url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
    keepAlive: true,
    types,
    ...(schema !== undefined && { options: `-c search_path=${schema}` }),
  };
  const pool = new pg.Pool({ ...clientConfig, max: options.poolSize ?? DEFAULT_POOL_SIZE, idleTimeoutMillis: 30_000 });
  // An idle connection dying (a restart, a failover) is reported here; the next query gets a fresh one.
  pool.on('error', () => undefined);
  try {
    await migrate(pool, postgresMigrations, schema);
  } catch (error) {
    await pool.end().catch(() => undefined);
    if (isUnavailable(error)) {
      const why = error instanceof Error ? error.message : String(error);
      throw new Error(`Cannot reach PostgreSQL at DATABASE_URL ${redactUrl(options.url)}: ${why}`, { cause: error });
    }
    throw error;
  }
  const stores = createStores(pool, clientConfig, schema);
  if (options.feed ?? true) {
    try {
      await stores.startFeed();
    } catch (error) {
      await stores.close();
      throw translate(error, 'listen');
    }
  } else {
    stores.disableFeed();
  }
  return stores;
}

/**
 * Applies the migrations newer than the recorded schema version, in one
 * transaction holding an advisory lock, so nodes starting together take turns
 * and the later ones find nothing left to do.
 */
async function migrate(pool: pg.Pool, migrations: readonly Migration[], schema: string | undefined): Promise<void> {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`PostgreSQL migration "${m.name}" has version ${m.version}; expected ${i + 1}`);
  });
  const client = await pool.connect();
  // Checked-out clients have no pool error listener (see tx in createStores).
  const ignore = (): void => undefined;
  client.on('error', ignore);
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`frontdesk:migrate:${schema ?? ''}`]);
    if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(schema)}`);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version    INTEGER PRIMARY KEY,
      name       TEXT NOT NULL,
      applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
    )`);
    const applied = (await client.query<{ version: number; name: string }>('SELECT version, name FROM schema_migrations ORDER BY version')).rows;
    const known = migrations.length;
    const newest = applied.at(-1)?.version ?? 0;
    if (newest > known) {
      throw new Error(
        `The PostgreSQL database has schema version ${newest}, newer than this Frontdesk build knows (${known}). ` +
          'Run the Frontdesk version that wrote it, or point DATABASE_URL elsewhere.',
      );
    }
    for (const row of applied) {
      const m = migrations[row.version - 1];
      if (m === undefined || m.name !== row.name) {
        throw new Error(`The PostgreSQL database recorded migration ${row.version} "${row.name}", which this build calls "${m?.name ?? '(none)'}".`);
      }
    }
    for (const m of migrations.slice(newest)) {
      await client.query(m.sql);
      await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch((e: unknown) => {
      broken = e instanceof Error ? e : new Error(String(e));
    });
    throw error;
  } finally {
    client.removeListener('error', ignore);
    client.release(broken);
  }
}

type Queryable = Pick<pg.PoolClient, 'query'>;

function createStores(pool: pg.Pool, clientConfig: pg.ClientConfig, schema: string | undefined): Stores & { startFeed(): Promise<void>; disableFeed(): void } {
  const hub = new FeedHub();
  const channel = `frontdesk_revocations${schema === undefined ? '' : `_${schema}`}`;
  const appendLock = `frontdesk:events:${schema ?? ''}`;
  let closed = false;
  let feedEnabled = true;
  const stopFeed = new AbortController();
  let feedDone: Promise<void> = Promise.resolve();

  const run = async <R extends pg.QueryResultRow>(op: string, text: string, values: unknown[] = [], on: Queryable = pool): Promise<pg.QueryResult<R>> => {
    if (closed) throw new StoreUnavailableError(STORE);
    try {
      return await on.query<R>(text, values);
    } catch (error) {
      throw translate(error, op);
    }
  };
  const rows = async <R extends pg.QueryResultRow>(op: string, text: string, values: unknown[] = [], on: Queryable = pool): Promise<R[]> =>
    (await run<R>(op, text, values, on)).rows;
  const one = async <R extends pg.QueryResultRow>(op: string, text: string, values: unknown[] = [], on: Queryable = pool): Promise<R | undefined> =>
    (await run<R>(op, text, values, on)).rows[0];

  /** Runs `fn` in a transaction on one pooled connection; a connection that broke is discarded, not reused. */
  const tx = async <T>(op: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> => {
    if (closed) throw new StoreUnavailableError(STORE);
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw translate(error, op);
    }
    // The pool listens for errors only on idle clients: one that dies while checked out (between
    // two statements) would emit an unhandled 'error' and crash the process. Its next query fails anyway.
    const ignore = (): void => undefined;
    client.on('error', ignore);
    const release = (error?: Error): void => {
      client.removeListener('error', ignore);
      client.release(error);
    };
    try {
      await client.query('BEGIN');
      const result = await fn(client);
      await client.query('COMMIT');
      release();
      return result;
    } catch (error) {
      try {
        await client.query('ROLLBACK');
        release();
      } catch (rollbackError) {
        // A connection that cannot even roll back is discarded, not returned to the pool.
        release(rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError)));
      }
      throw translate(error, op);
    }
  };

  const since = async (cursor: string | null, limit: number, now: number, on: Queryable = pool): Promise<StoredEvent[]> => {
    checkLimit(limit);
    const after = cursor === null ? 0 : parseEventCursor(cursor);
    return (
      await rows<EventRow>('since', 'SELECT id, event FROM revocation_events WHERE id > $1 AND expires_at > $2 ORDER BY id LIMIT $3', [after, now, limit], on)
    ).map(toEvent);
  };

  // ── the LISTEN connection ────────────────────────────────────────────────
  let lastDelivered = 0;

  const deliver = (e: StoredEvent): void => {
    const id = Number(e.id);
    // Appends commit in id order (advisory lock), so anything at or below the last id is a repeat.
    if (id <= lastDelivered) return;
    lastDelivered = id;
    hub.deliver(e);
  };

  /**
   * One LISTEN session: connects, listens, gets level with the table, declares the
   * feed live (calling `onLive`), and resolves when the connection ends (an error,
   * a failed ping, or close). Rejects if it fails before it was live.
   */
  const listenOnce = async (first: boolean, onLive: () => void): Promise<void> => {
    const client = new pg.Client(clientConfig);
    let ended!: () => void;
    const end = new Promise<void>((resolve) => (ended = resolve));
    client.on('error', () => ended());
    client.on('end', () => ended());
    client.on('notification', (msg) => {
      if (msg.channel !== channel || msg.payload === undefined) return;
      try {
        deliver(JSON.parse(msg.payload) as StoredEvent);
      } catch (error) {
        process.emitWarning(new Error('unreadable revocation notification', { cause: error }), 'RevocationListenerWarning');
      }
    });
    const onAbort = (): void => {
      client.end().catch(() => undefined);
    };
    stopFeed.signal.addEventListener('abort', onAbort, { once: true });
    let ping: NodeJS.Timeout | undefined;
    try {
      await client.connect();
      await client.query(`LISTEN ${quoteIdent(channel)}`);
      if (first) {
        // Events up to here are the subscriber's to replay (Auth.catchUp); the feed carries what follows.
        const r = await client.query<{ id: number | null }>('SELECT max(id) AS id FROM revocation_events');
        lastDelivered = r.rows[0]?.id ?? 0;
      } else {
        // Catch up on what was appended while we were away, and only then declare the feed live.
        for (;;) {
          const batch = await since(String(lastDelivered), 1000, 0, client);
          batch.forEach(deliver);
          if (batch.length < 1000) break;
        }
      }
      hub.setLive(true);
      onLive();
      ping = setInterval(() => {
        client.query('SELECT 1').catch(() => {
          hub.setLive(false);
          client.end().catch(() => undefined);
        });
      }, LISTENER_PING_MS);
      await end;
    } finally {
      clearInterval(ping);
      stopFeed.signal.removeEventListener('abort', onAbort);
      client.end().catch(() => undefined);
    }
  };

  /** Keeps a LISTEN session open until close; resolves once the first one is live, rejects if it cannot start. */
  const startFeed = (): Promise<void> =>
    new Promise<void>((resolveFirst, rejectFirst) => {
      let first = true;
      feedDone = (async () => {
        let attempt = 0;
        while (!stopFeed.signal.aborted) {
          try {
            await listenOnce(first, () => {
              attempt = 0;
              if (first) resolveFirst();
              first = false;
            });
          } catch (error) {
            if (first) return rejectFirst(error instanceof Error ? error : new Error(String(error)));
            attempt++;
          }
          if (stopFeed.signal.aborted) return;
          hub.setLive(false);
          await pause(backoff(attempt), stopFeed.signal);
        }
      })();
    });

  return {
    startFeed,
    disableFeed: () => {
      feedEnabled = false;
    },

    users: {
      createUser: async (u) => {
        const r = await run(
          'createUser',
          `INSERT INTO users (${USER_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (username_key) DO NOTHING`,
          [u.id, u.username, u.usernameKey, u.name, u.role, u.disabled, u.passwordHash, u.createdAt, u.updatedAt],
        );
        return r.rowCount === 0 ? 'conflict' : { ...u };
      },
      findUserById: async (id) => mapOrNull(await one<UserRow>('findUserById', `SELECT ${USER_COLS} FROM users WHERE id = $1`, [id]), toUser),
      findUserByUsername: async (key) =>
        mapOrNull(await one<UserRow>('findUserByUsername', `SELECT ${USER_COLS} FROM users WHERE username_key = $1`, [key]), toUser),
      listUsers: async ({ q: filter, limit, cursor }) => {
        checkLimit(limit);
        const after = cursor === undefined ? '' : decodeUserCursor(cursor);
        // strpos, not LIKE: the filter is a literal substring, `_` and `%` included. One extra row says whether there is a next page.
        const found = await rows<UserRow>(
          'listUsers',
          `SELECT ${USER_COLS} FROM users WHERE username_key > $1 AND ($2::text IS NULL OR strpos(username_key, $2) > 0)
           ORDER BY username_key LIMIT $3`,
          [after, filter ?? null, limit + 1],
        );
        const page = found.slice(0, limit).map(toUser);
        const last = page.at(-1);
        return { users: page, nextCursor: found.length > limit && last !== undefined ? encodeUserCursor(last.usernameKey) : null };
      },
      updateUser: async (id, patch, now) =>
        mapOrNull(
          await one<UserRow>(
            'updateUser',
            `UPDATE users SET role = coalesce($2, role), disabled = coalesce($3, disabled),
               password_hash = coalesce($4, password_hash), updated_at = $5
             WHERE id = $1 RETURNING ${USER_COLS}`,
            [id, patch.role ?? null, patch.disabled ?? null, patch.passwordHash ?? null, now],
          ),
          toUser,
        ),
    },

    sessions: {
      createSession: async (s) => {
        await run('createSession', `INSERT INTO sessions (${SESSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, [
          s.idHash,
          s.publicId,
          s.userId,
          s.csrfHash,
          s.createdAt,
          s.lastUsedAt,
          s.idleExpiresAt,
          s.expiresAt,
          s.userAgent,
        ]);
      },
      findSession: async (idHash, now) =>
        mapOrNull(
          await one<SessionRow>('findSession', `SELECT ${SESSION_COLS} FROM sessions WHERE id_hash = $1 AND idle_expires_at > $2 AND expires_at > $2`, [
            idHash,
            now,
          ]),
          toSession,
        ),
      touchSession: async (idHash, lastUsedAt, idleExpiresAt) => {
        // The idle guard keeps a session that died of idleness dead even if a late touch arrives.
        await run('touchSession', 'UPDATE sessions SET last_used_at = $2, idle_expires_at = $3 WHERE id_hash = $1 AND idle_expires_at > $2', [
          idHash,
          lastUsedAt,
          idleExpiresAt,
        ]);
      },
      deleteSession: async (idHash) => ((await run('deleteSession', 'DELETE FROM sessions WHERE id_hash = $1', [idHash])).rowCount ?? 0) > 0,
      deleteSessionByPublicId: async (userId, publicId) =>
        ((await run('deleteSessionByPublicId', 'DELETE FROM sessions WHERE user_id = $1 AND public_id = $2', [userId, publicId])).rowCount ?? 0) > 0,
      deleteUserSessions: async (userId, exceptPublicId) =>
        (await run('deleteUserSessions', 'DELETE FROM sessions WHERE user_id = $1 AND public_id IS DISTINCT FROM $2', [userId, exceptPublicId ?? null]))
          .rowCount ?? 0,
      listUserSessions: async (userId, now) =>
        (
          await rows<SessionRow>(
            'listUserSessions',
            `SELECT ${SESSION_COLS} FROM sessions WHERE user_id = $1 AND idle_expires_at > $2 AND expires_at > $2
             ORDER BY created_at DESC, seq DESC`,
            [userId, now],
          )
        ).map(toSession),
      deleteAllSessions: async () => (await run('deleteAllSessions', 'DELETE FROM sessions')).rowCount ?? 0,
      sweepSessions: async (now) => sweepSessions(now),
    },

    refresh: {
      createFamily: (f, grant) =>
        tx('createFamily', async (c) => {
          await c.query(`INSERT INTO refresh_families (${FAMILY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
            f.id,
            f.userId,
            f.csrfHash,
            f.currentHash,
            f.createdAt,
            f.lastUsedAt,
            f.expiresAt,
            f.userAgent,
            f.revokedAt,
            f.revokedReason,
          ]);
          await c.query('INSERT INTO refresh_tokens (token_hash, family_id) VALUES ($1, $2)', [f.currentHash, f.id]);
          if (grant && grant.exp * 1000 > f.createdAt) await c.query(INSERT_GRANT, [f.id, grant.jti, grant.exp]);
        }),
      rotateRefresh: (input) => tx('rotateRefresh', (c) => rotate(c, input)),
      findFamilyByToken: async (tokenHash, now) =>
        mapOrNull(
          await one<FamilyRow>(
            'findFamilyByToken',
            `SELECT ${FAMILY_COLS.split(', ').map((col) => `f.${col}`).join(', ')}
             FROM refresh_tokens t JOIN refresh_families f ON f.id = t.family_id
             WHERE t.token_hash = $1 AND f.revoked_at IS NULL AND f.expires_at > $2`,
            [tokenHash, now],
          ),
          toFamily,
        ),
      revokeFamily: (userId, familyId, reason, now) =>
        tx('revokeFamily', async (c) => {
          const row = (
            await c.query<FamilyRow>(
              `UPDATE refresh_families SET revoked_at = $4, revoked_reason = $3
               WHERE id = $2 AND user_id = $1 AND revoked_at IS NULL AND expires_at > $4 RETURNING ${FAMILY_COLS}`,
              [userId, familyId, reason, now],
            )
          ).rows[0];
          return row === undefined ? null : withLiveGrants(c, row, now);
        }),
      revokeUserFamilies: async (userId, reason, now, exceptFamilyId) =>
        (
          await rows<FamilyRow>(
            'revokeUserFamilies',
            `UPDATE refresh_families SET revoked_at = $3, revoked_reason = $2
             WHERE user_id = $1 AND id IS DISTINCT FROM $4 AND revoked_at IS NULL AND expires_at > $3 RETURNING ${FAMILY_COLS}`,
            [userId, reason, now, exceptFamilyId ?? null],
          )
        ).map(toFamily),
      listUserFamilies: async (userId, now) =>
        (
          await rows<FamilyRow>(
            'listUserFamilies',
            `SELECT ${FAMILY_COLS} FROM refresh_families WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
             ORDER BY created_at DESC, seq DESC`,
            [userId, now],
          )
        ).map(toFamily),
      revokeAllFamilies: async (reason, now) =>
        (
          await run(
            'revokeAllFamilies',
            'UPDATE refresh_families SET revoked_at = $2, revoked_reason = $1 WHERE revoked_at IS NULL AND expires_at > $2',
            [reason, now],
          )
        ).rowCount ?? 0,
      sweepFamilies: async (now) => sweepFamilies(now),
      sweepGrants: async (now) => (await run('sweepGrants', SWEEP_GRANTS, [Math.floor(now / 1000)])).rowCount ?? 0,
    },

    revocations: {
      append: async (event, expiresAt) => {
        const json = JSON.stringify(event);
        // One statement: the advisory lock makes ids commit in order, and the NOTIFY goes out with the commit.
        const row = await one<EventRow>(
          'append',
          `WITH l AS (SELECT pg_advisory_xact_lock(hashtext($3))),
                ins AS (INSERT INTO revocation_events (event, expires_at) SELECT $1, $2 FROM l RETURNING id, event)
           SELECT id, event, pg_notify($4, json_build_object('id', id::text, 'event', event::json)::text) FROM ins`,
          [json, expiresAt, appendLock, channel],
        );
        if (row === undefined) throw new Error('PostgreSQL store: append returned no row');
        // Built from the stored JSON so the caller gets exactly what `since` will replay.
        return toEvent({ id: row.id, event: json });
      },
      since: (cursor, limit, now) => since(cursor, limit, now),
      subscribe: (listener, onFeed) => {
        if (!feedEnabled) throw new Error('This PostgreSQL store was opened without its event feed (feed: false); subscribe to the backend that carries events.');
        return hub.subscribe(listener, onFeed);
      },
      sweepEvents: async (now) => (await run('sweepEvents', 'DELETE FROM revocation_events WHERE expires_at <= $1', [now])).rowCount ?? 0,
    },

    keys: {
      listKeys: async () => (await rows<KeyRow>('listKeys', `SELECT ${KEY_COLS} FROM signing_keys ORDER BY created_at, seq`)).map(toKey),
      insertKey: async (k) => {
        const r = await run(
          'insertKey',
          `INSERT INTO signing_keys (${KEY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kid) DO NOTHING`,
          [k.kid, k.alg, k.privateKey, k.publicJwk === null ? null : JSON.stringify(k.publicJwk), k.createdAt, k.retiredAt, k.publishUntil],
        );
        if (r.rowCount === 0) throw new Error(`a key with kid ${k.kid} already exists`);
      },
      retireKey: async (kid, retiredAt, publishUntil) => {
        await run('retireKey', 'UPDATE signing_keys SET retired_at = $2, publish_until = $3 WHERE kid = $1', [kid, retiredAt, publishUntil]);
      },
      sweepKeys: async (now) => (await run('sweepKeys', 'DELETE FROM signing_keys WHERE publish_until <= $1', [now])).rowCount ?? 0,
      getOrCreateSecret: async (name, candidate) => {
        await run('getOrCreateSecret', 'INSERT INTO server_secrets (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING', [name, candidate]);
        // A second statement, so it sees a row a concurrent node committed while our insert waited on it.
        const row = await one<{ value: string }>('getOrCreateSecret', 'SELECT value FROM server_secrets WHERE name = $1', [name]);
        if (row === undefined) throw new Error('PostgreSQL store: the secret vanished between insert and read');
        return row.value;
      },
    },

    rateLimits: {
      hit: async (key, windowMs, now) => {
        // One statement, so a hit is atomic across nodes: starts a new window once the old one has ended.
        const r = await one<{ hits: number; reset_at: number }>(
          'hit',
          `INSERT INTO rate_limits (key, hits, reset_at) VALUES ($1, 1, $2::bigint + $3::bigint)
           ON CONFLICT (key) DO UPDATE SET
             hits = CASE WHEN rate_limits.reset_at <= $2 THEN 1 ELSE rate_limits.hits + 1 END,
             reset_at = CASE WHEN rate_limits.reset_at <= $2 THEN $2::bigint + $3::bigint ELSE rate_limits.reset_at END
           RETURNING hits, reset_at`,
          [key, now, windowMs],
        );
        if (r === undefined) throw new Error('PostgreSQL store: hit returned no row');
        return { count: r.hits, resetAt: r.reset_at };
      },
      peek: async (key, now) => {
        const r = await one<{ hits: number; reset_at: number }>('peek', 'SELECT hits, reset_at FROM rate_limits WHERE key = $1 AND reset_at > $2', [key, now]);
        return r === undefined ? { count: 0, resetAt: now } : { count: r.hits, resetAt: r.reset_at };
      },
      reset: async (key) => {
        await run('reset', 'DELETE FROM rate_limits WHERE key = $1', [key]);
      },
    },

    ping: async () => {
      if (closed) return { [STORE]: 'closed' };
      try {
        await pool.query('SELECT 1');
      } catch (error) {
        // The reason is the answer here: readiness reports it instead of throwing.
        return { [STORE]: isUnavailable(error) ? 'unavailable' : `error: ${error instanceof Error ? error.message : String(error)}` };
      }
      if (feedEnabled && !hub.isLive) return { [STORE]: 'events feed reconnecting' };
      return { [STORE]: 'ok' };
    },
    sweepExpired: (now) =>
      tx('sweepExpired', async (c) => ({
        sessions: (await c.query('DELETE FROM sessions WHERE idle_expires_at <= $1 OR expires_at <= $1', [now])).rowCount ?? 0,
        families: (await c.query('DELETE FROM refresh_families WHERE expires_at <= $1', [now])).rowCount ?? 0,
        grants: (await c.query(SWEEP_GRANTS, [Math.floor(now / 1000)])).rowCount ?? 0,
        events: (await c.query('DELETE FROM revocation_events WHERE expires_at <= $1', [now])).rowCount ?? 0,
        keys: (await c.query('DELETE FROM signing_keys WHERE publish_until <= $1', [now])).rowCount ?? 0,
        rateLimits: (await c.query('DELETE FROM rate_limits WHERE reset_at <= $1', [now])).rowCount ?? 0,
      })),
    close: async () => {
      if (closed) return;
      closed = true;
      stopFeed.abort();
      hub.clear();
      await feedDone.catch(() => undefined);
      await pool.end();
    },
  };

  async function sweepSessions(now: number): Promise<number> {
    return (await run('sweepSessions', 'DELETE FROM sessions WHERE idle_expires_at <= $1 OR expires_at <= $1', [now])).rowCount ?? 0;
  }

  async function sweepFamilies(now: number): Promise<number> {
    // Tokens and grants go with their family through ON DELETE CASCADE.
    return (await run('sweepFamilies', 'DELETE FROM refresh_families WHERE expires_at <= $1', [now])).rowCount ?? 0;
  }

  /** The rotation step, inside the caller's transaction. */
  async function rotate(c: pg.PoolClient, { oldHash, nextHash, now, graceMs, grant }: RotateInput): Promise<RotateResult> {
    // Lock the family row first: every rotation, grace and revocation of this family queues here,
    // so exactly one of many concurrent presenters sees the token as current.
    const locked = await c.query<FamilyRow>(
      `SELECT ${FAMILY_COLS} FROM refresh_families
       WHERE id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) FOR UPDATE`,
      [oldHash],
    );
    const row = locked.rows[0];
    if (row === undefined) return { status: 'unknown' };
    // Read after the lock: READ COMMITTED gives this statement a snapshot that includes the previous holder's writes.
    const token = (await c.query<{ rotated_at: number | null; successor_hash: string | null }>(
      'SELECT rotated_at, successor_hash FROM refresh_tokens WHERE token_hash = $1',
      [oldHash],
    )).rows[0];
    if (token === undefined) return { status: 'unknown' };
    const family = toFamily(row);
    if (family.revokedAt !== null || now >= family.expiresAt) return { status: 'revoked', family };

    const live = grant.exp * 1000 > now;
    if (family.currentHash === oldHash) {
      // The successor, the old token's rotation, the family's new current token and the grant
      // in one round trip: under the row lock nobody else can interleave anyway.
      await c.query(live ? ADVANCE_WITH_GRANT : ADVANCE, live ? [family.id, nextHash, now, oldHash, grant.jti, grant.exp] : [family.id, nextHash, now, oldHash]);
      family.currentHash = nextHash;
      family.lastUsedAt = now;
      return { status: 'rotated', family };
    }

    // A rotated token: a concurrent duplicate (same successor, inside the window) or a replay.
    if (token.rotated_at !== null && token.successor_hash === nextHash && now - token.rotated_at <= graceMs) {
      if (live) await c.query(INSERT_GRANT, [family.id, grant.jti, grant.exp]);
      return { status: 'grace', family };
    }
    const revoked = await c.query<FamilyRow>(
      `UPDATE refresh_families SET revoked_at = $2, revoked_reason = 'reused' WHERE id = $1 RETURNING ${FAMILY_COLS}`,
      [family.id, now],
    );
    return { status: 'reused', family: await withLiveGrants(c, mustGet(revoked.rows[0]), now) };
  }

  /**
   * The family with its grants unexpired at `now`. Called after the statement that revoked it,
   * in the same transaction: that statement waited for any rotation holding the row lock, and
   * this one's fresh READ COMMITTED snapshot sees the grant such a rotation committed.
   */
  async function withLiveGrants(c: pg.PoolClient, row: FamilyRow, now: number): Promise<RevokedFamily> {
    const grants = await c.query<GrantRow>('SELECT jti, exp FROM refresh_grants WHERE family_id = $1 AND exp > $2', [row.id, Math.floor(now / 1000)]);
    return { ...toFamily(row), grants: grants.rows };
  }
}

function mapOrNull<R, T>(row: R | undefined, map: (row: R) => T): T | null {
  return row === undefined ? null : map(row);
}

/** For statements that return a row by construction (RETURNING after a write that cannot miss). */
function mustGet<R>(row: R | undefined): R {
  if (row === undefined) throw new Error('PostgreSQL store: a statement returned no row where one was guaranteed');
  return row;
}
