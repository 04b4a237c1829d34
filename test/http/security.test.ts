import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import argon2 from 'argon2';
import * as jose from 'jose';
import { ManualClock } from '../../src/core/clock.js';
import type { PasswordHasher } from '../../src/core/passwords.js';
import type { KeyRecord } from '../../src/core/ports.js';
import { startServer, type TestServer } from '../helpers/server.js';

// The named security suite (STYLE.md, "Tests"): attacks on access tokens, refresh reuse and
// CSRF, over real HTTP against an in-process server. Attack tokens are crafted with node:crypto
// and jose. The server's private key is used only where the attack needs a validly signed token
// (wrong typ/iss/aud, nbf, oversize): there a control token forged the same way is accepted,
// so the refusal is the rule under test and not a bad signature.

const PASSWORD = 'correct horse battery staple';
/** Argon2id with cheap parameters: password hashing is not under test here and the suite must stay fast. */
const hasher: PasswordHasher = {
  hash: (password) => argon2.hash(password, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 }),
  verify: (hash, password) => argon2.verify(hash, password),
  needsRehash: () => false,
};
const ACCESS_TTL = 600;
const LEEWAY = 30;
const GRACE = 10;

const b64u = (s: string | Buffer): string => Buffer.from(s).toString('base64url');
const decode = (segment: string): Record<string, unknown> => JSON.parse(Buffer.from(segment, 'base64url').toString()) as Record<string, unknown>;
const segments = (token: string): [string, string, string] => token.split('.') as [string, string, string];

interface Res {
  status: number;
  headers: Headers;
  text: string;
  body: { error?: { code: string; message: string } } & Record<string, unknown>;
  cookies: Record<string, string>;
}

interface CallOptions {
  bearer?: string;
  authorization?: string;
  cookies?: Record<string, string>;
  headers?: Record<string, string>;
  json?: unknown;
}

