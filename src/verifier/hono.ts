import type { MiddlewareHandler } from 'hono';
import { authenticate, type AdapterOptions } from './http.js';
import type { VerifiedClaims, Verifier } from './verifier.js';

/** The Hono environment this middleware adds: `c.get('auth')`. */
export interface FrontdeskAuthEnv {
  Variables: { auth: VerifiedClaims | null };
}

/**
 * Hono middleware: verifies the Bearer token, `c.set('auth', claims)`, or
 * answers 401 JSON with `WWW-Authenticate: Bearer error="invalid_token"`.
 * Only Hono's types are imported.
 *
 * @example
 * const app = new Hono<FrontdeskAuthEnv>();
 * app.use('/orders/*', honoAuth(verifier));
 * app.get('/orders', (c) => c.json(listOrders(c.get('auth')!.sub)));
 */
export function honoAuth(verifier: Verifier, opts: AdapterOptions = {}): MiddlewareHandler<FrontdeskAuthEnv> {
  return async (c, next) => {
    const r = await authenticate(verifier, c.req.header('authorization'), opts);
    if ('refusal' in r) return c.json(r.refusal.body, r.refusal.status, r.refusal.headers);
    c.set('auth', r.claims);
    await next();
  };
}
