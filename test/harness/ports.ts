/**
 * Free loopback ports, and the throwaway server processes that listen on them.
 *
 * The process helpers live here (rather than in each starter) so that PostgreSQL
 * and Redis share one way to spawn, wait for, stop and — if the test process dies
 * — clean up a server, and so the harness test can check that nothing is left.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Returns a TCP port on 127.0.0.1 that was free a moment ago.
 *
 * The kernel picks it (bind to port 0), so it never collides with a port that is
 * in use now; another process can still take it before the caller binds it, which
 * is why the starters retry on "address already in use".
 */
export async function getFreePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        srv.close();
        reject(new Error('listening socket has no port'));
        return;
      }
      const { port } = addr;
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

let tmpRoot: string | undefined;

/**
 * Where servers keep their data: FRONTDESK_HARNESS_TMPDIR if set, else /dev/shm when
 * it is a writable memory file system with room (servers start several times faster
 * there: copying a PostgreSQL data dir took 5-7 s on this machine's shared disk under
 * load and 0.3 s in memory), else the OS temp dir.
 */
export function harnessTmpRoot(): string {
  if (tmpRoot !== undefined) return tmpRoot;
  const fromEnv = process.env['FRONTDESK_HARNESS_TMPDIR'];
  tmpRoot = fromEnv !== undefined && fromEnv !== '' ? fromEnv : tmpdir();
  if (fromEnv === undefined || fromEnv === '') {
    try {
      const shm = '/dev/shm';
      accessSync(shm, constants.W_OK | constants.X_OK);
      const fs = statfsSync(shm);
      const TMPFS_MAGIC = 0x01021994;
      if (fs.type === TMPFS_MAGIC && fs.bavail * fs.bsize > 2 * 1024 ** 3) tmpRoot = shm;
    } catch {
      // No usable /dev/shm: the OS temp dir it is.
    }
  }
  return tmpRoot;
}

/** Options for {@link spawnServer}. */
export interface SpawnServerOptions {
  /** Working directory of the server. */
  cwd: string;
  /** Run as this user and group (root only: PostgreSQL refuses to run as root). */
  uid?: number;
  gid?: number;
  /** Extra environment; the test process's environment is inherited. */
  env?: NodeJS.ProcessEnv;
}

/** A server process started by {@link spawnServer}. */
export interface ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code or signal once the process has exited; never rejects. */
  readonly exited: Promise<string>;
  /** True until the process has exited. */
  readonly alive: () => boolean;
  /** The last output (stdout and stderr interleaved), for error messages. */
  readonly output: () => string;
}

const OUTPUT_LIMIT = 64 * 1024;
// Every pid this process ever spawned as a server, so a test can assert none survive.
const spawnedPids: number[] = [];
// Servers still running and temp dirs still present: cleaned up synchronously if the
// test process exits without stopping them (a failed `before`, a timeout, Ctrl-C).
const liveGroups = new Set<number>();
const liveDirs = new Set<string>();
const allDirs: string[] = [];
let exitHookInstalled = false;

function cleanUpNow(): void {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  liveGroups.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', cleanUpNow);
  // A signal kills node without running 'exit' listeners, which would leave the
  // servers running: clean up, then let the signal do what it would have done.
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      cleanUpNow();
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    });
  }
}

/** Sends a signal to a whole process group; a group that is already gone is fine. */
export function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/**
 * Registers a temp dir to be removed if the test process exits before the
 * server's own cleanup ran. Call {@link forgetTempDir} once it is removed.
 */
export function rememberTempDir(dir: string): void {
  installExitHook();
  liveDirs.add(dir);
  allDirs.push(dir);
}

/** Counterpart of {@link rememberTempDir}. */
export function forgetTempDir(dir: string): void {
  liveDirs.delete(dir);
}

/** Pids of every server this process spawned (alive or not), for leak checks in tests. */
export function spawnedServerPids(): readonly number[] {
  return [...spawnedPids];
}

/** Every temp dir registered with {@link rememberTempDir} in this process, for leak checks in tests. */
export function harnessTempDirs(): readonly string[] {
  return [...allDirs];
}

/**
 * Spawns a long-running server in its own process group.
 *
 * Its own group lets `kill()` take out a server together with its children in one
 * signal (PostgreSQL's backends, which would otherwise linger for a moment after
 * the postmaster dies and block a restart on the same data directory), and keeps a
 * terminal's Ctrl-C from hitting the server before the test process cleans it up.
 */
