import { z } from 'zod';
import type { Mode } from './ports.js';

/**
 * The one typed configuration object. Every default is written here once;
 * `loadConfig` validates the environment and fails with one line naming the
 * variable (API.md, "Start"). Nothing falls back silently.
 */
export type JwtAlg = 'EdDSA' | 'ES256' | 'RS256' | 'HS256';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  issuer: string;
  audience: string;
  jwtAlg: JwtAlg;
  /** Seconds. */
  accessTtl: number;
  refreshTtl: number;
  sessionIdleTtl: number;
  sessionAbsoluteTtl: number;
  refreshGrace: number;
  allowedOrigins: string[];
  admin: { username: string; password: string } | undefined;
  modes: Mode[];
  verifierSecret: string | undefined;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Login throttling; not in the environment table, set by embedders and tests. */
  loginLimits: LoginLimits;
  /** Clock-skew leeway for exp/nbf/iat, seconds (API.md: at most 30). */
  leeway: number;
  /** Who may read /metrics: 'loopback' (default) or 'any'. */
  metricsAccess: 'loopback' | 'any';
}

export interface LoginLimits {
  /** Failed logins allowed per username in one window. */
  perUsername: number;
  /** Failed logins allowed per client address in one window. */
  perAddress: number;
  windowSeconds: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const ALGS = ['EdDSA', 'ES256', 'RS256', 'HS256'] as const;
const MODES = ['session', 'jwt', 'hybrid'] as const;

const seconds = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number of seconds')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const origin = z.string().refine((s) => {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === s;
  } catch {
    return false;
  }
}, 'must be an origin such as https://app.example.com (scheme, host and port only)');

/** Environment variables, their defaults, and how each is read. */
const schema = {
  PORT: z
    .string()
    .default('3000')
    .pipe(z.string().regex(/^\d+$/, 'must be a port number (0-65535)').transform(Number).pipe(z.number().int().min(0).max(65535, 'must be a port number (0-65535)'))),
  HOST: z.string().min(1).default('127.0.0.1'),
  FRONTDESK_DATA_DIR: z.string().min(1).default('./data'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must start with postgres://')
    .optional(),
  REDIS_URL: z
    .string()
    .regex(/^(rediss?|redis\+cluster):\/\//, 'must start with redis://, rediss:// or redis+cluster://')
    .optional(),
  FRONTDESK_ISSUER: z.string().url('must be a URL').default('http://localhost:3000'),
  FRONTDESK_AUDIENCE: z.string().min(1).default('frontdesk'),
  FRONTDESK_JWT_ALG: z.enum(ALGS, { message: `must be one of ${ALGS.join(', ')}` }).default('EdDSA'),
  FRONTDESK_ACCESS_TTL: z.string().default('600').pipe(seconds(1, 86_400)),
  FRONTDESK_REFRESH_TTL: z.string().default('1209600').pipe(seconds(60, 31_536_000)),
  FRONTDESK_SESSION_IDLE_TTL: z.string().default('1800').pipe(seconds(10, 31_536_000)),
  FRONTDESK_SESSION_ABSOLUTE_TTL: z.string().default('43200').pipe(seconds(10, 31_536_000)),
  FRONTDESK_REFRESH_GRACE: z.string().default('10').pipe(seconds(0, 300)),
  FRONTDESK_ALLOWED_ORIGINS: z.string().optional(),
  FRONTDESK_ADMIN_USERNAME: z.string().min(3).max(64).optional(),
  FRONTDESK_ADMIN_PASSWORD: z.string().min(8, 'must be at least 8 characters').max(256).optional(),
  FRONTDESK_MODES: z.string().default('session,jwt,hybrid'),
  FRONTDESK_VERIFIER_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  FRONTDESK_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
} as const;

type Env = Record<string, string | undefined>;

/**
 * Reads and validates the configuration.
 *
 * @example
 * const config = loadConfig(process.env); // throws ConfigError('FRONTDESK_ACCESS_TTL must be …')
 */
export function loadConfig(env: Env, overrides: Partial<Config> = {}): Config {
  const v: Record<string, unknown> = {};
  for (const [name, type] of Object.entries(schema)) {
    const raw = env[name] === '' ? undefined : env[name];
    const r = (type as z.ZodType).safeParse(raw);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new ConfigError(`${name} ${issue?.message ?? 'is invalid'} (got ${JSON.stringify(raw)})`);
    }
    v[name] = r.data;
  }
  const get = <K extends keyof typeof schema>(k: K) => v[k] as z.output<(typeof schema)[K]>;

  const port = get('PORT');
  const modes = get('FRONTDESK_MODES')
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  for (const m of modes) {
    if (!(MODES as readonly string[]).includes(m)) {
      throw new ConfigError(`FRONTDESK_MODES has unknown mode ${JSON.stringify(m)} (use session, jwt, hybrid)`);
    }
  }
  if (modes.length === 0) throw new ConfigError('FRONTDESK_MODES must name at least one mode');

  const issuer = get('FRONTDESK_ISSUER');
  let allowedOrigins: string[];
  const originsRaw = get('FRONTDESK_ALLOWED_ORIGINS');
  if (originsRaw === undefined) {
    // The server's own origin, by the names a browser on this machine uses for it.
    allowedOrigins = [...new Set([new URL(issuer).origin, `http://localhost:${port}`, `http://127.0.0.1:${port}`])];
  } else {
    allowedOrigins = originsRaw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const o of allowedOrigins) {
      const r = origin.safeParse(o);
      if (!r.success) throw new ConfigError(`FRONTDESK_ALLOWED_ORIGINS entry ${JSON.stringify(o)} ${r.error.issues[0]?.message}`);
    }
  }

  const adminUser = get('FRONTDESK_ADMIN_USERNAME');
  const adminPass = get('FRONTDESK_ADMIN_PASSWORD');
  if ((adminUser === undefined) !== (adminPass === undefined)) {
    throw new ConfigError(
      `${adminUser === undefined ? 'FRONTDESK_ADMIN_USERNAME' : 'FRONTDESK_ADMIN_PASSWORD'} must be set too (both or neither)`,
    );
  }
  const idle = get('FRONTDESK_SESSION_IDLE_TTL');
  const absolute = get('FRONTDESK_SESSION_ABSOLUTE_TTL');
  if (idle > absolute) {
    throw new ConfigError('FRONTDESK_SESSION_IDLE_TTL must not exceed FRONTDESK_SESSION_ABSOLUTE_TTL');
  }

  return {
    port,
    host: get('HOST'),
    dataDir: get('FRONTDESK_DATA_DIR'),
    databaseUrl: get('DATABASE_URL'),
    redisUrl: get('REDIS_URL'),
    issuer,
    audience: get('FRONTDESK_AUDIENCE'),
    jwtAlg: get('FRONTDESK_JWT_ALG'),
    accessTtl: get('FRONTDESK_ACCESS_TTL'),
    refreshTtl: get('FRONTDESK_REFRESH_TTL'),
    sessionIdleTtl: idle,
    sessionAbsoluteTtl: absolute,
    refreshGrace: get('FRONTDESK_REFRESH_GRACE'),
    allowedOrigins,
    admin: adminUser !== undefined && adminPass !== undefined ? { username: adminUser, password: adminPass } : undefined,
    modes: modes as Mode[],
    verifierSecret: get('FRONTDESK_VERIFIER_SECRET'),
    logLevel: get('FRONTDESK_LOG_LEVEL'),
    loginLimits: { perUsername: 10, perAddress: 100, windowSeconds: 900 },
    leeway: 30,
    metricsAccess: 'loopback',
    ...overrides,
  };
}
