/**
 * Throwaway real Redis servers for tests: a single server, and a three-master
 * cluster. Each runs from its own temp dir on a random loopback port, keeps
 * nothing on disk, and is stopped and removed by `stop()`.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
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

/** A running throwaway Redis server. */
export interface RedisServer {
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGTERM, nothing saved) and removes its temp dir. Idempotent. */
  stop(): Promise<void>;
  /**
   * Stops the server if it runs, then starts it again on the same port: for fault
   * tests. Nothing is persisted, so the restarted server is empty.
   */
  restart(): Promise<void>;
  /** SIGKILLs the server, as a crash would; `restart()` brings it back. */
  kill(): Promise<void>;
  /** Runs `redis-cli -h 127.0.0.1 -p <port> ...args` and returns its trimmed stdout. */
  cli(...args: string[]): Promise<string>;
}

/** A running throwaway Redis cluster of three masters and no replicas. */
export interface RedisCluster {
  /** `redis+cluster://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3` */
  readonly url: string;
  readonly nodes: { host: string; port: number }[];
  /** Stops every node and removes their temp dirs. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Sends one command over RESP and returns the first reply as text (simple string,
 * integer or bulk string). Used for readiness probes so that waiting costs no
 * redis-cli process per poll.
 */
export async function redisCommand(port: number, args: readonly string[], timeoutMs = 2000): Promise<string> {
  const payload = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
  return new Promise<string>((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const done = (err: Error | null, value?: string): void => {
      sock.destroy();
      if (err) reject(err);
      else resolve(value ?? '');
    };
    sock.setTimeout(timeoutMs, () => done(new Error(`redis on port ${port}: no reply in ${timeoutMs} ms`)));
    sock.once('error', (err) => done(err));
    sock.once('connect', () => sock.write(payload));
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const eol = buf.indexOf('\r\n');
      if (eol < 0) return;
      const type = String.fromCharCode(buf[0] ?? 0);
      const head = buf.subarray(1, eol).toString('utf8');
      if (type === '+' || type === ':') done(null, head);
      else if (type === '-') done(new Error(head));
      else if (type === '$') {
        const len = Number(head);
        if (len < 0) done(null, '');
        else if (buf.length >= eol + 2 + len + 2) done(null, buf.subarray(eol + 2, eol + 2 + len).toString('utf8'));
      } else done(new Error(`unsupported RESP reply type ${JSON.stringify(type)}`));
    });
  });
}

interface NodeOptions {
  dir: string;
  port: number;
  extraArgs: readonly string[];
}

/** One redis-server process that can be stopped, killed and started again on its port. */
class RedisNode {
  private proc: ServerProcess | undefined;

  constructor(
    private readonly bin: string,
    readonly opts: NodeOptions,
  ) {}

  get port(): number {
    return this.opts.port;
  }

  async start(): Promise<void> {
    const { dir, port, extraArgs } = this.opts;
    const args = [
      '--port', String(port),
      '--bind', '127.0.0.1',
      '--dir', dir,
      // No RDB snapshots, no AOF: throwaway data, and no disk I/O on 2 shared cores.
      '--save', '',
      '--appendonly', 'no',
      '--daemonize', 'no',
      '--logfile', '',
      ...extraArgs,
    ];
    const proc = spawnServer(this.bin, args, { cwd: dir });
    this.proc = proc;
    await waitUntilReady(`redis-server on port ${port}`, proc, async () => (await redisCommand(port, ['PING'])) === 'PONG');
  }

  async stop(): Promise<void> {
    // SIGTERM: with no persistence configured redis exits at once.
    if (this.proc) await stopServer(this.proc, 'SIGTERM');
  }

  async kill(): Promise<void> {
    if (this.proc) await killServer(this.proc);
  }
}

/**
 * Creates a node on a free port and starts it, taking another port if the one
 * picked was grabbed in between (getFreePort cannot reserve it).
 */