async function call(base: string, method: string, path: string, o: CallOptions = {}): Promise<Res> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.bearer !== undefined) headers.authorization = `Bearer ${o.bearer}`;
  if (o.authorization !== undefined) headers.authorization = o.authorization;
  if (o.cookies) headers.cookie = Object.entries(o.cookies).map(([k, v]) => `${k}=${v}`).join('; ');
  let body: string | undefined;
  if (o.json !== undefined) {
    body = JSON.stringify(o.json);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(base + path, { method, headers, ...(body !== undefined && { body }) });
  const text = await res.text();
  const cookies: Record<string, string> = {};
  for (const line of res.headers.getSetCookie()) {
    const pair = line.split(';')[0] ?? '';
    const eq = pair.indexOf('=');
    cookies[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  const isJson = (res.headers.get('content-type') ?? '').startsWith('application/json');
  return { status: res.status, headers: res.headers, text, body: isJson && text ? (JSON.parse(text) as Res['body']) : {}, cookies };
}

/** API.md, Errors: a JSON error body with the stable code, never a 5xx, never an echo of the credential. */
function assertError(r: Res, status: number, code: string, secret?: string): void {
  assert.equal(r.status, status, `expected ${status} ${code}, got ${r.status} ${r.text}`);
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(Object.keys(r.body), ['error']);
  assert.equal(r.body.error?.code, code);
  assert.equal(typeof r.body.error?.message, 'string');
  if (secret !== undefined && secret.length > 0) assert.ok(!r.text.includes(secret), 'the error echoes the credential');
}

/** A Bearer request refused: 401, the documented code, the RFC 6750 challenge. */
function assertBearerRefused(r: Res, code: 'invalid_token' | 'token_expired' = 'invalid_token', token?: string): void {
  assertError(r, 401, code, token);
  assert.equal(r.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
}

/** A compact JWS over exactly these header/payload texts. */
function jws(headerJson: string, payloadJson: string, signer: (input: Buffer) => Buffer): string {
  const input = `${b64u(headerJson)}.${b64u(payloadJson)}`;
  return `${input}.${b64u(signer(Buffer.from(input)))}`;
}

const ed25519Signer = (key: KeyObject | string) => (input: Buffer) => sign(null, input, key);
const hmacSigner = (secret: string | Buffer) => (input: Buffer) => createHmac('sha256', secret).update(input).digest();

interface Harness {
  s: TestServer;
  clock: ManualClock;
  url: string;
  get(path: string, o?: CallOptions): Promise<Res>;
  post(path: string, o?: CallOptions): Promise<Res>;
  /** Registers a fresh user and returns its username. */
  user(): Promise<string>;
  loginJwt(username?: string): Promise<{ token: string; userId: string }>;
  loginSession(username?: string): Promise<{ session: string; csrf: string }>;
  loginHybrid(username?: string): Promise<{ access: string; refresh: string }>;
  /** The server's current signing key (for attacks that need a validly signed token). */
  signingKey(): Promise<KeyRecord>;
  /** A token signed with the server's own key: `claims` and `header` override a valid access token. */
  forge(claims?: Record<string, unknown>, header?: Record<string, unknown>): Promise<string>;
}

let users = 0;

async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 9, 0, 0));
  const s = await startServer({ FRONTDESK_ACCESS_TTL: String(ACCESS_TTL), FRONTDESK_REFRESH_GRACE: String(GRACE), ...env }, { clock, hasher });
  const get = (path: string, o?: CallOptions) => call(s.url, 'GET', path, o);
  const post = (path: string, o?: CallOptions) => call(s.url, 'POST', path, o);
  const user = async () => {
    const username = `user${++users}_${process.pid}`;
    const r = await post('/auth/register', { json: { username, password: PASSWORD } });
    assert.equal(r.status, 201, r.text);
    return username;
  };
  const login = async (mode: string, username: string, extra: Record<string, unknown> = {}) => {
    const r = await post('/auth/login', { json: { username, password: PASSWORD, mode, ...extra } });
    assert.equal(r.status, 200, r.text);
    return r;
  };
  const h: Harness = {
    s,
    clock,
    url: s.url,
    get,
    post,
    user,
    async loginJwt(username) {
      const r = await login('jwt', username ?? (await user()));
      return { token: r.body.access_token as string, userId: (r.body.user as { id: string }).id };
    },
    async loginSession(username) {
      const r = await login('session', username ?? (await user()));
      const session = r.cookies['__Host-session'];
      const csrf = r.cookies['__Host-csrf'];
      assert.ok(session && csrf);
      return { session, csrf };
    },
    async loginHybrid(username) {
      const r = await login('hybrid', username ?? (await user()), { refresh_in_body: true });
      return { access: r.body.access_token as string, refresh: r.body.refresh_token as string };
    },
    async signingKey() {
      const kid = s.fd.auth.keyring.kid;
      const key = (await s.fd.stores.keys.listKeys()).find((k) => k.kid === kid);
      assert.ok(key);
      return key;
    },
    async forge(claims = {}, header = {}) {
      const { token } = await h.loginJwt();
      const [hd, pl] = segments(token);
      const key = await h.signingKey();
      const fullHeader = { ...decode(hd), ...header };
      const payload = { ...decode(pl), jti: `forged-${++users}`, ...claims };
      return jws(JSON.stringify(fullHeader), JSON.stringify(payload), ed25519Signer(key.privateKey));
    },
  };
  return h;
}

/** An attacker's own Ed25519 key pair, with its public JWK. */
function attackerKey() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicJwk: publicKey.export({ format: 'jwk' }) };
}

