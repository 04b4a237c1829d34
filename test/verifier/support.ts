import { spawn, type ChildProcess } from 'node:child_process';
import { Client } from '../helpers/client.js';

export const PASSWORD = 'correct horse battery';
export const SECRET = 'verifier-secret-'.padEnd(40, 'x');
export const ROOT = new URL('../../', import.meta.url).pathname;

export { b64u, signRaw } from '../helpers/jws.js';
export { until } from '../helpers/wait.js';
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Registers (ignoring "taken") and logs in; answers the access token. */
export async function jwtLogin(base: string, username: string, password = PASSWORD): Promise<{ token: string; sub: string }> {
  const c = new Client(base);
  const reg = await c.post('/auth/register', { username, password });
  if (reg.status !== 201 && reg.status !== 409) throw new Error(`register ${username}: ${reg.status}`);
  const r = await c.post<{ access_token: string; user: { id: string } }>('/auth/login', { username, password, mode: 'jwt' });
  if (r.status !== 200) throw new Error(`login ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  return { token: r.body.access_token, sub: r.body.user.id };
}


export interface Child {
  child: ChildProcess;
  output(): string;
  /** Resolves with the first stdout line matching `re`. */
  line(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code once the process has ended by itself. */
  exit(): Promise<number | null>;
  stop(): Promise<void>;
}

/** Spawns `node --import tsx <script>` from the repository root and collects its output. */
export function spawnTs(script: string, args: string[], env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (d: Buffer) => {
    out += d.toString();
    for (const w of waiters) w();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return {
    child,
    output: () => out,
    line: (re, ms = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(re);
          if (m) {
            waiters.delete(check);
            clearTimeout(t);
            resolve(m);
          } else if (child.exitCode !== null) {
            waiters.delete(check);
            clearTimeout(t);
            reject(new Error(`${script} exited (${child.exitCode}):\n${out}`));
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no line ${re} from ${script} in ${ms} ms:\n${out}`));
        }, ms);
        waiters.add(check);
        child.once('exit', check);
        check();
      }),
    exit: () => exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
