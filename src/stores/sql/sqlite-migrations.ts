/**
 * Numbered schema migrations for the SQLite backend. Append only: a released
 * migration is never edited, because databases in the field already recorded it
 * by version and name in `schema_migrations`. The runner (src/stores/sqlite.ts)
 * applies the pending ones in one transaction at open.
 *
 * Conventions: times are INTEGER milliseconds since the epoch; secrets are
 * base64url SHA-256 digests; every column a sweep or a per-user query filters on
 * is indexed.
 *
 * @example
 * // Adding a column later:
 * { version: 2, name: 'sessions_ip', sql: `ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT ''` }
 */
export interface Migration {
  /** 1, 2, 3… without gaps; the order of application. */
  readonly version: number;
  /** Short snake_case label, recorded next to the version. */
  readonly name: string;
  /** One or more statements, run inside the migration transaction. */
  readonly sql: string;
}

export const sqliteMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        username      TEXT NOT NULL,
        -- BINARY collation on purpose: the cursor of listUsers compares keys byte-wise.
        username_key  TEXT NOT NULL UNIQUE,
        name          TEXT NOT NULL,
        role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
        disabled      INTEGER NOT NULL CHECK (disabled IN (0, 1)),
        password_hash TEXT NOT NULL,
        created_at    INTEGER NOT NULL,
        updated_at    INTEGER NOT NULL
      );

      CREATE TABLE sessions (
        id_hash         TEXT PRIMARY KEY,
        public_id       TEXT NOT NULL UNIQUE,
        user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        csrf_hash       TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        last_used_at    INTEGER NOT NULL,
        idle_expires_at INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL,
        user_agent      TEXT NOT NULL
      );
      CREATE INDEX sessions_user ON sessions (user_id, created_at);
      CREATE INDEX sessions_idle_expiry ON sessions (idle_expires_at);
      CREATE INDEX sessions_expiry ON sessions (expires_at);

      CREATE TABLE refresh_families (
        id             TEXT PRIMARY KEY,
        user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        csrf_hash      TEXT NOT NULL,
        current_hash   TEXT NOT NULL,
        created_at     INTEGER NOT NULL,
        last_used_at   INTEGER NOT NULL,
        expires_at     INTEGER NOT NULL,
        user_agent     TEXT NOT NULL,
        revoked_at     INTEGER,
        revoked_reason TEXT CHECK (revoked_reason IN ('logout', 'logout_all', 'password', 'admin', 'disabled', 'reused', 'wipe')),
        -- JSON array of {jti, exp}: access tokens to deny when the family dies.
        grants         TEXT NOT NULL DEFAULT '[]'
      );
      CREATE INDEX refresh_families_user ON refresh_families (user_id, created_at);
      CREATE INDEX refresh_families_expiry ON refresh_families (expires_at);

      -- Every token a family ever had, so that a replayed old token is recognised as reuse.
      CREATE TABLE refresh_tokens (
        token_hash     TEXT PRIMARY KEY,
        family_id      TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
        rotated_at     INTEGER,
        successor_hash TEXT
      );
      CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

      -- AUTOINCREMENT so that a swept highest id is never handed out again: ids are cursors.
      CREATE TABLE revocation_events (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        event      TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX revocation_events_expiry ON revocation_events (expires_at);

      CREATE TABLE signing_keys (
        kid           TEXT PRIMARY KEY,
        alg           TEXT NOT NULL CHECK (alg IN ('EdDSA', 'ES256', 'RS256', 'HS256')),
        private_key   TEXT NOT NULL,
        public_jwk    TEXT,
        created_at    INTEGER NOT NULL,
        retired_at    INTEGER,
        publish_until INTEGER
      );
      CREATE INDEX signing_keys_publish_until ON signing_keys (publish_until);

      CREATE TABLE server_secrets (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );

      CREATE TABLE rate_limits (
        key      TEXT PRIMARY KEY,
        hits     INTEGER NOT NULL,
        reset_at INTEGER NOT NULL
      );
      CREATE INDEX rate_limits_reset ON rate_limits (reset_at);
    `,
  },
  {
    version: 2,
    name: 'sessions_without_rowid',
    // The session look-up by id_hash is the hot path of session mode. As a rowid table,
    // TEXT PRIMARY KEY is a separate index: two B-tree searches per look-up. WITHOUT ROWID
    // stores the row in the primary-key B-tree itself: one search.
    sql: `
      CREATE TABLE sessions_v2 (
        id_hash         TEXT PRIMARY KEY,
        public_id       TEXT NOT NULL UNIQUE,
        user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        csrf_hash       TEXT NOT NULL,
        created_at      INTEGER NOT NULL,
        last_used_at    INTEGER NOT NULL,
        idle_expires_at INTEGER NOT NULL,
        expires_at      INTEGER NOT NULL,
        user_agent      TEXT NOT NULL
      ) WITHOUT ROWID;
      INSERT INTO sessions_v2 SELECT * FROM sessions;
      DROP TABLE sessions;
      ALTER TABLE sessions_v2 RENAME TO sessions;
      CREATE INDEX sessions_user ON sessions (user_id, created_at);
      CREATE INDEX sessions_idle_expiry ON sessions (idle_expires_at);
      CREATE INDEX sessions_expiry ON sessions (expires_at);
    `,
  },
  {
    version: 3,
    name: 'refresh_grants_table',
    // A family's access tokens were a JSON array on the family row, parsed and rewritten by
    // every rotation: a family refreshed often within one access-token lifetime made each
    // rotation cost more than the last. Now a rotation appends one row here, and only a
    // revocation reads a family's rows. The primary key leads with family_id (the revocation's
    // look-up, and the cascade from a swept family); the exp index serves the sweep.
    sql: `
      CREATE TABLE refresh_grants (
        family_id TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
        jti       TEXT NOT NULL,
        -- Seconds since the epoch, the access token's own exp.
        exp       INTEGER NOT NULL,
        PRIMARY KEY (family_id, jti)
      ) WITHOUT ROWID;
      CREATE INDEX refresh_grants_exp ON refresh_grants (exp);
      INSERT OR IGNORE INTO refresh_grants (family_id, jti, exp)
        SELECT f.id, json_extract(g.value, '$.jti'), json_extract(g.value, '$.exp')
        FROM refresh_families f, json_each(f.grants) g;
      ALTER TABLE refresh_families DROP COLUMN grants;
    `,
  },
  {
    version: 4,
    name: 'refresh_tokens_without_rowid',
    // Every rotation inserts one token and marks its predecessor, both by token_hash. As a rowid
    // table, TEXT PRIMARY KEY is a separate index: each write touched the table's B-tree and the
    // key's. WITHOUT ROWID keeps the row in the primary-key B-tree itself: one fewer page written
    // per rotation (as migration 2 did for sessions). Tokens are found by hash only, never in rowid order.
    sql: `
      CREATE TABLE refresh_tokens_v2 (
        token_hash     TEXT PRIMARY KEY,
        family_id      TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
        rotated_at     INTEGER,
        successor_hash TEXT
      ) WITHOUT ROWID;
      INSERT INTO refresh_tokens_v2 SELECT token_hash, family_id, rotated_at, successor_hash FROM refresh_tokens;
      DROP TABLE refresh_tokens;
      ALTER TABLE refresh_tokens_v2 RENAME TO refresh_tokens;
      CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
    `,
  },
];