void describe('security: access tokens over HTTP', () => {
  let h: Harness;
  /** The claims of a real token, as a template for attack payloads. */
  let real: { token: string; header: Record<string, unknown>; claims: Record<string, unknown> };

  before(async () => {
    h = await harness();
    const { token } = await h.loginJwt();
    const [hd, pl] = segments(token);
    real = { token, header: decode(hd), claims: decode(pl) };
    assert.equal((await h.get('/auth/me', { bearer: token })).status, 200);
  });
  after(async () => {
    await h.s.close();
  });

  const fresh = async () => {
    const { token } = await h.loginJwt();
    const [hd, pl] = segments(token);
    return { token, header: decode(hd), claims: decode(pl) };
  };

  void it('accepts a token forged with the server key (the control for every forged attack below)', async () => {
    const token = await h.forge();
    const r = await h.get('/auth/me', { bearer: token });
    assert.equal(r.status, 200, r.text);
  });

  void it('refuses alg "none", with or without a signature segment', async () => {
    const t = await fresh();
    const header = JSON.stringify({ ...t.header, alg: 'none' });
    const payload = JSON.stringify({ ...t.claims, role: 'admin' });
    const unsigned = `${b64u(header)}.${b64u(payload)}.`;
    for (const token of [unsigned, `${unsigned}${segments(t.token)[2]}`, `${b64u(JSON.stringify({ alg: 'none' }))}.${b64u(payload)}.`]) {
      assertBearerRefused(await h.get('/auth/me', { bearer: token }), 'invalid_token', token);
      assertBearerRefused(await h.get('/admin/users', { bearer: token }), 'invalid_token', token);
    }
    for (const alg of ['None', 'NONE', 'nOnE']) {
      const token = `${b64u(JSON.stringify({ ...t.header, alg }))}.${b64u(payload)}.`;
      assertBearerRefused(await h.get('/auth/me', { bearer: token }));
    }
  });

  void it('refuses alg confusion: HS256 keyed with the server public key as PEM, DER, JWK or raw bytes', async () => {
    const t = await fresh();
    const jwks = (await h.get('/.well-known/jwks.json')).body as unknown as { keys: (jose.JWK & { kid: string })[] };
    const jwk = jwks.keys.find((k) => k.kid === t.header.kid);
    assert.ok(jwk);
    const pub = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    const pem = pub.export({ type: 'spki', format: 'pem' }).toString();
    const secrets: (string | Buffer)[] = [
      pem,
      pem.trim(),
      pub.export({ type: 'spki', format: 'der' }),
      JSON.stringify(jwk),
      Buffer.from(jwk.x ?? '', 'base64url'),
      jwk.x ?? '',
    ];
    const payload = JSON.stringify({ ...t.claims, role: 'admin' });
    for (const secret of secrets) {
      const token = jws(JSON.stringify({ ...t.header, alg: 'HS256' }), payload, hmacSigner(secret));
      assertBearerRefused(await h.get('/auth/me', { bearer: token }), 'invalid_token', token);
      assertBearerRefused(await h.get('/admin/users', { bearer: token }));
    }
  });

  void it('refuses a token whose kid is unknown, signed by the attacker', async () => {
    const t = await fresh();
    const attacker = attackerKey();
    for (const kid of ['attacker', '', '../../keys/current', "' OR '1'='1", '__proto__', 'constructor']) {
      const token = jws(JSON.stringify({ ...t.header, kid }), JSON.stringify(t.claims), ed25519Signer(attacker.privateKey));
      assertBearerRefused(await h.get('/auth/me', { bearer: token }), 'invalid_token', token);
    }
  });

  void it('never trusts an embedded jwk: the attacker key in the header does not verify its own token', async () => {
    const t = await fresh();
    const attacker = attackerKey();
    const payload = JSON.stringify({ ...t.claims, role: 'admin' });
    const withServerKid: Record<string, unknown> = { ...t.header, jwk: attacker.publicJwk };
    const { kid: _kid, ...withoutKid } = withServerKid;
    const withOwnKid = { ...withServerKid, kid: await jose.calculateJwkThumbprint(attacker.publicJwk) };
    for (const header of [withServerKid, withoutKid, withOwnKid]) {
      const token = jws(JSON.stringify(header), payload, ed25519Signer(attacker.privateKey));
      assertBearerRefused(await h.get('/auth/me', { bearer: token }), 'invalid_token', token);
      assertBearerRefused(await h.get('/admin/users', { bearer: token }));
    }
    // The same via jose's own serializer, as a real attacker would build it.
    const viaJose = await new jose.SignJWT({ ...t.claims, role: 'admin' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', jwk: attacker.publicJwk })
      .sign(attacker.privateKey);
    assertBearerRefused(await h.get('/auth/me', { bearer: viaJose }));
  });

  void it('never fetches jku or x5u: the URL in the header receives no request', async () => {
    const t = await fresh();
    const attacker = attackerKey();
    const kid = 'attacker-key';
    let hits = 0;
    const lure: Server = createServer((_req, res) => {
      hits++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [{ ...attacker.publicJwk, kid, alg: 'EdDSA', use: 'sig' }] }));
    });
    await new Promise<void>((resolve) => lure.listen(0, '127.0.0.1', resolve));
    try {
      const base = `http://127.0.0.1:${(lure.address() as AddressInfo).port}`;
      // The lure answers a fetch: a verifier that followed the URL would have this key.
      assert.equal((await fetch(`${base}/jwks.json`)).status, 200);
      hits = 0;
      const payload = JSON.stringify({ ...t.claims, role: 'admin' });
      for (const header of [
        { ...t.header, kid, jku: `${base}/jwks.json` },
        { ...t.header, jku: `${base}/jwks.json` },
        { ...t.header, kid, x5u: `${base}/cert.pem` },
      ]) {
        const token = jws(JSON.stringify(header), payload, ed25519Signer(attacker.privateKey));
        assertBearerRefused(await h.get('/auth/me', { bearer: token }), 'invalid_token', token);
        assertBearerRefused(await h.post('/auth/logout', { bearer: token }));
      }
      // One more round trip through the server, so any fetch it started in the background has had its turn.
      assert.equal((await h.get('/healthz')).status, 200);
      assert.equal(hits, 0, 'the server fetched the attacker URL');
    } finally {
      await new Promise<void>((resolve) => lure.close(() => resolve()));
    }
  });

  void it('refuses a validly signed token whose typ is not at+jwt (an ID token or plain JWT)', async () => {
    for (const typ of ['JWT', 'jwt', 'JOSE', 'id_token+jwt']) {
      const token = await h.forge({}, { typ });
      assertBearerRefused(await h.get('/auth/me', { bearer: token }), 'invalid_token', token);
    }
    const t = await fresh();
    const { typ: _typ, ...noTyp } = t.header;
    const key = await h.signingKey();
    const token = jws(JSON.stringify(noTyp), JSON.stringify({ ...t.claims, jti: 'no-typ' }), ed25519Signer(key.privateKey));
    assertBearerRefused(await h.get('/auth/me', { bearer: token }));
  });

  void it('refuses a validly signed token from another issuer', async () => {
    for (const iss of ['https://evil.example', `${h.url}/`, h.url.toUpperCase(), '']) {
      const token = await h.forge({ iss });
      assertBearerRefused(await h.get('/auth/me', { bearer: token }), 'invalid_token', token);
    }
  });

  void it('refuses a validly signed token for another audience', async () => {
    for (const aud of ['another-service', ['another-service'], 'Frontdesk', '']) {
      const token = await h.forge({ aud });
      assertBearerRefused(await h.get('/auth/me', { bearer: token }), 'invalid_token', token);
    }
  });

  void it('answers token_expired once exp + 30 s has passed, and accepts the token until then', async () => {
    const { token } = await h.loginJwt();
    const exp = decode(segments(token)[1]).exp as number;
    h.clock.set(exp * 1000 + LEEWAY * 1000 - 1000);
    assert.equal((await h.get('/auth/me', { bearer: token })).status, 200);
    h.clock.set(exp * 1000 + LEEWAY * 1000 + 1000);
    assertBearerRefused(await h.get('/auth/me', { bearer: token }), 'token_expired', token);
    // The cached verification from the 200 above did not keep it alive, and writes refuse it too.
    assertBearerRefused(await h.post('/auth/logout', { bearer: token }), 'token_expired');
  });

  void it('refuses a validly signed token whose nbf is in the future beyond the leeway', async () => {
    const nowS = Math.floor(h.clock.now() / 1000);
    const ok = await h.forge({ nbf: nowS + LEEWAY - 5 });
    assert.equal((await h.get('/auth/me', { bearer: ok })).status, 200);
    for (const nbf of [nowS + LEEWAY + 5, nowS + 3600]) {
      const token = await h.forge({ nbf });
      assertBearerRefused(await h.get('/auth/me', { bearer: token }), 'invalid_token', token);
    }
    const iatFuture = await h.forge({ iat: nowS + 3600, exp: nowS + 3600 + ACCESS_TTL });
    assertBearerRefused(await h.get('/auth/me', { bearer: iatFuture }));
  });

  void it('refuses a real token whose payload was tampered with (role changed to admin)', async () => {
    const t = await fresh();
    assert.equal(t.claims.role, 'user');
    const [hd, , sig] = segments(t.token);
    const tampered = [
      `${hd}.${b64u(JSON.stringify({ ...t.claims, role: 'admin' }))}.${sig}`,
      `${hd}.${b64u(JSON.stringify({ ...t.claims, sub: real.claims.sub }))}.${sig}`,
      `${hd}.${b64u(JSON.stringify({ ...t.claims, exp: (t.claims.exp as number) + 86_400 }))}.${sig}`,
      // Same claims, different serialization: the signature covers bytes, not meaning.
      `${hd}.${b64u(JSON.stringify(t.claims, null, 1))}.${sig}`,
      `${b64u(JSON.stringify({ ...t.header, typ: 'at+jwt', x: 1 }))}.${segments(t.token)[1]}.${sig}`,
      `${hd}.${segments(t.token)[1]}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BA' : 'AA'}`,
    ];
    for (const token of tampered) {
      assertBearerRefused(await h.get('/auth/me', { bearer: token }), 'invalid_token', token);
      assertBearerRefused(await h.get('/admin/users', { bearer: token }));
    }
    assert.equal((await h.get('/auth/me', { bearer: t.token })).status, 200, 'the untampered token still works');
  });

  void it('refuses a validly signed token larger than 8 KiB', async () => {
    const small = await h.forge({ pad: 'x'.repeat(4000) });
    assert.equal((await h.get('/auth/me', { bearer: small })).status, 200);
    const big = await h.forge({ pad: 'x'.repeat(6500) });
    assert.ok(big.length > 8192 && big.length < 12_000, String(big.length));
    assertBearerRefused(await h.get('/auth/me', { bearer: big }), 'invalid_token', big);
    assertBearerRefused(await h.post('/auth/logout', { bearer: big }));
  });

  void it('refuses malformed tokens: too many or too few dots, non-base64url, non-JSON', async () => {
    const t = await fresh();
    const [hd, pl, sig] = segments(t.token);
    const malformed = [
      'x',
      `${hd}.${pl}`,
      `${hd}${pl}${sig}`,
      `${hd}.${pl}.${sig}.${sig}`,
      `${hd}.${pl}.${sig}.`,
      `.${hd}.${pl}.${sig}`,
      '..',
      '....',
      `${hd}..${sig}`,
      `${hd}+/.${pl}.${sig}`,
      `${hd}.${pl}.${sig}==`,
      `${hd}.${pl}%.${sig}`,
      `${hd}.${pl}.${sig}!`,
      `${b64u('not json')}.${pl}.${sig}`,
      `${hd}.${b64u('not json')}.${sig}`,
      `${b64u('{"alg":"EdDSA"')}.${pl}.${sig}`,
      `${b64u('[]')}.${pl}.${sig}`,
      `${b64u('null')}.${b64u('null')}.${sig}`,
      `${b64u('\u0000\u0001\u0002')}.${pl}.${sig}`,
      'A'.repeat(5000),
      `${'A'.repeat(3000)}.${'A'.repeat(3000)}.${'A'.repeat(3000)}`,
    ];
    for (const token of malformed) {
      assertBearerRefused(await h.get('/auth/me', { bearer: token }), 'invalid_token', token);
    }
    for (const authorization of ['Bearer', 'Bearer ', 'Bearer    ', 'Basic dXNlcjpwYXNz', `Token ${t.token}`, t.token]) {
      assertBearerRefused(await h.get('/auth/me', { authorization }), 'invalid_token');
    }
    for (const token of malformed.slice(0, 5)) {
      assertBearerRefused(await h.post('/auth/logout', { bearer: token }));
      assertBearerRefused(await h.get('/admin/users', { bearer: token }));
      assertBearerRefused(await h.post('/auth/password', { bearer: token, json: { current_password: PASSWORD, new_password: 'x'.repeat(12) } }));
    }
  });

  void it('refuses a refresh token or a session ID sent as a Bearer token', async () => {
    const hybrid = await h.loginHybrid();
    assert.match(hybrid.refresh, /^[A-Za-z0-9_-]{43}$/);
    assertBearerRefused(await h.get('/auth/me', { bearer: hybrid.refresh }), 'invalid_token', hybrid.refresh);
    assertBearerRefused(await h.post('/auth/logout', { bearer: hybrid.refresh }), 'invalid_token', hybrid.refresh);
    const { session, csrf } = await h.loginSession();
    assertBearerRefused(await h.get('/auth/me', { bearer: session }), 'invalid_token', session);
    assertBearerRefused(await h.get('/auth/me', { bearer: csrf }), 'invalid_token', csrf);
    // Both credentials still work where they belong.
    assert.equal((await h.get('/auth/me', { cookies: { '__Host-session': session } })).status, 200);
    assert.equal((await h.post('/auth/refresh', { json: { refresh_token: hybrid.refresh } })).status, 200);
  });

  void it('lets the Authorization header alone decide, even next to a valid session cookie', async () => {
    const { session } = await h.loginSession();
    const r = await h.get('/auth/me', { bearer: 'not-a-token', cookies: { '__Host-session': session } });
    assertBearerRefused(r);
  });
});

