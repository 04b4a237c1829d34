import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import type { KeyRecord } from '../../src/core/ports.js';
import { expressAuth } from '../../src/verifier/express.js';
import { frontdeskAuth } from '../../src/verifier/fastify.js';
import { honoAuth, type FrontdeskAuthEnv } from '../../src/verifier/hono.js';
import { createVerifier, silentLogger, type Verifier } from '../../src/verifier/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { b64u, jwtLogin, SECRET, signRaw } from './support.js';

// Each adapter, mounted in its real framework on a real port, accepts a valid token and
// answers the attack list of API.md with 401, `WWW-Authenticate: Bearer error="invalid_token"`
// and the JSON error body. Attack tokens are signed with the server's real key (read from its
// store), so each one has exactly one thing wrong; the control built the same way passes.

let s: TestServer;
let verifier: Verifier;
let key: KeyRecord;
let sub: string;
let valid: string;
const closers: (() => Promise<void>)[] = [];
const bases: Record<string, string> = {};

const listen = (server: Server) =>
  new Promise<string>((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));

before(async () => {
  s = await startServer({ FRONTDESK_VERIFIER_SECRET: SECRET });
  verifier = createVerifier({
    issuer: s.config.issuer,
    audience: s.config.audience,
    jwksUrl: `${s.url}/.well-known/jwks.json`,
    revocations: { url: `${s.url}/auth/revocations`, secret: SECRET },
    logger: silentLogger,
  });
  await verifier.ready();
  key = (await s.fd.stores.keys.listKeys()).find((k) => k.retiredAt === null)!;
  ({ token: valid, sub } = await jwtLogin(s.url, 'adapted'));

  const f = Fastify();
  await f.register(frontdeskAuth, { verifier });
  f.get('/me', async (req) => ({ sub: req.auth!.sub, role: req.auth!.role }));
  bases.fastify = await f.listen({ port: 0, host: '127.0.0.1' });
  closers.push(() => f.close());

  const e = express();
  e.use(expressAuth(verifier));
  e.get('/me', (req, res) => {
    res.json({ sub: req.auth!.sub, role: req.auth!.role });
  });
  const es = createServer(e);
  bases.express = await listen(es);
  closers.push(() => new Promise((r) => es.close(() => r())));

  const h = new Hono<FrontdeskAuthEnv>();
  h.use('*', honoAuth(verifier));
  h.get('/me', (c) => c.json({ sub: c.get('auth')!.sub, role: c.get('auth')!.role }));
  // A minimal node:http bridge to Hono's fetch handler (what @hono/node-server does).
  const hs = createServer((req, res) => {
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v);
    void Promise.resolve(h.fetch(new Request(`http://127.0.0.1${req.url}`, { method: req.method ?? 'GET', headers }))).then(async (r: Response) => {
      res.writeHead(r.status, Object.fromEntries(r.headers));
      res.end(Buffer.from(await r.arrayBuffer()));
    });
  });
  bases.hono = await listen(hs);
  closers.push(() => new Promise((r) => hs.close(() => r())));
});

after(async () => {
  for (const c of closers) await c();
  verifier?.close();
  await s?.close();
});

const nowS = () => Math.floor(Date.now() / 1000);
const claims = (over: Record<string, unknown> = {}) => ({
  iss: s.config.issuer,
  aud: s.config.audience,
  sub,
  name: 'adapted',
  role: 'user',
  iat: nowS(),
  exp: nowS() + 600,
  jti: randomBytes(16).toString('base64url'),
  ...over,
});
const header = (over: Record<string, unknown> = {}) => ({ alg: 'EdDSA', typ: 'at+jwt', kid: key.kid, ...over });
const hmac = (secret: string | Buffer) => ({ alg: 'HS256' as const, privateKey: Buffer.from(secret).toString('base64url') });
const publicPem = () => createPublicKey(key.privateKey).export({ type: 'spki', format: 'pem' }).toString();
const attacker = () => {
  const pair = generateKeyPairSync('ed25519');
  return { record: { alg: 'EdDSA' as const, privateKey: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }, jwk: pair.publicKey.export({ format: 'jwk' }) };
};

