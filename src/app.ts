import type { FastifyInstance } from 'fastify';
import { createArgon2Hasher } from './adapters/argon2.js';
import { Auth } from './core/auth.js';
import { cryptoRandom, systemClock, type Clock, type Random } from './core/clock.js';
import type { Config } from './core/config.js';
import type { PasswordHasher } from './core/passwords.js';
import type { Stores } from './core/ports.js';
import type { Logger } from 'pino';
import { buildServer, createLogger } from './http/server.js';
import { openStores } from './stores/index.js';

export interface Frontdesk {
  app: FastifyInstance;
  /** The server's logger (Fastify's own `app.log` is a no-op: see http/server.ts#createLogger). */
  log: Logger;
  auth: Auth;
  stores: Stores;
  /** The listening URL, e.g. http://127.0.0.1:3000. */
  url: string;
  /** Stops accepting, lets in-flight requests finish, then closes the stores. */
  close(): Promise<void>;
}

export interface StartOptions {
  config: Config;
  /** Defaults to the stores the config names (SQLite in the data dir). */
  stores?: Stores;
  clock?: Clock;
  random?: Random;
  hasher?: PasswordHasher;
  /** Where logs go (default stdout). */
  logStream?: NodeJS.WritableStream;
  /** Sweep interval for expired rows, ms (default 60 s). */
  sweepEveryMs?: number;
}

/**
 * Wires stores, core and HTTP together and listens.
 *
 * @example
 * const fd = await startFrontdesk({ config: loadConfig(process.env) });
 * console.log(fd.url);
 */
export async function startFrontdesk(o: StartOptions): Promise<Frontdesk> {
  const { config } = o;
  const stores =
    o.stores ??
    (await openStores({
      dataDir: config.dataDir,
      ...(config.databaseUrl !== undefined && { databaseUrl: config.databaseUrl }),
      ...(config.redisUrl !== undefined && { redisUrl: config.redisUrl }),
    }));
  const log = createLogger(config.logLevel, o.logStream);
  let auth: Auth;
  try {
    auth = await Auth.create({
      config,
      stores,
      hasher: o.hasher ?? createArgon2Hasher(),
      clock: o.clock ?? systemClock,
      random: o.random ?? cryptoRandom,
      log,
    });
  } catch (e) {
    await stores.close();
    throw e;
  }
  const app = await buildServer({ auth, config, stores, log });

  const sweep = setInterval(() => {
    auth.sweep().then(
      (counts) => log.debug({ swept: counts }, 'swept expired rows'),
      (err: unknown) => log.warn({ err }, 'sweep failed'),
    );
  }, o.sweepEveryMs ?? 60_000);
  sweep.unref();

  await app.listen({ port: config.port, host: config.host });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : config.port;
  let closing: Promise<void> | undefined;
  return {
    app,
    log,
    auth,
    stores,
    url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`,
    close: () =>
      (closing ??= (async () => {
        clearInterval(sweep);
        // In-flight requests get a bounded time to finish; then their sockets are cut.
        const force = setTimeout(() => app.server.closeAllConnections(), 10_000);
        force.unref();
        await app.close();
        clearTimeout(force);
        auth.close();
        await stores.close();
      })()),
  };
}