void describe('security: alg confusion against an RS256 server', () => {
  let h: Harness;
  before(async () => {
    h = await harness({ FRONTDESK_JWT_ALG: 'RS256' });
  });
  after(async () => {
    await h.s.close();
  });

  void it('refuses HS256 tokens keyed with the RSA public key (PEM, PKCS#1 PEM, DER, JWK)', async () => {
    const { token } = await h.loginJwt();
    assert.equal((await h.get('/auth/me', { bearer: token })).status, 200);
    const [hd, pl] = segments(token);
    const header = decode(hd);
    assert.equal(header.alg, 'RS256');
    const jwks = (await h.get('/.well-known/jwks.json')).body as unknown as { keys: (Record<string, unknown> & { kid: string })[] };
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    assert.ok(jwk);
    const pub = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
    const secrets: (string | Buffer)[] = [
      pub.export({ type: 'spki', format: 'pem' }).toString(),
      pub.export({ type: 'pkcs1', format: 'pem' }).toString(),
      pub.export({ type: 'spki', format: 'der' }),
      JSON.stringify(jwk),
    ];
    const payload = JSON.stringify({ ...decode(pl), role: 'admin' });
    for (const secret of secrets) {
      for (const alg of ['HS256', 'HS384', 'HS512']) {
        const forged = jws(JSON.stringify({ ...header, alg }), payload, (input) =>
          createHmac(`sha${alg.slice(2)}`, secret).update(input).digest(),
        );
        assertBearerRefused(await h.get('/auth/me', { bearer: forged }), 'invalid_token', forged);
      }
    }
    // And an EdDSA or PS256 token under the RS256 kid: the algorithm is pinned, not read from the token.
    const attacker = attackerKey();
    const ed = jws(JSON.stringify({ ...header, alg: 'EdDSA' }), payload, ed25519Signer(attacker.privateKey));
    assertBearerRefused(await h.get('/auth/me', { bearer: ed }));
  });
});

