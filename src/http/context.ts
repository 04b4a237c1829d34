import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Auth, Principal } from '../core/auth.js';
import type { Config } from '../core/config.js';
import { AuthError } from '../core/errors.js';
import type { Stores } from '../core/ports.js';
import { CSRF, SESSION } from './cookies.js';

/** What every route module receives. */
export interface HttpContext {
  auth: Auth;
  config: Config;
  stores: Stores;
}

const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Resolves the caller (API.md: "If an Authorization header is present it alone
 * decides"), and for cookie-authenticated writes checks the CSRF token bound to
 * the session. Throws `unauthenticated` when there is no credential.
 */
export async function requirePrincipal(auth: Auth, req: FastifyRequest): Promise<Principal> {
  const header = req.headers.authorization;
  if (header !== undefined) {
    // RFC 7235: the scheme is case-insensitive.
    if (header.length < 8 || header.slice(0, 7).toLowerCase() !== 'bearer ') {
      throw new AuthError('invalid_token', 'Authorization must be "Bearer <access token>".');
    }
    return auth.authenticateBearer(header.slice(7).trim());
  }
  const sid = req.cookies[SESSION.name];
  const p = sid ? await auth.authenticateSession(sid) : null;
  if (!p) throw new AuthError('unauthenticated', 'Not signed in.');
  if (WRITE.has(req.method)) auth.checkSessionCsrf(p, csrfHeader(req), req.cookies[CSRF.name]);
  return p;
}

export function csrfHeader(req: FastifyRequest): string | undefined {
  const h = req.headers['x-csrf-token'];
  return Array.isArray(h) ? h[0] : h;
}

export function userAgent(req: FastifyRequest): string {
  return req.headers['user-agent'] ?? '';
}

export type Reply = FastifyReply;
