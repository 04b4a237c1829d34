import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Auth, Principal, SessionPrincipal } from '../core/auth.js';
import type { Config } from '../core/config.js';
import { AuthError } from '../core/errors.js';
import { isPromise, type MaybePromise, type Stores } from '../core/ports.js';
import { CSRF, readCookie, SESSION } from './cookies.js';

/** What every route module receives. */
export interface HttpContext {
  auth: Auth;
  config: Config;
  stores: Stores;
  /** Errors and security events; Fastify's `req.log` is a no-op here (server.ts#createLogger). */
  log: Logger;
}

const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Resolves the caller (API.md: "If an Authorization header is present it alone
 * decides"), and for cookie-authenticated writes checks the CSRF token bound to
 * the session. Throws `unauthenticated` when there is no credential.
 */
export function requirePrincipal(auth: Auth, req: FastifyRequest): MaybePromise<Principal> {
  const header = req.headers.authorization;
  if (header !== undefined) return auth.authenticateBearer(bearerToken(header));
  const sid = readCookie(req, SESSION);
  if (!sid) throw new AuthError('unauthenticated', 'Not signed in.');
  const p = auth.authenticateSession(sid);
  // Synchronous when the session store is (SQLite): nothing awaited on the hot path.
  return isPromise(p) ? p.then((x) => sessionCaller(auth, req, x)) : sessionCaller(auth, req, p);
}

function sessionCaller(auth: Auth, req: FastifyRequest, p: SessionPrincipal | null): SessionPrincipal {
  if (!p) throw new AuthError('unauthenticated', 'Not signed in.');
  if (WRITE.has(req.method)) auth.checkSessionCsrf(p, csrfHeader(req), readCookie(req, CSRF));
  return p;
}

/** The token of an `Authorization: Bearer` header, or invalid_token. */
export function bearerToken(header: string): string {
  // RFC 7235: the scheme is case-insensitive.
  if (header.length < 8 || !startsWithBearer(header)) {
    throw new AuthError('invalid_token', 'Authorization must be "Bearer <access token>".');
  }
  return header.slice(7).trim();
}

/** `bearer ` in any case, without building a lower-cased copy of the header on every request. */
function startsWithBearer(h: string): boolean {
  // `| 0x20` lower-cases an ASCII letter, and only the two cases of a letter map onto it.
  return (
    (h.charCodeAt(0) | 0x20) === 0x62 &&
    (h.charCodeAt(1) | 0x20) === 0x65 &&
    (h.charCodeAt(2) | 0x20) === 0x61 &&
    (h.charCodeAt(3) | 0x20) === 0x72 &&
    (h.charCodeAt(4) | 0x20) === 0x65 &&
    (h.charCodeAt(5) | 0x20) === 0x72 &&
    h.charCodeAt(6) === 0x20
  );
}

export function csrfHeader(req: FastifyRequest): string | undefined {
  const h = req.headers['x-csrf-token'];
  return Array.isArray(h) ? h[0] : h;
}

export function userAgent(req: FastifyRequest): string {
  return req.headers['user-agent'] ?? '';
}

export type Reply = FastifyReply;