void describe('security: refresh token reuse', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.s.close();
  });

  const refresh = (token: string) => h.post('/auth/refresh', { json: { refresh_token: token } });

  void it('answers refresh_reused to a rotated token presented after the grace window, and kills its successor', async () => {
    const username = await h.user();
    const login = await h.loginHybrid(username);
    const first = await refresh(login.refresh);
    assert.equal(first.status, 200, first.text);
    const successor = first.body.refresh_token as string;
    const successorAccess = first.body.access_token as string;
    assert.notEqual(successor, login.refresh);
    assert.equal((await h.get('/auth/me', { bearer: successorAccess })).status, 200);

    h.clock.advance(GRACE * 1000 + 1);
    assertError(await refresh(login.refresh), 401, 'refresh_reused', login.refresh);
    // The whole family is dead: the successor refresh token, and the access tokens issued from the family.
    const dead = await refresh(successor);
    assert.equal(dead.status, 401, dead.text);
    assert.ok(['refresh_reused', 'invalid_token'].includes(dead.body.error?.code ?? ''), dead.text);
    assertBearerRefused(await h.get('/auth/me', { bearer: successorAccess }));
    assertBearerRefused(await h.get('/auth/me', { bearer: login.access }));
    // The family no longer shows among the user's sign-ins.
    const sessions = await h.get('/auth/sessions', { bearer: (await h.loginJwt(username)).token });
    assert.equal(sessions.status, 200, sessions.text);
    assert.deepEqual(sessions.body.sessions, []);
  });

  void it('keeps answering refresh_reused to every token of a family revoked for reuse, not just the first replay', async () => {
    // API.md: "A rotated refresh token presented again after the grace window gets 401 refresh_reused" —
    // every time, and the client holding the successor learns why it was signed out (auth.ts has the
    // 'revoked'/'reused' branch for exactly this).
    const login = await h.loginHybrid();
    const first = await refresh(login.refresh);
    assert.equal(first.status, 200, first.text);
    h.clock.advance(GRACE * 1000 + 1);
    assertError(await refresh(login.refresh), 401, 'refresh_reused');
    assertError(await refresh(login.refresh), 401, 'refresh_reused');
    assertError(await refresh(first.body.refresh_token as string), 401, 'refresh_reused');
  });

  void it('within the grace window, two concurrent refreshes with one token both succeed with the same successor and one live family', async () => {
    const username = await h.user();
    const login = await h.loginHybrid(username);
    const [a, b] = await Promise.all([refresh(login.refresh), refresh(login.refresh)]);
    assert.equal(a.status, 200, a.text);
    assert.equal(b.status, 200, b.text);
    assert.equal(a.body.refresh_token, b.body.refresh_token, 'the family did not fork');
    assert.notEqual(a.body.refresh_token, login.refresh);
    const accessA = a.body.access_token as string;
    const accessB = b.body.access_token as string;
    for (const token of [accessA, accessB]) assert.equal((await h.get('/auth/me', { bearer: token })).status, 200);

    const sessions = await h.get('/auth/sessions', { bearer: accessA });
    assert.equal(sessions.status, 200, sessions.text);
    const list = sessions.body.sessions as { mode: string; current: boolean }[];
    assert.equal(list.length, 1, JSON.stringify(list));
    assert.equal(list[0]?.mode, 'hybrid');
    assert.equal(list[0]?.current, true);

    // A late duplicate still inside the window gets the same successor; the user stays signed in.
    h.clock.advance(GRACE * 1000 - 1);
    const late = await refresh(login.refresh);
    assert.equal(late.status, 200, late.text);
    assert.equal(late.body.refresh_token, a.body.refresh_token);
    const next = await refresh(a.body.refresh_token as string);
    assert.equal(next.status, 200, next.text);
    assert.equal(((await h.get('/auth/sessions', { bearer: next.body.access_token as string })).body.sessions as unknown[]).length, 1);
  });
});

