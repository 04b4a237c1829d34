import { join } from 'node:path';
import type { Stores } from '../core/ports.js';
import { openPostgresStores } from './postgres.js';
import { openRedisStores, type RedisStores } from './redis.js';
import { openSqliteStores } from './sqlite.js';

/**
 * Where refresh families live when Redis is present:
 * - 'sql' (openStores' choice): families are durable truth next to the users
 *   they belong to; a Redis restart or eviction cannot sign hybrid clients out
 *   or forget that a token was already rotated (which would disarm reuse detection).
 * - 'redis': rotation is a Lua script on Redis; faster, but only as durable as
 *   Redis's persistence. For embedders that run Redis with AOF and want it.
 */
export type FamiliesIn = 'sql' | 'redis';

/**
 * One Stores over two backends: users and signing keys (and by default
 * refresh families) from the SQL one; sessions, revocation events and
 * rate-limit windows from Redis. `ping` reports both, `sweepExpired` sweeps
 * each kind where it lives, `close` closes both.
 *
 * @example
 * const stores = composeStores(await openPostgresStores({ url, feed: false }), await openRedisStores({ url: redisUrl }));
 */
export function composeStores(sql: Stores, redis: RedisStores, options: { familiesIn?: FamiliesIn } = {}): Stores {
  const familiesInRedis = options.familiesIn === 'redis';
  return {
    users: sql.users,
    keys: sql.keys,
    refresh: familiesInRedis ? redis.refresh : sql.refresh,
    sessions: redis.sessions,
    revocations: redis.revocations,
    rateLimits: redis.rateLimits,
    ping: async () => ({ ...(await sql.ping()), ...(await redis.ping()) }),
    sweepExpired: async (now) => ({
      sessions: await redis.sessions.sweepSessions(now),
      families: familiesInRedis ? await redis.refresh.sweepFamilies(now) : await sql.refresh.sweepFamilies(now),
      grants: familiesInRedis ? await redis.refresh.sweepGrants(now) : await sql.refresh.sweepGrants(now),
      events: await redis.revocations.sweepEvents(now),
      keys: await sql.keys.sweepKeys(now),
      // Redis expires rate-limit windows by TTL; nothing is left for a sweep to count.
      rateLimits: 0,
    }),
    close: async () => {
      const results = await Promise.allSettled([redis.close(), sql.close()]);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
    },
  };
}

/**
 * Opens the stores the configuration asks for:
 *
 * | DATABASE_URL | REDIS_URL | users, keys, families | sessions, events, rate limits |
 * |---|---|---|---|
 * | unset | unset | SQLite in `<dataDir>/frontdesk.db` | SQLite |
 * | set | unset | PostgreSQL | PostgreSQL (events between nodes by LISTEN/NOTIFY) |
 * | set | set | PostgreSQL | Redis (or Redis Cluster) |
 * | unset | set | SQLite | Redis (or Redis Cluster) |
 *
 * A backend that cannot be reached fails the start with a message naming its
 * variable (passwords masked); nothing falls back to a local file silently.
 *
 * @example
 * const stores = await openStores({ dataDir: './data', databaseUrl: process.env.DATABASE_URL });
 * try { await stores.ping(); } finally { await stores.close(); }
 */
export async function openStores(config: { dataDir: string; databaseUrl?: string; redisUrl?: string }): Promise<Stores> {
  const withRedis = config.redisUrl !== undefined;
  // With Redis, events travel through its stream: PostgreSQL need not hold a LISTEN connection for them.
  const sql =
    config.databaseUrl !== undefined
      ? await openPostgresStores({ url: config.databaseUrl, feed: !withRedis })
      : openSqliteStores({ file: join(config.dataDir, 'frontdesk.db') });
  if (config.redisUrl === undefined) return sql;
  try {
    return composeStores(sql, await openRedisStores({ url: config.redisUrl }));
  } catch (error) {
    await sql.close().catch(() => undefined);
    throw error;
  }
}
