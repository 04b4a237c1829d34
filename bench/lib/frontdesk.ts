/**
 * Frontdesk as a case under test: the built server (`dist/src/main.js`), started
 * with env like a user would, and a client that registers and logs in over HTTP
 * to get the credential each mode sends (API.md).
 */
import { existsSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerDef, ServerHandle } from './proc.js';
import type { LoadScenario, RequestSpec } from './types.js';

export type FrontdeskMode = 'session' | 'jwt' | 'hybrid';

export const FRONTDESK_ENTRY = join('dist', 'src', 'main.js');
const USERNAME = 'bench-user';
// Long enough for any password policy; argon2 makes each login cost tens of ms.
const PASSWORD = 'bench correct horse battery staple';

/** Why the Frontdesk rows cannot run, or null when they can. */
export function frontdeskUnavailable(root: string): string | null {
  return existsSync(join(root, FRONTDESK_ENTRY)) ? null : `${FRONTDESK_ENTRY} not found: run \`npm run build\` first`;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    const s = statSync(p);
    newest = Math.max(newest, s.isDirectory() ? newestMtime(p) : s.mtimeMs);
  }
  return newest;
}

/** A warning when dist/ is older than src/, so a stale build is never reported silently. */
export function frontdeskStaleness(root: string): string | null {
  const entry = join(root, FRONTDESK_ENTRY);
  if (!existsSync(entry) || !existsSync(join(root, 'src'))) return null;
  return newestMtime(join(root, 'src')) > statSync(entry).mtimeMs
    ? 'dist/ is older than src/: the Frontdesk rows measure a stale build (run `npm run build`).'
    : null;
}

/** The Frontdesk server with its own empty data dir; `env` adds REDIS_URL and the like. */
export function frontdeskServer(root: string, env: Record<string, string>): ServerDef {
  return {
    command: process.execPath,
    args: [FRONTDESK_ENTRY],
    cwd: root,
    env: {
      FRONTDESK_DATA_DIR: mkdtempSync(join(tmpdir(), 'bench-frontdesk-')),
      FRONTDESK_JWT_ALG: 'EdDSA',
      ...env,
    },
    readiness: { kind: 'http', path: '/healthz' },
  };
}

async function postJson(origin: string, path: string, body: unknown): Promise<Response> {
  return fetch(origin + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
}

async function ensureUser(origin: string): Promise<void> {
  const r = await postJson(origin, '/auth/register', { username: USERNAME, password: PASSWORD, name: 'Bench User' });
  await r.arrayBuffer();
  if (r.status !== 201 && r.status !== 409) throw new Error(`register: HTTP ${r.status}`);
}

interface LoginBody {
  access_token?: unknown;
  refresh_token?: unknown;
}

async function login(origin: string, mode: FrontdeskMode, refreshInBody: boolean): Promise<{ res: Response; body: LoginBody }> {
  const res = await postJson(origin, '/auth/login', {
    username: USERNAME,
    password: PASSWORD,
    mode,
    ...(refreshInBody ? { refresh_in_body: true } : {}),
  });
  const body = (await res.json()) as LoginBody;
  if (res.status !== 200) throw new Error(`login (${mode}): HTTP ${res.status}`);
  return { res, body };
}

/** Registers the bench user and logs in once; returns the `GET /auth/me` request for that mode. */
export async function frontdeskMeRequest(server: ServerHandle, mode: FrontdeskMode): Promise<RequestSpec> {
  await ensureUser(server.origin);
  const { res, body } = await login(server.origin, mode, false);
  if (mode === 'session') {
    const cookie = res.headers
      .getSetCookie()
      .map((c) => c.split(';')[0] ?? '')
      .find((c) => c.startsWith('__Host-session='));
    if (cookie === undefined) throw new Error('session login set no __Host-session cookie');
    return { method: 'GET', path: '/auth/me', headers: { cookie } };
  }
  if (typeof body.access_token !== 'string') throw new Error(`${mode} login returned no access_token`);
  return { method: 'GET', path: '/auth/me', headers: { authorization: `Bearer ${body.access_token}` } };
}

/**
 * A source of never-used refresh tokens for `POST /auth/refresh`: each run takes
 * a pool, the load generator rotates through it, and what it hands back unused
 * is topped up by fresh hybrid logins before the next run.
 */
export class RefreshPool {
  private pool: string[] = [];

  constructor(
    private readonly server: ServerHandle,
    private readonly size: number,
  ) {}

  async scenario(): Promise<LoadScenario> {
    await ensureUser(this.server.origin);
    const missing = this.size - this.pool.length;
    // A few logins at a time: each is an argon2 verify on the server.
    for (let i = 0; i < missing; i += 4) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(4, missing - i) }, () => login(this.server.origin, 'hybrid', true)),
      );
      for (const { body } of batch) {
        if (typeof body.refresh_token !== 'string') throw new Error('hybrid login with refresh_in_body returned no refresh_token');
        this.pool.push(body.refresh_token);
      }
    }
    const tokens = this.pool;
    this.pool = [];
    return {
      kind: 'refresh-chain',
      request: { method: 'POST', path: '/auth/refresh', headers: {} },
      field: 'refresh_token',
      tokens,
    };
  }

  giveBack(tokens: readonly string[] | undefined): void {
    if (tokens) this.pool.push(...tokens);
  }
}

/**
 * Keeps `inFlight` logins running back to back (each an argon2 verify on the
 * server) until the returned stop function is called; stop resolves to a note.
 */
export function loginBurst(server: ServerHandle, inFlight: number): () => Promise<string> {
  let stopping = false;
  let ok = 0;
  let failed = 0;
  const t0 = Date.now();
  const loop = async (): Promise<void> => {
    while (!stopping) {
      try {
        await login(server.origin, 'jwt', false);
        ok++;
      } catch {
        failed++; // counted in the note; a 429 here means the limiter, not argon2, set the pace
      }
    }
  };
  const loops = Array.from({ length: inFlight }, loop);
  return async () => {
    stopping = true;
    await Promise.all(loops);
    const s = (Date.now() - t0) / 1000;
    return `${ok} logins alongside (${(ok / s).toFixed(1)}/s, ${inFlight} in flight)${failed > 0 ? `, ${failed} failed` : ''}`;
  };
}
