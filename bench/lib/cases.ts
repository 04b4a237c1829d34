/**
 * The HTTP case table. A case is one server in its own process plus the request
 * the load generator replays against it. Adding a row is adding an entry here.
 *
 * Peers print `READY {request}` once they listen (bench/peers/_common.mjs);
 * Frontdesk is polled on /healthz and logged into over HTTP.
 */
import { join } from 'node:path';
import {
  RefreshPool,
  frontdeskMeRequest,
  loginBurst,
  frontdeskServer,
  frontdeskUnavailable,
  type FrontdeskMode,
} from './frontdesk.js';
import type { ServerDef, ServerHandle } from './proc.js';
import type { CaseGroup, LoadRunResult, LoadScenario } from './types.js';

/** Shared services a case can need; the runner starts each once per run. */
export type Sidecar = 'redis';

export interface CaseContext {
  root: string;
  peersDir: string;
  connections: number;
  /** Set when a case needs Redis and the runner started it. */
  redisUrl: string | null;
}

/** Feeds the load generator for one case across its rounds. */
export interface CaseDriver {
  scenario(): Promise<LoadScenario>;
  after?(result: LoadRunResult): void;
  /** Work started with the measured run (a login burst); the returned stop resolves to a note. */
  background?(): () => Promise<string>;
}

export interface HttpCase {
  id: string;
  label: string;
  group: CaseGroup;
  note?: string;
  /** Part of the `--quick` subset. */
  quick: boolean;
  needs: Sidecar[];
  /** Null when the case can run; otherwise why it is skipped (shown in the report). */
  unavailable?: (ctx: CaseContext) => string | null;
  server(ctx: CaseContext): ServerDef;
  /** Default: replay the request the server announced on its READY line. */
  prepare?(server: ServerHandle, ctx: CaseContext): Promise<CaseDriver>;
}

export const BASELINE_ID = 'fastify-bare';

function redisEnv(ctx: CaseContext): Record<string, string> {
  if (ctx.redisUrl === null) throw new Error('this case needs Redis, which was not started');
  return { REDIS_URL: ctx.redisUrl };
}

function peer(file: string, env: (ctx: CaseContext) => Record<string, string> = () => ({})) {
  return (ctx: CaseContext): ServerDef => ({
    command: process.execPath,
    args: [join(ctx.peersDir, file)],
    cwd: ctx.peersDir,
    env: env(ctx),
    readiness: { kind: 'stdout' },
  });
}

const staticDriver = (scenario: LoadScenario): CaseDriver => ({ scenario: () => Promise.resolve(scenario) });

function frontdeskMe(id: string, label: string, mode: FrontdeskMode, opts: { redis?: boolean; quick: boolean; note?: string }): HttpCase {
  return {
    id,
    label,
    group: 'frontdesk',
    quick: opts.quick,
    needs: opts.redis === true ? ['redis'] : [],
    ...(opts.note === undefined ? {} : { note: opts.note }),
    unavailable: (ctx) => frontdeskUnavailable(ctx.root),
    server: (ctx) => frontdeskServer(ctx.root, opts.redis === true ? redisEnv(ctx) : {}),
    prepare: async (server) => staticDriver({ kind: 'static', request: await frontdeskMeRequest(server, mode) }),
  };
}

