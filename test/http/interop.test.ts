import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey, sign, verify, type JsonWebKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createSigner, createVerifier } from 'fast-jwt';
import argon2 from 'argon2';
import * as jose from 'jose';
import { ManualClock } from '../../src/core/clock.js';
import type { JwtAlg } from '../../src/core/config.js';
import type { PasswordHasher } from '../../src/core/passwords.js';
import { startServer, type TestServer } from '../helpers/server.js';

// Our access tokens are plain JWS/JWT: an implementation that shares no code with the server
// (node:crypto by hand, and jose) verifies them from the published JWKS alone. Known-answer
// vectors from the RFCs pin the primitives underneath (node:crypto, jose, fast-jwt).

const PASSWORD = 'correct horse battery staple';
/** Argon2id with cheap parameters: password hashing is not under test here and the suite must stay fast. */
const hasher: PasswordHasher = {
  hash: (password) => argon2.hash(password, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 }),
  verify: (hash, password) => argon2.verify(hash, password),
  needsRehash: () => false,
};
const ACCESS_TTL = 600;
const LEEWAY = 30;
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k', 'oth'];

type Jwk = JsonWebKey & { kid: string; alg?: string; use?: string };
const b64u = (s: string | Buffer): string => Buffer.from(s).toString('base64url');
const decode = (segment: string): Record<string, unknown> => JSON.parse(Buffer.from(segment, 'base64url').toString()) as Record<string, unknown>;

function vector<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
}

interface Booted {
  s: TestServer;
  clock: ManualClock;
  json(method: string, path: string, o?: { bearer?: string; body?: unknown }): Promise<{ status: number; body: Record<string, unknown> }>;
  jwks(): Promise<{ keys: Jwk[] }>;
  register(username: string): Promise<void>;
  loginJwt(username: string): Promise<string>;
}

