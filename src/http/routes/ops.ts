import type { FastifyInstance } from 'fastify';
import { AuthError } from '../../core/errors.js';
import type { StoredEvent } from '../../core/ports.js';
import { safeEqual } from '../../core/secrets.js';
import type { HttpContext } from '../context.js';
import { errorBody } from '../errors.js';
import * as s from '../schemas.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

/** Health, metrics, the JWKS and the revocation stream. */
export function opsRoutes(app: FastifyInstance, { auth, config, stores, log }: HttpContext): void {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const checks = await stores.ping();
    const ready = Object.values(checks).every((v) => v === 'ok');
    if (!ready) return reply.code(503).send({ ...errorBody('unavailable', 'A store is unavailable.'), stores: checks });
    return { status: 'ready', stores: checks };
  });

  app.get('/metrics', async (req, reply) => {
    if (config.metricsAccess === 'loopback' && !LOOPBACK.has(req.socket.remoteAddress ?? '')) {
      throw new AuthError('forbidden', 'Metrics are served to loopback only.');
    }
    const mem = process.memoryUsage();
    const text = auth.metrics.render({
      frontdesk_token_cache_hits_total: auth.tokens.stats.hits,
      frontdesk_token_cache_misses_total: auth.tokens.stats.misses,
      frontdesk_denylist_entries: auth.revocation.size.jtis,
      frontdesk_user_epochs: auth.revocation.size.users,
      process_resident_memory_bytes: mem.rss,
      process_uptime_seconds: Math.round(process.uptime()),
    });
    return reply.type('text/plain; version=0.0.4').send(text);
  });

  app.get('/.well-known/jwks.json', async (_req, reply) => {
    // Short cache: verifiers re-fetch on an unknown kid anyway, and rotation publishes the new key at once.
    return reply.header('cache-control', 'public, max-age=60').send(auth.jwks());
  });

  app.get<{ Querystring: s.RevocationsQuery }>('/auth/revocations', { schema: { querystring: s.revocationsQuery } }, async (req, reply) => {
    const secret = config.verifierSecret;
    if (secret === undefined) throw new AuthError('not_found', 'The revocation stream is off (FRONTDESK_VERIFIER_SECRET is unset).');
    const h = req.headers.authorization ?? '';
    if (!h.toLowerCase().startsWith('bearer ') || !safeEqual(h.slice(7).trim(), secret)) {
      throw new AuthError('unauthenticated', 'The revocation stream needs the verifier secret.');
    }
    const last = req.headers['last-event-id'];
    const since = (Array.isArray(last) ? last[0] : last) ?? req.query.since ?? null;

    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const write = (e: StoredEvent) => res.write(`id: ${e.id}\nevent: revocation\ndata: ${JSON.stringify(e.event)}\n\n`);
    // Subscribe before replaying so nothing appended in between is missed; replayed ids are not sent twice.
    const sent = new Set<string>();
    let replaying = true;
    const pending: StoredEvent[] = [];
    const unsubscribe = stores.revocations.subscribe((e) => {
      if (replaying) pending.push(e);
      else write(e);
    });
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    const end = () => {
      clearInterval(ping);
      unsubscribe();
    };
    req.raw.on('close', end);
    try {
      let cursor = since;
      for (;;) {
        const batch = await stores.revocations.since(cursor, 1000, auth.now());
        for (const e of batch) {
          write(e);
          sent.add(e.id);
          cursor = e.id;
        }
        if (batch.length < 1000) break;
      }
      for (const e of pending) if (!sent.has(e.id)) write(e);
      replaying = false;
      res.write(': live\n\n');
    } catch (e) {
      log.error({ reqId: req.id, err: e }, 'revocation stream replay failed');
      end();
      res.end();
    }
  });
}
