import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import type { HttpContext } from '../context.js';

const ROOT = new URL('../../../', import.meta.url).pathname.replace(/dist\/$/, '');

function projectRoot(): string {
  // Works from src/ (tsx) and from dist/src/ (built).
  return existsSync(join(ROOT, 'package.json')) ? ROOT : join(ROOT, '..');
}

/**
 * The web app (web/dist, built by Vite) with SPA fallback for its routes, and
 * the latest benchmark report. Until the app is built, `/` describes the service.
 */
export async function webRoutes(app: FastifyInstance, { config }: HttpContext): Promise<void> {
  const root = projectRoot();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name: string; version: string };
  const dist = join(root, 'web', 'dist');
  const index = join(dist, 'index.html');
  const hasApp = existsSync(index);

  if (hasApp) {
    await app.register(fastifyStatic, { root: dist, wildcard: false, index: false, cacheControl: false });
    const html = readFileSync(index);
    const spa = async (_req: unknown, reply: FastifyReply) =>
      reply
        .type('text/html; charset=utf-8')
        .header('cache-control', 'no-cache')
        .header('x-frame-options', 'DENY')
        .header('referrer-policy', 'no-referrer')
        .header('cross-origin-opener-policy', 'same-origin')
        .header(
          'content-security-policy',
          "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
        )
        .send(html);
    for (const path of ['/', '/debugger', '/bench']) app.get(path, spa);
  } else {
    app.get('/', async () => ({
      name: pkg.name,
      version: pkg.version,
      description: 'Frontdesk: sessions, JWTs and the hybrid, with revocation that works.',
      modes: config.modes,
      links: {
        login: '/auth/login',
        register: '/auth/register',
        me: '/auth/me',
        jwks: '/.well-known/jwks.json',
        health: '/healthz',
        ready: '/readyz',
        metrics: '/metrics',
      },
    }));
  }

  const benchDir = join(root, 'bench', 'results');
  app.get('/bench/latest.json', async (_req, reply) => {
    const f = join(benchDir, 'latest.json');
    if (!existsSync(f)) return reply.code(404).send({ error: { code: 'not_found', message: 'No benchmark report yet: run npm run bench.' } });
    return reply.type('application/json').header('cache-control', 'no-cache').send(readFileSync(f));
  });
  app.get('/bench/report.md', async (_req, reply) => {
    const f = join(benchDir, 'latest.md');
    if (!existsSync(f)) return reply.code(404).send({ error: { code: 'not_found', message: 'No benchmark report yet: run npm run bench.' } });
    return reply.type('text/markdown; charset=utf-8').header('cache-control', 'no-cache').send(readFileSync(f));
  });
}