export const CASES: readonly HttpCase[] = [
  {
    id: BASELINE_ID,
    label: 'Fastify, bare route (baseline)',
    group: 'baseline',
    note: '`GET /` answering `{"hello":"world"}`: every ratio divides by this, measured in the same round.',
    quick: true,
    needs: [],
    server: peer('fastify-bare.mjs'),
  },
  // ---- Frontdesk: built server, EdDSA, stores per env ----
  frontdeskMe('frontdesk-jwt', 'Frontdesk `GET /auth/me`, jwt (Bearer, EdDSA)', 'jwt', {
    quick: true,
    note: 'Signature verified once per token, then cached; revocation checked in memory on every request.',
  }),
  {
    id: 'frontdesk-jwt-login-burst',
    label: 'Frontdesk `GET /auth/me`, jwt, during a login burst',
    group: 'frontdesk',
    note: 'As the jwt row, while 4 logins (argon2id verifies) run back to back beside the load: its p99 against the idle p99 shows whether hashing blocks the event loop.',
    quick: false,
    needs: [],
    unavailable: (ctx) => frontdeskUnavailable(ctx.root),
    server: (ctx) => frontdeskServer(ctx.root, {}),
    prepare: async (server) => {
      const request = await frontdeskMeRequest(server, 'jwt');
      return { scenario: () => Promise.resolve({ kind: 'static', request }), background: () => loginBurst(server, 4) };
    },
  },
  frontdeskMe('frontdesk-hybrid', 'Frontdesk `GET /auth/me`, hybrid (Bearer, EdDSA)', 'hybrid', { quick: false }),
  frontdeskMe('frontdesk-session-sqlite', 'Frontdesk `GET /auth/me`, session on SQLite', 'session', { quick: true }),
  frontdeskMe('frontdesk-session-redis', 'Frontdesk `GET /auth/me`, session on Redis', 'session', { redis: true, quick: false }),
  {
    id: 'frontdesk-refresh',
    label: 'Frontdesk `POST /auth/refresh` (rotation, token in body)',
    group: 'frontdesk',
    note: 'Every request presents a never-used refresh token and gets the next one: a full rotation per request.',
    quick: false,
    needs: [],
    unavailable: (ctx) => frontdeskUnavailable(ctx.root),
    server: (ctx) => frontdeskServer(ctx.root, {}),
    prepare: (server, ctx) => {
      // Tokens held by connections when a run stops are dropped, never re-presented:
      // one per connection for the warm-up, one for the measured run, and a margin.
      const pool = new RefreshPool(server, 2 * ctx.connections + 16);
      return Promise.resolve({ scenario: () => pool.scenario(), after: (r) => pool.giveBack(r.leftoverTokens) });
    },
  },
  // ---- Peers: the libraries a user would otherwise pick ----
  {
    id: 'fastify-fast-jwt-cache',
    label: 'Fastify + fast-jwt, cache on (EdDSA)',
    group: 'peer',
    quick: true,
    needs: [],
    server: peer('fastify-fast-jwt.mjs', () => ({ ALG: 'EdDSA', CACHE: '1' })),
  },
  {
    id: 'fastify-fast-jwt-nocache',
    label: 'Fastify + fast-jwt, no cache (EdDSA)',
    group: 'peer',
    quick: false,
    needs: [],
    server: peer('fastify-fast-jwt.mjs', () => ({ ALG: 'EdDSA', CACHE: '0' })),
  },
  {
    id: 'fastify-jose',
    label: 'Fastify + jose `jwtVerify` (EdDSA)',
    group: 'peer',
    quick: true,
    needs: [],
    server: peer('fastify-jose.mjs', () => ({ ALG: 'EdDSA' })),
  },
  {
    id: 'fastify-jsonwebtoken',
    label: 'Fastify + jsonwebtoken (ES256)',
    group: 'peer',
    note: 'jsonwebtoken 9 has no EdDSA; ES256 is its closest.',
    quick: false,
    needs: [],
    server: peer('fastify-jsonwebtoken.mjs', () => ({ ALG: 'ES256' })),
  },
  {
    id: 'express-session-redis',
    label: 'Express + express-session + connect-redis',
    group: 'peer',
    quick: true,
    needs: ['redis'],
    server: peer('express-session-redis.mjs', redisEnv),
  },
  {
    id: 'better-auth',
    label: 'Better Auth `get-session` (SQLite, better-sqlite3 12)',
    group: 'peer',
    quick: true,
    needs: [],
    server: peer('better-auth.mjs'),
  },
  // ---- Floors: the least work a session check can do on each store ----
  {
    id: 'floor-sqlite',
    label: 'Fastify + raw better-sqlite3 session lookup',
    group: 'floor',
    note: 'SHA-256 of the cookie, one prepared primary-key SELECT: the floor for session mode on SQLite.',
    quick: false,
    needs: [],
    server: peer('fastify-sqlite-raw.mjs'),
  },
  {
    id: 'floor-redis',
    label: 'Fastify + raw node-redis GET session',
    group: 'floor',
    note: 'SHA-256 of the cookie, one GET: the floor for session mode on Redis.',
    quick: false,
    needs: ['redis'],
    server: peer('fastify-redis-raw.mjs', redisEnv),
  },
];
