import { hash, timingSafeEqual } from 'node:crypto';
import type { Random } from './clock.js';

/**
 * Opaque credentials and their at-rest form. Every secret handed to a client is
 * random bytes from the injected source, base64url-encoded; stores only ever see
 * the SHA-256 digest (a stolen database yields no usable credential).
 */

/** 256-bit secret: session IDs, refresh tokens, CSRF tokens. */
export const newSecret = (random: Random): string => random.bytes(32).toString('base64url');

/** 128-bit public identifier: user IDs, session/family IDs shown in lists, jti. */
export const newId = (random: Random): string => random.bytes(16).toString('base64url');

/** SHA-256 digest, base64url. Secrets are 256-bit random, so no salt or slow hash is needed. */
// crypto.hash is the one-shot form (Node ≥ 20.12): no Hash object per call on the session hot path.
export const digest = (secret: string): string => hash('sha256', secret, 'base64url');

/** Constant-time string equality (lengths are not secret: both sides are fixed-size digests or tokens). */
export function safeEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/** Shape check for a credential before it is hashed or looked up: 43 base64url chars = 32 bytes. */
export const looksLikeSecret = (s: unknown): s is string => typeof s === 'string' && /^[A-Za-z0-9_-]{43}$/.test(s);
