import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { createArgon2Hasher, type ARGON2_PARAMS } from '../../src/adapters/argon2.js';
import { Auth, type LoginResult, type Log, type Principal } from '../../src/core/auth.js';
import { ManualClock, cryptoRandom } from '../../src/core/clock.js';
import { loadConfig, type LoginLimits } from '../../src/core/config.js';
import { AuthError, type ErrorCode } from '../../src/core/errors.js';
import type { Mode, Stores } from '../../src/core/ports.js';
import { digest } from '../../src/core/secrets.js';
import { createMemoryStores } from '../../src/stores/memory.js';

/*
 * Unit tests of the use-case service with a ManualClock, memory stores and the
 * real Argon2id hasher. Time only moves when a test says so; nothing sleeps.
 */

/**
 * Weaker-than-current Argon2 parameters, for hashes that must be rehashed. The cast works around
 * createArgon2Hasher's parameter type, `Partial<typeof ARGON2_PARAMS>`, which (ARGON2_PARAMS being
 * `as const`) admits only the current values.
 */
const WEAKER = { timeCost: 1, memoryCost: 8192 } as unknown as Partial<typeof ARGON2_PARAMS>;

const silent: Log = { info() {}, warn() {}, error() {} };
const hasher = createArgon2Hasher();
const PW = 'correct horse battery';
const NEW_PW = 'tr0ub4dor & 3 more words';
const ADDR = '192.0.2.10';
const SECOND = 1000;
const MINUTE = 60 * SECOND;
/** Defaults from API.md, in ms. */
const ACCESS_TTL = 600 * SECOND;
const LEEWAY = 30 * SECOND;
const IDLE_TTL = 1800 * SECOND;
const ABSOLUTE_TTL = 43_200 * SECOND;
const GRACE = 10 * SECOND;
/** A whole second: `iat` (whole seconds) and a revocation epoch (ms) taken now are equal. */
const NOON = Date.UTC(2026, 0, 1, 12, 0, 0);

interface Harness {
  auth: Auth;
  stores: Stores;
  clock: ManualClock;
}

async function setup(
  t: TestContext,
  o: { loginLimits?: LoginLimits; env?: Record<string, string>; users?: string[] } = {},
): Promise<Harness> {
  const clock = new ManualClock();
  const stores = createMemoryStores();
  const config = loadConfig(
    { FRONTDESK_DATA_DIR: '/unused', ...o.env },
    { loginLimits: o.loginLimits ?? { perUsername: 1000, perAddress: 1000, windowSeconds: 900 } },
  );
  const auth = await Auth.create({ config, stores, hasher, clock, random: cryptoRandom, log: silent });
  t.after(async () => {
    auth.close();
    await stores.close();
  });
  for (const u of o.users ?? ['alice']) await auth.register({ username: u, password: PW });
  return { auth, stores, clock };
}

/** Logs in with PW and narrows the result to the mode asked for. */
async function login<M extends Mode>(
  h: Harness,
  username: string,
  mode: M,
  more: { password?: string; address?: string; previousSessionId?: string } = {},
): Promise<Extract<LoginResult, { mode: M }>> {
  const r = await h.auth.login({ username, password: more.password ?? PW, mode, address: more.address ?? ADDR, userAgent: 'test', previousSessionId: more.previousSessionId });
  assert.equal(r.mode, mode);
  return r as Extract<LoginResult, { mode: M }>;
}