async function boot(env: Record<string, string> = {}): Promise<Booted> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 9, 0, 0));
  const s = await startServer({ FRONTDESK_ACCESS_TTL: String(ACCESS_TTL), ...env }, { clock, hasher });
  const json: Booted['json'] = async (method, path, o = {}) => {
    const headers: Record<string, string> = {};
    if (o.bearer !== undefined) headers.authorization = `Bearer ${o.bearer}`;
    if (o.body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(s.url + path, { method, headers, ...(o.body !== undefined && { body: JSON.stringify(o.body) }) });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  };
  return {
    s,
    clock,
    json,
    async jwks() {
      const r = await json('GET', '/.well-known/jwks.json');
      assert.equal(r.status, 200);
      return r.body as unknown as { keys: Jwk[] };
    },
    async register(username) {
      const r = await json('POST', '/auth/register', { body: { username, password: PASSWORD } });
      assert.equal(r.status, 201, JSON.stringify(r.body));
    },
    async loginJwt(username) {
      const r = await json('POST', '/auth/login', { body: { username, password: PASSWORD, mode: 'jwt' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.access_token as string;
    },
  };
}

/** Verifies a compact JWS with node:crypto alone, given the JWK from the JWKS. */
function verifyByHand(alg: JwtAlg, token: string, jwk: Jwk): boolean {
  const [h, p, sig] = token.split('.') as [string, string, string];
  const key = createPublicKey({ key: jwk, format: 'jwk' });
  const data = Buffer.from(`${h}.${p}`);
  const signature = Buffer.from(sig, 'base64url');
  switch (alg) {
    case 'EdDSA':
      return verify(null, data, key, signature);
    case 'ES256':
      // JWS (RFC 7518 §3.4) carries R || S, 64 bytes, not DER.
      return signature.length === 64 && verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, signature);
    case 'RS256':
      return verify('sha256', data, key, signature);
    case 'HS256':
      throw new Error('HS256 keys are never published');
  }
}

for (const alg of ['EdDSA', 'ES256', 'RS256'] as const) {
  void describe(`interop: ${alg} access tokens`, () => {
    let b: Booted;
    let token: string;
    before(async () => {
      b = await boot({ FRONTDESK_JWT_ALG: alg });
      await b.register('interop');
      token = await b.loginJwt('interop');
    });
    after(async () => {
      await b.s.close();
    });

    void it(`publishes the ${alg} public key, and only the public part, in the JWKS`, async () => {
      const { keys } = await b.jwks();
      assert.equal(keys.length, 1);
      const jwk = keys[0];
      assert.ok(jwk);
      assert.equal(jwk.alg, alg);
      assert.equal(jwk.use, 'sig');
      assert.equal(typeof jwk.kid, 'string');
      for (const m of PRIVATE_MEMBERS) assert.equal((jwk as Record<string, unknown>)[m], undefined, `JWKS leaks "${m}"`);
      assert.equal(createPublicKey({ key: jwk, format: 'jwk' }).type, 'public');
    });

    void it(`signs a token that node:crypto verifies by hand with the ${alg} JWK`, async () => {
      const [h, p] = token.split('.') as [string, string, string];
      const header = decode(h);
      assert.deepEqual(header, { alg, typ: 'at+jwt', kid: header.kid });
      const jwk = (await b.jwks()).keys.find((k) => k.kid === header.kid);
      assert.ok(jwk, 'the token kid is published');
      assert.equal(verifyByHand(alg, token, jwk), true);
      const claims = decode(p);
      assert.equal(claims.iss, b.s.config.issuer);
      assert.equal(claims.aud, b.s.config.audience);
      assert.equal((claims.exp as number) - (claims.iat as number), ACCESS_TTL);
      // Control: the hand verifier is not vacuous.
      const tampered = `${h}.${b64u(JSON.stringify({ ...claims, role: 'admin' }))}.${token.split('.')[2]}`;
      assert.equal(verifyByHand(alg, tampered, jwk), false);
    });

    void it(`signs a token that jose.jwtVerify accepts from a local JWKS (typ at+jwt, issuer, audience, ${alg} only)`, async () => {
      const jwks = jose.createLocalJWKSet(await b.jwks());
      const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, {
        issuer: b.s.config.issuer,
        audience: b.s.config.audience,
        typ: 'at+jwt',
        algorithms: [alg],
        requiredClaims: ['sub', 'jti', 'iat', 'exp'],
        currentDate: new Date(b.clock.now()),
      });
      assert.equal(protectedHeader.alg, alg);
      assert.equal(payload.role, 'user');
      assert.equal(payload.name, 'interop');
      await assert.rejects(
        jose.jwtVerify(token, jwks, { issuer: b.s.config.issuer, audience: 'someone-else', currentDate: new Date(b.clock.now()) }),
        jose.errors.JWTClaimValidationFailed,
      );
    });
  });
}

void describe('interop: HS256', () => {
  void it('publishes no key in the JWKS when tokens are HS256', async () => {
    const b = await boot({ FRONTDESK_JWT_ALG: 'HS256' });
    try {
      await b.register('hsuser');
      const token = await b.loginJwt('hsuser');
      assert.equal(decode(token.split('.')[0] ?? '').alg, 'HS256');
      assert.deepEqual(await b.jwks(), { keys: [] });
      assert.equal((await b.json('GET', '/auth/me', { bearer: token })).status, 200);
    } finally {
      await b.s.close();
    }
  });
});

void describe('interop: key rotation', () => {
  let b: Booted;
  before(async () => {
    b = await boot({ FRONTDESK_ADMIN_USERNAME: 'root', FRONTDESK_ADMIN_PASSWORD: PASSWORD });
  });
  after(async () => {
    await b.s.close();
  });

  void it('refuses rotation to a non-admin', async () => {
    await b.register('plainuser');
    const r = await b.json('POST', '/admin/keys/rotate', { bearer: await b.loginJwt('plainuser') });
    assert.equal(r.status, 403);
    assert.equal((r.body.error as { code: string }).code, 'forbidden');
    assert.equal((await b.jwks()).keys.length, 1);
  });

  void it('publishes both keys after a rotation, keeps old tokens valid, signs new ones with the new key, and drops the old key after TTL + leeway', async () => {
    const before = await b.loginJwt('root');
    const oldKid = decode(before.split('.')[0] ?? '').kid as string;
    assert.deepEqual((await b.jwks()).keys.map((k) => k.kid), [oldKid]);

    const rotated = await b.json('POST', '/admin/keys/rotate', { bearer: before });
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    assert.deepEqual(Object.keys(rotated.body), ['kid']);
    const newKid = rotated.body.kid as string;
    assert.equal(typeof newKid, 'string');
    assert.notEqual(newKid, oldKid);

    const both = await b.jwks();
    assert.deepEqual(both.keys.map((k) => k.kid).sort(), [oldKid, newKid].sort());

    // The token signed before the rotation still works, here and at an independent verifier.
    const me = await b.json('GET', '/auth/me', { bearer: before });
    assert.equal(me.status, 200, JSON.stringify(me.body));
    const verifyOpts = { issuer: b.s.config.issuer, audience: b.s.config.audience, typ: 'at+jwt', currentDate: new Date(b.clock.now()) };
    await jose.jwtVerify(before, jose.createLocalJWKSet(both as unknown as jose.JSONWebKeySet), verifyOpts);

    const after = await b.loginJwt('root');
    assert.equal(decode(after.split('.')[0] ?? '').kid, newKid, 'new logins carry the new kid');
    const newJwk = both.keys.find((k) => k.kid === newKid);
    assert.ok(newJwk);
    assert.equal(verifyByHand('EdDSA', after, newJwk), true);
    assert.equal(verifyByHand('EdDSA', after, both.keys.find((k) => k.kid === oldKid) ?? newJwk), false);

    // Once no token the old key signed can still be valid, the old key leaves the JWKS.
    b.clock.advance((ACCESS_TTL + LEEWAY) * 1000 + 1);
    const later = await b.jwks();
    assert.deepEqual(later.keys.map((k) => k.kid), [newKid]);
    assert.equal((await b.json('GET', '/auth/me', { bearer: before })).status, 401);
    const fresh = await b.loginJwt('root');
    assert.equal(decode(fresh.split('.')[0] ?? '').kid, newKid);
    assert.equal((await b.json('GET', '/auth/me', { bearer: fresh })).status, 200);
    await jose.jwtVerify(fresh, jose.createLocalJWKSet(later as unknown as jose.JSONWebKeySet), { ...verifyOpts, currentDate: new Date(b.clock.now()) });
  });
});

void describe('interop: key rotation right after a revocation epoch', () => {
  void it('keeps the old key published for as long as a token it signed is still accepted', async () => {
    const b = await boot({ FRONTDESK_ADMIN_USERNAME: 'root', FRONTDESK_ADMIN_PASSWORD: PASSWORD });
    try {
      // Half-way through a second: a login right after logout-all is dated at the next whole second
      // (access-tokens.ts newAccessClaims), so its exp lies up to 1 s beyond "now + TTL".
      b.clock.advance(500);
      const first = await b.loginJwt('root');
      assert.equal((await b.json('POST', '/auth/logout-all', { bearer: first })).status, 204);
      const token = await b.loginJwt('root');
      const claims = decode(token.split('.')[1] ?? '');
      assert.ok((claims.exp as number) * 1000 > b.clock.now() + ACCESS_TTL * 1000, 'the token is dated ahead');
      const oldKid = decode(token.split('.')[0] ?? '').kid;
      assert.equal((await b.json('POST', '/admin/keys/rotate', { bearer: token })).status, 200);

      // Still inside exp + leeway: the token must be accepted and its key still published.
      b.clock.set((claims.exp as number) * 1000 + LEEWAY * 1000 - 100);
      assert.ok((await b.jwks()).keys.some((k) => k.kid === oldKid), 'the key of a still-valid token left the JWKS');
      assert.equal((await b.json('GET', '/auth/me', { bearer: token })).status, 200);
    } finally {
      await b.s.close();
    }
  });
});

interface Ed25519Vector {
  privateJwk: JsonWebKey;
  publicJwk: JsonWebKey;
  thumbprint: string;
  protectedHeader: Record<string, string>;
  protectedB64: string;
  payload: string;
  payloadB64: string;
  signature: string;
  compact: string;
}

interface Hs256Vector {
  jwk: { kty: 'oct'; k: string };
  protectedHeaderText: string;
  protectedB64: string;
  payloadText: string;
  payloadB64: string;
  claims: Record<string, unknown>;
  signature: string;
  compact: string;
}

void describe('known-answer vectors', () => {
  const ed = vector<Ed25519Vector>('rfc8037-a4-ed25519.json');
  const hs = vector<Hs256Vector>('rfc7515-a1-hs256.json');

  void it('the RFC 8037 vector file is self-consistent', () => {
    assert.equal(b64u(JSON.stringify(ed.protectedHeader)), ed.protectedB64);
    assert.equal(b64u(ed.payload), ed.payloadB64);
    assert.equal(`${ed.protectedB64}.${ed.payloadB64}.${ed.signature}`, ed.compact);
  });

  void it('node:crypto derives the RFC 8037 A.2 public key and A.3 thumbprint from the A.1 private key', async () => {
    const priv = createPrivateKey({ key: ed.privateJwk, format: 'jwk' });
    assert.deepEqual(createPublicKey(priv).export({ format: 'jwk' }), ed.publicJwk);
    assert.equal(await jose.calculateJwkThumbprint(ed.publicJwk as jose.JWK), ed.thumbprint);
  });

  void it('node:crypto reproduces the RFC 8037 A.4 Ed25519 signature and verifies it', () => {
    const priv = createPrivateKey({ key: ed.privateJwk, format: 'jwk' });
    const input = Buffer.from(`${ed.protectedB64}.${ed.payloadB64}`);
    assert.equal(b64u(sign(null, input, priv)), ed.signature);
    const pub = createPublicKey({ key: ed.publicJwk, format: 'jwk' });
    assert.equal(verify(null, input, pub, Buffer.from(ed.signature, 'base64url')), true);
    assert.equal(verify(null, Buffer.from(`${ed.protectedB64}.${b64u('Example of Ed25519 signinG')}`), pub, Buffer.from(ed.signature, 'base64url')), false);
  });

  void it('jose reproduces the RFC 8037 A.4 compact serialization and verifies it', async () => {
    const priv = await jose.importJWK(ed.privateJwk, 'EdDSA');
    const compact = await new jose.CompactSign(new TextEncoder().encode(ed.payload)).setProtectedHeader(ed.protectedHeader as jose.CompactJWSHeaderParameters).sign(priv);
    assert.equal(compact, ed.compact);
    const { payload, protectedHeader } = await jose.compactVerify(ed.compact, await jose.importJWK(ed.publicJwk as jose.JWK, 'EdDSA'));
    assert.equal(new TextDecoder().decode(payload), ed.payload);
    assert.deepEqual(protectedHeader, ed.protectedHeader);
  });

  void it('fast-jwt (the library behind our keyring) produces the same Ed25519 signature as node:crypto for the RFC 8037 key', () => {
    // fast-jwt signs only JSON payloads, so the A.4 text cannot be fed to it; Ed25519 is
    // deterministic, so equality with the vector-pinned node:crypto pins fast-jwt as well.
    const pem = createPrivateKey({ key: ed.privateJwk, format: 'jwk' }).export({ type: 'pkcs8', format: 'pem' }).toString();
    const token = createSigner({ key: pem, algorithm: 'EdDSA', noTimestamp: true, header: { alg: 'EdDSA', typ: 'at+jwt', kid: ed.thumbprint } })({ sub: 'x' });
    const [h, p, sig] = token.split('.') as [string, string, string];
    assert.deepEqual(decode(h), { alg: 'EdDSA', typ: 'at+jwt', kid: ed.thumbprint });
    assert.equal(sig, b64u(sign(null, Buffer.from(`${h}.${p}`), createPrivateKey({ key: ed.privateJwk, format: 'jwk' }))));
  });

  void it('the RFC 7515 vector file is self-consistent', () => {
    assert.equal(b64u(hs.protectedHeaderText), hs.protectedB64);
    assert.equal(b64u(hs.payloadText), hs.payloadB64);
    assert.deepEqual(JSON.parse(hs.payloadText), hs.claims);
    assert.equal(`${hs.protectedB64}.${hs.payloadB64}.${hs.signature}`, hs.compact);
  });

  void it('node:crypto reproduces the RFC 7515 A.1 HMAC SHA-256 signature', () => {
    const key = Buffer.from(hs.jwk.k, 'base64url');
    assert.equal(createHmac('sha256', key).update(`${hs.protectedB64}.${hs.payloadB64}`).digest('base64url'), hs.signature);
  });

  void it('jose verifies the RFC 7515 A.1 token and refuses it with one bit of the key changed', async () => {
    const key = await jose.importJWK(hs.jwk, 'HS256');
    const { payload, protectedHeader } = await jose.compactVerify(hs.compact, key);
    assert.equal(new TextDecoder().decode(payload), hs.payloadText);
    assert.deepEqual(protectedHeader, { typ: 'JWT', alg: 'HS256' });
    const bent = Buffer.from(hs.jwk.k, 'base64url');
    bent[0] = (bent[0] ?? 0) ^ 1;
    await assert.rejects(jose.compactVerify(hs.compact, new Uint8Array(bent)), jose.errors.JWSSignatureVerificationFailed);
  });

  void it('fast-jwt verifies the RFC 7515 A.1 token and reproduces its signature over the same bytes', () => {
    const key = Buffer.from(hs.jwk.k, 'base64url');
    const claims = createVerifier({ key, algorithms: ['HS256'], ignoreExpiration: true })(hs.compact) as Record<string, unknown>;
    assert.deepEqual(claims, hs.claims);
    assert.throws(() => createVerifier({ key, algorithms: ['HS256'] })(hs.compact), { code: 'FAST_JWT_EXPIRED' });
    const resigned = createSigner({ key, algorithm: 'HS256', noTimestamp: true })(hs.claims);
    const [h, p, sig] = resigned.split('.') as [string, string, string];
    assert.equal(sig, createHmac('sha256', key).update(`${h}.${p}`).digest('base64url'));
  });
});
