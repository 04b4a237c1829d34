import type { Migration } from './sqlite-migrations.js';

/**
 * Numbered schema migrations for the PostgreSQL backend, the twin of
 * sqlite-migrations.ts: the same tables and columns, in PostgreSQL's types.
 * Append only — a released migration is never edited, because databases in the
 * field recorded it by version and name in `schema_migrations`. The runner
 * (src/stores/postgres.ts) applies the pending ones in one transaction under an
 * advisory lock, so several nodes starting at once apply each exactly once.
 *
 * Conventions: times are BIGINT milliseconds since the epoch; secrets are
 * base64url SHA-256 digests; every column a sweep or a per-user query filters on
 * is indexed. `seq` identity columns give "newest first" a stable order when two
 * rows share a timestamp (SQLite's rowid plays that part).
 *
 * @example
 * // Adding a column later:
 * { version: 2, name: 'sessions_ip', sql: `ALTER TABLE sessions ADD COLUMN ip TEXT NOT NULL DEFAULT ''` }
 */
export const postgresMigrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    sql: `
      CREATE TABLE users (
        id            TEXT PRIMARY KEY,
        username      TEXT NOT NULL,
        -- Byte-wise "C" collation on purpose: listUsers pages by username_key, and the
        -- order must not depend on the server's locale (and must match SQLite's BINARY).
        username_key  TEXT COLLATE "C" NOT NULL UNIQUE,
        name          TEXT NOT NULL,
        role          TEXT NOT NULL CHECK (role IN ('user', 'admin')),
        disabled      BOOLEAN NOT NULL,
        password_hash TEXT NOT NULL,
        created_at    BIGINT NOT NULL,
        updated_at    BIGINT NOT NULL
      );

      CREATE TABLE sessions (
        id_hash         TEXT PRIMARY KEY,
        public_id       TEXT NOT NULL UNIQUE,
        user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        csrf_hash       TEXT NOT NULL,
        created_at      BIGINT NOT NULL,
        last_used_at    BIGINT NOT NULL,
        idle_expires_at BIGINT NOT NULL,
        expires_at      BIGINT NOT NULL,
        user_agent      TEXT NOT NULL,
        seq             BIGINT GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX sessions_user ON sessions (user_id, created_at);
      CREATE INDEX sessions_idle_expiry ON sessions (idle_expires_at);
      CREATE INDEX sessions_expiry ON sessions (expires_at);

      CREATE TABLE refresh_families (
        id             TEXT PRIMARY KEY,
        user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
        csrf_hash      TEXT NOT NULL,
        current_hash   TEXT NOT NULL,
        created_at     BIGINT NOT NULL,
        last_used_at   BIGINT NOT NULL,
        expires_at     BIGINT NOT NULL,
        user_agent     TEXT NOT NULL,
        revoked_at     BIGINT,
        revoked_reason TEXT CHECK (revoked_reason IN ('logout', 'logout_all', 'password', 'admin', 'disabled', 'reused', 'wipe')),
        -- JSON array of {jti, exp}: access tokens to deny when the family dies. TEXT, not
        -- JSONB, so it round-trips byte for byte like every other backend.
        grants         TEXT NOT NULL DEFAULT '[]',
        seq            BIGINT GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX refresh_families_user ON refresh_families (user_id, created_at);
      CREATE INDEX refresh_families_expiry ON refresh_families (expires_at);

      -- Every token a family ever had, so that a replayed old token is recognised as reuse.
      CREATE TABLE refresh_tokens (
        token_hash     TEXT PRIMARY KEY,
        family_id      TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
        rotated_at     BIGINT,
        successor_hash TEXT
      );
      CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);

      -- Ids are cursors: an identity never hands out a value twice, even after the newest
      -- row is swept. Appends take an advisory lock so ids also commit in order (a reader
      -- that saw id n never later finds a smaller one appear).
      CREATE TABLE revocation_events (
        id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event      TEXT NOT NULL,
        expires_at BIGINT NOT NULL
      );
      CREATE INDEX revocation_events_expiry ON revocation_events (expires_at);

      CREATE TABLE signing_keys (
        kid           TEXT PRIMARY KEY,
        alg           TEXT NOT NULL CHECK (alg IN ('EdDSA', 'ES256', 'RS256', 'HS256')),
        private_key   TEXT NOT NULL,
        public_jwk    TEXT,
        created_at    BIGINT NOT NULL,
        retired_at    BIGINT,
        publish_until BIGINT,
        seq           BIGINT GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX signing_keys_publish_until ON signing_keys (publish_until);

      CREATE TABLE server_secrets (
        name  TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );

      CREATE TABLE rate_limits (
        key      TEXT PRIMARY KEY,
        hits     INTEGER NOT NULL,
        reset_at BIGINT NOT NULL
      );
      CREATE INDEX rate_limits_reset ON rate_limits (reset_at);
    `,
  },
  {
    version: 2,
    name: 'refresh_grants_table',
    // A family's access tokens were a JSON array on the family row, parsed and rewritten by
    // every rotation (and carried by every row lock and RETURNING): a family refreshed often
    // within one access-token lifetime made each rotation cost more than the last. Now a
    // rotation inserts one row here, and only a revocation reads a family's rows. The primary
    // key leads with family_id (the revocation's look-up, and the cascade from a swept family);
    // the exp index serves the sweep.
    sql: `
      CREATE TABLE refresh_grants (
        family_id TEXT NOT NULL REFERENCES refresh_families (id) ON DELETE CASCADE,
        jti       TEXT NOT NULL,
        -- Seconds since the epoch, the access token's own exp.
        exp       BIGINT NOT NULL,
        PRIMARY KEY (family_id, jti)
      );
      CREATE INDEX refresh_grants_exp ON refresh_grants (exp);
      INSERT INTO refresh_grants (family_id, jti, exp)
        SELECT f.id, g.jti, g.exp
        FROM refresh_families f CROSS JOIN LATERAL json_to_recordset(f.grants::json) AS g (jti TEXT, exp BIGINT)
        ON CONFLICT DO NOTHING;
      ALTER TABLE refresh_families DROP COLUMN grants;
    `,
  },
];
