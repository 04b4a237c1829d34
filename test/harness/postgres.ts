/**
 * Throwaway real PostgreSQL servers for tests: a fresh cluster (initdb) in a temp
 * dir, on a random loopback port, tuned for speed over durability, removed by
 * `stop()`.
 */
import { execFile } from 'node:child_process';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { ensureBinary } from './binaries.js';
import {
  ServerStartError,
  forgetTempDir,
  getFreePort,
  killServer,
  rememberTempDir,
  spawnServer,
  stopServer,
  waitUntilReady,
  type ServerProcess,
} from './ports.js';

const execFileP = promisify(execFile);
const START_ATTEMPTS = 5;
const SUPERUSER = 'postgres';
const DATABASE = 'frontdesk';
// Used only when we are root and no `postgres` user exists (PostgreSQL came from
// somewhere other than Debian's package, which creates that user).
const FALLBACK_OS_USER = 'frontdesk-pg';

/** A running throwaway PostgreSQL server. */
export interface PostgresServer {
  /** `postgres://postgres@127.0.0.1:<port>/frontdesk` (trust auth, no password). */
  readonly url: string;
  readonly port: number;
  /** Fast shutdown (SIGINT), then removes the data dir. Idempotent. */
  stop(): Promise<void>;
  /** Stops the server if it runs and starts it again on the same port and data: for fault tests. */
  restart(): Promise<void>;
  /** SIGKILLs the postmaster and its backends at once, as a crash would; `restart()` recovers. */
  kill(): Promise<void>;
}

interface OsUser {
  uid: number;
  gid: number;
}

async function idOf(user: string): Promise<OsUser | undefined> {
  try {
    const uid = Number((await execFileP('id', ['-u', user])).stdout.trim());
    const gid = Number((await execFileP('id', ['-g', user])).stdout.trim());
    return { uid, gid };
  } catch {
    return undefined;
  }
}

/**
 * As root, the unprivileged user to run PostgreSQL as (it refuses to run as root);
 * otherwise undefined, meaning "as ourselves".
 */
async function serverUser(): Promise<OsUser | undefined> {
  if (process.getuid?.() !== 0) return undefined;
  const existing = (await idOf(SUPERUSER)) ?? (await idOf(FALLBACK_OS_USER));
  if (existing) return existing;
  try {
    await execFileP('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', FALLBACK_OS_USER]);
  } catch {
    // Another test process may have created it first; the lookup below decides.
  }
  const created = await idOf(FALLBACK_OS_USER);
  if (!created) throw new Error(`cannot create an unprivileged user ${FALLBACK_OS_USER} to run PostgreSQL as`);
  return created;
}

/** Connects as the superuser to `database` and runs `sql`; closes the connection either way. */
async function query(port: number, database: string, sql: string): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, database, connectionTimeoutMillis: 5000 });
  // A refused or reset connection also emits 'error'; the awaited calls report it.
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates a fresh PostgreSQL cluster in a temp dir, starts it on 127.0.0.1 and a
 * random port, creates the database `frontdesk`, and resolves once it accepts
 * connections. Installs PostgreSQL first if needed (see ensureBinary).
 */
export async function startPostgres(): Promise<PostgresServer> {
  const postgresBin = await ensureBinary('postgres');
  const initdbBin = await ensureBinary('initdb');
  const user = await serverUser();
  const dir = await mkdtemp(join(tmpdir(), 'frontdesk-pg-'));
  rememberTempDir(dir);
  const data = join(dir, 'data');
  const as = user ? { uid: user.uid, gid: user.gid } : {};
  let proc: ServerProcess | undefined;
  let port = 0;

  const start = async (): Promise<void> => {
    const args = [
      '-D', data,
      '-p', String(port),
      '-h', '127.0.0.1',
      // The socket in our own dir: the default /var/run/postgresql may not exist or be writable.
      '-k', dir,
      // Durability is worthless for throwaway data, and fsyncs are slow on shared disks.
      '-c', 'fsync=off',
      '-c', 'synchronous_commit=off',
      '-c', 'full_page_writes=off',
      '-c', 'shared_buffers=16MB',
      '-c', 'max_connections=100',
    ];
    proc = spawnServer(postgresBin, args, { cwd: dir, ...as });
    const p = port;
    await waitUntilReady(`postgres on port ${p}`, proc, async () => {
      await query(p, 'postgres', 'select 1');
      return true;
    });
  };

  try {
    if (user) await chown(dir, user.uid, user.gid);
    // --no-sync: initdb otherwise fsyncs every file it wrote, most of its run time.
    await execFileP(
      initdbBin,
      ['-D', data, '-U', SUPERUSER, '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'],
      { cwd: dir, timeout: 120_000, ...as },
    );
    for (let attempt = 1; ; attempt++) {
      port = await getFreePort();
      try {
        await start();
        break;
      } catch (err) {
        if (proc) await killServer(proc);
        if (!(err instanceof ServerStartError && err.portInUse) || attempt >= START_ATTEMPTS) throw err;
      }
    }
    await query(port, 'postgres', `create database ${DATABASE}`);
  } catch (err) {
    if (proc) await killServer(proc);
    await rm(dir, { recursive: true, force: true });
    forgetTempDir(dir);
    throw err;
  }

  let stopped = false;
  const stopProc = async (): Promise<void> => {
    // SIGINT is PostgreSQL's "fast" shutdown: aborts open transactions, disconnects clients.
    if (proc) await stopServer(proc, 'SIGINT');
  };
  return {
    url: `postgres://${SUPERUSER}@127.0.0.1:${port}/${DATABASE}`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopProc();
      await rm(dir, { recursive: true, force: true });
      forgetTempDir(dir);
    },
    async restart() {
      if (stopped) throw new Error('restart() after stop()');
      await stopProc();
      await start();
    },
    async kill() {
      if (proc) await killServer(proc);
    },
  };
}
