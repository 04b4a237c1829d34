/**
 * The per-operation costs, run in a child process of the bench runner (or alone:
 * `tsx bench/lib/micro-suite.ts '{"quick":true}'`). Progress goes to stderr; the
 * MicroReport goes back over IPC, or to stdout when run alone.
 *
 * Rows: the node:crypto floor of each JWS algorithm next to fast-jwt (no cache,
 * cache miss, cache hit) and jose on tokens of the same claims; token sizes;
 * argon2id; session lookups (SHA-256, Map, better-sqlite3, Redis, PostgreSQL).
 */
import argon2 from 'argon2';
import Database from 'better-sqlite3';
import { createSigner, createVerifier } from 'fast-jwt';
import { jwtVerify } from 'jose';
import {
  createHash,
  createHmac,
  generateKeyPairSync,
  randomBytes,
  timingSafeEqual,
  verify as cryptoVerify,
  type KeyObject,
} from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { createClient } from 'redis';
import { measure, type MicroSettings, type Op } from './micro.js';
import type { MicroReport, MicroResult, TokenSize } from './types.js';

export interface MicroSuiteOptions {
  quick: boolean;
  /** Repository root: Frontdesk's own rows load its built core from `dist/`. */
  root: string;
  redisUrl: string | null;
  postgresUrl: string | null;
}

/** fast-jwt's verifiers return `any`; the bench only needs the call. */
type Verify = (token: string) => unknown;
type Alg = 'EdDSA' | 'ES256' | 'RS256' | 'HS256';
const ALGS: readonly Alg[] = ['EdDSA', 'ES256', 'RS256', 'HS256'];
const ISSUER = 'http://127.0.0.1:3000';
const AUDIENCE = 'frontdesk';
const DISTINCT_TOKENS = 600;

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

interface Keys {
  /** What fast-jwt takes: PEM text, or the HMAC secret. */
  signPem: string | Buffer;
  verifyPem: string | Buffer;
  /** What jose and node:crypto take. */
  verifyKey: KeyObject | Uint8Array;
}

function keysFor(alg: Alg): Keys {
  if (alg === 'HS256') {
    const secret = randomBytes(32); // 256-bit key, as RFC 7518 §3.2 asks for HS256
    return { signPem: secret, verifyPem: secret, verifyKey: secret };
  }
  const pair =
    alg === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    signPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    verifyPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    verifyKey: pair.publicKey,
  };
}

/** The claims a Frontdesk access token carries (API.md), with a fresh jti each. */
function claims(): Record<string, unknown> {
  const now = Math.floor(Date.now() / 1000);
  return {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'u_4f1c2a9e7b3d4c58',
    name: 'Ada Lovelace',
    role: 'user',
    iat: now,
    exp: now + 3600,
    jti: randomBytes(16).toString('base64url'),
  };
}

/** The raw primitive a JWS verify cannot go below, on the same signing input. */
function floorOp(alg: Alg, token: string, key: KeyObject | Uint8Array): Op {
  const dot = token.lastIndexOf('.');
  const input = Buffer.from(token.slice(0, dot));
  const sig = Buffer.from(token.slice(dot + 1), 'base64url');
  switch (alg) {
    case 'EdDSA':
      return { sync: () => cryptoVerify(null, input, key as KeyObject, sig) };
    case 'ES256':
      return { sync: () => cryptoVerify('sha256', input, { key: key as KeyObject, dsaEncoding: 'ieee-p1363' }, sig) };
    case 'RS256':
      return { sync: () => cryptoVerify('sha256', input, key as KeyObject, sig) };
    case 'HS256':
      return { sync: () => timingSafeEqual(createHmac('sha256', key).update(input).digest(), sig) };
  }
}

const FLOOR_NAME: Record<Alg, string> = {
  EdDSA: 'Ed25519 verify',
  ES256: 'ECDSA P-256 verify',
  RS256: 'RSA-2048 PKCS#1 v1.5 SHA-256 verify',
  HS256: 'HMAC-SHA256 + timingSafeEqual',
};

