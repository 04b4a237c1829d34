import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, cookieAttributes, type Res } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { startBackend } from '../multinode/backends.js';

const PASSWORD = 'correct horse battery';
let s: TestServer;
/** What /readyz names for the backend under test (see before()). */
let backendStores: string[] = [];
let n = 0;
const uniq = (p: string) => `${p}${++n}_${Date.now().toString(36)}`;

async function newUser(c: Client, name = uniq('user')): Promise<string> {
  const r = await c.post('/auth/register', { username: name, password: PASSWORD });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return name;
}

async function login(mode: 'session' | 'jwt' | 'hybrid', username: string, extra: Record<string, unknown> = {}) {
  const c = new Client(s.url);
  const r = await c.post<{ access_token?: string; refresh_token?: string; user: { id: string } }>('/auth/login', {
    username,
    password: PASSWORD,
    mode,
    ...extra,
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return { c, r, token: r.body.access_token };
}

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, string>;

const me = (c: Client, token?: string) => c.get('/auth/me', token === undefined ? {} : { bearer: token });

function assertError(r: Res, status: number, code: string) {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.deepEqual(Object.keys(r.body), ['error']);
  assert.equal((r.body.error as { code: string }).code, code);
  assert.equal(typeof (r.body.error as { message: string }).message, 'string');
}

before(async () => {
  // Stores issue: FRONTDESK_TEST_BACKEND=postgres+redis runs this same suite on throwaway
  // PostgreSQL + Redis servers (api-postgres-redis.test.ts sets it); unset, SQLite as always.
  const backend = await startBackend(process.env['FRONTDESK_TEST_BACKEND']);
  backendStores = backend.stores;
  s = await startServer({ ...backend.env, FRONTDESK_ADMIN_USERNAME: 'root', FRONTDESK_ADMIN_PASSWORD: PASSWORD, FRONTDESK_VERIFIER_SECRET: 'v'.repeat(40) });
  const server = s;
  s = {
    ...server,
    close: async () => {
      await server.close();
      await backend.stop();
    },
  };
});
after(async () => {
  await s.close();
});

describe('service endpoints', () => {
  it('GET / describes the service or serves the app', async () => {
    const r = await new Client(s.url).get('/');
    assert.equal(r.status, 200);
    if (typeof r.body === 'string') assert.match(r.body, /<html/i);
    else assert.equal(r.body.name, 'frontdesk');
  });

  it('healthz, readyz and the JWKS answer', async () => {
    const c = new Client(s.url);
    assert.deepEqual((await c.get('/healthz')).body, { status: 'ok' });
    const ready = await c.get('/readyz');
    assert.equal(ready.status, 200);
    // Stores issue: every store of the backend under test (sqlite; or postgres and redis) answers ok.
    assert.deepEqual(ready.body.stores, Object.fromEntries(backendStores.map((name) => [name, 'ok'])));
    const jwks = await c.get<{ keys: { kid: string; alg: string; kty: string; d?: string }[] }>('/.well-known/jwks.json');
    assert.equal(jwks.body.keys.length, 1);
    assert.equal(jwks.body.keys[0]!.alg, 'EdDSA');
    assert.equal(jwks.body.keys[0]!.d, undefined, 'no private part is published');
  });

  it('metrics are Prometheus text for loopback callers', async () => {
    const r = await new Client(s.url).get<string>('/metrics');
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
    assert.match(r.body, /# TYPE frontdesk_token_cache_hits_total gauge/);
  });

  it('API responses, errors included, carry nosniff and no-store, whichever path answers them', async () => {
    const c = new Client(s.url);
    // Each answer comes from a different place (server.ts sets the headers on each, not in a global hook).
    const answers = {
      'a handler': await c.get('/healthz'),
      'an error thrown by a handler': await c.get('/auth/me'),
      'the error handler, before any handler (malformed JSON)': await c.req('POST', '/auth/login', { raw: '{"username":' }),
      'the not-found handler': await c.get('/auth/nope'),
      'the Origin check of a route': await c.req('POST', '/auth/login', { headers: { origin: 'https://evil.example' }, json: {} }),
      'the not-found handler, refusing a foreign Origin': await c.req('POST', '/auth/nope', { headers: { origin: 'https://evil.example' }, json: {} }),
    };
    assert.deepEqual(
      Object.fromEntries(Object.entries(answers).map(([k, r]) => [k, r.status])),
      {
        'a handler': 200,
        'an error thrown by a handler': 401,
        'the error handler, before any handler (malformed JSON)': 400,
        'the not-found handler': 404,
        'the Origin check of a route': 403,
        'the not-found handler, refusing a foreign Origin': 403,
      },
    );
    for (const [where, r] of Object.entries(answers)) {
      assert.equal(r.headers.get('cache-control'), 'no-store', where);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', where);
    }
  });

  it('unknown API paths are JSON 404s', async () => {
    assertError(await new Client(s.url).get('/auth/nope'), 404, 'not_found');
    assertError(await new Client(s.url).get('/admin/nope'), 404, 'not_found');
  });
});

describe('register and login', () => {
  it('registers a user and never returns a password hash', async () => {
    const c = new Client(s.url);
    const name = uniq('Reg');
    const r = await c.post<{ user: Record<string, unknown> }>('/auth/register', { username: name, password: PASSWORD, name: 'Ada L' });
    assert.equal(r.status, 201);
    assert.deepEqual(Object.keys(r.body.user).sort(), ['disabled', 'id', 'name', 'role', 'username']);
    assert.equal(r.body.user.name, 'Ada L');
    assert.equal(r.body.user.role, 'user');
  });

  it('refuses NFKC-equal and case-equal usernames with 409', async () => {
    const c = new Client(s.url);
    const base = uniq('dup');
    await newUser(c, base);
    assertError(await c.post('/auth/register', { username: base.toUpperCase(), password: PASSWORD }), 409, 'conflict');
    const fullwidth = [...base].map((ch) => (/[a-z]/.test(ch) ? String.fromCharCode(ch.charCodeAt(0) + 0xfee0) : ch)).join('');
    assertError(await c.post('/auth/register', { username: fullwidth, password: PASSWORD }), 409, 'conflict');
  });

  it('session login sets exactly the documented cookies', async () => {
    const name = await newUser(new Client(s.url));
    const { r } = await login('session', name);
    assert.deepEqual(Object.keys(r.body).sort(), ['expires_at', 'mode', 'user']);
    const cookies = r.cookies.map(cookieAttributes);
    const session = cookies.find((c) => c.name === '__Host-session')!;
    const csrf = cookies.find((c) => c.name === '__Host-csrf')!;
    assert.equal(cookies.length, 2);
    assert.ok(session.attrs.has('httponly') && session.attrs.has('secure'));
    assert.equal(session.attrs.get('samesite'), 'Lax');
    assert.equal(session.attrs.get('path'), '/');
    assert.equal(session.attrs.has('domain'), false);
    assert.equal(csrf.attrs.has('httponly'), false, 'the page must be able to read the CSRF cookie');
    assert.ok(csrf.attrs.has('secure'));
    assert.equal(csrf.attrs.get('samesite'), 'Strict');
    assert.equal(csrf.attrs.get('path'), '/');
    assert.equal(session.value.length, 43, '256-bit session ID');
  });

  it('jwt login answers a Bearer token and sets no cookie', async () => {
    const name = await newUser(new Client(s.url));
    const { r } = await login('jwt', name);
    assert.deepEqual(Object.keys(r.body).sort(), ['access_token', 'expires_in', 'mode', 'token_type', 'user']);
    const body = r.body as Record<string, unknown>;
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 600);
    assert.equal(r.cookies.length, 0);
    const [h, p] = (r.body.access_token as string).split('.').slice(0, 2).map((x) => JSON.parse(Buffer.from(x, 'base64url').toString()) as Record<string, unknown>);
    assert.deepEqual(Object.keys(h!).sort(), ['alg', 'kid', 'typ']);
    assert.equal(h!.typ, 'at+jwt');
    assert.deepEqual(Object.keys(p!).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'name', 'role', 'sub']);
  });

  it('hybrid login sets the refresh cookie scoped to /auth and the CSRF cookie', async () => {
    const name = await newUser(new Client(s.url));
    const { r, token } = await login('hybrid', name);
    assert.ok(claimsOf(token!).sid!.length > 0);
    const cookies = r.cookies.map(cookieAttributes);
    const refresh = cookies.find((c) => c.name === '__Secure-refresh')!;
    assert.ok(refresh.attrs.has('httponly') && refresh.attrs.has('secure'));
    assert.equal(refresh.attrs.get('samesite'), 'Strict');
    assert.equal(refresh.attrs.get('path'), '/auth');
    assert.ok(cookies.some((c) => c.name === '__Host-csrf'));
    assert.equal(r.body.refresh_token, undefined);
  });

  it('hybrid login with refresh_in_body returns the refresh token in the body and no cookie', async () => {
    const name = await newUser(new Client(s.url));
    const { r } = await login('hybrid', name, { refresh_in_body: true });
    assert.equal(typeof r.body.refresh_token, 'string');
    assert.equal(r.cookies.length, 0);
  });

  it('wrong password and unknown username give the same 401', async () => {
    const c = new Client(s.url);
    const name = await newUser(c);
    const a = await c.post('/auth/login', { username: name, password: 'wrong password!', mode: 'jwt' });
    const b = await c.post('/auth/login', { username: uniq('ghost'), password: 'wrong password!', mode: 'jwt' });
    assertError(a, 401, 'invalid_credentials');
    assert.deepEqual(a.body, b.body);
  });

  it('a new session ID is minted at every login, and the old one ends', async () => {
    const name = await newUser(new Client(s.url));
    const { c } = await login('session', name);
    const first = c.jar.get('__Host-session');
    const again = await c.post('/auth/login', { username: name, password: PASSWORD, mode: 'session' });
    assert.equal(again.status, 200);
    assert.notEqual(c.jar.get('__Host-session'), first);
    const old = new Client(s.url);
    old.jar.set('__Host-session', first!);
    assertError(await me(old), 401, 'unauthenticated');
  });
});

describe('me, sessions and refresh', () => {
  it('GET /auth/me answers in every mode', async () => {
    const name = await newUser(new Client(s.url));
    for (const mode of ['session', 'jwt', 'hybrid'] as const) {
      const { c, token } = await login(mode, name);
      const r = await me(c, token);
      assert.equal(r.status, 200);
      assert.equal((r.body.user as { username: string }).username, name);
      assert.equal((r.body.auth as { mode: string }).mode, mode);
      assert.ok(Date.parse((r.body.auth as { expires_at: string }).expires_at) > Date.now());
    }
  });

  it('refresh by cookie needs the CSRF header and rotates the cookie', async () => {
    const name = await newUser(new Client(s.url));
    const { c } = await login('hybrid', name);
    const before = c.jar.get('__Secure-refresh');
    assertError(await c.post('/auth/refresh'), 403, 'csrf');
    const r = await c.post('/auth/refresh', undefined, { csrf: true });
    assert.equal(r.status, 200);
    assert.deepEqual(Object.keys(r.body).sort(), ['access_token', 'expires_in', 'token_type']);
    assert.notEqual(c.jar.get('__Secure-refresh'), before);
    assert.equal((await me(c, r.body.access_token as string)).status, 200);
  });

  it('refresh by body returns the rotated token in the body', async () => {
    const name = await newUser(new Client(s.url));
    const { c, r } = await login('hybrid', name, { refresh_in_body: true });
    const x = await c.post('/auth/refresh', { refresh_token: r.body.refresh_token });
    assert.equal(x.status, 200);
    assert.notEqual(x.body.refresh_token, r.body.refresh_token);
  });

  it('lists sessions and families with the current one marked, and revokes another', async () => {
    const name = await newUser(new Client(s.url));
    const a = await login('session', name);
    const b = await login('hybrid', name);
    const list = await a.c.get<{ sessions: { id: string; mode: string; current: boolean; user_agent: string }[] }>('/auth/sessions');
    assert.equal(list.status, 200);
    assert.equal(list.body.sessions.length, 2);
    assert.deepEqual(list.body.sessions.map((x) => x.mode).sort(), ['hybrid', 'session']);
    const current = list.body.sessions.filter((x) => x.current);
    assert.equal(current.length, 1);
    assert.equal(current[0]!.mode, 'session');
    const other = list.body.sessions.find((x) => !x.current)!;
    assertError(await a.c.req('DELETE', `/auth/sessions/${other.id}`), 403, 'csrf');
    assert.equal((await a.c.req('DELETE', `/auth/sessions/${other.id}`, { csrf: true })).status, 204);
    assertError(await me(b.c, b.token), 401, 'invalid_token');
    assertError(await b.c.post('/auth/refresh', undefined, { csrf: true }), 401, 'invalid_token');
    assertError(await a.c.req('DELETE', `/auth/sessions/${other.id}`, { csrf: true }), 404, 'not_found');
  });
});

describe('revocation promises', () => {
  it('session logout: the old cookie gets 401 on the very next request', async () => {
    const name = await newUser(new Client(s.url));
    const { c } = await login('session', name);
    const cookie = c.jar.get('__Host-session')!;
    const out = await c.post('/auth/logout', undefined, { csrf: true });
    assert.equal(out.status, 204);
    assert.ok(out.cookies.some((x) => x.startsWith('__Host-session=;')), 'the cookie is cleared');
    const replay = new Client(s.url);
    replay.jar.set('__Host-session', cookie);
    assertError(await me(replay), 401, 'unauthenticated');
  });

  it('jwt logout: that access token gets 401 on the very next request', async () => {
    const name = await newUser(new Client(s.url));
    const { c, token } = await login('jwt', name);
    assert.equal((await c.post('/auth/logout', undefined, { bearer: token! })).status, 204);
    const r = await me(c, token);
    assertError(r, 401, 'invalid_token');
    assert.equal(r.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  });

  it('hybrid logout: the access token and the refresh family die', async () => {
    const name = await newUser(new Client(s.url));
    const { c, token } = await login('hybrid', name);
    const refresh = c.jar.get('__Secure-refresh')!;
    const out = await c.post('/auth/logout', undefined, { bearer: token! });
    assert.equal(out.status, 204);
    assert.ok(out.cookies.some((x) => x.startsWith('__Secure-refresh=;')), 'the refresh cookie is cleared');
    assertError(await me(c, token), 401, 'invalid_token');
    assertError(await new Client(s.url).post('/auth/refresh', { refresh_token: refresh }), 401, 'invalid_token');
  });

  it('logout by the refresh cookie alone ends the family', async () => {
    const name = await newUser(new Client(s.url));
    const { c, token } = await login('hybrid', name);
    const refresh = c.jar.get('__Secure-refresh')!;
    assert.equal((await c.post('/auth/logout', undefined, { csrf: true })).status, 204);
    assertError(await me(c, token), 401, 'invalid_token');
    const thief = new Client(s.url);
    assertError(await thief.post('/auth/refresh', { refresh_token: refresh }), 401, 'invalid_token');
  });

  it('logout-all kills every session, family and token of the user, and a login right after works', async () => {
    const name = await newUser(new Client(s.url));
    const sess = await login('session', name);
    const jwt = await login('jwt', name);
    const hyb = await login('hybrid', name);
    assert.equal((await jwt.c.post('/auth/logout-all', undefined, { bearer: jwt.token! })).status, 204);
    assertError(await me(sess.c), 401, 'unauthenticated');
    assertError(await me(jwt.c, jwt.token), 401, 'invalid_token');
    assertError(await me(hyb.c, hyb.token), 401, 'invalid_token');
    assertError(await hyb.c.post('/auth/refresh', undefined, { csrf: true }), 401, 'invalid_token');
    for (const mode of ['jwt', 'hybrid', 'session'] as const) {
      const again = await login(mode, name);
      assert.equal((await me(again.c, again.token)).status, 200, `${mode} login right after logout-all works`);
    }
  });

  it('password change keeps the caller signed in and ends every other sign-in', async () => {
    const name = await newUser(new Client(s.url));
    const mine = await login('hybrid', name);
    const other = await login('jwt', name);
    const otherSession = await login('session', name);
    const r = await mine.c.post('/auth/password', { current_password: PASSWORD, new_password: 'a brand new secret' }, { bearer: mine.token! });
    assert.equal(r.status, 204);
    assert.equal((await me(mine.c, mine.token)).status, 200, 'own token survives');
    assert.equal((await mine.c.post('/auth/refresh', undefined, { csrf: true })).status, 200, 'own family survives');
    assertError(await me(other.c, other.token), 401, 'invalid_token');
    assertError(await me(otherSession.c), 401, 'unauthenticated');
    assertError(await new Client(s.url).post('/auth/login', { username: name, password: PASSWORD, mode: 'jwt' }), 401, 'invalid_credentials');
    assert.equal((await new Client(s.url).post('/auth/login', { username: name, password: 'a brand new secret', mode: 'jwt' })).status, 200);
  });

  it('password change refuses a wrong current password', async () => {
    const name = await newUser(new Client(s.url));
    const { c, token } = await login('jwt', name);
    assertError(await c.post('/auth/password', { current_password: 'not my password', new_password: 'whatever123' }, { bearer: token! }), 401, 'invalid_credentials');
  });
});

describe('admin', () => {
  let admin: { c: Client; token: string };
  before(async () => {
    const a = await login('jwt', 'root');
    admin = { c: a.c, token: a.token! };
  });

  const userId = async (name: string) => {
    const r = await admin.c.get<{ users: { id: string; username: string }[] }>(`/admin/users?q=${encodeURIComponent(name)}`, { bearer: admin.token });
    return r.body.users.find((u) => u.username === name)!.id;
  };

  it('refuses non-admins with 403 forbidden', async () => {
    const name = await newUser(new Client(s.url));
    const { c, token } = await login('jwt', name);
    assertError(await c.get('/admin/users', { bearer: token! }), 403, 'forbidden');
    assertError(await c.post('/admin/sessions/wipe', undefined, { bearer: token! }), 403, 'forbidden');
  });

  it('lists users with search, limit and cursor', async () => {
    const prefix = uniq('page');
    for (let i = 0; i < 5; i++) await newUser(new Client(s.url), `${prefix}x${i}`);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = `/admin/users?q=${prefix}&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const r: Res<{ users: { username: string }[]; next_cursor: string | null }> = await admin.c.get(q, { bearer: admin.token });
      assert.equal(r.status, 200);
      assert.ok(r.body.users.length <= 2);
      seen.push(...r.body.users.map((u) => u.username));
      cursor = r.body.next_cursor;
    } while (cursor);
    assert.deepEqual(seen, [0, 1, 2, 3, 4].map((i) => `${prefix}x${i}`.toLowerCase()));
    assertError(await admin.c.get('/admin/users?limit=101', { bearer: admin.token }), 400, 'invalid_request');
  });

  it('admin revoke forces a user out everywhere', async () => {
    const name = await newUser(new Client(s.url));
    const a = await login('jwt', name);
    const b = await login('session', name);
    assert.equal((await admin.c.post(`/admin/users/${await userId(name)}/revoke`, undefined, { bearer: admin.token })).status, 204);
    assertError(await me(a.c, a.token), 401, 'invalid_token');
    assertError(await me(b.c), 401, 'unauthenticated');
    assert.equal((await login('jwt', name)).r.status, 200);
  });

  it('disable ends every sign-in and refuses new logins; enable restores login', async () => {
    const name = await newUser(new Client(s.url));
    const a = await login('hybrid', name);
    const id = await userId(name);
    const r = await admin.c.req('PATCH', `/admin/users/${id}`, { json: { disabled: true }, bearer: admin.token });
    assert.equal(r.status, 200);
    assert.equal((r.body.user as { disabled: boolean }).disabled, true);
    assertError(await me(a.c, a.token), 401, 'invalid_token');
    assertError(await a.c.post('/auth/refresh', undefined, { csrf: true }), 401, 'invalid_token');
    assertError(await new Client(s.url).post('/auth/login', { username: name, password: PASSWORD, mode: 'jwt' }), 403, 'forbidden');
    await admin.c.req('PATCH', `/admin/users/${id}`, { json: { disabled: false }, bearer: admin.token });
    assert.equal((await login('jwt', name)).r.status, 200);
  });

  it('role change refuses tokens with the stale role and new logins carry the new one', async () => {
    const name = await newUser(new Client(s.url));
    const a = await login('jwt', name);
    const sess = await login('session', name);
    const id = await userId(name);
    assert.equal((await admin.c.req('PATCH', `/admin/users/${id}`, { json: { role: 'admin' }, bearer: admin.token })).status, 200);
    assertError(await me(a.c, a.token), 401, 'invalid_token');
    const sessMe = await me(sess.c);
    assert.equal((sessMe.body.user as { role: string }).role, 'admin', 'a session reads the new role on its next request');
    const b = await login('jwt', name);
    assert.equal((await b.c.get('/admin/users', { bearer: b.token! })).status, 200);
  });

  it('wipe ends every session, family and token of everyone', async () => {
    const local = await startServer({ FRONTDESK_ADMIN_USERNAME: 'root', FRONTDESK_ADMIN_PASSWORD: PASSWORD });
    try {
      const c = new Client(local.url);
      await c.post('/auth/register', { username: 'wipee', password: PASSWORD });
      const loginAt = async (mode: string, username: string) => {
        const cl = new Client(local.url);
        const r = await cl.post<{ access_token?: string }>('/auth/login', { username, password: PASSWORD, mode });
        return { cl, token: r.body.access_token };
      };
      const x = await loginAt('session', 'wipee');
      const y = await loginAt('hybrid', 'wipee');
      const adm = await loginAt('jwt', 'root');
      assert.equal((await adm.cl.post('/admin/sessions/wipe', undefined, { bearer: adm.token! })).status, 204);
      assertError(await x.cl.get('/auth/me'), 401, 'unauthenticated');
      assertError(await y.cl.get('/auth/me', { bearer: y.token! }), 401, 'invalid_token');
      assertError(await y.cl.post('/auth/refresh', undefined, { csrf: true }), 401, 'invalid_token');
      assertError(await adm.cl.get('/auth/me', { bearer: adm.token! }), 401, 'invalid_token');
      assert.equal((await (await loginAt('jwt', 'wipee')).cl.get('/healthz')).status, 200);
      const again = await loginAt('jwt', 'wipee');
      assert.equal((await again.cl.get('/auth/me', { bearer: again.token! })).status, 200, 'a login after the wipe works');
    } finally {
      await local.close();
    }
  });
});

describe('bad input', () => {
  it('answers each malformed request with a 4xx JSON error and keeps serving', async () => {
    const c = new Client(s.url);
    assertError(await c.req('POST', '/auth/login', { raw: '{"username": "a",' }), 400, 'invalid_request');
    assertError(await c.req('POST', '/auth/login', { raw: '' }), 400, 'invalid_request');
    assertError(await c.post('/auth/login', { username: 5, password: PASSWORD, mode: 'jwt' }), 400, 'invalid_request');
    assertError(await c.post('/auth/login', { username: 'abc', password: PASSWORD }), 400, 'invalid_request');
    assertError(await c.post('/auth/login', { username: 'abc', password: PASSWORD, mode: 'cookie' }), 400, 'invalid_request');
    assertError(await c.post('/auth/register', { username: 'abc', password: ['x'] }), 400, 'invalid_request');
    assertError(await c.post('/auth/register', { username: 'a\u0000bc', password: PASSWORD }), 400, 'invalid_request');
    assertError(await c.post('/auth/register', { username: 'zero\u200bwidth', password: PASSWORD }), 400, 'invalid_request');
    assertError(await c.post('/auth/register', { username: 'ab', password: PASSWORD }), 400, 'invalid_request');
    assertError(await c.post('/auth/register', { username: uniq('shortpw'), password: 'short' }), 400, 'invalid_request');
    assertError(await c.post('/auth/register', { username: 'x'.repeat(65), password: PASSWORD }), 400, 'invalid_request');
    assertError(await c.post('/auth/register', { username: uniq('big'), password: 'x'.repeat(20 * 1024) }), 413, 'payload_too_large');
    assertError(await c.req('POST', '/auth/register', { raw: 'username=a', headers: { 'content-type': 'text/plain' } }), 400, 'invalid_request');
    assertError(await c.get('/auth/me', { headers: { authorization: 'Basic abc' } }), 401, 'invalid_token');
    assertError(await c.get('/auth/me', { bearer: 'x'.repeat(20 * 1024) }), 400, 'invalid_request');
    assert.equal((await c.get('/healthz')).status, 200);
  });

  it('ignores unknown JSON fields', async () => {
    const c = new Client(s.url);
    const r = await c.post('/auth/register', { username: uniq('extra'), password: PASSWORD, role: 'admin', foo: 1 });
    assert.equal(r.status, 201);
    assert.equal((r.body.user as { role: string }).role, 'user', 'role is not settable at registration');
  });
});

describe('login rate limiting', () => {
  it('answers 429 with Retry-After per username, for unknown usernames alike, and per address', async () => {
    const local = await startServer({}, { config: { loginLimits: { perUsername: 3, perAddress: 8, windowSeconds: 60 } } });
    try {
      const c = new Client(local.url);
      await c.post('/auth/register', { username: 'known', password: PASSWORD });
      for (const username of ['known', 'unknown-user']) {
        for (let i = 0; i < 3; i++) assertError(await c.post('/auth/login', { username, password: 'bad password', mode: 'jwt' }), 401, 'invalid_credentials');
        const r = await c.post('/auth/login', { username, password: PASSWORD, mode: 'jwt' });
        assertError(r, 429, 'rate_limited');
        assert.ok(Number(r.headers.get('retry-after')) > 0);
      }
      for (let i = 0; i < 2; i++) await c.post('/auth/login', { username: `other${i}`, password: 'bad password', mode: 'jwt' });
      assertError(await c.post('/auth/login', { username: 'fresh-name', password: 'bad password', mode: 'jwt' }), 429, 'rate_limited');
    } finally {
      await local.close();
    }
  });
});

describe('revocation stream', () => {
  it('refuses callers without the verifier secret', async () => {
    assertError(await new Client(s.url).get('/auth/revocations'), 401, 'unauthenticated');
    assertError(await new Client(s.url).get('/auth/revocations', { bearer: 'w'.repeat(40) }), 401, 'unauthenticated');
  });

  it('replays events since a cursor and streams new ones', async () => {
    const name = await newUser(new Client(s.url));
    const { c, token } = await login('jwt', name);
    await c.post('/auth/logout', undefined, { bearer: token! });
    const jti = claimsOf(token!).jti!;
    const ctrl = new AbortController();
    const res = await fetch(`${s.url}/auth/revocations`, { headers: { authorization: `Bearer ${'v'.repeat(40)}` }, signal: ctrl.signal });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    let text = '';
    const other = await login('jwt', name);
    let sentLive = false;
    const otherJti = claimsOf(other.token!).jti!;
    while (!text.includes(`"jti":"${otherJti}"`)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString();
      if (!sentLive && text.includes(': live')) {
        sentLive = true;
        await other.c.post('/auth/logout', undefined, { bearer: other.token! });
      }
    }
    ctrl.abort();
    assert.ok(text.includes(`"jti":"${jti}"`), 'the earlier logout is replayed');
    assert.match(text, /^id: \d+$/m);
    assert.ok(sentLive, 'the live marker arrived and the later logout was streamed');
  });
});