/** API.md's attack list, and a few more; each answers the code expected. */
const ATTACKS: [string, () => string, 'invalid_token' | 'token_expired'][] = [
  ['alg none', () => `${b64u(JSON.stringify(header({ alg: 'none' })))}.${b64u(JSON.stringify(claims()))}.`, 'invalid_token'],
  ['alg confusion: HS256 keyed with the public key PEM', () => signRaw(hmac(publicPem()), header({ alg: 'HS256' }), claims()), 'invalid_token'],
  ['alg confusion: HS256 keyed with the public JWK', () => signRaw(hmac(JSON.stringify(key.publicJwk)), header({ alg: 'HS256' }), claims()), 'invalid_token'],
  ['wrong typ', () => signRaw(key, header({ typ: 'JWT' }), claims()), 'invalid_token'],
  ['no typ', () => signRaw(key, { alg: 'EdDSA', kid: key.kid }, claims()), 'invalid_token'],
  ['wrong iss', () => signRaw(key, header(), claims({ iss: 'https://evil.example' })), 'invalid_token'],
  ['wrong aud', () => signRaw(key, header(), claims({ aud: 'another-service' })), 'invalid_token'],
  ['expired', () => signRaw(key, header(), claims({ iat: nowS() - 3600, exp: nowS() - 600 })), 'token_expired'],
  [
    'embedded jwk (signed by the attacker)',
    () => {
      const a = attacker();
      return signRaw(a.record, header({ jwk: a.jwk }), claims());
    },
    'invalid_token',
  ],
  ['embedded jwk (beside a real kid and signature)', () => signRaw(key, header({ jwk: key.publicJwk }), claims()), 'invalid_token'],
  ['jku', () => signRaw(key, header({ jku: 'https://evil.example/jwks.json' }), claims()), 'invalid_token'],
  ['unknown kid', () => signRaw(attacker().record, header({ kid: 'not-a-published-kid' }), claims()), 'invalid_token'],
  ['tampered payload (role admin, original signature)', () => `${valid.split('.')[0]}.${b64u(JSON.stringify({ ...claims(), role: 'admin' }))}.${valid.split('.')[2]}`, 'invalid_token'],
  ['a claim named twice (role admin, then user)', () => signRaw(key, header(), JSON.stringify(claims()).replace('{', '{"role":"admin",')), 'invalid_token'],
];

async function call(base: string, authorization?: string) {
  const r = await fetch(`${base}/me`, { headers: authorization === undefined ? {} : { authorization } });
  const text = await r.text();
  return { status: r.status, www: r.headers.get('www-authenticate'), type: r.headers.get('content-type') ?? '', body: JSON.parse(text) as Record<string, unknown> };
}

async function assertRefused(base: string, authorization: string, code: string) {
  const r = await call(base, authorization);
  assert.equal(r.status, 401, JSON.stringify(r.body));
  assert.equal(r.www, 'Bearer error="invalid_token"');
  assert.match(r.type, /^application\/json/);
  assert.deepEqual(Object.keys(r.body), ['error']);
  const err = r.body.error as { code: string; message: string };
  assert.equal(err.code, code);
  assert.equal(typeof err.message, 'string');
}

for (const name of ['fastify', 'express', 'hono']) {
  describe(`the ${name} adapter`, () => {
    it('accepts a valid token and exposes its claims', async () => {
      const r = await call(bases[name]!, `Bearer ${valid}`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { sub, role: 'user' });
      assert.equal((await call(bases[name]!, `bearer ${valid}`)).status, 200, 'the scheme is case-insensitive');
    });

    it('accepts a token built like the attacks but with nothing wrong (the control)', async () => {
      assert.equal((await call(bases[name]!, `Bearer ${signRaw(key, header(), claims())}`)).status, 200);
    });

    for (const [attack, build, code] of ATTACKS) {
      it(`refuses ${attack} with 401 ${code}`, async () => {
        await assertRefused(bases[name]!, `Bearer ${build()}`, code);
      });
    }

    it('refuses another scheme, and a request without a token (with a plain Bearer challenge)', async () => {
      await assertRefused(bases[name]!, `Basic ${b64u('a:b')}`, 'invalid_token');
      const r = await call(bases[name]!);
      assert.equal(r.status, 401);
      assert.equal(r.www, 'Bearer realm="frontdesk"');
      assert.equal((r.body.error as { code: string }).code, 'unauthenticated');
    });
  });
}

describe('all adapters after a logout', () => {
  it('refuse the logged-out token', async () => {
    const { token } = await jwtLogin(s.url, 'adapted');
    for (const base of Object.values(bases)) assert.equal((await call(base, `Bearer ${token}`)).status, 200);
    assert.equal((await fetch(`${s.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } })).status, 204);
    const deadline = Date.now() + 1000;
    while (verifier.stats.denylist.jtis === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
    for (const base of Object.values(bases)) await assertRefused(base, `Bearer ${token}`, 'invalid_token');
  });
});