/** The parts of Frontdesk's built core these rows drive (src/core/keyring.ts, access-tokens.ts). */
interface FrontdeskCore {
  Keyring: new (alg: Alg, records: unknown[], opts: { issuer: string; audience: string }) => {
    sign(payload: Record<string, unknown>): string;
    verifierFor(kid: string, nowMs: number): ((token: string) => unknown) | undefined;
  };
  generateKey: (alg: Alg, now: number, random: { bytes(n: number): Buffer }) => unknown;
  createTokenChecker: (o: {
    alg: Alg;
    clock: { now(): number };
    leeway: number;
    keyFor: (kid: string, nowMs: number) => ((token: string) => unknown) | undefined;
    isRevoked: (claims: unknown) => boolean;
    cacheSize?: number;
  }) => { verify(token: string): unknown };
}

/**
 * Loads Frontdesk's core from the build, at run time and checked by shape, so an
 * API change skips these rows with a reason instead of breaking the bench.
 */
async function loadFrontdeskCore(root: string): Promise<FrontdeskCore | string> {
  const dir = join(root, 'dist', 'src', 'core');
  if (!existsSync(join(dir, 'access-tokens.js'))) return 'dist/src/core not built: run `npm run build`';
  try {
    const keyring = (await import(pathToFileURL(join(dir, 'keyring.js')).href)) as Record<string, unknown>;
    const tokens = (await import(pathToFileURL(join(dir, 'access-tokens.js')).href)) as Record<string, unknown>;
    if (typeof keyring.Keyring !== 'function' || typeof keyring.generateKey !== 'function' || typeof tokens.createTokenChecker !== 'function') {
      return 'the built core no longer exports Keyring, generateKey and createTokenChecker: update bench/lib/micro-suite.ts';
    }
    return { Keyring: keyring.Keyring, generateKey: keyring.generateKey, createTokenChecker: tokens.createTokenChecker } as FrontdeskCore;
  } catch (err) {
    return `the built core did not load: ${err instanceof Error ? err.message : String(err)}`;
  }
}

function cycle<T>(xs: readonly T[]): () => T {
  let i = 0;
  return () => {
    const x = xs[i] as T;
    i = i + 1 === xs.length ? 0 : i + 1;
    return x;
  };
}

type Row = (id: string, group: string, label: string, op: Op, extra?: { alg?: Alg; note?: string }) => Promise<void>;

/** Frontdesk's token checker as the server runs it: header rules, kid lookup, signature, claims, revocation. */
async function frontdeskRows(fd: FrontdeskCore, alg: Alg, row: Row): Promise<void> {
  const now = Date.now();
  const ring = new fd.Keyring(alg, [fd.generateKey(alg, now, { bytes: (n) => randomBytes(n) })], { issuer: ISSUER, audience: AUDIENCE });
  const tokens = Array.from({ length: DISTINCT_TOKENS }, () => ring.sign(claims()));
  const token = tokens[0] ?? '';
  const base = {
    alg,
    clock: { now: () => Date.now() },
    leeway: 30,
    keyFor: (kid: string, nowMs: number) => ring.verifierFor(kid, nowMs),
    // The server's check is a few Map lookups; a constant keeps this row about the checker.
    isRevoked: () => false,
  };
  // FIFO cache smaller than the cycle of distinct tokens: every call is a first sight.
  const cold = fd.createTokenChecker({ ...base, cacheSize: 100 });
  const warm = fd.createTokenChecker(base);
  const next = cycle(tokens);
  const a = alg.toLowerCase();
  await row(`frontdesk.${a}.cold`, 'verify', 'Frontdesk token checker, token never seen', { sync: () => cold.verify(next()) }, { alg });
  await row(`frontdesk.${a}.hit`, 'verify', 'Frontdesk token checker, cached', { sync: () => warm.verify(token) }, { alg });
}