void describe('security: revocation epochs within one second', () => {
  // newAccessClaims dates a token minted right after a revocation epoch at the next whole second
  // (so "a login right after logout-all works"). That makes such a token look *newer* than any
  // later epoch in the same second, so the later revocation misses it.
  let h: Harness;
  before(async () => {
    h = await harness({ FRONTDESK_ADMIN_USERNAME: 'root', FRONTDESK_ADMIN_PASSWORD: PASSWORD });
    h.clock.advance(200); // mid-second: the case the whole-second rounding gets wrong
  });
  after(async () => {
    await h.s.close();
  });

  void it('refuses a token minted before a logout-all, even when it was minted in the same second as an earlier logout-all', async () => {
    const username = await h.user();
    const { token: first } = await h.loginJwt(username);
    assert.equal((await h.post('/auth/logout-all', { bearer: first })).status, 204);
    h.clock.advance(100);
    const { token: stolen } = await h.loginJwt(username); // e.g. an attacker who has the password
    h.clock.advance(100);
    const { token: own } = await h.loginJwt(username);
    assert.equal((await h.post('/auth/logout-all', { bearer: own })).status, 204);
    // API.md: every access token issued to that user before the event gets 401.
    assertBearerRefused(await h.get('/auth/me', { bearer: stolen }));
    assertBearerRefused(await h.get('/auth/me', { bearer: own }));
    // A login right after it still works.
    h.clock.advance(100);
    assert.equal((await h.get('/auth/me', { bearer: (await h.loginJwt(username)).token })).status, 200);
  });

  void it('accepts a login right after a burst of revocations of that user', async () => {
    // API.md: "a login right after it works" — however many revocations came just before.
    const { token: admin } = await h.loginJwt('root');
    const username = await h.user();
    const { userId } = await h.loginJwt(username);
    for (let i = 0; i < 2 * LEEWAY; i++) {
      assert.equal((await h.post(`/admin/users/${userId}/revoke`, { bearer: admin })).status, 204);
    }
    h.clock.advance(100);
    const { token } = await h.loginJwt(username);
    const r = await h.get('/auth/me', { bearer: token });
    assert.equal(r.status, 200, r.text);
  });

  void it('refuses the access token of a user disabled in the same second as an earlier revocation', async () => {
    const { token: admin } = await h.loginJwt('root');
    const username = await h.user();
    const { token: first, userId } = await h.loginJwt(username);
    assert.equal((await h.post(`/admin/users/${userId}/revoke`, { bearer: admin })).status, 204);
    assertBearerRefused(await h.get('/auth/me', { bearer: first }));
    h.clock.advance(100);
    const { token } = await h.loginJwt(username);
    h.clock.advance(100);
    const patch = await call(h.url, 'PATCH', `/admin/users/${userId}`, { bearer: admin, json: { disabled: true } });
    assert.equal(patch.status, 200, patch.text);
    assertBearerRefused(await h.get('/auth/me', { bearer: token }));
  });
});

