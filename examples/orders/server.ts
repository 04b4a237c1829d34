/**
 * "orders": a second service that trusts Frontdesk's access tokens without
 * calling Frontdesk per request, and still refuses a token within milliseconds
 * of its logout. Run it beside the auth server: see docs/VERIFIER.md.
 *
 *   FRONTDESK_URL=http://localhost:3000 FRONTDESK_VERIFIER_SECRET=… PORT=4000 npx tsx examples/orders/server.ts
 */
import Fastify from 'fastify';
// In your own service: import { createVerifier } from 'frontdesk/verifier'
// and import { frontdeskAuth } from 'frontdesk/verifier/fastify'.
import { createVerifier } from '../../src/verifier/index.js';
import { frontdeskAuth } from '../../src/verifier/fastify.js';

function env(name: string, fallback?: string): string {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') {
    process.stderr.write(`orders: ${name} must be set\n`);
    process.exit(2);
  }
  return v;
}

const frontdesk = env('FRONTDESK_URL', 'http://localhost:3000').replace(/\/$/, '');
const verifier = createVerifier({
  issuer: env('FRONTDESK_ISSUER', frontdesk),
  audience: env('FRONTDESK_AUDIENCE', 'frontdesk'),
  jwksUrl: `${frontdesk}/.well-known/jwks.json`,
  revocations: { url: `${frontdesk}/auth/revocations`, secret: env('FRONTDESK_VERIFIER_SECRET') },
  staleAfterMs: Number(env('ORDERS_STALE_AFTER_MS', '30000')),
});

interface Order {
  id: number;
  item: string;
  quantity: number;
}
const orders = new Map<string, Order[]>();
let nextId = 1;

const app = Fastify({ logger: { level: env('ORDERS_LOG_LEVEL', 'info') } });

// Public: liveness, and the verifier's numbers (is the revocation feed fresh?).
app.get('/healthz', async () => ({ status: 'ok', feed: verifier.stats.feed }));
app.get('/metrics', async (_req, reply) => reply.type('text/plain; version=0.0.4').send(verifier.metrics()));

// Everything in this scope needs a valid Frontdesk access token.
await app.register(async (api) => {
  await api.register(frontdeskAuth, { verifier });

  api.get('/orders', async (req) => ({ user: req.auth!.sub, name: req.auth!.name, orders: orders.get(req.auth!.sub) ?? [] }));

  api.post<{ Body: { item?: unknown; quantity?: unknown } }>('/orders', async (req, reply) => {
    const { item, quantity = 1 } = req.body ?? {};
    if (typeof item !== 'string' || item === '' || typeof quantity !== 'number' || !Number.isInteger(quantity) || quantity < 1) {
      return reply.code(400).send({ error: { code: 'invalid_request', message: 'Send {"item": string, "quantity"?: positive integer}.' } });
    }
    const order = { id: nextId++, item, quantity };
    orders.set(req.auth!.sub, [...(orders.get(req.auth!.sub) ?? []), order]);
    return reply.code(201).send({ order });
  });

  // The role claim is signed, and a role change revokes tokens carrying the old one.
  api.get('/admin/orders', async (req, reply) => {
    if (req.auth!.role !== 'admin') return reply.code(403).send({ error: { code: 'forbidden', message: 'Administrators only.' } });
    return { orders: Object.fromEntries(orders) };
  });
});

const stop = () => {
  verifier.close();
  app.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);

// Until the feed has replayed, every token is refused (fail closed): wait for it before taking traffic.
await verifier.ready();
const address = await app.listen({ port: Number(env('PORT', '4000')), host: env('HOST', '127.0.0.1') });
process.stdout.write(`orders listening on ${address}\n`);
