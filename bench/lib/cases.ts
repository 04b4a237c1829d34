/**
 * The HTTP case table. A case is one server in its own process (or several
 * nodes, each its own process, sharing PostgreSQL + Redis) plus the request the
 * load generator replays against it. Adding a row is adding an entry here.
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
import { busyCore, type ServerDef, type ServerHandle } from './proc.js';
import type { CaseGroup, LoadRunResult, LoadScenario } from './types.js';

/** Shared services a case can need; the runner starts each once per run. */
export type SidecarName = 'redis' | 'postgres';

export interface CaseContext {
  root: string;
  peersDir: string;
  connections: number;
  /** Set when a case needs Redis and the runner started it. */
  redisUrl: string | null;
  /** Set when a case needs PostgreSQL and the runner started it. */
  postgresUrl: string | null;
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
  needs: SidecarName[];
  /** Server processes started from `server()`, the load spread over them (default 1). */
  nodes?: number;
  /** Paced load in requests per second (default: as fast as the server answers). */
  rate?: number;
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

function sharedStoresEnv(ctx: CaseContext): Record<string, string> {
  if (ctx.postgresUrl === null) throw new Error('this case needs PostgreSQL, which was not started');
  return { ...redisEnv(ctx), DATABASE_URL: ctx.postgresUrl };
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


/** What a Frontdesk row varies: where its state lives, how many nodes, the load. */
interface FrontdeskOptions {
  /** Sessions on Redis (`redis`), several nodes on PostgreSQL + Redis (`nodes`), else SQLite alone. */
  redis?: boolean;
  nodes?: number;
  rate?: number;
  quick?: boolean;
  note?: string;
}

/** A Frontdesk row: the built server on the stores `opts` name, and how the load is fed. */
function frontdeskCase(id: string, label: string, opts: FrontdeskOptions, prepare: HttpCase['prepare']): HttpCase {
  const shared = opts.nodes !== undefined;
  return {
    id,
    label,
    group: 'frontdesk',
    quick: opts.quick ?? false,
    needs: shared ? ['redis', 'postgres'] : opts.redis === true ? ['redis'] : [],
    ...(opts.nodes === undefined ? {} : { nodes: opts.nodes }),
    ...(opts.rate === undefined ? {} : { rate: opts.rate }),
    ...(opts.note === undefined ? {} : { note: opts.note }),
    unavailable: (ctx) => frontdeskUnavailable(ctx.root),
    server: (ctx) => frontdeskServer(ctx.root, shared ? sharedStoresEnv(ctx) : opts.redis === true ? redisEnv(ctx) : {}),
    ...(prepare === undefined ? {} : { prepare }),
  };
}

/**
 * Logs in again for every round: a full run outlasts the access-token lifetime
 * (10 min by default), and a token taken at start-up would be answered 401 by the
 * last round. A login is one Argon2 verify, outside the measured run.
 */
function freshLoginDriver(server: ServerHandle, mode: FrontdeskMode, background?: () => () => Promise<string>): CaseDriver {
  return {
    scenario: async () => ({ kind: 'static', request: await frontdeskMeRequest(server, mode) }),
    ...(background === undefined ? {} : { background }),
  };
}

/** `GET /auth/me` with the credential of `mode`, optionally with something running beside the load. */
function frontdeskMe(id: string, label: string, mode: FrontdeskMode, opts: FrontdeskOptions, beside?: (server: ServerHandle) => () => Promise<string>): HttpCase {
  return frontdeskCase(id, label, opts, (server) =>
    Promise.resolve(freshLoginDriver(server, mode, beside === undefined ? undefined : () => beside(server))),
  );
}

/** `POST /auth/refresh`, each request a full rotation of a never-used token. */
function frontdeskRefresh(id: string, label: string, opts: FrontdeskOptions): HttpCase {
  return frontdeskCase(id, label, opts, (server, ctx) => {
    // Tokens held by connections when a run stops are dropped, never re-presented:
    // one per connection for the warm-up, one for the measured run, and a margin.
    const pool = new RefreshPool(server, 2 * ctx.connections + 16);
    return Promise.resolve({ scenario: () => pool.scenario(), after: (r) => pool.giveBack(r.leftoverTokens) });
  });
}

const besideLogins = (server: ServerHandle): (() => Promise<string>) => loginBurst(server, LOGINS_IN_FLIGHT);

/** Logins kept in flight beside a burst row: more than the argon2 pool runs at once. */
const LOGINS_IN_FLIGHT = 4;
/**
 * The paced rows' rate: far below what one node serves, so their latency shows
 * how long a request waits for the event loop, not for a queue of 50 connections.
 */
export const PACED_RATE = 2000;
/** Nodes in the several-node rows, as in the multi-node tests. */
export const NODES = 3;

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
  frontdeskMe(
    'frontdesk-jwt-login-burst',
    'Frontdesk `GET /auth/me`, jwt, during a login burst',
    'jwt',
    {
      note: `As the jwt row, while ${LOGINS_IN_FLIGHT} logins (argon2id verifies) run back to back beside the load. At full load its throughput shows the core argon2 takes; the paced rows show whether hashing blocks the event loop.`,
    },
    besideLogins,
  ),
  frontdeskMe('frontdesk-jwt-paced', `Frontdesk \`GET /auth/me\`, jwt, paced at ${PACED_RATE.toLocaleString('en-US')} req/s`, 'jwt', {
    rate: PACED_RATE,
    note: 'The idle reference for the login-burst goal: a steady rate well below capacity, so p99 is the wait for the event loop, not for a queue.',
  }),
  frontdeskMe(
    'frontdesk-jwt-paced-login-burst',
    `Frontdesk \`GET /auth/me\`, jwt, paced at ${PACED_RATE.toLocaleString('en-US')} req/s, during a login burst`,
    'jwt',
    {
      rate: PACED_RATE,
      note: `The paced row again while ${LOGINS_IN_FLIGHT} logins run back to back: if argon2 ran on the event loop, each hash (about 20 ms) would hold up every request behind it.`,
    },
    besideLogins,
  ),
  frontdeskMe(
    'frontdesk-jwt-paced-busy-core',
    `Frontdesk \`GET /auth/me\`, jwt, paced at ${PACED_RATE.toLocaleString('en-US')} req/s, beside a process spinning on one core`,
    'jwt',
    {
      rate: PACED_RATE,
      note: 'The control for the login-burst row: one core taken by another process and no login at all. Where its p99 matches the burst row, what lengthens p99 is a busy core on this machine, not hashing on the event loop.',
    },
    busyCore,
  ),
  frontdeskMe('frontdesk-hybrid', 'Frontdesk `GET /auth/me`, hybrid (Bearer, EdDSA)', 'hybrid', {}),
  frontdeskMe('frontdesk-session-sqlite', 'Frontdesk `GET /auth/me`, session on SQLite', 'session', { quick: true }),
  frontdeskMe('frontdesk-session-redis', 'Frontdesk `GET /auth/me`, session on Redis', 'session', { redis: true }),
  frontdeskRefresh('frontdesk-refresh', 'Frontdesk `POST /auth/refresh` (rotation, token in body)', {
    note: 'Every request presents a never-used refresh token and gets the next one: a full rotation per request.',
  }),
  // ---- Frontdesk on several nodes sharing PostgreSQL + Redis ----
  frontdeskMe('frontdesk-nodes-jwt', `Frontdesk \`GET /auth/me\`, jwt, ${NODES} nodes on PostgreSQL + Redis`, 'jwt', {
    nodes: NODES,
    note: 'Revocation state arrives by pub/sub: no Redis or PostgreSQL command per request.',
  }),
  frontdeskMe('frontdesk-nodes-hybrid', `Frontdesk \`GET /auth/me\`, hybrid, ${NODES} nodes on PostgreSQL + Redis`, 'hybrid', { nodes: NODES }),
  frontdeskMe('frontdesk-nodes-session', `Frontdesk \`GET /auth/me\`, session, ${NODES} nodes on PostgreSQL + Redis`, 'session', {
    nodes: NODES,
    quick: true,
    note: 'Sessions live in Redis: one look-up per request, from whichever node the connection reaches.',
  }),
  frontdeskRefresh('frontdesk-nodes-refresh', `Frontdesk \`POST /auth/refresh\`, ${NODES} nodes on PostgreSQL + Redis`, {
    nodes: NODES,
    note: 'Refresh families live in PostgreSQL: each rotation is one transaction with a row lock, from whichever node.',
  }),
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
