import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Auth, Log } from '../core/auth.js';
import { ConfigError, loadConfig, type Config } from '../core/config.js';
import type { Stores } from '../core/ports.js';
import { UsageError } from './errors.js';
import type { Io } from './io.js';

/** The server's configuration from the same environment variables; a bad one is a usage error (exit 2). */
export function readConfig(env: Record<string, string | undefined>): Config {
  try {
    return loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(`invalid configuration: ${e.message}`);
    throw e;
  }
}

export interface Opened {
  config: Config;
  stores: Stores;
  auth: Auth;
  /** True when the stores are the embedded SQLite file (a running server does not hear our events). */
  sqlite: boolean;
}

/**
 * Opens the configured store and the core on it, as the server does, runs `f`,
 * and closes them. The store modules are loaded here, not at start-up, so that
 * `decode` and `verify` stay quick and need no database.
 *
 * `create`: whether a missing SQLite database may be created (only `users add`
 * may: a mistyped FRONTDESK_DATA_DIR must not silently answer from an empty one).
 */
export async function withAuth<T>(io: Io, f: (o: Opened) => Promise<T>, opts: { create?: boolean } = {}): Promise<T> {
  const config = readConfig(io.env);
  const sqlite = config.databaseUrl === undefined && config.redisUrl === undefined;
  const file = join(config.dataDir, 'frontdesk.db');
  if (sqlite && !opts.create && !existsSync(file)) {
    throw new UsageError(`no database at ${file} (set FRONTDESK_DATA_DIR to the server's data directory)`);
  }
  const [{ openStores }, { Auth }, { createArgon2Hasher }, { systemClock, cryptoRandom }] = await Promise.all([
    import('../stores/index.js'),
    import('../core/auth.js'),
    import('../adapters/argon2.js'),
    import('../core/clock.js'),
  ]);
  let stores: Stores;
  try {
    stores = await openStores({
      dataDir: config.dataDir,
      ...(config.databaseUrl !== undefined && { databaseUrl: config.databaseUrl }),
      ...(config.redisUrl !== undefined && { redisUrl: config.redisUrl }),
    });
  } catch (e) {
    throw new UsageError(`cannot open the store: ${e instanceof Error ? e.message : String(e)}`);
  }
  const log: Log = {
    info: () => {},
    warn: (_o, msg) => io.err(`frontdesk: warning: ${msg ?? ''}`),
    error: (_o, msg) => io.err(`frontdesk: error: ${msg ?? ''}`),
  };
  let auth: Auth | undefined;
  try {
    auth = await Auth.create({ config, stores, hasher: createArgon2Hasher(), clock: systemClock, random: cryptoRandom, log });
    return await f({ config, stores, auth, sqlite });
  } finally {
    auth?.close();
    await stores.close();
  }
}

