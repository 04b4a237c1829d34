/**
 * Servers under test: each runs in its own process (spawned through the test
 * harness, so a crashed bench never leaves one behind), is ready when it prints
 * `READY …` on stdout or answers an HTTP probe, and has its CPU time read from
 * /proc around every measured run.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { getFreePort, spawnServer, stopServer, ServerStartError, type ServerProcess } from '../../test/harness/ports.js';
import type { RequestSpec } from './types.js';

export const LOOPBACK = '127.0.0.1';

/** How to start one server under test. */
export interface ServerDef {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** `stdout`: wait for a `READY {json}` line; `http`: poll `GET path` until 2xx. */
  readiness: { kind: 'stdout' } | { kind: 'http'; path: string };
  timeoutMs?: number;
}

export interface ServerHandle {
  readonly pid: number;
  readonly port: number;
  readonly origin: string;
  /** The request a peer announced on its READY line, if any. */
  readonly announced: RequestSpec | null;
  readonly output: () => string;
  stop(): Promise<void>;
}

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100; // Linux's USER_HZ everywhere we run
    }
  }
  return clockTicks;
}

/**
 * CPU seconds (user + system, all threads) a live process has used so far, from
 * /proc/<pid>/stat; null if the process is gone or this is not Linux. The
 * resolution is one clock tick (10 ms), small next to a measured run.
 */
export function processCpuSeconds(pid: number): number | null {
  const f = statFields(pid);
  const ticks = f === null ? Number.NaN : Number(f[11]) + Number(f[12]); // utime + stime
  return Number.isFinite(ticks) ? ticks / ticksPerSecond() : null;
}

/** Fields of /proc/<pid>/stat after the command name (which may hold spaces or ')'). */
function statFields(pid: number | string): string[] | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null;
  }
}

/**
 * CPU seconds used so far by the live children of `pid` whose command line matches
 * `match` (PostgreSQL's client backends are children of the postmaster, named
 * `postgres: <user> <db> <client>`); null if `pid` is gone.
 */
export function childrenCpuSeconds(pid: number, match: RegExp): number | null {
  if (statFields(pid) === null) return null;
  let ticks = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const f = statFields(name);
    if (f === null || Number(f[1]) !== pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (match.test(cmdline)) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks / ticksPerSecond();
}

function parseAnnounced(line: string): RequestSpec {
  const raw: unknown = JSON.parse(line.slice('READY'.length).trim() || '{}');
  if (typeof raw !== 'object' || raw === null) throw new Error(`bad READY line: ${line}`);
  const r = raw as Partial<RequestSpec>;
  if (typeof r.path !== 'string') throw new Error(`READY line names no path: ${line}`);
  return {
    method: r.method === 'POST' ? 'POST' : 'GET',
    path: r.path,
    headers: r.headers ?? {},
    ...(typeof r.body === 'string' ? { body: r.body } : {}),
  };
}

async function waitForReadyLine(proc: ServerProcess, timeoutMs: number): Promise<RequestSpec> {
  return new Promise<RequestSpec>((resolve, reject) => {
    let buf = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new ServerStartError(`no READY line after ${timeoutMs} ms`, proc.output()));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line.startsWith('READY')) {
          cleanup();
          try {
            resolve(parseAnnounced(line));
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
          return;
        }
      }
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      proc.child.stdout?.off('data', onData);
    };
    proc.child.stdout?.on('data', onData);
    void proc.exited.then((how) => {
      cleanup();
      reject(new ServerStartError(`exited before READY (${how})`, proc.output()));
    });
  });
}

async function pollHttp(proc: ServerProcess, origin: string, path: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (!proc.alive()) throw new ServerStartError(`exited before ready (${await proc.exited})`, proc.output());
    try {
      const r = await fetch(origin + path, { signal: AbortSignal.timeout(1000) });
      await r.arrayBuffer();
      if (r.ok) return;
      last = `HTTP ${r.status}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new ServerStartError(`not ready after ${timeoutMs} ms (last probe: ${last})`, proc.output());
}

/**
 * Starts a server on a free loopback port (given to it as PORT) and waits until it
 * is ready; takes another port if the one picked was grabbed in between.
 */
export async function startServer(def: ServerDef): Promise<ServerHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(def, await getFreePort());
    } catch (err) {
      if (!(err instanceof ServerStartError && err.portInUse) || attempt >= 3) throw err;
    }
  }
}

async function startOnce(def: ServerDef, port: number): Promise<ServerHandle> {
  const origin = `http://${LOOPBACK}:${port}`;
  const proc = spawnServer(def.command, def.args, {
    cwd: def.cwd,
    env: { NODE_ENV: 'production', ...def.env, PORT: String(port), HOST: LOOPBACK },
  });
  const timeoutMs = def.timeoutMs ?? 60_000;
  let announced: RequestSpec | null = null;
  try {
    if (def.readiness.kind === 'stdout') announced = await waitForReadyLine(proc, timeoutMs);
    else await pollHttp(proc, origin, def.readiness.path, timeoutMs);
  } catch (err) {
    await stopServer(proc, 'SIGKILL', 0);
    throw err;
  }
  // Keep draining stdout: a server that logs must never block on a full pipe.
  proc.child.stdout?.resume();
  return {
    pid: proc.pid,
    port,
    origin,
    announced,
    output: proc.output,
    stop: () => stopServer(proc, 'SIGTERM', 5000),
  };
}

/**
 * Another process keeping one core busy (a bare loop, no I/O) until the returned
 * stop is called: the control for the login-burst rows, one core taken by work that
 * is not Frontdesk's. Stop resolves to a note with the CPU it used.
 */
export function busyCore(): () => Promise<string> {
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  const t0 = Date.now();
  return async () => {
    const cpu = child.pid === undefined ? null : processCpuSeconds(child.pid);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGKILL');
    await exited;
    const s = (Date.now() - t0) / 1000;
    return `a spinning process alongside (${cpu === null ? '?' : ((cpu / s) * 100).toFixed(0)} % of a core)`;
  };
}