void describe('security: CSRF', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.s.close();
  });

  const SESSION = '__Host-session';
  const CSRF = '__Host-csrf';

  void it('refuses a session-cookie POST without X-CSRF-Token with 403 csrf', async () => {
    const a = await h.loginSession();
    assertError(await h.post('/auth/logout', { cookies: { [SESSION]: a.session, [CSRF]: a.csrf } }), 403, 'csrf', a.csrf);
    assertError(await h.post('/auth/logout', { cookies: { [SESSION]: a.session } }), 403, 'csrf');
    // Header without the cookie, and a header that differs from the cookie, fail the double submit too.
    assertError(await h.post('/auth/logout', { cookies: { [SESSION]: a.session }, headers: { 'x-csrf-token': a.csrf } }), 403, 'csrf');
    assertError(
      await h.post('/auth/logout', { cookies: { [SESSION]: a.session, [CSRF]: a.csrf }, headers: { 'x-csrf-token': `${a.csrf.slice(0, -1)}${a.csrf.endsWith('A') ? 'B' : 'A'}` } }),
      403,
      'csrf',
    );
    assert.equal((await h.get('/auth/me', { cookies: { [SESSION]: a.session } })).status, 200, 'the refused logouts did nothing');
    const ok = await h.post('/auth/logout', { cookies: { [SESSION]: a.session, [CSRF]: a.csrf }, headers: { 'x-csrf-token': a.csrf } });
    assert.equal(ok.status, 204, ok.text);
    assert.equal((await h.get('/auth/me', { cookies: { [SESSION]: a.session } })).status, 401);
  });

  void it("refuses another session's CSRF value, even when header and cookie agree", async () => {
    const username = await h.user();
    const a = await h.loginSession(username);
    const b = await h.loginSession(username);
    const other = await h.loginSession();
    for (const foreign of [b.csrf, other.csrf]) {
      const r = await h.post('/auth/logout', { cookies: { [SESSION]: a.session, [CSRF]: foreign }, headers: { 'x-csrf-token': foreign } });
      assertError(r, 403, 'csrf', foreign);
      const pw = await h.post('/auth/password', {
        cookies: { [SESSION]: a.session, [CSRF]: foreign },
        headers: { 'x-csrf-token': foreign },
        json: { current_password: PASSWORD, new_password: 'another password 1' },
      });
      assertError(pw, 403, 'csrf');
    }
    assert.equal((await h.get('/auth/me', { cookies: { [SESSION]: a.session } })).status, 200);
    assert.equal((await h.get('/auth/me', { cookies: { [SESSION]: b.session } })).status, 200);
  });

  void it('refuses a cookie refresh without the CSRF token bound to its family', async () => {
    const username = await h.user();
    const login = await h.post('/auth/login', { json: { username, password: PASSWORD, mode: 'hybrid' } });
    const refreshCookie = login.cookies['__Secure-refresh'];
    const csrf = login.cookies[CSRF];
    assert.ok(refreshCookie && csrf);
    const other = await h.loginSession();
    assertError(await h.post('/auth/refresh', { cookies: { '__Secure-refresh': refreshCookie, [CSRF]: csrf } }), 403, 'csrf');
    assertError(
      await h.post('/auth/refresh', { cookies: { '__Secure-refresh': refreshCookie, [CSRF]: other.csrf }, headers: { 'x-csrf-token': other.csrf } }),
      403,
      'csrf',
    );
    const ok = await h.post('/auth/refresh', { cookies: { '__Secure-refresh': refreshCookie, [CSRF]: csrf }, headers: { 'x-csrf-token': csrf } });
    assert.equal(ok.status, 200, ok.text);
  });

  void it('refuses a login from a foreign Origin with 403 csrf and sets no cookie', async () => {
    const username = await h.user();
    for (const origin of ['https://evil.example', 'null', `${h.url}.evil.example`, h.url.replace('http:', 'https:')]) {
      const r = await h.post('/auth/login', { headers: { origin }, json: { username, password: PASSWORD, mode: 'session' } });
      assertError(r, 403, 'csrf');
      assert.deepEqual(r.cookies, {});
    }
    const same = await h.post('/auth/login', { headers: { origin: h.url }, json: { username, password: PASSWORD, mode: 'session' } });
    assert.equal(same.status, 200, same.text);
  });

  void it('needs no CSRF token for Bearer-authenticated writes', async () => {
    const { token } = await h.loginJwt();
    const r = await h.post('/auth/logout', { bearer: token });
    assert.equal(r.status, 204, r.text);
    assertBearerRefused(await h.get('/auth/me', { bearer: token }));

    // A Bearer write next to a session cookie: the header alone decides, the session is untouched.
    const username = await h.user();
    const { session } = await h.loginSession(username);
    const { token: t2 } = await h.loginJwt(username);
    const r2 = await h.post('/auth/logout', { bearer: t2, cookies: { [SESSION]: session } });
    assert.equal(r2.status, 204, r2.text);
    assert.equal((await h.get('/auth/me', { cookies: { [SESSION]: session } })).status, 200);
  });
});
