import type { Clock, Random } from './clock.js';
import type { JwtAlg } from './config.js';
import { AuthError } from './errors.js';
import { hasDuplicateMembers } from './json.js';
import type { RawPayload } from './keyring.js';
import type { Role } from './ports.js';
import { newId } from './secrets.js';

/** The claims of a Frontdesk access token (API.md, "Access tokens"). */
export interface AccessClaims {
  iss: string;
  aud: string | string[];
  sub: string;
  name: string;
  role: Role;
  /** Seconds since the epoch. */
  iat: number;
  exp: number;
  jti: string;
  /** Hybrid only: the refresh family this token was issued from. */
  sid?: string;
}

/** API.md: a token is at most 8 KiB. */
export const MAX_TOKEN_BYTES = 8192;
const SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** Header members that carry or point at keys: never fetched, never trusted (RFC 8725 §3.10). */
const KEY_BEARING = ['jwk', 'jku', 'x5u', 'x5c'] as const;
/** Characters of a token's end that key the verified-token cache (signature: ~190 random bits). */
const KEY_CHARS = 32;

export interface TokenCheckerOptions {
  alg: JwtAlg;
  clock: Clock;
  /** Seconds of clock-skew leeway for exp/nbf/iat (≤ 30). */
  leeway: number;
  /** The signature verifier of a published key, or undefined for an unknown kid. */
  keyFor: (kid: string, nowMs: number) => ((token: string) => RawPayload) | undefined;
  /** In-memory revocation check, run on every request, cached or not. */
  isRevoked: (claims: AccessClaims) => boolean;
  /** Verified tokens kept to skip the signature check on repeat; 0 disables. */
  cacheSize?: number;
}

export interface TokenChecker {
  /** Verifies a compact JWS access token; throws AuthError invalid_token or token_expired. */
  verify(token: string): AccessClaims;
  /** Forgets cached verifications (after a key leaves the ring). */
  clear(): void;
  readonly stats: { hits: number; misses: number };
}

const invalid = (message: string) => new AuthError('invalid_token', message);

