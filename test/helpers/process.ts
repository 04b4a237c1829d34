import { spawn, type ChildProcess } from 'node:child_process';
import { getFreePort } from '../harness/ports.js';

export interface ServerProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal name) when the process ends. */
  exited: Promise<number | string>;
}

const root = new URL('../../', import.meta.url).pathname;

/**
 * Starts `src/main.ts` as its own process (as `npm start` would, minus the
 * build) and waits until it answers /healthz. For tests that signal or kill the server.
 */
export async function spawnServer(env: Record<string, string>, port?: number): Promise<ServerProcess> {
  const p = port ?? (await getFreePort());
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: { ...process.env, PORT: String(p), HOST: '127.0.0.1', FRONTDESK_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  const url = `http://127.0.0.1:${p}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`server exited early:\n${out}`);
    try {
      if ((await fetch(`${url}/healthz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not become healthy in 20 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port: p, child, output: () => out, exited };
}
