// Fastify + jose: jwtVerify on every request (jose has no verified-token cache).
import Fastify from 'fastify';
import { SignJWT, jwtVerify } from 'jose';
import { AUDIENCE, HOST, ISSUER, bearer, claims, keysFor, onFatal, port, ready } from './_common.mjs';

const alg = process.env.ALG ?? 'EdDSA';
const { privateKey, publicKey } = keysFor(alg);
const token = await new SignJWT(claims()).setProtectedHeader({ alg, kid: 'k1', typ: 'at+jwt' }).sign(privateKey);

const app = Fastify({ logger: false });
app.get('/me', async (req, reply) => {
  const t = bearer(req.headers.authorization);
  if (t === null) return reply.code(401).send({ error: 'unauthenticated' });
  try {
    const { payload } = await jwtVerify(t, publicKey, { algorithms: [alg], issuer: ISSUER, audience: AUDIENCE });
    return { user: { id: payload.sub, name: payload.name, role: payload.role } };
  } catch {
    return reply.code(401).send({ error: 'invalid_token' });
  }
});
app.listen({ port: port(), host: HOST }).then(
  () => ready({ path: '/me', headers: { authorization: `Bearer ${token}` } }),
  onFatal,
);