function decodeSegment(segment: string, what: string): { text: string; value: Record<string, unknown> } {
  const text = Buffer.from(segment, 'base64url').toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalid(`The token ${what} is not JSON.`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalid(`The token ${what} is not a JSON object.`);
  if (hasDuplicateMembers(text)) throw invalid(`The token ${what} names a member twice.`);
  return { text, value: value as Record<string, unknown> };
}

/**
 * The acceptance rules of API.md, in a fixed order: shape and size, header
 * (pinned alg, typ, no embedded or remote keys, no crit), key by kid, signature
 * (fast-jwt), and only then the claims. Shared by the server and by the
 * verifier library that other services import.
 *
 * @example
 * const checker = createTokenChecker({ alg: 'EdDSA', clock, leeway: 30, keyFor, isRevoked });
 * const claims = checker.verify(bearer);
 */
export function createTokenChecker(o: TokenCheckerOptions): TokenChecker {
  const cacheSize = o.cacheSize ?? 10_000;
  // Keyed by the token's last KEY_CHARS characters (signature bytes), not the whole token:
  // hashing a ~450-character string for the Map cost more than anything else in a cache hit
  // (callgrind: ~4.5k instructions a request). A hit still needs the entire token to be equal
  // to the one that was verified, so a forged token that shares the suffix is only a miss.
  const cache = new Map<string, { token: string; claims: AccessClaims }>();
  const stats = { hits: 0, misses: 0 };
  const leewayMs = o.leeway * 1000;

  function checkTime(c: AccessClaims, nowMs: number): void {
    if (c.exp * 1000 + leewayMs <= nowMs) throw new AuthError('token_expired', 'The access token has expired.');
  }

  function verifyUncached(token: string, nowMs: number): AccessClaims {
    if (token.length > MAX_TOKEN_BYTES) throw invalid('The token is larger than 8 KiB.');
    if (!SHAPE.test(token)) throw invalid('The token is not a compact JWS.');
    const dot = token.indexOf('.');
    const { value: header } = decodeSegment(token.slice(0, dot), 'header');
    if (header.alg !== o.alg) throw invalid('The token algorithm is not accepted.');
    if (header.typ !== 'at+jwt' && header.typ !== 'application/at+jwt') throw invalid('The token is not an access token (typ).');
    for (const k of KEY_BEARING) if (k in header) throw invalid(`The token header carries "${k}"; embedded and remote keys are not trusted.`);
    if ('crit' in header) throw invalid('The token lists critical extensions this server does not understand.');
    if (typeof header.kid !== 'string') throw invalid('The token names no key (kid).');
    const verifySignature = o.keyFor(header.kid, nowMs);
    if (!verifySignature) throw invalid('The token was signed by an unknown key.');

    let payload: RawPayload;
    try {
      payload = verifySignature(token);
    } catch (e) {
      throw invalid(signatureMessage(e));
    }
    // Signature verified: now the claims may be read.
    const payloadText = Buffer.from(token.slice(dot + 1, token.lastIndexOf('.')), 'base64url').toString('utf8');
    if (hasDuplicateMembers(payloadText)) throw invalid('The token payload names a member twice.');
    const c = payload as Partial<AccessClaims> & Record<string, unknown>;
    if (
      typeof c.sub !== 'string' ||
      typeof c.jti !== 'string' ||
      typeof c.iat !== 'number' ||
      typeof c.exp !== 'number' ||
      typeof c.name !== 'string' ||
      (c.role !== 'user' && c.role !== 'admin') ||
      (c.sid !== undefined && typeof c.sid !== 'string')
    ) {
      throw invalid('The token claims are incomplete or of the wrong type.');
    }
    const claims = c as AccessClaims;
    checkTime(claims, nowMs);
    if (claims.iat * 1000 - leewayMs > nowMs) throw invalid('The token was issued in the future.');
    if (c.nbf !== undefined && (typeof c.nbf !== 'number' || c.nbf * 1000 - leewayMs > nowMs)) {
      throw invalid('The token is not valid yet (nbf).');
    }
    return claims;
  }

  return {
    stats,
    clear: () => cache.clear(),
    verify(token: string): AccessClaims {
      const nowMs = o.clock.now();
      const key = token.length > KEY_CHARS ? token.slice(-KEY_CHARS) : token;
      const entry = cache.get(key);
      let claims: AccessClaims;
      if (entry !== undefined && entry.token === token) {
        stats.hits++;
        claims = entry.claims;
        try {
          checkTime(claims, nowMs);
        } catch (e) {
          cache.delete(key); // a cached entry never outlives its token
          throw e;
        }
      } else {
        stats.misses++;
        claims = verifyUncached(token, nowMs);
        if (cacheSize > 0) {
          if (cache.size >= cacheSize && !cache.has(key)) cache.delete(cache.keys().next().value as string);
          cache.set(key, { token, claims });
        }
      }
      if (o.isRevoked(claims)) throw invalid('The token has been revoked.');
      return claims;
    },
  };
}

function signatureMessage(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  switch (code) {
    case 'FAST_JWT_INVALID_SIGNATURE':
      return 'The token signature is invalid.';
    case 'FAST_JWT_INVALID_CLAIM_VALUE':
    case 'FAST_JWT_MISSING_REQUIRED_CLAIM':
    case 'FAST_JWT_INVALID_CLAIM_TYPE':
      return 'The token issuer, audience or required claims are not accepted.';
    case 'FAST_JWT_INVALID_ALGORITHM':
      return 'The token algorithm is not accepted.';
    default:
      return 'The token could not be verified.';
  }
}

export interface IssueInput {
  sub: string;
  name: string;
  role: Role;
  sid?: string | undefined;
}

/**
 * Builds the claims of a new access token (API.md) from the injected clock and
 * random source; `sign` turns them into a compact JWS with the current key.
 */
export function newAccessClaims(
  input: IssueInput,
  o: {
    issuer: string;
    audience: string;
    ttlSeconds: number;
    clock: Clock;
    random: Random;
    /** The latest revocation epoch that applies to this subject, ms (0 when none). */
    notBeforeMs: number;
  },
): AccessClaims {
  const nowS = Math.floor(o.clock.now() / 1000);
  // Epochs are set at the second after a revocation, so a token issued right after one
  // (same second) is dated at the epoch — within the verification leeway — and is not
  // caught by it: "a login right after logout-all works".
  const iat = Math.max(nowS, Math.ceil(o.notBeforeMs / 1000));
  const claims: AccessClaims = {
    iss: o.issuer,
    aud: o.audience,
    sub: input.sub,
    name: input.name,
    role: input.role,
    iat,
    exp: iat + o.ttlSeconds,
    jti: newId(o.random),
  };
  if (input.sid !== undefined) claims.sid = input.sid;
  return claims;
}