async function startNode(bin: string, dir: string, extraArgs: (port: number) => Promise<string[]>): Promise<RedisNode> {
  for (let attempt = 1; ; attempt++) {
    const port = await getFreePort();
    const node = new RedisNode(bin, { dir, port, extraArgs: await extraArgs(port) });
    try {
      await node.start();
      return node;
    } catch (err) {
      await node.kill();
      if (!(err instanceof ServerStartError && err.portInUse) || attempt >= START_ATTEMPTS) throw err;
    }
  }
}

async function makeTempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(harnessTmpRoot(), prefix));
  rememberTempDir(dir);
  return dir;
}

async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  forgetTempDir(dir);
}

/**
 * Starts a fresh redis-server on 127.0.0.1 and a random port, and resolves once it
 * answers PING. Installs redis-server first if needed (see ensureBinary).
 */
export async function startRedis(): Promise<RedisServer> {
  const bin = await ensureBinary('redis-server');
  const dir = await makeTempDir('frontdesk-redis-');
  let node: RedisNode;
  try {
    node = await startNode(bin, dir, () => Promise.resolve([]));
  } catch (err) {
    await removeTempDir(dir);
    throw err;
  }
  const { port } = node;
  let stopped = false;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (stopped) return;
      stopped = true;
      await node.stop();
      await removeTempDir(dir);
    },
    async restart() {
      if (stopped) throw new Error('restart() after stop()');
      await node.stop();
      await node.start();
    },
    async kill() {
      await node.kill();
    },
    async cli(...args: string[]) {
      const cli = await ensureBinary('redis-cli');
      const { stdout } = await execFileP(cli, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: 30_000 });
      return stdout.trim();
    },
  };
}

const CLUSTER_SIZE = 3;

/**
 * Starts three redis-server masters with cluster mode on, joins them with
 * `redis-cli --cluster create` (slots split evenly, no replicas), and resolves once
 * every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  const bin = await ensureBinary('redis-server');
  const cli = await ensureBinary('redis-cli');
  const nodes: RedisNode[] = [];
  const dirs: string[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop()));
    await Promise.all(dirs.map((d) => removeTempDir(d)));
  };
  try {
    // Sequential starts: parallel ones would race for the same free ports.
    for (let i = 0; i < CLUSTER_SIZE; i++) {
      const dir = await makeTempDir(`frontdesk-redis-cluster${i}-`);
      dirs.push(dir);
      const node = await startNode(bin, dir, async () => [
        '--cluster-enabled', 'yes',
        '--cluster-config-file', join(dir, 'nodes.conf'),
        '--cluster-node-timeout', '5000',
        // Its own free port for the cluster bus; the default, port + 10000, may be taken.
        '--cluster-port', String(await getFreePort()),
      ]);
      nodes.push(node);
    }
    const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
    await execFileP(cli, ['--cluster', 'create', ...addrs, '--cluster-replicas', '0', '--cluster-yes'], {
      timeout: 60_000,
    });
    await waitForClusterOk(nodes.map((n) => n.port));
  } catch (err) {
    await stopAll();
    throw err;
  }
  let stopped = false;
  return {
    url: `redis+cluster://${nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`,
    nodes: nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopAll();
    },
  };
}

/** Waits until every node has all slots assigned, knows every other node, and says ok. */
async function waitForClusterOk(ports: readonly number[], timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const infos = await Promise.all(ports.map((p) => redisCommand(p, ['CLUSTER', 'INFO']).catch((e: Error) => e.message)));
    const ok = infos.every(
      (info) =>
        /cluster_state:ok/.test(info) &&
        /cluster_slots_ok:16384/.test(info) &&
        new RegExp(`cluster_known_nodes:${ports.length}\\b`).test(info),
    );
    if (ok) return;
    last = infos.join('\n---\n');
    if (Date.now() > deadline) throw new Error(`redis cluster not ok after ${timeoutMs} ms:\n${last}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
