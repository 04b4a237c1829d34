import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getFreePort } from '../harness/ports.js';

/** One Frontdesk node running as its own process (`node --import tsx src/main.ts`). */
export interface Node {
  readonly name: string;
  readonly url: string;
  readonly child: ChildProcess;
  /** What the process printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM and wait; the node shuts down gracefully. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash would, and wait until it is gone. */
  kill(): Promise<void>;
}

const root = new URL('../../', import.meta.url).pathname;

/**
 * Starts a node with `env` (DATABASE_URL, REDIS_URL, …) on a free port and its own
 * data dir, and resolves once it answers /readyz.
 *
 * @example
 * const node = await startNode('n1', { DATABASE_URL: pg.url, REDIS_URL: redis.url });
 */
export async function startNode(name: string, env: Record<string, string>): Promise<Node> {
  const port = await getFreePort();
  const dataDir = mkdtempSync(join(tmpdir(), `frontdesk-node-${name}-`));
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: root,
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      FRONTDESK_DATA_DIR: dataDir,
      // Every node is one issuer: a token from one verifies on the others.
      FRONTDESK_ISSUER: 'http://frontdesk.test',
      FRONTDESK_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const cleanup = (): void => rmSync(dataDir, { recursive: true, force: true });
  void exited.then(cleanup);
  // A test process that dies must not leave nodes behind.
  const onExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', onExit);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`node ${name} exited while starting:\n${out}`);
    try {
      if ((await fetch(`${url}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`node ${name} not ready after 60 s:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    process.removeListener('exit', onExit);
  };
  return { name, url, child, output: () => out, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}

/** Decoded claims of an access token (no verification: the server did that). */
export const claimsOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
