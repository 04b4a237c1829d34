// The floor for a session check on Redis: Fastify, SHA-256 of the cookie's
// session ID, one GET with node-redis 5 (the client Frontdesk uses), JSON.parse.
import Fastify from 'fastify';
import { createClient } from 'redis';
import { createHash, randomBytes } from 'node:crypto';
import { HOST, onFatal, port, ready } from './_common.mjs';

const url = process.env.REDIS_URL;
if (!url) onFatal(new Error('REDIS_URL must be set'));
const client = createClient({ url });
client.on('error', (err) => console.error('redis', err.message));
await client.connect();
const sha = (s) => createHash('sha256').update(s).digest('base64url');
const sid = randomBytes(32).toString('base64url');
await client.set(`bench-raw:${sha(sid)}`, JSON.stringify({ id: 'u_4f1c2a9e7b3d4c58', name: 'Ada Lovelace', role: 'user' }), { EX: 3600 });

const app = Fastify({ logger: false });
app.get('/me', async (req, reply) => {
  const m = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? '');
  const raw = m ? await client.get(`bench-raw:${sha(m[1])}`) : null;
  if (raw === null) return reply.code(401).send({ error: 'unauthenticated' });
  return { user: JSON.parse(raw) };
});
app.listen({ port: port(), host: HOST }).then(() => ready({ path: '/me', headers: { cookie: `sid=${sid}` } }), onFatal);
