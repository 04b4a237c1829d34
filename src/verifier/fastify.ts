import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { authenticate, type AdapterOptions } from './http.js';
import type { VerifiedClaims, Verifier } from './verifier.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified access-token claims (null when the plugin is optional and no token was sent). */
    auth: VerifiedClaims | null;
  }
}

export interface FastifyAuthOptions extends AdapterOptions {
  verifier: Verifier;
}

async function plugin(app: FastifyInstance, opts: FastifyAuthOptions): Promise<void> {
  app.decorateRequest('auth', null);
  app.addHook('onRequest', async (req, reply) => {
    const r = await authenticate(opts.verifier, req.headers.authorization, opts);
    if ('refusal' in r) return reply.code(r.refusal.status).headers(r.refusal.headers).send(r.refusal.body);
    req.auth = r.claims;
  });
}

/**
 * Fastify plugin: verifies the Bearer token of every request in the scope it is
 * registered in and sets `request.auth`; refuses with 401 and
 * `WWW-Authenticate: Bearer error="invalid_token"`. Registered at the root it
 * guards every route; registered inside `app.register(async (api) => …)` only
 * that scope's routes (it does not open a scope of its own, like fastify-plugin).
 * Only types come from Fastify: it is not loaded by this module.
 *
 * @example
 * await app.register(frontdeskAuth, { verifier });
 * app.get('/orders', async (req) => listOrders(req.auth!.sub));
 */
export const frontdeskAuth: FastifyPluginAsync<FastifyAuthOptions> = Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'frontdesk-auth',
});