/** Predicate for assert.throws/rejects: an AuthError with exactly this code. */
const authError = (code: ErrorCode) => (e: unknown) => {
  assert.ok(e instanceof AuthError, `expected AuthError ${code}, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  return true;
};

const refused = (h: Harness, token: string) => assert.throws(() => h.auth.authenticateBearer(token), authError('invalid_token'));
const accepted = (h: Harness, token: string) => h.auth.authenticateBearer(token);

async function sessionPrincipal(h: Harness, sessionId: string): Promise<Principal> {
  const p = await h.auth.authenticateSession(sessionId);
  assert.ok(p, 'the session should be live');
  return p;
}

const headerOf = (token: string): Record<string, unknown> =>
  JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;

const claimsOf = (p: Principal) => {
  assert.equal(p.kind, 'token');
  return p.kind === 'token' ? p.claims : assert.fail('not a token principal');
};

describe('register', () => {
  test('returns the public user, NFKC-normalised, with role user and no password hash', async (t) => {
    const h = await setup(t, { users: [] });
    const u = await h.auth.register({ username: 'Ｂｏｂ', password: PW, name: 'Bob B.' });
    assert.deepEqual(Object.keys(u).sort(), ['disabled', 'id', 'name', 'role', 'username']);
    assert.equal(u.username, 'Bob');
    assert.equal(u.name, 'Bob B.');
    assert.equal(u.role, 'user');
    assert.equal(u.disabled, false);
    const stored = await h.stores.users.findUserById(u.id);
    assert.equal(stored?.usernameKey, 'bob');
    assert.notEqual(stored?.passwordHash, PW);
  });

  test('a username equal to an existing one after NFKC and case folding is a conflict', async (t) => {
    const h = await setup(t, { users: ['alice'] });
    await assert.rejects(h.auth.register({ username: 'Ａｌｉｃｅ', password: PW }), authError('conflict'));
    await assert.rejects(h.auth.register({ username: 'ALICE', password: PW }), authError('conflict'));
    await h.auth.register({ username: 'alicia', password: PW });
  });

  test('a password shorter than 8 characters is invalid_request and creates no user', async (t) => {
    const h = await setup(t, { users: [] });
    await assert.rejects(h.auth.register({ username: 'carol', password: 'short12' }), authError('invalid_request'));
    assert.equal(await h.stores.users.findUserByUsername('carol'), null);
    await h.auth.register({ username: 'carol', password: PW });
  });
});

describe('login', () => {
  test('session mode returns the user, a session ID, a bound CSRF token and the absolute expiry', async (t) => {
    const h = await setup(t);
    const r = await login(h, 'alice', 'session');
    assert.deepEqual(Object.keys(r).sort(), ['csrf', 'expiresAt', 'mode', 'sessionId', 'user']);
    assert.equal(r.user.username, 'alice');
    assert.ok(!('passwordHash' in r.user));
    assert.match(r.sessionId, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(r.csrf, r.sessionId);
    assert.equal(r.expiresAt, h.clock.now() + ABSOLUTE_TTL);
    const p = await sessionPrincipal(h, r.sessionId);
    assert.equal(p.kind === 'session' && p.user.id, r.user.id);
  });

  test('jwt mode returns a Bearer access token without a family and no refresh token', async (t) => {
    const h = await setup(t);
    const r = await login(h, 'alice', 'jwt');
    assert.deepEqual(Object.keys(r).sort(), ['accessToken', 'expiresIn', 'mode', 'user']);
    assert.equal(r.expiresIn, 600);
    assert.deepEqual({ alg: headerOf(r.accessToken).alg, typ: headerOf(r.accessToken).typ }, { alg: 'EdDSA', typ: 'at+jwt' });
    const p = accepted(h, r.accessToken);
    assert.equal(p.mode, 'jwt');
    const c = claimsOf(p);
    assert.equal(c.sub, r.user.id);
    assert.equal(c.role, 'user');
    assert.equal(c.sid, undefined);
    assert.equal(c.exp - c.iat, 600);
  });

  test('hybrid mode returns an access token bound to a refresh family, a refresh token and a CSRF token', async (t) => {
    const h = await setup(t);
    const r = await login(h, 'alice', 'hybrid');
    assert.deepEqual(Object.keys(r).sort(), ['accessToken', 'csrf', 'expiresIn', 'mode', 'refreshToken', 'user']);
    assert.equal(r.expiresIn, 600);
    const p = accepted(h, r.accessToken);
    assert.equal(p.mode, 'hybrid');
    const sid = claimsOf(p).sid;
    assert.ok(sid);
    const sessions = await h.auth.listSessions(p);
    assert.deepEqual(
      sessions.map((s) => [s.id, s.mode, s.current]),
      [[sid, 'hybrid', true]],
    );
    const next = await h.auth.refresh({ token: r.refreshToken });
    assert.equal(claimsOf(accepted(h, next.accessToken)).sid, sid);
  });

  test('a mode the server disabled is refused', async (t) => {
    const h = await setup(t, { env: { FRONTDESK_MODES: 'session' } });
    await assert.rejects(login(h, 'alice', 'jwt'), authError('invalid_request'));
    await login(h, 'alice', 'session');
  });

  test('an unknown username and a wrong password both give invalid_credentials', async (t) => {
    const h = await setup(t);
    await assert.rejects(login(h, 'nobody', 'jwt'), authError('invalid_credentials'));
    await assert.rejects(login(h, 'alice', 'jwt', { password: 'wrong password' }), authError('invalid_credentials'));
    await login(h, 'ALICE', 'jwt');
  });

  test('every login mints a new session ID and ends the session presented with it', async (t) => {
    const h = await setup(t);
    const first = await login(h, 'alice', 'session');
    const second = await login(h, 'alice', 'session', { previousSessionId: first.sessionId });
    assert.notEqual(second.sessionId, first.sessionId);
    assert.notEqual(second.csrf, first.csrf);
    assert.equal(await h.auth.authenticateSession(first.sessionId), null);
    await sessionPrincipal(h, second.sessionId);
  });

  test('after the per-username failure limit further logins are rate_limited, even with the right password, until the window ends', async (t) => {
    const h = await setup(t, { users: ['alice', 'bob'], loginLimits: { perUsername: 3, perAddress: 1000, windowSeconds: 60 } });
    for (let i = 0; i < 3; i++) {
      await assert.rejects(login(h, 'alice', 'jwt', { password: 'wrong password', address: `198.51.100.${i}` }), authError('invalid_credentials'));
    }
    const limited = await login(h, 'Ａｌｉｃｅ', 'jwt', { address: '198.51.100.99' }).then(
      () => assert.fail('expected rate_limited'),
      (e: unknown) => e,
    );
    assert.ok(limited instanceof AuthError && limited.code === 'rate_limited', String(limited));
    assert.ok(limited.retryAfter !== undefined && limited.retryAfter >= 1 && limited.retryAfter <= 60, `retryAfter ${limited.retryAfter}`);
    await login(h, 'bob', 'jwt', { address: '198.51.100.0' });
    h.clock.advance(60 * SECOND);
    await login(h, 'alice', 'jwt');
  });

  test('unknown usernames are rate limited after the same number of failures as existing ones', async (t) => {
    const h = await setup(t, { loginLimits: { perUsername: 3, perAddress: 1000, windowSeconds: 60 } });
    for (let i = 0; i < 3; i++) {
      await assert.rejects(login(h, 'nobody', 'jwt', { address: `198.51.100.${i}` }), authError('invalid_credentials'));
    }
    await assert.rejects(login(h, 'nobody', 'jwt'), (e: unknown) => authError('rate_limited')(e) && (e as AuthError).retryAfter !== undefined);
  });

  test('failures from one address are rate limited across usernames, and other addresses are unaffected', async (t) => {
    const h = await setup(t, { loginLimits: { perUsername: 1000, perAddress: 3, windowSeconds: 60 } });
    for (const name of ['mallory1', 'mallory2', 'alice']) {
      await assert.rejects(login(h, name, 'jwt', { password: 'wrong password', address: '203.0.113.9' }), authError('invalid_credentials'));
    }
    await assert.rejects(login(h, 'alice', 'jwt', { address: '203.0.113.9' }), (e: unknown) => authError('rate_limited')(e) && ((e as AuthError).retryAfter ?? 0) >= 1);
    await login(h, 'alice', 'jwt', { address: '203.0.113.10' });
  });

  test('a password hashed with weaker parameters is rehashed at the next successful login, and a current one is left alone', async (t) => {
    const h = await setup(t);
    const user = await h.stores.users.findUserByUsername('alice');
    assert.ok(user);
    await login(h, 'alice', 'jwt');
    assert.equal((await h.stores.users.findUserById(user.id))?.passwordHash, user.passwordHash, 'current hash untouched');

    const weak = await createArgon2Hasher(WEAKER).hash(PW);
    await h.stores.users.updateUser(user.id, { passwordHash: weak }, h.clock.now());
    assert.equal(hasher.needsRehash(weak), true);
    await login(h, 'alice', 'jwt');
    const after = (await h.stores.users.findUserById(user.id))?.passwordHash ?? '';
    assert.notEqual(after, weak);
    assert.equal(hasher.needsRehash(after), false);
    assert.equal(await hasher.verify(after, PW), true);
  });
});

describe('sessions', () => {
  test('a session ends after the idle timeout without requests', async (t) => {
    const h = await setup(t);
    const s = await login(h, 'alice', 'session');
    h.clock.advance(IDLE_TTL);
    assert.equal(await h.auth.authenticateSession(s.sessionId), null);
  });

  test('requests slide the idle deadline, so an active session outlives the idle timeout', async (t) => {
    const h = await setup(t);
    const s = await login(h, 'alice', 'session');
    h.clock.advance(IDLE_TTL - MINUTE);
    await sessionPrincipal(h, s.sessionId);
    h.clock.advance(IDLE_TTL - MINUTE);
    await sessionPrincipal(h, s.sessionId);
    h.clock.advance(IDLE_TTL);
    assert.equal(await h.auth.authenticateSession(s.sessionId), null);
  });

  test('an active session still ends at its absolute deadline', async (t) => {
    const h = await setup(t);
    const s = await login(h, 'alice', 'session');
    const deadline = h.clock.now() + ABSOLUTE_TTL;
    assert.equal(s.expiresAt, deadline);
    while (h.clock.now() + 5 * MINUTE < deadline) {
      h.clock.advance(5 * MINUTE);
      await sessionPrincipal(h, s.sessionId);
    }
    h.clock.set(deadline - 1);
    const last = await sessionPrincipal(h, s.sessionId);
    assert.ok(last.kind === 'session' && last.session.idleExpiresAt <= deadline, 'the idle deadline never passes the absolute one');
    h.clock.set(deadline);
    assert.equal(await h.auth.authenticateSession(s.sessionId), null);
  });

  test("sliding renewal writes the store's lastUsedAt at most once per throttle interval", async (t) => {
    const h = await setup(t);
    const s = await login(h, 'alice', 'session');
    const t0 = h.clock.now();
    const stored = async () => (await h.stores.sessions.findSession(digest(s.sessionId), h.clock.now()))?.lastUsedAt;
    // Interval is min(60 s, idle/10) = 60 s with the defaults.
    h.clock.advance(61 * SECOND);
    await sessionPrincipal(h, s.sessionId);
    assert.equal(await stored(), t0 + 61 * SECOND, 'the first request after the interval writes');
    h.clock.advance(10 * SECOND);
    await sessionPrincipal(h, s.sessionId);
    h.clock.advance(10 * SECOND);
    await sessionPrincipal(h, s.sessionId);
    assert.equal(await stored(), t0 + 61 * SECOND, 'requests within the interval do not write');
    h.clock.advance(40 * SECOND);
    await sessionPrincipal(h, s.sessionId);
    assert.equal(await stored(), t0 + 121 * SECOND, 'after the interval it moves again');
  });

  test("the CSRF check passes with the session's own token and refuses another session's", async (t) => {
    const h = await setup(t, { users: ['alice', 'bob'] });
    const a = await login(h, 'alice', 'session');
    const a2 = await login(h, 'alice', 'session');
    const b = await login(h, 'bob', 'session');
    const pa = await sessionPrincipal(h, a.sessionId);
    h.auth.checkSessionCsrf(pa, a.csrf, a.csrf);
    assert.throws(() => h.auth.checkSessionCsrf(pa, a2.csrf, a2.csrf), authError('csrf'));
    assert.throws(() => h.auth.checkSessionCsrf(pa, b.csrf, b.csrf), authError('csrf'));
    assert.throws(() => h.auth.checkSessionCsrf(pa, undefined, a.csrf), authError('csrf'));
    assert.throws(() => h.auth.checkSessionCsrf(pa, a.csrf, undefined), authError('csrf'));
    assert.throws(() => h.auth.checkSessionCsrf(pa, a.csrf, b.csrf), authError('csrf'));
  });

  test('logout ends only that session', async (t) => {
    const h = await setup(t);
    const a = await login(h, 'alice', 'session');
    const b = await login(h, 'alice', 'session');
    await h.auth.logout(await sessionPrincipal(h, a.sessionId));
    assert.equal(await h.auth.authenticateSession(a.sessionId), null);
    await sessionPrincipal(h, b.sessionId);
  });
});

describe('refresh', () => {
  test('each refresh returns a new refresh token and a new access token of the same family', async (t) => {
    const h = await setup(t);
    const r = await login(h, 'alice', 'hybrid');
    const sid = claimsOf(accepted(h, r.accessToken)).sid;
    const one = await h.auth.refresh({ token: r.refreshToken });
    h.clock.advance(MINUTE);
    const two = await h.auth.refresh({ token: one.refreshToken });
    assert.equal(new Set([r.refreshToken, one.refreshToken, two.refreshToken]).size, 3);
    assert.equal(new Set([r.accessToken, one.accessToken, two.accessToken]).size, 3);
    for (const a of [one.accessToken, two.accessToken]) assert.equal(claimsOf(accepted(h, a)).sid, sid);
    assert.equal(one.expiresIn, 600);
  });

  test('a refresh token presented again within the grace window returns the same successor and keeps one family', async (t) => {
    const h = await setup(t);
    const r = await login(h, 'alice', 'hybrid');
    const [x, y] = await Promise.all([h.auth.refresh({ token: r.refreshToken }), h.auth.refresh({ token: r.refreshToken })]);
    assert.equal(x.refreshToken, y.refreshToken);
    h.clock.advance(GRACE);
    const z = await h.auth.refresh({ token: r.refreshToken });
    assert.equal(z.refreshToken, x.refreshToken);
    for (const a of [r.accessToken, x.accessToken, y.accessToken, z.accessToken]) accepted(h, a);
    const next = await h.auth.refresh({ token: x.refreshToken });
    accepted(h, next.accessToken);
    assert.equal((await h.auth.listSessions(accepted(h, next.accessToken))).length, 1, 'still one family');
  });

  test('a rotated refresh token replayed after the grace window is refresh_reused and kills the access tokens of its family', async (t) => {
    const h = await setup(t);
    const r = await login(h, 'alice', 'hybrid');
    const other = await login(h, 'alice', 'hybrid');
    const next = await h.auth.refresh({ token: r.refreshToken });
    h.clock.advance(GRACE + 1);
    await assert.rejects(h.auth.refresh({ token: r.refreshToken }), authError('refresh_reused'));
    refused(h, r.accessToken);
    refused(h, next.accessToken);
    accepted(h, other.accessToken);
    await h.auth.refresh({ token: other.refreshToken });
  });

  test('after a reuse, the successor and the replayed token are both refused as refresh_reused', async (t) => {
    const h = await setup(t);
    const r = await login(h, 'alice', 'hybrid');
    const next = await h.auth.refresh({ token: r.refreshToken });
    h.clock.advance(GRACE + 1);
    await assert.rejects(h.auth.refresh({ token: r.refreshToken }), authError('refresh_reused'));
    // API.md: "its whole family is revoked, successor included" — and a replay keeps reading as reuse.
    await assert.rejects(h.auth.refresh({ token: next.refreshToken }), authError('refresh_reused'));
    await assert.rejects(h.auth.refresh({ token: r.refreshToken }), authError('refresh_reused'));
  });

  test('a hybrid logout kills its access token and its refresh family', async (t) => {
    const h = await setup(t);
    const r = await login(h, 'alice', 'hybrid');
    const next = await h.auth.refresh({ token: r.refreshToken });
    await h.auth.logout(accepted(h, next.accessToken));
    refused(h, next.accessToken);
    refused(h, r.accessToken);
    await assert.rejects(h.auth.refresh({ token: next.refreshToken }), authError('invalid_token'));
  });
});

describe('revocation', () => {
  test('a jwt logout refuses that token on the next request and spares the others', async (t) => {
    const h = await setup(t);
    const a = await login(h, 'alice', 'jwt');
    const b = await login(h, 'alice', 'jwt');
    await h.auth.logout(accepted(h, a.accessToken));
    refused(h, a.accessToken);
    accepted(h, b.accessToken);
  });

  test('a logged-out access token stays refused through the expiry leeway, even after a sweep', async (t) => {
    const h = await setup(t);
    const a = await login(h, 'alice', 'jwt');
    await h.auth.logout(accepted(h, a.accessToken));
    h.clock.advance(ACCESS_TTL + 5 * SECOND); // past exp, within the 30 s leeway the checker grants
    refused(h, a.accessToken);
    await h.auth.sweep();
    refused(h, a.accessToken);
  });

  test('logout-all kills every session, refresh family and access token issued before it', async (t) => {
    const h = await setup(t, { users: ['alice', 'bob'] });
    const s = await login(h, 'alice', 'session');
    const j = await login(h, 'alice', 'jwt');
    const y = await login(h, 'alice', 'hybrid');
    const bob = await login(h, 'bob', 'jwt');
    h.clock.advance(3 * SECOND + 250);
    await h.auth.logoutAll(accepted(h, j.accessToken));
    assert.equal(await h.auth.authenticateSession(s.sessionId), null);
    refused(h, j.accessToken);
    refused(h, y.accessToken);
    await assert.rejects(h.auth.refresh({ token: y.refreshToken }), authError('invalid_token'));
    accepted(h, bob.accessToken);
  });

  test('a login right after logout-all works in the same millisecond, in every mode', async (t) => {
    const h = await setup(t);
    // On a whole second and inside one: iat has whole seconds, the epoch milliseconds.
    for (const [i, offset] of [0, 500, 999].entries()) {
      h.clock.set(NOON + i * MINUTE + offset);
      const before = await login(h, 'alice', 'jwt');
      h.clock.advance(1);
      await h.auth.logoutAll(accepted(h, before.accessToken));
      const s = await login(h, 'alice', 'session');
      const j = await login(h, 'alice', 'jwt');
      const y = await login(h, 'alice', 'hybrid');
      await sessionPrincipal(h, s.sessionId);
      accepted(h, j.accessToken);
      accepted(h, y.accessToken);
      accepted(h, (await h.auth.refresh({ token: y.refreshToken })).accessToken);
    }
  });

  test('logout-all also kills an access token issued earlier in the same millisecond', async (t) => {
    const h = await setup(t);
    h.clock.set(NOON);
    const j = await login(h, 'alice', 'jwt');
    await h.auth.logoutAll(accepted(h, j.accessToken));
    refused(h, j.accessToken);
  });

  test('a token issued between two revocations in the same second dies at the second one', async (t) => {
    const h = await setup(t);
    h.clock.set(NOON + 100);
    const first = await login(h, 'alice', 'jwt');
    await h.auth.logoutAll(accepted(h, first.accessToken));
    h.clock.set(NOON + 200);
    const second = await login(h, 'alice', 'jwt');
    const p = accepted(h, second.accessToken);
    h.clock.set(NOON + 300);
    await h.auth.logoutAll(p);
    refused(h, second.accessToken);
  });

  test("a password change from a session keeps that session and kills the user's other sessions, families and tokens", async (t) => {
    const h = await setup(t);
    const mine = await login(h, 'alice', 'session');
    const otherSession = await login(h, 'alice', 'session');
    const j = await login(h, 'alice', 'jwt');
    const y = await login(h, 'alice', 'hybrid');
    h.clock.advance(2 * SECOND);
    await h.auth.changePassword(await sessionPrincipal(h, mine.sessionId), PW, NEW_PW, ADDR);
    await sessionPrincipal(h, mine.sessionId);
    assert.equal(await h.auth.authenticateSession(otherSession.sessionId), null);
    refused(h, j.accessToken);
    refused(h, y.accessToken);
    await assert.rejects(h.auth.refresh({ token: y.refreshToken }), authError('invalid_token'));
    await assert.rejects(login(h, 'alice', 'jwt'), authError('invalid_credentials'));
    await login(h, 'alice', 'jwt', { password: NEW_PW });
  });

  test('a password change from a hybrid sign-in keeps that family and its access token', async (t) => {
    const h = await setup(t);
    const mine = await login(h, 'alice', 'hybrid');
    const other = await login(h, 'alice', 'hybrid');
    const s = await login(h, 'alice', 'session');
    h.clock.advance(2 * SECOND);
    await h.auth.changePassword(accepted(h, mine.accessToken), PW, NEW_PW, ADDR);
    accepted(h, mine.accessToken);
    accepted(h, (await h.auth.refresh({ token: mine.refreshToken })).accessToken);
    refused(h, other.accessToken);
    await assert.rejects(h.auth.refresh({ token: other.refreshToken }), authError('invalid_token'));
    assert.equal(await h.auth.authenticateSession(s.sessionId), null);
  });

  test('a password change from a jwt sign-in keeps that token only', async (t) => {
    const h = await setup(t);
    const mine = await login(h, 'alice', 'jwt');
    const other = await login(h, 'alice', 'jwt');
    h.clock.advance(2 * SECOND);
    await h.auth.changePassword(accepted(h, mine.accessToken), PW, NEW_PW, ADDR);
    accepted(h, mine.accessToken);
    refused(h, other.accessToken);
  });

  test('a password change with a wrong current password changes nothing', async (t) => {
    const h = await setup(t);
    const mine = await login(h, 'alice', 'jwt');
    const other = await login(h, 'alice', 'jwt');
    h.clock.advance(2 * SECOND);
    await assert.rejects(h.auth.changePassword(accepted(h, mine.accessToken), 'wrong password', NEW_PW, ADDR), authError('invalid_credentials'));
    accepted(h, other.accessToken);
    await login(h, 'alice', 'jwt');
  });

  test('disabling a user kills every sign-in and later logins are forbidden', async (t) => {
    const h = await setup(t);
    const s = await login(h, 'alice', 'session');
    const j = await login(h, 'alice', 'jwt');
    const y = await login(h, 'alice', 'hybrid');
    h.clock.advance(2 * SECOND);
    const after = await h.auth.patchUser(j.user.id, { disabled: true });
    assert.equal(after.disabled, true);
    assert.equal(await h.auth.authenticateSession(s.sessionId), null);
    refused(h, j.accessToken);
    refused(h, y.accessToken);
    await assert.rejects(h.auth.refresh({ token: y.refreshToken }), authError('invalid_token'));
    await assert.rejects(login(h, 'alice', 'jwt'), authError('forbidden'));
  });

  test('a role change refuses tokens carrying the old role, and a new login carries the new role', async (t) => {
    const h = await setup(t);
    const s = await login(h, 'alice', 'session');
    const j = await login(h, 'alice', 'jwt');
    assert.throws(() => h.auth.requireAdmin(accepted(h, j.accessToken)), authError('forbidden'));
    h.clock.advance(2 * SECOND);
    await h.auth.patchUser(j.user.id, { role: 'admin' });
    refused(h, j.accessToken);
    const fresh = await login(h, 'alice', 'jwt');
    assert.equal(claimsOf(accepted(h, fresh.accessToken)).role, 'admin');
    h.auth.requireAdmin(accepted(h, fresh.accessToken));
    const sp = await sessionPrincipal(h, s.sessionId);
    assert.equal(sp.kind === 'session' && sp.user.role, 'admin', 'a session reads the new role at once');
  });

  test('wipeAll kills the sessions, families and tokens of every user, and a login after it works', async (t) => {
    const h = await setup(t, { users: ['alice', 'bob'] });
    const all = [];
    for (const u of ['alice', 'bob']) {
      all.push({ s: await login(h, u, 'session'), j: await login(h, u, 'jwt'), y: await login(h, u, 'hybrid') });
    }
    h.clock.advance(2 * SECOND);
    await h.auth.wipeAll();
    for (const { s, j, y } of all) {
      assert.equal(await h.auth.authenticateSession(s.sessionId), null);
      refused(h, j.accessToken);
      refused(h, y.accessToken);
      await assert.rejects(h.auth.refresh({ token: y.refreshToken }), authError('invalid_token'));
    }
    accepted(h, (await login(h, 'bob', 'jwt')).accessToken);
  });
});

describe('signing keys', () => {
  test('after rotateKeys old tokens still verify and new tokens carry the new kid', async (t) => {
    const h = await setup(t);
    const old = await login(h, 'alice', 'jwt');
    const oldKid = headerOf(old.accessToken).kid;
    const kid = await h.auth.rotateKeys();
    assert.notEqual(kid, oldKid);
    accepted(h, old.accessToken);
    const fresh = await login(h, 'alice', 'jwt');
    assert.equal(headerOf(fresh.accessToken).kid, kid);
    accepted(h, fresh.accessToken);
    assert.deepEqual(h.auth.jwks().keys.map((k) => k.kid).sort(), [kid, oldKid].sort());
  });

  test('a retired key leaves the JWKS once every token it signed has expired', async (t) => {
    const h = await setup(t);
    const old = await login(h, 'alice', 'jwt');
    const oldKid = headerOf(old.accessToken).kid;
    h.clock.advance(MINUTE);
    const kid = await h.auth.rotateKeys();
    h.clock.advance(ACCESS_TTL + LEEWAY - 1);
    assert.ok(h.auth.jwks().keys.some((k) => k.kid === oldKid), 'still published while a token it signed may be valid');
    h.clock.advance(1);
    assert.deepEqual(
      h.auth.jwks().keys.map((k) => k.kid),
      [kid],
    );
    accepted(h, (await login(h, 'alice', 'jwt')).accessToken);
  });
});
