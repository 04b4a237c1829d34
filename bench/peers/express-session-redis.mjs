// Express 5 + express-session + connect-redis on node-redis 5: the classic
// "session in Redis" stack, configured as its README suggests.
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';
import { HOST, onFatal, port, ready } from './_common.mjs';

const url = process.env.REDIS_URL;
if (!url) onFatal(new Error('REDIS_URL must be set'));
const client = createClient({ url });
client.on('error', (err) => console.error('redis', err.message));
await client.connect();

const app = express();
app.disable('x-powered-by');
app.use(
  session({
    store: new RedisStore({ client, prefix: 'bench-sess:' }),
    secret: 'bench-only-secret-0123456789abcdef',
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax', maxAge: 30 * 60 * 1000 },
  }),
);
app.post('/login', (req, res) => {
  req.session.user = { id: 'u_4f1c2a9e7b3d4c58', name: 'Ada Lovelace', role: 'user' };
  res.json({ ok: true });
});
app.get('/me', (req, res) => {
  if (!req.session.user) return res.status(401).json({ error: 'unauthenticated' });
  res.json({ user: req.session.user });
});

const p = port();
const server = app.listen(p, HOST, async () => {
  try {
    const r = await fetch(`http://${HOST}:${p}/login`, { method: 'POST' });
    const cookie = r.headers.get('set-cookie')?.split(';')[0];
    if (!cookie) throw new Error('login set no cookie');
    ready({ path: '/me', headers: { cookie } });
  } catch (err) {
    onFatal(err);
  }
});
server.on('error', onFatal);
