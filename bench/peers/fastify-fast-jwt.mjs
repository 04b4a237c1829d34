// Fastify + fast-jwt with its verified-token cache (CACHE=0 turns it off).
import Fastify from 'fastify';
import { createSigner, createVerifier } from 'fast-jwt';
import { AUDIENCE, HOST, ISSUER, bearer, claims, keysFor, onFatal, port, ready } from './_common.mjs';

const alg = process.env.ALG ?? 'EdDSA';
const cache = process.env.CACHE !== '0';
const { privateKey, publicKey } = keysFor(alg);
const pem = (k) => (Buffer.isBuffer(k) ? k : k.export({ format: 'pem', type: k.type === 'private' ? 'pkcs8' : 'spki' }));
const sign = createSigner({ key: pem(privateKey), algorithm: alg, kid: 'k1', header: { typ: 'at+jwt' } });
const token = sign(claims());
const verify = createVerifier({
  key: pem(publicKey),
  algorithms: [alg],
  allowedIss: ISSUER,
  allowedAud: AUDIENCE,
  cache,
});

const app = Fastify({ logger: false });
app.get('/me', async (req, reply) => {
  const t = bearer(req.headers.authorization);
  if (t === null) return reply.code(401).send({ error: 'unauthenticated' });
  try {
    const payload = verify(t);
    return { user: { id: payload.sub, name: payload.name, role: payload.role } };
  } catch {
    return reply.code(401).send({ error: 'invalid_token' });
  }
});
app.listen({ port: port(), host: HOST }).then(
  () => ready({ path: '/me', headers: { authorization: `Bearer ${token}` } }),
  onFatal,
);
