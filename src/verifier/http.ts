import { VerifierError } from './errors.js';
import type { VerifiedClaims, Verifier } from './verifier.js';

/** What an adapter sends when it refuses a request (API.md, "Errors"). */
export interface Refusal {
  status: 401;
  headers: Record<string, string>;
  body: { error: { code: 'invalid_token' | 'token_expired' | 'unauthenticated'; message: string } };
}

export interface AdapterOptions {
  /** Let requests without an Authorization header through with `auth = null` (a token that is present must still verify). */
  optional?: boolean;
  /** Realm named in the challenge when no token was sent; default "frontdesk". */
  realm?: string;
}

/**
 * The framework-free part of every adapter: reads the Authorization header,
 * verifies the Bearer token, and answers either the claims (or null for an
 * optional, absent token) or the 401 to send. RFC 6750 §3: a request that sent a
 * token learns it was the problem (`error="invalid_token"`); one that sent none
 * is told how to authenticate.
 */
export async function authenticate(
  verifier: Verifier,
  header: string | string[] | undefined,
  opts: AdapterOptions = {},
): Promise<{ claims: VerifiedClaims | null } | { refusal: Refusal }> {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value === '') {
    if (opts.optional) return { claims: null };
    return {
      refusal: {
        status: 401,
        headers: { 'www-authenticate': `Bearer realm="${opts.realm ?? 'frontdesk'}"`, 'cache-control': 'no-store' },
        body: { error: { code: 'unauthenticated', message: 'Send "Authorization: Bearer <access token>".' } },
      },
    };
  }
  // RFC 7235: the scheme is case-insensitive.
  if (value.length < 8 || value.slice(0, 7).toLowerCase() !== 'bearer ') {
    return { refusal: refusal('invalid_token', 'Authorization must be "Bearer <access token>".') };
  }
  try {
    return { claims: await verifier.verifyAsync(value.slice(7).trim()) };
  } catch (e) {
    if (e instanceof VerifierError) return { refusal: refusal(e.code, e.message) };
    throw e;
  }
}

function refusal(code: VerifierError['code'], message: string): Refusal {
  return {
    status: 401,
    headers: { 'www-authenticate': 'Bearer error="invalid_token"', 'cache-control': 'no-store' },
    body: { error: { code, message } },
  };
}