export async function runMicroSuite(o: MicroSuiteOptions): Promise<MicroReport> {
  const s: MicroSettings = o.quick ? { warmupMs: 50, sampleMs: 40, samples: 3 } : { warmupMs: 500, sampleMs: 250, samples: 9 };
  const results: MicroResult[] = [];
  const skipped: MicroReport['skipped'] = [];
  const tokenSizes: TokenSize[] = [];

  const row = async (
    id: string,
    group: string,
    label: string,
    op: Op,
    extra: { alg?: Alg; note?: string; perCall?: number; settings?: MicroSettings } = {},
  ): Promise<void> => {
    const m = await measure(op, extra.settings ?? s);
    const k = extra.perCall ?? 1; // operations per call (a batch of concurrent GETs)
    const nsPerOp = { min: m.nsPerOp.min / k, median: m.nsPerOp.median / k, max: m.nsPerOp.max / k };
    results.push({
      id,
      group,
      label,
      ...(extra.alg === undefined ? {} : { alg: extra.alg }),
      ...(extra.note === undefined ? {} : { note: extra.note }),
      nsPerOp,
      opsPerSec: 1e9 / nsPerOp.median,
      samples: m.samples,
      opsPerSample: m.opsPerSample * k,
    });
    log(`  ${id.padEnd(34)} ${(nsPerOp.median / 1000).toFixed(2).padStart(10)} µs/op  ${Math.round(1e9 / nsPerOp.median).toLocaleString('en-US').padStart(12)} ops/s`);
  };

  const fd = await loadFrontdeskCore(o.root);
  if (typeof fd === 'string') skipped.push({ id: 'frontdesk.*', reason: fd });

  // ---- Access-token verification, per algorithm ----
  for (const alg of ALGS) {
    log(`micro: ${alg}`);
    const keys = keysFor(alg);
    const sign = createSigner({ key: keys.signPem, algorithm: alg, kid: 'k1', header: { alg, typ: 'at+jwt' } });
    const tokens = Array.from({ length: DISTINCT_TOKENS }, () => sign(claims()));
    const token = tokens[0] ?? '';
    tokenSizes.push({ alg, tokenBytes: Buffer.byteLength(token), headerBytes: Buffer.byteLength(`authorization: Bearer ${token}`) });
    const vopts = { key: keys.verifyPem, algorithms: [alg], allowedIss: ISSUER, allowedAud: AUDIENCE };
    const noCache: Verify = createVerifier({ ...vopts, cache: false });
    // Fewer cache slots than distinct tokens, cycled in order: every call misses.
    const missCache: Verify = createVerifier({ ...vopts, cache: 100 });
    const hitCache: Verify = createVerifier({ ...vopts, cache: true });
    const next = cycle(tokens);
    const a = alg.toLowerCase();
    await row(`crypto.${a}`, 'verify', `node:crypto ${FLOOR_NAME[alg]} (floor)`, floorOp(alg, token, keys.verifyKey), { alg });
    await row(`fast-jwt.${a}.nocache`, 'verify', 'fast-jwt verify, no cache', { sync: () => noCache(next()) }, { alg });
    await row(`fast-jwt.${a}.miss`, 'verify', 'fast-jwt verify, cache on, token never seen', { sync: () => missCache(next()) }, { alg });
    await row(`fast-jwt.${a}.hit`, 'verify', 'fast-jwt verify, cache hit', { sync: () => hitCache(token) }, { alg });
    const jkey = keys.verifyKey;
    await row(
      `jose.${a}`,
      'verify',
      'jose jwtVerify (no cache)',
      { async: () => jwtVerify(next(), jkey, { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE }) },
      { alg },
    );
    if (typeof fd !== 'string') {
      try {
        await frontdeskRows(fd, alg, row);
      } catch (err) {
        skipped.push({ id: `frontdesk.${a}.*`, reason: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  // ---- Password hashing ----
  log('micro: password');
  const slow: MicroSettings = o.quick ? { warmupMs: 0, sampleMs: 100, samples: 3 } : { warmupMs: 300, sampleMs: 500, samples: 5 };
  await row(
    'argon2id.hash',
    'password',
    'argon2id hash (m=19456 KiB, t=2, p=1)',
    { async: () => argon2.hash('correct horse battery staple', { type: argon2.argon2id, memoryCost: 19456, timeCost: 2, parallelism: 1 }) },
    { settings: slow, note: 'OWASP minimum for argon2id; runs on the libuv pool, off the event loop.' },
  );

  // ---- Session lookups ----
  log('micro: session lookups');
  const N = 10_000;
  const sha = (x: string): string => createHash('sha256').update(x).digest('base64url');
  const ids = Array.from({ length: N }, () => randomBytes(32).toString('base64url')); // 256-bit session IDs
  const hashes = ids.map(sha);
  const nextId = cycle(ids);
  const nextHash = cycle(hashes);
  const user = JSON.stringify({ id: 'u_4f1c2a9e7b3d4c58', name: 'Ada Lovelace', role: 'user' });
  await row('sha256.session-id', 'session', 'SHA-256 of a session ID (base64url)', { sync: () => sha(nextId()) });
  const map = new Map(hashes.map((h) => [h, user]));
  await row('memory.get', 'session', 'in-memory Map.get by hashed ID (10k sessions)', { sync: () => map.get(nextHash()) });

  const dir = mkdtempSync(join(tmpdir(), 'bench-micro-'));
  try {
    const db = new Database(join(dir, 'micro.db'));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(`CREATE TABLE sessions (id_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, data TEXT NOT NULL,
      idle_expires_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`);
    const ins = db.prepare('INSERT INTO sessions VALUES (?, ?, ?, ?, ?)');
    const far = Date.now() + 86_400_000;
    db.transaction(() => hashes.forEach((h, i) => ins.run(h, `u_${i}`, user, far, far)))();
    const get = db.prepare('SELECT user_id, data, idle_expires_at, expires_at FROM sessions WHERE id_hash = ?');
    await row('sqlite.pk-get', 'session', 'better-sqlite3 primary-key lookup (WAL file, 10k rows)', { sync: () => get.get(nextHash()) });
    await row('sqlite.session-check', 'session', 'SHA-256 + better-sqlite3 lookup', { sync: () => get.get(sha(nextId())) });
    db.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  if (o.redisUrl === null) skipped.push({ id: 'redis.*', reason: 'Redis not started for this run' });
  else {
    const client = createClient({ url: o.redisUrl });
    await client.connect();
    try {
      for (let i = 0; i < N; i += 500) {
        const multi = client.multi();
        for (const h of hashes.slice(i, i + 500)) multi.set(`micro:${h}`, user, { EX: 3600 });
        await multi.exec();
      }
      await row('redis.get', 'session', 'node-redis GET, one at a time (round trip)', { async: () => client.get(`micro:${nextHash()}`) });
      await row(
        'redis.get.c50',
        'session',
        'node-redis GET, 50 in flight (one client: the ceiling one process sees)',
        { async: () => Promise.all(Array.from({ length: 50 }, () => client.get(`micro:${nextHash()}`))) },
        { perCall: 50 },
      );
    } finally {
      await client.quit();
    }
  }

  if (o.postgresUrl === null) skipped.push({ id: 'postgres.*', reason: o.quick ? 'skipped in --quick' : 'PostgreSQL not started for this run' });
  else {
    const pool = new pg.Pool({ connectionString: o.postgresUrl, max: 10 });
    try {
      await pool.query(`CREATE TABLE IF NOT EXISTS micro_sessions (id_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, data TEXT NOT NULL,
        idle_expires_at BIGINT NOT NULL, expires_at BIGINT NOT NULL)`);
      const far = Date.now() + 86_400_000;
      for (let i = 0; i < N; i += 1000) {
        const chunk = hashes.slice(i, i + 1000);
        const values = chunk.map((_, j) => `($${j * 3 + 1}, $${j * 3 + 2}, $${j * 3 + 3}, ${far}, ${far})`).join(',');
        await pool.query(
          `INSERT INTO micro_sessions VALUES ${values} ON CONFLICT DO NOTHING`,
          chunk.flatMap((h, j) => [h, `u_${i + j}`, user]),
        );
      }
      const q = (h: string): pg.QueryConfig => ({
        name: 'micro-find-session',
        text: 'SELECT user_id, data, idle_expires_at, expires_at FROM micro_sessions WHERE id_hash = $1',
        values: [h],
      });
      await row('postgres.pk-get', 'session', 'pg primary-key lookup, one at a time (prepared, round trip)', { async: () => pool.query(q(nextHash())) });
      await row(
        'postgres.pk-get.c50',
        'session',
        'pg primary-key lookup, 50 in flight over a pool of 10',
        { async: () => Promise.all(Array.from({ length: 50 }, () => pool.query(q(nextHash())))) },
        { perCall: 50 },
      );
    } finally {
      await pool.end();
    }
  }

  return {
    results,
    skipped,
    tokenSizes,
    // A 256-bit session ID in base64url is 43 characters.
    sessionCookieBytes: Buffer.byteLength(`cookie: __Host-session=${randomBytes(32).toString('base64url')}`),
  };
}

// Run as a child of bench/run.ts (options as argv[2], report over IPC) or alone (report on stdout).
if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop() ?? '\0')) {
  const opts = JSON.parse(process.argv[2] ?? '{}') as Partial<MicroSuiteOptions>;
  runMicroSuite({ quick: opts.quick ?? false, root: opts.root ?? process.cwd(), redisUrl: opts.redisUrl ?? null, postgresUrl: opts.postgresUrl ?? null }).then(
    (report) => {
      if (process.send) process.send(report, () => process.exit(0));
      else {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        process.exit(0);
      }
    },
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
