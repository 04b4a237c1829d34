import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { createTokenChecker } from '../core/access-tokens.js';
import { systemClock } from '../core/clock.js';
import type { JwtAlg } from '../core/config.js';
import { AuthError } from '../core/errors.js';
import { JwksCache } from '../verifier/jwks.js';
import { ALL_ALGS, algOfKey, signatureCheck, type SignatureCheck } from '../verifier/keys.js';
import { silentLogger } from '../verifier/logger.js';
import { decodeToken, times, warnings } from './decode.js';
import { EXIT, FailedError, UsageError } from './errors.js';
import { relative, table, type Io } from './io.js';
import { readConfig } from './store.js';

/** A token from the command line, or from standard input when given as `-` (keeps it out of shell history). */
export async function tokenArg(arg: string | undefined, io: Io): Promise<string> {
  if (arg === undefined) throw new UsageError('give a token, or - to read it from standard input');
  const token = (arg === '-' ? await io.stdin() : arg).trim();
  if (token === '') throw new UsageError('the token is empty');
  return token;
}

const show = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));

function claimRows(payload: Record<string, unknown>, nowMs: number): [string, string][] {
  const iso = times(payload);
  return Object.entries(payload).map(([k, v]) => [k, iso[k] !== undefined ? `${show(v)}  ${iso[k]} (${relative((v as number) * 1000, nowMs)})` : show(v)]);
}

export async function decodeCommand(a: { token: string | undefined; json: boolean; io: Io }): Promise<number> {
  const token = await tokenArg(a.token, a.io);
  const d = decodeToken(token);
  const nowMs = a.io.now();
  const found = warnings(d, nowMs);
  if (a.json) {
    a.io.out(JSON.stringify({ header: d.header, payload: d.payload, times: times(d.payload), signature_bytes: d.signatureBytes, warnings: found, verified: false }, null, 2));
    return EXIT.ok;
  }
  const lines = [
    'Header',
    table(Object.entries(d.header).map(([k, v]) => [k, show(v)])),
    'Payload',
    table(claimRows(d.payload, nowMs)),
    `Signature: ${d.signatureBytes} bytes, not checked (use \`frontdesk verify\`)`,
    found.length === 0 ? 'Warnings: none' : `Warnings:\n${found.map((w) => `  - ${w}`).join('\n')}`,
  ];
  a.io.out(lines.join('\n'));
  return EXIT.ok;
}

export interface VerifyArgs {
  token: string | undefined;
  jwks: string | undefined;
  key: string | undefined;
  secret: string | undefined;
  iss: string | undefined;
  aud: string | undefined;
  alg: string | undefined;
  json: boolean;
  io: Io;
}

/** Reads a key file: PEM (public, or private from which the public part is taken), one JWK, or a JWKS. */
function keysFromFile(path: string): { kid: string | null; key: KeyObject }[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read the key file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let json: unknown;
    try {
      json = JSON.parse(trimmed);
    } catch {
      throw new UsageError(`${path} is neither PEM nor JSON`);
    }
    const list = Array.isArray((json as { keys?: unknown }).keys) ? ((json as { keys: unknown[] }).keys as Record<string, unknown>[]) : [json as Record<string, unknown>];
    return list.map((jwk) => {
      const { d: _private, ...pub } = jwk; // a private JWK verifies with its public half
      try {
        return { kid: typeof jwk.kid === 'string' ? jwk.kid : null, key: createPublicKey({ key: pub as JsonWebKey, format: 'jwk' }) };
      } catch {
        throw new UsageError(`${path} holds a JWK that is not a valid public key`);
      }
    });
  }
  try {
    return [{ kid: null, key: createPublicKey(trimmed) }];
  } catch {
    throw new UsageError(`${path} is not a PEM key, a JWK or a JWKS`);
  }
}

export async function verifyCommand(a: VerifyArgs): Promise<number> {
  const sources = [a.jwks, a.key, a.secret].filter((s) => s !== undefined).length;
  if (sources !== 1) throw new UsageError('give exactly one of --jwks URL, --key FILE or --secret S');
  if (a.alg !== undefined && !(ALL_ALGS as readonly string[]).includes(a.alg)) throw new UsageError(`--alg must be one of ${ALL_ALGS.join(', ')}`);
  const token = await tokenArg(a.token, a.io);
  const config = readConfig(a.io.env);
  const expected = { issuer: a.iss ?? config.issuer, audience: a.aud ?? config.audience };

  let alg: JwtAlg;
  let keyFor: (kid: string) => SignatureCheck | undefined;
  let jwks: JwksCache | undefined;
  if (a.secret !== undefined) {
    alg = (a.alg as JwtAlg | undefined) ?? 'HS256';
    if (alg !== 'HS256') throw new UsageError('--secret verifies HS256 tokens only');
    const check = signatureCheck('HS256', Buffer.from(a.secret, 'utf8'), expected);
    keyFor = () => check;
  } else if (a.key !== undefined) {
    const keys = keysFromFile(a.key);
    const inferred = keys[0] ? algOfKey(keys[0].key) : undefined;
    alg = (a.alg as JwtAlg | undefined) ?? inferred ?? config.jwtAlg;
    if (alg === 'HS256') throw new UsageError('an HS256 token needs --secret, not --key');
    const checks = keys.map((k) => {
      if (algOfKey(k.key) !== alg) throw new UsageError(`the key in ${a.key} is not a ${alg} key`);
      return { kid: k.kid, check: signatureCheck(alg, k.key, expected) };
    });
    // A key file without kids is the key, whatever kid the token names; with kids, the kid must match.
    keyFor = (kid) => checks.find((c) => c.kid === null || c.kid === kid)?.check;
  } else {
    const url = a.jwks!;
    alg = (a.alg as JwtAlg | undefined) ?? config.jwtAlg;
    if (alg === 'HS256') throw new UsageError('HS256 keys are never published in a JWKS; use --secret');
    try {
      new URL(url);
    } catch {
      throw new UsageError(`--jwks must be a URL (got ${JSON.stringify(url)})`);
    }
    const cache = new JwksCache({
      url,
      alg,
      expected,
      fetch: globalThis.fetch,
      log: silentLogger,
      now: () => performance.now(),
      minIntervalMs: 60_000,
      timeoutMs: 10_000,
      onKeysRemoved: () => {},
    });
    jwks = cache;
    await cache.refreshNow();
    if (!cache.isLoaded) throw new FailedError(`could not load the JWKS: ${cache.stats.lastError ?? 'unknown error'}`, 'unavailable');
    keyFor = (kid) => cache.keyFor(kid);
  }

  const checker = createTokenChecker({ alg, clock: systemClock, leeway: config.leeway, keyFor: (kid) => keyFor(kid), isRevoked: () => false, cacheSize: 0 });
  try {
    const claims = checker.verify(token);
    const header = decodeToken(token).header;
    if (a.json) {
      a.io.out(JSON.stringify({ valid: true, alg, header, claims, times: times(claims as unknown as Record<string, unknown>), revocation_checked: false }, null, 2));
    } else {
      a.io.out(
        [
          `valid: ${alg} signature, issuer, audience, type and times check out (revocation not checked)`,
          table(claimRows(claims as unknown as Record<string, unknown>, a.io.now())),
        ].join('\n'),
      );
    }
    return EXIT.ok;
  } catch (e) {
    if (e instanceof AuthError) throw new FailedError(`token refused: ${e.message}`, e.code);
    throw e;
  } finally {
    jwks?.close();
  }
}
