import { startPostgres, type PostgresServer } from '../harness/postgres.js';
import { startRedis, type RedisServer } from '../harness/redis.js';

/** A store backend for a test server: the environment that selects it, and its throwaway servers. */
export interface TestBackend {
  /** DATABASE_URL / REDIS_URL for the server, empty for SQLite. */
  env: Record<string, string>;
  /** The names `/readyz` reports for this backend. */
  stores: string[];
  postgres?: PostgresServer;
  redis?: RedisServer;
  stop(): Promise<void>;
}

/** The values FRONTDESK_TEST_BACKEND may take; unset means sqlite. */
export type BackendName = 'sqlite' | 'postgres+redis';

/**
 * Starts what a backend needs: nothing for SQLite (the server makes its own file),
 * a throwaway PostgreSQL and Redis for `postgres+redis`.
 *
 * @example
 * const b = await startBackend(process.env['FRONTDESK_TEST_BACKEND']);
 * const s = await startServer(b.env);
 */
export async function startBackend(name: string | undefined): Promise<TestBackend> {
  switch (name ?? 'sqlite') {
    case 'sqlite':
      return { env: {}, stores: ['sqlite'], stop: () => Promise.resolve() };
    case 'postgres+redis': {
      const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
      return {
        env: { DATABASE_URL: postgres.url, REDIS_URL: redis.url },
        stores: ['postgres', 'redis'],
        postgres,
        redis,
        stop: async () => {
          await Promise.all([postgres.stop(), redis.stop()]);
        },
      };
    }
    default:
      throw new Error(`FRONTDESK_TEST_BACKEND=${name}: use sqlite or postgres+redis`);
  }
}
