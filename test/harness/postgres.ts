/**
 * Throwaway real PostgreSQL servers for tests: a fresh cluster (initdb) in a temp
 * dir, on a random loopback port, tuned for speed over durability, removed by
 * `stop()`.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chown, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { ensureBinary } from './binaries.js';
import {
  ServerStartError,
  forgetTempDir,
  harnessTmpRoot,
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
  /** The postmaster's pid (it changes across `restart()`); backends are its children. */
  readonly pid: number;
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

interface Ctx {
  postgresBin: string;
  /** spawn/execFile options that run a command as the server's user. */
  as: { uid?: number; gid?: number };
}

/**
 * Starts postgres on `data` and resolves once it answers `select 1`. The socket goes
 * to `sockDir`: the default /var/run/postgresql may be missing or not writable.
 */
async function launch(ctx: Ctx, data: string, sockDir: string, port: number): Promise<ServerProcess> {
  const args = [
    '-D', data,
    '-p', String(port),
    '-h', '127.0.0.1',
    '-k', sockDir,
    // Durability is worthless for throwaway data, and fsyncs are slow on shared disks.
    '-c', 'fsync=off',
    '-c', 'synchronous_commit=off',
    '-c', 'full_page_writes=off',
    '-c', 'shared_buffers=16MB',
    '-c', 'max_connections=100',
  ];
  const proc = spawnServer(ctx.postgresBin, args, { cwd: sockDir, ...ctx.as });
  try {
    await waitUntilReady(`postgres on port ${port}`, proc, async () => {
      await query(port, 'postgres', 'select 1');
      return true;
    });
  } catch (err) {
    // Not ready in time, or exited: leave nothing running either way.
    await killServer(proc);
    throw err;
  }
  return proc;
}

/** {@link launch} on a free port, taking another if the one picked was grabbed in between. */
async function launchOnFreePort(ctx: Ctx, data: string, sockDir: string): Promise<{ proc: ServerProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    const port = await getFreePort();
    try {
      return { proc: await launch(ctx, data, sockDir, port), port };
    } catch (err) {
      if (!(err instanceof ServerStartError && err.portInUse) || attempt >= START_ATTEMPTS) throw err;
    }
  }
}

const INITDB_ARGS = ['-U', SUPERUSER, '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'];

/**
 * A data dir with the database already created, to copy: made once per machine (per
 * PostgreSQL binary and user) and kept in the temp dir, because initdb plus CREATE
 * DATABASE take 1.5-3 s here and a copy a fraction of that. It is built aside and
 * renamed into place, so nobody sees half of one and concurrent test processes need
 * no lock (the loser of the rename throws its own away).
 */
async function templateDataDir(ctx: Ctx, initdbBin: string, user: OsUser | undefined): Promise<string> {
  const { mtimeMs, size } = await stat(initdbBin);
  const key = createHash('sha256')
    .update(JSON.stringify([initdbBin, mtimeMs, size, user?.uid ?? process.getuid?.(), INITDB_ARGS, DATABASE]))
    .digest('hex')
    .slice(0, 16);
  const template = join(harnessTmpRoot(), `frontdesk-pg-template-${key}`);
  if (existsSync(join(template, 'PG_VERSION'))) return template;
  const work = await mkdtemp(join(harnessTmpRoot(), 'frontdesk-pg-initdb-'));
  rememberTempDir(work);
  let proc: ServerProcess | undefined;
  try {
    if (user) await chown(work, user.uid, user.gid);
    const data = join(work, 'data');
    // --no-sync: initdb otherwise fsyncs every file it wrote, most of its run time.
    await execFileP(initdbBin, ['-D', data, ...INITDB_ARGS], { cwd: work, timeout: 120_000, ...ctx.as });
    const started = await launchOnFreePort(ctx, data, work);
    proc = started.proc;
    await query(started.port, 'postgres', `create database ${DATABASE}`);
    // A clean shutdown, so copies start without crash recovery.
    await stopServer(proc, 'SIGINT');
    // postmaster.opts names this run's socket dir and port; the copies get their own.
    await rm(join(data, 'postmaster.opts'), { force: true });
    try {
      await rename(data, template);
    } catch (err) {
      // Another process got there first: its template is as good as ours.
      if (!existsSync(join(template, 'PG_VERSION'))) throw err;
    }
  } finally {
    if (proc) await killServer(proc);
    await rm(work, { recursive: true, force: true });
    forgetTempDir(work);
  }
  return template;
}

/**
 * Creates a fresh PostgreSQL cluster with the database `frontdesk` in a temp dir (a
 * copy of a cached initdb), starts it on 127.0.0.1 and a random port, and resolves
 * once it accepts connections. Installs PostgreSQL first if needed (see ensureBinary).
 */
export async function startPostgres(): Promise<PostgresServer> {
  const postgresBin = await ensureBinary('postgres');
  const initdbBin = await ensureBinary('initdb');
  const user = await serverUser();
  const ctx: Ctx = { postgresBin, as: user ? { uid: user.uid, gid: user.gid } : {} };
  const dir = await mkdtemp(join(harnessTmpRoot(), 'frontdesk-pg-'));
  rememberTempDir(dir);
  const data = join(dir, 'data');
  let proc: ServerProcess;
  let port: number;
  try {
    if (user) await chown(dir, user.uid, user.gid);
    const template = await templateDataDir(ctx, initdbBin, user);
    // As the server's user, so the copy is its own; -a keeps the 0700 PostgreSQL demands.
    await execFileP('cp', ['-a', template, data], { cwd: dir, timeout: 120_000, ...ctx.as });
    ({ proc, port } = await launchOnFreePort(ctx, data, dir));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    forgetTempDir(dir);
    throw err;
  }

  let stopped = false;
  const stopProc = async (): Promise<void> => {
    // SIGINT is PostgreSQL's "fast" shutdown: aborts open transactions, disconnects clients.
    await stopServer(proc, 'SIGINT');
  };
  return {
    url: `postgres://${SUPERUSER}@127.0.0.1:${port}/${DATABASE}`,
    port,
    get pid() {
      return proc.pid;
    },
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
      proc = await launch(ctx, data, dir, port);
    },
    async kill() {
      await killServer(proc);
    },
  };
}