export function spawnServer(file: string, args: readonly string[], opts: SpawnServerOptions): ServerProcess {
  installExitHook();
  const child = spawn(file, args, {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.uid === undefined ? {} : { uid: opts.uid }),
    ...(opts.gid === undefined ? {} : { gid: opts.gid }),
  });
  let out = '';
  const collect = (chunk: Buffer): void => {
    out += chunk.toString('utf8');
    if (out.length > OUTPUT_LIMIT) out = out.slice(-OUTPUT_LIMIT);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  let running = true;
  const exited = new Promise<string>((resolve) => {
    child.once('error', (err) => {
      running = false;
      resolve(`spawn error: ${err.message}`);
    });
    child.once('exit', (code, signal) => {
      running = false;
      resolve(signal === null ? `exit code ${String(code)}` : `signal ${signal}`);
    });
  }).then((how) => {
    if (child.pid !== undefined) liveGroups.delete(child.pid);
    return how;
  });
  const pid = child.pid;
  if (pid === undefined) {
    // spawn failed synchronously (ENOENT, EACCES): 'error' follows on the next tick.
    return { child, pid: -1, exited, alive: () => false, output: () => out };
  }
  spawnedPids.push(pid);
  liveGroups.add(pid);
  return { child, pid, exited, alive: () => running, output: () => out };
}

/**
 * Stops a server: `signal` to the leader, then, if it has not exited within
 * `graceMs`, SIGKILL to its whole group. Always finishes with a SIGKILL to the
 * group so no child outlives the stop.
 */
export async function stopServer(proc: ServerProcess, signal: NodeJS.Signals, graceMs = 15_000): Promise<void> {
  if (proc.pid > 0 && proc.alive()) {
    try {
      process.kill(proc.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
    // The grace timer is cancelled once the server exits: a pending timer would keep
    // the test process alive for the whole grace period after its last test.
    const cancel = new AbortController();
    const timer = sleep(graceMs, 'timeout' as const, { signal: cancel.signal }).catch(() => 'cancelled' as const);
    const outcome = await Promise.race([proc.exited, timer]);
    cancel.abort();
    if (outcome === 'timeout') killGroup(proc.pid, 'SIGKILL');
  }
  if (proc.pid > 0) killGroup(proc.pid, 'SIGKILL');
  await proc.exited;
  await groupGone(proc.pid);
}

/**
 * Waits until no process is left in the group `pgid` (signal 0 to the group fails
 * with ESRCH then). The leader's exit is not enough: PostgreSQL backends killed with
 * it may take a moment to go, and while they hold its shared memory a restart on the
 * same data dir is refused.
 */
async function groupGone(pgid: number, timeoutMs = 10_000): Promise<void> {
  if (pgid <= 0) return;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      process.kill(-pgid, 0);
    } catch {
      return;
    }
    if (Date.now() > deadline) throw new Error(`processes of group ${pgid} still alive ${timeoutMs} ms after SIGKILL`);
    await sleep(20);
  }
}

/** Kills a server and all of its group at once, as a crash would; waits until the leader is gone. */
export async function killServer(proc: ServerProcess): Promise<void> {
  if (proc.pid > 0) killGroup(proc.pid, 'SIGKILL');
  await proc.exited;
  await groupGone(proc.pid);
}

/**
 * Polls `probe` until it resolves true, failing early if the server exits and
 * after `timeoutMs` otherwise. The error carries the server's own output.
 */
export async function waitUntilReady(
  what: string,
  proc: ServerProcess,
  probe: () => Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  for (;;) {
    if (!proc.alive()) {
      throw new ServerStartError(`${what} exited before it was ready (${await proc.exited})`, proc.output());
    }
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() > deadline) {
      throw new ServerStartError(`${what} not ready after ${timeoutMs} ms (last probe: ${lastError})`, proc.output());
    }
    await sleep(50);
  }
}

/** A server failed to start; `output` is what it printed, also appended to the message. */
export class ServerStartError extends Error {
  constructor(
    summary: string,
    readonly output: string,
  ) {
    super(`${summary}\n--- server output ---\n${output.slice(-4000)}`);
    this.name = 'ServerStartError';
  }

  /** The port was taken between {@link getFreePort} and the server binding it: worth a retry. */
  get portInUse(): boolean {
    return /address already in use|could not bind|could not create any TCP\/IP sockets/i.test(this.output);
  }
}
