// Fastify + jsonwebtoken: jwt.verify on every request. jsonwebtoken 9 has no
// EdDSA, so this peer defaults to ES256 (ALG=HS256 or RS256 also work).
import Fastify from 'fastify';
import jwt from 'jsonwebtoken';
import { AUDIENCE, HOST, ISSUER, bearer, claims, keysFor, onFatal, port, ready } from './_common.mjs';

const alg = process.env.ALG ?? 'ES256';
const { privateKey, publicKey } = keysFor(alg);
const token = jwt.sign(claims(), privateKey, { algorithm: alg, keyid: 'k1', header: { typ: 'at+jwt' } });

const app = Fastify({ logger: false });
app.get('/me', async (req, reply) => {
  const t = bearer(req.headers.authorization);
  if (t === null) return reply.code(401).send({ error: 'unauthenticated' });
  try {
    const payload = jwt.verify(t, publicKey, { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE });
    return { user: { id: payload.sub, name: payload.name, role: payload.role } };
  } catch {
    return reply.code(401).send({ error: 'invalid_token' });
  }
});
app.listen({ port: port(), host: HOST }).then(
  () => ready({ path: '/me', headers: { authorization: `Bearer ${token}` } }),
  onFatal,
);
