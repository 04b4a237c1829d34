import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { AuthError, StoreUnavailableError } from '../../src/core/errors.js';
import type {
  AccessGrant,
  FamilyRecord,
  KeyRecord,
  RevocationEvent,
  RevokedFamily,
  SessionRecord,
  StoredEvent,
  Stores,
  UserRecord,
} from '../../src/core/ports.js';

/*
 * The one contract every store backend runs unchanged. Time is always an
 * explicit `now` around a fixed base (stores never read the clock), so expiry
 * is tested at exact boundaries and nothing sleeps. Each test gets freshly
 * opened, empty stores from the backend's `open`.
 *
 * Deadline convention pinned here for every backend: a deadline T has passed
 * at `now` when now >= T (as JWT `exp`: valid strictly before it).
 *
 * `void describe/it`: node:test awaits its own registrations; the promises they
 * return are not ours to handle.
 */

const T0 = Date.UTC(2026, 0, 1);
const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const GRACE = 10 * SECOND;

let counter = 0;
const unique = (prefix: string): string => `${prefix}-${(++counter).toString(36)}`;

function makeUser(over: Partial<UserRecord> = {}): UserRecord {
  const username = over.username ?? unique('User');
  return {
    id: unique('u'),
    username,
    usernameKey: username.normalize('NFKC').toLowerCase(),
    name: 'Test User',
    role: 'user',
    disabled: false,
    passwordHash: '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA',
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

function makeSession(userId: string, over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    idHash: unique('sid-hash'),
    publicId: unique('sid-pub'),
    userId,
    csrfHash: unique('csrf-hash'),
    createdAt: T0,
    lastUsedAt: T0,
    idleExpiresAt: T0 + 30 * MINUTE,
    expiresAt: T0 + 12 * HOUR,
    userAgent: 'contract-test/1.0',
    ...over,
  };
}

function makeFamily(userId: string, over: Partial<FamilyRecord> = {}): FamilyRecord {
  return {
    id: unique('fam'),
    userId,
    csrfHash: unique('csrf-hash'),
    currentHash: unique('rt-hash'),
    createdAt: T0,
    lastUsedAt: T0,
    expiresAt: T0 + 14 * DAY,
    userAgent: 'contract-test/1.0',
    revokedAt: null,
    revokedReason: null,
    ...over,
  };
}

function makeKey(over: Partial<KeyRecord> = {}): KeyRecord {
  const kid = over.kid ?? unique('kid');
  return {
    kid,
    alg: 'EdDSA',
    privateKey: '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n',
    publicJwk: { kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo', kid, alg: 'EdDSA', use: 'sig' },
    createdAt: T0,
    retiredAt: null,
    publishUntil: null,
    ...over,
  };
}

/** An access-token grant expiring `ttlMs` after `at` (exp is in seconds, as in the JWT). */
const grantAt = (at: number, ttlMs = 10 * MINUTE): AccessGrant => ({ jti: unique('jti'), exp: Math.floor((at + ttlMs) / 1000) });

const jtis = (f: RevokedFamily): string[] => f.grants.map((g) => g.jti).sort();
const ids = <T extends { id: string }>(rows: readonly T[]): string[] => rows.map((r) => r.id);

/**
 * Registers the store contract for one backend. `open` must return empty,
 * ready stores and a `close` that releases them; it is called once per test.
 *
 * @example
 * storeContract('memory', () => Promise.resolve({ stores: createMemoryStores(), close: () => Promise.resolve() }));
 */
export function storeContract(name: string, open: () => Promise<{ stores: Stores; close: () => Promise<void> }>): void {
  void describe(`${name} store contract`, () => {
    let stores: Stores;
    let close: () => Promise<void>;

    beforeEach(async () => {
      const opened = await open();
      stores = opened.stores;
      // Some tests close early to check unavailability; the harness's close then runs only once.
      let closing: Promise<void> | undefined;
      close = () => (closing ??= opened.close());
    });
    afterEach(() => close());

    /** Creates and returns a stored user, for the stores that reference one. */
    const aUser = async (over: Partial<UserRecord> = {}): Promise<UserRecord> => {
      const created = await stores.users.createUser(makeUser(over));
      assert.notEqual(created, 'conflict');
      return created as UserRecord;
    };

    void describe('users', () => {
      void it('creates a user and finds it by id and by username key', async () => {
        const user = makeUser({ username: 'Alice', name: 'Alice A.' });
        assert.deepEqual(await stores.users.createUser(user), user);
        assert.deepEqual(await stores.users.findUserById(user.id), user);
        assert.deepEqual(await stores.users.findUserByUsername('alice'), user);
      });

      void it('round-trips every field, including an admin role and a disabled flag', async () => {
        const user = makeUser({ role: 'admin', disabled: true, createdAt: T0 + 1, updatedAt: T0 + 2 });
        await stores.users.createUser(user);
        assert.deepEqual(await stores.users.findUserById(user.id), user);
      });

      void it('answers conflict when the username key is taken, and keeps the first user', async () => {
        const first = await aUser({ username: 'Bob', usernameKey: 'bob' });
        const second = makeUser({ username: 'BOB', usernameKey: 'bob' });
        assert.equal(await stores.users.createUser(second), 'conflict');
        assert.deepEqual(await stores.users.findUserByUsername('bob'), first);
        assert.equal(await stores.users.findUserById(second.id), null);
      });

      void it('lets exactly one of many concurrent registrations of one username key win', async () => {
        const results = await Promise.all(
          Array.from({ length: 20 }, () => stores.users.createUser(makeUser({ username: 'Carol', usernameKey: 'carol' }))),
        );
        const winners = results.filter((r) => r !== 'conflict');
        assert.equal(winners.length, 1);
        assert.deepEqual(await stores.users.findUserByUsername('carol'), winners[0]);
      });

      void it('returns null for an unknown id or username key', async () => {
        await aUser();
        assert.equal(await stores.users.findUserById('no-such-id'), null);
        assert.equal(await stores.users.findUserByUsername('no-such-user'), null);
      });

      void it('matches the username key exactly, not case-insensitively (the caller normalises)', async () => {
        await aUser({ username: 'Dave', usernameKey: 'dave' });
        assert.equal(await stores.users.findUserByUsername('Dave'), null);
      });

      void it('applies a patch of role, disabled flag and password hash, and stamps updatedAt', async () => {
        const user = await aUser();
        const updated = await stores.users.updateUser(user.id, { role: 'admin', disabled: true, passwordHash: 'new-hash' }, T0 + HOUR);
        const expected: UserRecord = { ...user, role: 'admin', disabled: true, passwordHash: 'new-hash', updatedAt: T0 + HOUR };
        assert.deepEqual(updated, expected);
        assert.deepEqual(await stores.users.findUserById(user.id), expected);
      });

      void it('leaves the fields a patch does not name unchanged', async () => {
        const user = await aUser({ role: 'admin', passwordHash: 'kept-hash' });
        const updated = await stores.users.updateUser(user.id, { disabled: true }, T0 + MINUTE);
        assert.deepEqual(updated, { ...user, disabled: true, updatedAt: T0 + MINUTE });
        const back = await stores.users.updateUser(user.id, { disabled: false }, T0 + 2 * MINUTE);
        assert.equal(back?.disabled, false);
        assert.equal(back?.role, 'admin');
      });

      void it('answers null when updating a user that does not exist', async () => {
        assert.equal(await stores.users.updateUser('no-such-id', { role: 'admin' }, T0), null);
      });

      void it('hands out copies: mutating a returned user does not change the stored one', async () => {
        const user = await aUser();
        const found = await stores.users.findUserById(user.id);
        assert.ok(found);
        found.role = 'admin';
        assert.equal((await stores.users.findUserById(user.id))?.role, 'user');
      });

      void it('lists users ordered by username key', async () => {
        for (const n of ['mallory', 'alice', 'trent', 'bob']) await aUser({ username: n, usernameKey: n });
        const page = await stores.users.listUsers({ limit: 10 });
        assert.deepEqual(
          page.users.map((u) => u.usernameKey),
          ['alice', 'bob', 'mallory', 'trent'],
        );
        assert.equal(page.nextCursor, null);
      });

      void it('pages through users with limit and cursor until the cursor is null, each user once', async () => {
        const keys = Array.from({ length: 7 }, (_, i) => `user${String(i).padStart(2, '0')}`);
        for (const k of [...keys].reverse()) await aUser({ username: k, usernameKey: k });
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        for (;;) {
          const page = await stores.users.listUsers({ limit: 3, cursor });
          pages++;
          assert.ok(page.users.length <= 3);
          seen.push(...page.users.map((u) => u.usernameKey));
          if (page.nextCursor === null) break;
          cursor = page.nextCursor;
          assert.ok(pages < 10, 'pagination does not terminate');
        }
        assert.deepEqual(seen, keys);
        assert.equal(pages, 3);
      });

      void it('gives a null cursor when the last page is exactly full', async () => {
        for (const k of ['aa1', 'aa2', 'aa3', 'aa4']) await aUser({ username: k, usernameKey: k });
        const first = await stores.users.listUsers({ limit: 2 });
        assert.ok(first.nextCursor);
        const second = await stores.users.listUsers({ limit: 2, cursor: first.nextCursor });
        assert.deepEqual(
          second.users.map((u) => u.usernameKey),
          ['aa3', 'aa4'],
        );
        assert.equal(second.nextCursor, null);
      });

      void it('filters by a substring of the username key, across pages', async () => {
        for (const k of ['anna', 'hannah', 'joanna', 'bob', 'annabel', 'zed']) await aUser({ username: k, usernameKey: k });
        const first = await stores.users.listUsers({ q: 'ann', limit: 2 });
        assert.deepEqual(
          first.users.map((u) => u.usernameKey),
          ['anna', 'annabel'],
        );
        assert.ok(first.nextCursor);
        const second = await stores.users.listUsers({ q: 'ann', limit: 2, cursor: first.nextCursor });
        assert.deepEqual(
          second.users.map((u) => u.usernameKey),
          ['hannah', 'joanna'],
        );
        assert.equal(second.nextCursor, null);
        assert.deepEqual((await stores.users.listUsers({ q: 'nobody', limit: 5 })).users, []);
      });

      void it('treats the filter as a literal substring, not a pattern', async () => {
        for (const k of ['a_b', 'axb', 'a%b']) await aUser({ username: k, usernameKey: k });
        const under = await stores.users.listUsers({ q: '_', limit: 10 });
        assert.deepEqual(
          under.users.map((u) => u.usernameKey),
          ['a_b'],
        );
        const percent = await stores.users.listUsers({ q: '%', limit: 10 });
        assert.deepEqual(
          percent.users.map((u) => u.usernameKey),
          ['a%b'],
        );
      });

      void it('pages non-ASCII username keys in one consistent order without repeats or gaps', async () => {
        const keys = ['zoë', 'émile', 'ölaf', 'ａｌｉｃｅ'.normalize('NFKC'), 'ß-user', '日本語', 'user😀', 'bob'];
        for (const k of keys) await aUser({ username: k, usernameKey: k });
        const all = (await stores.users.listUsers({ limit: 100 })).users.map((u) => u.usernameKey);
        assert.deepEqual([...all].sort(), [...keys].sort());
        const paged: string[] = [];
        let cursor: string | undefined;
        for (let i = 0; i < 10; i++) {
          const page = await stores.users.listUsers({ limit: 3, cursor });
          paged.push(...page.users.map((u) => u.usernameKey));
          if (page.nextCursor === null) break;
          cursor = page.nextCursor;
        }
        assert.deepEqual(paged, all);
      });

      void it('rejects a cursor it did not issue as invalid_request', async () => {
        await aUser();
        await assert.rejects(
          stores.users.listUsers({ limit: 10, cursor: '***not a cursor***' }),
          (e: unknown) => e instanceof AuthError && e.code === 'invalid_request',
        );
      });
    });

    void describe('sessions', () => {
      let user: UserRecord;
      beforeEach(async () => {
        user = await aUser();
      });

      void it('creates a session and finds it while both deadlines are ahead', async () => {
        const s = makeSession(user.id);
        await stores.sessions.createSession(s);
        assert.deepEqual(await stores.sessions.findSession(s.idHash, T0), s);
        assert.deepEqual(await stores.sessions.findSession(s.idHash, s.idleExpiresAt - 1), s);
      });

      void it('returns null for an unknown session hash', async () => {
        assert.equal(await stores.sessions.findSession('no-such-hash', T0), null);
      });

      void it('stops finding a session the moment its idle deadline passes', async () => {
        const s = makeSession(user.id, { idleExpiresAt: T0 + 30 * MINUTE });
        await stores.sessions.createSession(s);
        assert.equal(await stores.sessions.findSession(s.idHash, T0 + 30 * MINUTE), null);
      });

      void it('stops finding a session at its absolute deadline even if it was just touched', async () => {
        const s = makeSession(user.id, { idleExpiresAt: T0 + 30 * MINUTE, expiresAt: T0 + HOUR });
        await stores.sessions.createSession(s);
        await stores.sessions.touchSession(s.idHash, T0 + 25 * MINUTE, T0 + 55 * MINUTE);
        await stores.sessions.touchSession(s.idHash, T0 + 50 * MINUTE, T0 + 80 * MINUTE);
        assert.ok(await stores.sessions.findSession(s.idHash, T0 + HOUR - 1));
        assert.equal(await stores.sessions.findSession(s.idHash, T0 + HOUR), null);
      });

      void it('slides the idle deadline and records the last use when touched', async () => {
        const s = makeSession(user.id, { idleExpiresAt: T0 + 30 * MINUTE });
        await stores.sessions.createSession(s);
        await stores.sessions.touchSession(s.idHash, T0 + 20 * MINUTE, T0 + 50 * MINUTE);
        const found = await stores.sessions.findSession(s.idHash, T0 + 40 * MINUTE);
        assert.deepEqual(found, { ...s, lastUsedAt: T0 + 20 * MINUTE, idleExpiresAt: T0 + 50 * MINUTE });
        assert.equal(await stores.sessions.findSession(s.idHash, T0 + 50 * MINUTE), null);
      });

      void it('treats touching a missing session as a no-op', async () => {
        await stores.sessions.touchSession('no-such-hash', T0, T0 + MINUTE);
        assert.equal(await stores.sessions.findSession('no-such-hash', T0), null);
      });

      void it('does not bring back a session whose idle deadline passed before the touch', async () => {
        const s = makeSession(user.id, { idleExpiresAt: T0 + 30 * MINUTE });
        await stores.sessions.createSession(s);
        await stores.sessions.touchSession(s.idHash, T0 + 31 * MINUTE, T0 + 61 * MINUTE);
        assert.equal(await stores.sessions.findSession(s.idHash, T0 + 32 * MINUTE), null);
      });

      void it('deletes a session by its hash once, answering true then false', async () => {
        const s = makeSession(user.id);
        await stores.sessions.createSession(s);
        assert.equal(await stores.sessions.deleteSession(s.idHash), true);
        assert.equal(await stores.sessions.findSession(s.idHash, T0), null);
        assert.equal(await stores.sessions.deleteSession(s.idHash), false);
      });

      void it('deletes a session by public id only for the user who owns it', async () => {
        const other = await aUser();
        const s = makeSession(user.id);
        await stores.sessions.createSession(s);
        assert.equal(await stores.sessions.deleteSessionByPublicId(other.id, s.publicId), false);
        assert.ok(await stores.sessions.findSession(s.idHash, T0));
        assert.equal(await stores.sessions.deleteSessionByPublicId(user.id, 'no-such-public-id'), false);
        assert.equal(await stores.sessions.deleteSessionByPublicId(user.id, s.publicId), true);
        assert.equal(await stores.sessions.findSession(s.idHash, T0), null);
      });

      void it("deletes every session of a user except the named one, and counts them, leaving other users' alone", async () => {
        const other = await aUser();
        const keep = makeSession(user.id);
        const drop = [makeSession(user.id), makeSession(user.id)];
        const foreign = makeSession(other.id);
        for (const s of [keep, ...drop, foreign]) await stores.sessions.createSession(s);
        assert.equal(await stores.sessions.deleteUserSessions(user.id, keep.publicId), 2);
        assert.ok(await stores.sessions.findSession(keep.idHash, T0));
        for (const s of drop) assert.equal(await stores.sessions.findSession(s.idHash, T0), null);
        assert.ok(await stores.sessions.findSession(foreign.idHash, T0));
      });

      void it('deletes every session of a user when no exception is named', async () => {
        const sessions = [makeSession(user.id), makeSession(user.id)];
        for (const s of sessions) await stores.sessions.createSession(s);
        assert.equal(await stores.sessions.deleteUserSessions(user.id), 2);
        assert.deepEqual(await stores.sessions.listUserSessions(user.id, T0), []);
        assert.equal(await stores.sessions.deleteUserSessions(user.id), 0);
      });

      void it("lists a user's live sessions newest first, without expired ones or other users'", async () => {
        const other = await aUser();
        const old = makeSession(user.id, { createdAt: T0 - 2 * HOUR, lastUsedAt: T0 - MINUTE });
        const mid = makeSession(user.id, { createdAt: T0 - HOUR });
        const fresh = makeSession(user.id, { createdAt: T0 });
        const idle = makeSession(user.id, { createdAt: T0 - 30 * MINUTE, idleExpiresAt: T0 });
        const ended = makeSession(user.id, { createdAt: T0 - 3 * HOUR, expiresAt: T0 });
        const foreign = makeSession(other.id);
        for (const s of [mid, old, idle, fresh, ended, foreign]) await stores.sessions.createSession(s);
        assert.deepEqual(await stores.sessions.listUserSessions(user.id, T0), [fresh, mid, old]);
        assert.deepEqual(await stores.sessions.listUserSessions('no-such-user', T0), []);
      });

      void it('deletes all sessions of everyone and counts them', async () => {
        const other = await aUser();
        for (const s of [makeSession(user.id), makeSession(user.id), makeSession(other.id)]) await stores.sessions.createSession(s);
        assert.equal(await stores.sessions.deleteAllSessions(), 3);
        assert.deepEqual(await stores.sessions.listUserSessions(user.id, T0), []);
        assert.deepEqual(await stores.sessions.listUserSessions(other.id, T0), []);
        assert.equal(await stores.sessions.deleteAllSessions(), 0);
      });

      void it('sweeps sessions past either deadline, counts them, and keeps live ones', async () => {
        const live = makeSession(user.id, { idleExpiresAt: T0 + MINUTE, expiresAt: T0 + HOUR });
        const idle = makeSession(user.id, { idleExpiresAt: T0, expiresAt: T0 + HOUR });
        const ended = makeSession(user.id, { idleExpiresAt: T0 + MINUTE, expiresAt: T0 });
        for (const s of [live, idle, ended]) await stores.sessions.createSession(s);
        assert.equal(await stores.sessions.sweepSessions(T0), 2);
        assert.deepEqual(await stores.sessions.listUserSessions(user.id, T0), [live]);
        assert.equal(await stores.sessions.deleteSession(idle.idHash), false);
        assert.equal(await stores.sessions.sweepSessions(T0), 0);
      });
    });

    void describe('refresh families', () => {
      let user: UserRecord;
      beforeEach(async () => {
        user = await aUser();
      });

      const rotate = (oldHash: string, nextHash: string, now: number, grant: AccessGrant = grantAt(now)) =>
        stores.refresh.rotateRefresh({ oldHash, nextHash, now, graceMs: GRACE, grant });

      /** Revokes the family (by a logout) and answers the jtis it would deny. */
      const deniedOnRevoke = async (f: FamilyRecord, now: number): Promise<string[]> => {
        const revoked = await stores.refresh.revokeFamily(f.userId, f.id, 'logout', now);
        assert.ok(revoked, 'the family was live');
        return jtis(revoked);
      };

      void it('creates a family that is found by its first token', async () => {
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f, grantAt(T0));
        assert.deepEqual(await stores.refresh.findFamilyByToken(f.currentHash, T0), f);
        assert.equal(await stores.refresh.findFamilyByToken('no-such-hash', T0), null);
      });

      void it('rotates the current token: the successor becomes current, last use and the grant are recorded', async () => {
        const first = grantAt(T0);
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f, first);
        const g = grantAt(T0 + MINUTE);
        const r = await rotate(f.currentHash, 'next-1', T0 + MINUTE, g);
        assert.equal(r.status, 'rotated');
        assert.ok('family' in r);
        assert.deepEqual(r.family, { ...f, currentHash: 'next-1', lastUsedAt: T0 + MINUTE });
        assert.deepEqual(await stores.refresh.findFamilyByToken('next-1', T0 + MINUTE), r.family);
        assert.deepEqual(await deniedOnRevoke(f, T0 + MINUTE), [first.jti, g.jti].sort());
      });

      void it('rotates a chain of successors, each in turn', async () => {
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f);
        let current = f.currentHash;
        for (let i = 1; i <= 4; i++) {
          const r = await rotate(current, `chain-${i}`, T0 + i * HOUR);
          assert.equal(r.status, 'rotated');
          current = `chain-${i}`;
        }
        assert.equal((await stores.refresh.findFamilyByToken(current, T0 + 5 * HOUR))?.currentHash, 'chain-4');
      });

      void it('answers grace for the old token with the same successor inside the window, recording the grant only', async () => {
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f);
        const rotated = await rotate(f.currentHash, 'next-g', T0);
        assert.equal(rotated.status, 'rotated');
        const g = grantAt(T0 + 5 * SECOND);
        const r = await rotate(f.currentHash, 'next-g', T0 + 5 * SECOND, g);
        assert.equal(r.status, 'grace');
        assert.ok('family' in r);
        assert.equal(r.family.currentHash, 'next-g');
        assert.equal(r.family.revokedAt, null);
        assert.equal((await stores.refresh.findFamilyByToken('next-g', T0 + 5 * SECOND))?.currentHash, 'next-g');
        assert.equal((await rotate('next-g', 'next-g2', T0 + 6 * SECOND)).status, 'rotated');
        assert.ok((await deniedOnRevoke(f, T0 + 7 * SECOND)).includes(g.jti));
      });

      void it('still answers grace exactly at the end of the window', async () => {
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f);
        await rotate(f.currentHash, 'next-edge', T0);
        assert.equal((await rotate(f.currentHash, 'next-edge', T0 + GRACE)).status, 'grace');
      });

      void it('answers reused for the old token after the window and revokes the whole family, successor included', async () => {
        const f = makeFamily(user.id);
        const first = grantAt(T0);
        await stores.refresh.createFamily(f, first);
        const second = grantAt(T0);
        await rotate(f.currentHash, 'next-r', T0, second);
        const replayed = grantAt(T0 + GRACE + 1);
        const r = await rotate(f.currentHash, 'next-r', T0 + GRACE + 1, replayed);
        assert.ok(r.status === 'reused');
        assert.equal(r.family.id, f.id);
        assert.equal(r.family.revokedReason, 'reused');
        assert.equal(r.family.revokedAt, T0 + GRACE + 1);
        // Every access token the family issued is there to deny; the replay's own was never issued.
        assert.deepEqual(jtis(r.family), [first.jti, second.jti].sort());
        const successor = await rotate('next-r', 'next-r2', T0 + GRACE + 2);
        assert.equal(successor.status, 'revoked');
        assert.ok('family' in successor);
        assert.equal(successor.family.revokedReason, 'reused');
        assert.equal(await stores.refresh.findFamilyByToken('next-r', T0 + GRACE + 2), null);
        assert.deepEqual(await stores.refresh.listUserFamilies(user.id, T0 + GRACE + 2), []);
      });

      void it('answers reused for an already-rotated token presented with a different successor, even inside the window', async () => {
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f);
        await rotate(f.currentHash, 'next-a', T0);
        const r = await rotate(f.currentHash, 'next-b', T0 + SECOND);
        assert.equal(r.status, 'reused');
        assert.ok('family' in r);
        assert.equal(r.family.revokedReason, 'reused');
        assert.equal((await rotate('next-b', 'next-c', T0 + 2 * SECOND)).status, 'unknown');
      });

      void it('answers reused for a token two rotations back, outside its window', async () => {
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f);
        await rotate(f.currentHash, 'gen-1', T0);
        await rotate('gen-1', 'gen-2', T0 + HOUR);
        assert.equal((await rotate(f.currentHash, 'gen-1', T0 + 2 * HOUR)).status, 'reused');
      });

      void it('keeps answering revoked (with the reason) for any token of a family revoked for reuse', async () => {
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f);
        await rotate(f.currentHash, 'next-x', T0);
        await rotate(f.currentHash, 'next-x', T0 + HOUR);
        const again = await rotate(f.currentHash, 'next-x', T0 + 2 * HOUR);
        assert.equal(again.status, 'revoked');
        assert.ok('family' in again);
        assert.equal(again.family.revokedReason, 'reused');
        assert.equal(again.family.revokedAt, T0 + HOUR);
      });

      void it('answers unknown for a token it has never seen', async () => {
        assert.deepEqual(await rotate('never-issued', 'whatever', T0), { status: 'unknown' });
      });

      void it('answers revoked for a token of an expired family, from the moment it expires', async () => {
        const f = makeFamily(user.id, { expiresAt: T0 + DAY });
        await stores.refresh.createFamily(f);
        const r = await rotate(f.currentHash, 'next-late', T0 + DAY);
        assert.equal(r.status, 'revoked');
        assert.ok('family' in r);
        assert.equal(r.family.id, f.id);
        assert.equal((await rotate('next-late', 'next-later', T0 + DAY)).status, 'unknown');
      });

      void it('answers revoked, carrying the reason, for a token of a revoked family', async () => {
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f);
        await stores.refresh.revokeFamily(user.id, f.id, 'logout', T0 + MINUTE);
        const r = await rotate(f.currentHash, 'next-after-logout', T0 + 2 * MINUTE);
        assert.equal(r.status, 'revoked');
        assert.ok('family' in r);
        assert.equal(r.family.revokedReason, 'logout');
        assert.equal(r.family.revokedAt, T0 + MINUTE);
      });

      void it('hands a revocation only the grants whose access token is still unexpired', async () => {
        const f = makeFamily(user.id);
        const short = grantAt(T0 - MINUTE, MINUTE); // exp = T0: expired at T0
        await stores.refresh.createFamily(f, short);
        const hour = grantAt(T0, HOUR);
        await rotate(f.currentHash, 'next-p', T0, hour);
        const later = grantAt(T0 + 30 * MINUTE, 10 * MINUTE);
        await rotate('next-p', 'next-p2', T0 + 30 * MINUTE, later);
        assert.deepEqual(await deniedOnRevoke(f, T0 + 30 * MINUTE), [hour.jti, later.jti].sort());
      });

      void it('keeps revocation exact for a family rotated 1,000 times within one access-token lifetime', async () => {
        const f = makeFamily(user.id);
        const first = grantAt(T0);
        await stores.refresh.createFamily(f, first);
        const issued = [first.jti];
        let current = f.currentHash;
        for (let i = 1; i <= 1000; i++) {
          const now = T0 + i * 100; // 100 s in all: every access token (10 min) is still unexpired
          const g = grantAt(now);
          const r = await rotate(current, `burst-${i}`, now, g);
          assert.equal(r.status, 'rotated');
          // A rotation answers the family alone, never the growing list of its access tokens.
          assert.ok(!('grants' in r.family), 'a rotation does not read the grants');
          issued.push(g.jti);
          current = `burst-${i}`;
        }
        const denied = await deniedOnRevoke(f, T0 + 1000 * 100);
        assert.equal(denied.length, 1001);
        assert.deepEqual(denied, issued.sort());
      });

      void it('denies every unexpired access token of a family revoked for reuse after many rotations', async () => {
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f, grantAt(T0, 100 * SECOND));
        let current = f.currentHash;
        for (let i = 1; i <= 200; i++) {
          await rotate(current, `many-${i}`, T0 + i * SECOND, grantAt(T0 + i * SECOND, 100 * SECOND));
          current = `many-${i}`;
        }
        // Every access token lives 100 s: at T0 + 250 s those issued at T0 … T0 + 150 s have expired, 50 are left.
        const r = await rotate('many-1', 'many-2', T0 + 250 * SECOND);
        assert.ok(r.status === 'reused');
        assert.equal(r.family.grants.length, 50);
        for (const g of r.family.grants) assert.ok(g.exp * 1000 > T0 + 250 * SECOND);
      });

      void it('sweeps grants whose access token has expired, leaving the live ones to deny', async () => {
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f, grantAt(T0, MINUTE));
        const live = grantAt(T0, HOUR);
        await rotate(f.currentHash, 'next-s', T0, live);
        const swept = await stores.refresh.sweepGrants(T0 + 2 * MINUTE);
        assert.ok(swept === 1 || swept === 0, 'backends that expire grants by themselves count 0');
        assert.equal(await stores.refresh.sweepGrants(T0 + 2 * MINUTE), 0);
        assert.deepEqual(await deniedOnRevoke(f, T0 + 2 * MINUTE), [live.jti]);
      });

      void it('finds the live family by its current token and by a rotated one, and not once it is revoked', async () => {
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f);
        await rotate(f.currentHash, 'next-f', T0);
        assert.equal((await stores.refresh.findFamilyByToken('next-f', T0))?.id, f.id);
        assert.equal((await stores.refresh.findFamilyByToken(f.currentHash, T0))?.id, f.id);
        await stores.refresh.revokeFamily(user.id, f.id, 'logout', T0 + 1);
        assert.equal(await stores.refresh.findFamilyByToken('next-f', T0 + 1), null);
        assert.equal(await stores.refresh.findFamilyByToken(f.currentHash, T0 + 1), null);
      });

      void it('does not find a family once it has expired', async () => {
        const f = makeFamily(user.id, { expiresAt: T0 + HOUR });
        await stores.refresh.createFamily(f);
        assert.ok(await stores.refresh.findFamilyByToken(f.currentHash, T0 + HOUR - 1));
        assert.equal(await stores.refresh.findFamilyByToken(f.currentHash, T0 + HOUR), null);
      });

      void it('revokes one live family of its owner and returns it with the reason and grants', async () => {
        const g = grantAt(T0);
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f, g);
        const revoked = await stores.refresh.revokeFamily(user.id, f.id, 'logout', T0 + MINUTE);
        assert.deepEqual(revoked, { ...f, revokedAt: T0 + MINUTE, revokedReason: 'logout', grants: [g] });
        assert.equal(await stores.refresh.findFamilyByToken(f.currentHash, T0 + MINUTE), null);
      });

      void it('refuses to revoke a family for another user, or one already revoked or expired', async () => {
        const other = await aUser();
        const f = makeFamily(user.id, { expiresAt: T0 + HOUR });
        await stores.refresh.createFamily(f);
        assert.equal(await stores.refresh.revokeFamily(other.id, f.id, 'admin', T0), null);
        assert.ok(await stores.refresh.findFamilyByToken(f.currentHash, T0));
        assert.equal(await stores.refresh.revokeFamily(user.id, 'no-such-family', 'logout', T0), null);
        assert.equal(await stores.refresh.revokeFamily(user.id, f.id, 'logout', T0 + HOUR), null);
        const g = makeFamily(user.id);
        await stores.refresh.createFamily(g);
        assert.ok(await stores.refresh.revokeFamily(user.id, g.id, 'logout', T0));
        assert.equal(await stores.refresh.revokeFamily(user.id, g.id, 'admin', T0 + 1), null);
        const r = await rotate(g.currentHash, 'n', T0 + 2);
        assert.ok(r.status === 'revoked');
        assert.equal(r.family.revokedReason, 'logout');
      });

      void it('revokes every live family of a user except the named one, returning those revoked', async () => {
        const other = await aUser();
        const keep = makeFamily(user.id);
        const a = makeFamily(user.id);
        const b = makeFamily(user.id);
        const dead = makeFamily(user.id, { expiresAt: T0 });
        const foreign = makeFamily(other.id);
        for (const f of [keep, a, b, dead, foreign]) await stores.refresh.createFamily(f);
        const revoked = await stores.refresh.revokeUserFamilies(user.id, 'password', T0, keep.id);
        assert.deepEqual(ids(revoked).sort(), [a.id, b.id].sort());
        for (const f of revoked) {
          assert.equal(f.revokedReason, 'password');
          assert.equal(f.revokedAt, T0);
        }
        assert.deepEqual(ids(await stores.refresh.listUserFamilies(user.id, T0)), [keep.id]);
        assert.deepEqual(ids(await stores.refresh.listUserFamilies(other.id, T0)), [foreign.id]);
        assert.deepEqual(await stores.refresh.revokeUserFamilies(user.id, 'password', T0, keep.id), []);
      });

      void it('revokes every live family of a user when no exception is named', async () => {
        const fams = [makeFamily(user.id), makeFamily(user.id)];
        for (const f of fams) await stores.refresh.createFamily(f);
        const revoked = await stores.refresh.revokeUserFamilies(user.id, 'logout_all', T0);
        assert.deepEqual(ids(revoked).sort(), ids(fams).sort());
        assert.deepEqual(await stores.refresh.listUserFamilies(user.id, T0), []);
      });

      void it("lists a user's live families newest first, without revoked, expired or other users' ones", async () => {
        const other = await aUser();
        const old = makeFamily(user.id, { createdAt: T0 - 2 * HOUR });
        const fresh = makeFamily(user.id, { createdAt: T0 });
        const mid = makeFamily(user.id, { createdAt: T0 - HOUR });
        const revoked = makeFamily(user.id, { createdAt: T0 - MINUTE });
        const expired = makeFamily(user.id, { createdAt: T0 - DAY, expiresAt: T0 });
        for (const f of [old, fresh, mid, revoked, expired, makeFamily(other.id)]) await stores.refresh.createFamily(f);
        await stores.refresh.revokeFamily(user.id, revoked.id, 'logout', T0 - 1);
        assert.deepEqual(await stores.refresh.listUserFamilies(user.id, T0), [fresh, mid, old]);
      });

      void it('revokes every live family of everyone and counts only those that were live', async () => {
        const other = await aUser();
        const live = [makeFamily(user.id), makeFamily(other.id)];
        const expired = makeFamily(user.id, { expiresAt: T0 });
        const already = makeFamily(user.id);
        for (const f of [...live, expired, already]) await stores.refresh.createFamily(f);
        await stores.refresh.revokeFamily(user.id, already.id, 'logout', T0 - 1);
        assert.equal(await stores.refresh.revokeAllFamilies('wipe', T0), 2);
        const r = await rotate(live[0]?.currentHash ?? '', 'after-wipe', T0 + 1);
        assert.ok(r.status === 'revoked');
        assert.equal(r.family.revokedReason, 'wipe');
        const kept = await rotate(already.currentHash, 'after-wipe-2', T0 + 1);
        assert.ok(kept.status === 'revoked');
        assert.equal(kept.family.revokedReason, 'logout');
        assert.equal(await stores.refresh.revokeAllFamilies('wipe', T0 + 2), 0);
      });

      void it('sweeps families past their deadline with their tokens, keeping revoked ones until then', async () => {
        const expired = makeFamily(user.id, { expiresAt: T0 });
        const revoked = makeFamily(user.id, { expiresAt: T0 + DAY });
        const live = makeFamily(user.id, { expiresAt: T0 + DAY });
        for (const f of [expired, revoked, live]) await stores.refresh.createFamily(f);
        await rotate(revoked.currentHash, 'revoked-next', T0 - HOUR);
        await rotate(revoked.currentHash, 'revoked-next', T0 - 1);
        assert.equal(await stores.refresh.sweepFamilies(T0), 1);
        assert.equal((await rotate(expired.currentHash, 'x', T0)).status, 'unknown');
        const replay = await rotate(revoked.currentHash, 'revoked-next', T0);
        assert.ok(replay.status === 'revoked');
        assert.equal(replay.family.revokedReason, 'reused');
        assert.equal(await stores.refresh.sweepFamilies(T0 + DAY), 2);
        assert.equal((await rotate(revoked.currentHash, 'revoked-next', T0 + DAY)).status, 'unknown');
        assert.equal((await rotate('revoked-next', 'y', T0 + DAY)).status, 'unknown');
        assert.equal(await stores.refresh.sweepFamilies(T0 + DAY), 0);
      });

      void it('lets exactly one of 50 concurrent rotations with one successor rotate, the rest get grace, and keeps one live lineage', async () => {
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f);
        const grants = Array.from({ length: 50 }, () => grantAt(T0));
        const results = await Promise.all(grants.map((g) => rotate(f.currentHash, 'one-successor', T0, g)));
        const statuses = results.map((r) => r.status);
        assert.equal(statuses.filter((s) => s === 'rotated').length, 1);
        assert.equal(statuses.filter((s) => s === 'grace').length, 49);
        const family = await stores.refresh.findFamilyByToken('one-successor', T0);
        assert.ok(family);
        assert.equal(family.currentHash, 'one-successor');
        assert.equal(family.revokedAt, null);
        assert.equal((await rotate('one-successor', 'then-next', T0 + SECOND)).status, 'rotated');
        // Every duplicate's access token was recorded, so revoking the family denies them all.
        const denied = await deniedOnRevoke(f, T0 + SECOND);
        for (const g of grants) assert.ok(denied.includes(g.jti), g.jti);
      });

      void it('lets exactly one of 50 concurrent rotations with different successors rotate, and never forks the family', async () => {
        const f = makeFamily(user.id);
        await stores.refresh.createFamily(f);
        const nexts = Array.from({ length: 50 }, (_, i) => `fork-${i}`);
        const results = await Promise.all(nexts.map((n) => rotate(f.currentHash, n, T0)));
        const winners = nexts.filter((_, i) => results[i]?.status === 'rotated');
        assert.equal(winners.length, 1);
        const statuses = results.map((r) => r.status);
        assert.ok(statuses.every((s) => s === 'rotated' || s === 'reused' || s === 'revoked'), statuses.join());
        assert.ok(statuses.includes('reused'));
        const winner = winners[0] ?? '';
        const after = await rotate(winner, 'after-fork', T0 + SECOND);
        assert.ok(after.status === 'revoked');
        assert.equal(after.family.revokedReason, 'reused');
        assert.equal(after.family.currentHash, winner);
        for (const loser of nexts.filter((n) => n !== winner)) {
          assert.equal((await rotate(loser, `${loser}-next`, T0 + SECOND)).status, 'unknown');
        }
      });
    });

    void describe('revocation events', () => {
      const jti = (n: number): RevocationEvent => ({ type: 'jti', jti: `jti-${n}`, exp: Math.floor(T0 / 1000) + 600 });
      const appendAll = async (count: number, expiresAt = T0 + HOUR): Promise<StoredEvent[]> => {
        const out: StoredEvent[] = [];
        for (let i = 0; i < count; i++) out.push(await stores.revocations.append(jti(i), expiresAt));
        return out;
      };

      void it('appends events with distinct cursors and replays all unexpired ones in order from a null cursor', async () => {
        const appended = await appendAll(5);
        assert.equal(new Set(appended.map((e) => e.id)).size, 5);
        assert.deepEqual(await stores.revocations.since(null, 100, T0), appended);
      });

      void it('replays only the events after a cursor', async () => {
        const appended = await appendAll(5);
        const cursor = appended[1]?.id ?? '';
        assert.deepEqual(await stores.revocations.since(cursor, 100, T0), appended.slice(2));
        assert.deepEqual(await stores.revocations.since(appended[4]?.id ?? '', 100, T0), []);
      });

      void it('honours the limit, and continuing from the last cursor picks up the rest', async () => {
        const appended = await appendAll(5);
        const first = await stores.revocations.since(null, 2, T0);
        assert.deepEqual(first, appended.slice(0, 2));
        const rest = await stores.revocations.since(first.at(-1)?.id ?? null, 10, T0);
        assert.deepEqual(rest, appended.slice(2));
      });

      void it('round-trips every event type exactly, with and without optional fields', async () => {
        const events: RevocationEvent[] = [
          { type: 'jti', jti: 'j-1', exp: 1767226200 },
          { type: 'user', sub: 'u-1', not_before: 1767225600.123 },
          { type: 'user', sub: 'u-2', not_before: 1767225600.5, except: 'fam-1' },
          { type: 'all', not_before: 1767225601.001 },
          { type: 'key', kid: 'kid-1' },
        ];
        const appended: StoredEvent[] = [];
        for (const e of events) appended.push(await stores.revocations.append(e, T0 + HOUR));
        assert.deepEqual(
          appended.map((s) => s.event),
          events,
        );
        assert.deepEqual(
          (await stores.revocations.since(null, 10, T0)).map((s) => s.event),
          events,
        );
      });

      void it('does not replay expired events, from the moment they expire, and sweeps them with a count', async () => {
        const short = await stores.revocations.append(jti(1), T0 + MINUTE);
        const long = await stores.revocations.append(jti(2), T0 + HOUR);
        assert.deepEqual(await stores.revocations.since(null, 10, T0 + MINUTE - 1), [short, long]);
        assert.deepEqual(await stores.revocations.since(null, 10, T0 + MINUTE), [long]);
        assert.equal(await stores.revocations.sweepEvents(T0 + MINUTE), 1);
        assert.deepEqual(await stores.revocations.since(null, 10, T0), [long]);
        assert.equal(await stores.revocations.sweepEvents(T0 + MINUTE), 0);
      });

      void it('never reuses a cursor, even after the newest event is swept', async () => {
        const gone = await stores.revocations.append(jti(1), T0);
        assert.equal(await stores.revocations.sweepEvents(T0), 1);
        const next = await stores.revocations.append(jti(2), T0 + HOUR);
        assert.notEqual(next.id, gone.id);
        assert.deepEqual(await stores.revocations.since(gone.id, 10, T0), [next]);
      });

      void it('rejects a malformed cursor as invalid_request', async () => {
        await appendAll(1);
        await assert.rejects(
          stores.revocations.since('not-a-cursor', 10, T0),
          (e: unknown) => e instanceof AuthError && e.code === 'invalid_request',
        );
      });

      void it('delivers appended events to subscribers, and not after they unsubscribe', { timeout: 10_000 }, async () => {
        const kept: StoredEvent[] = [];
        const dropped: StoredEvent[] = [];
        let wake: (() => void) | undefined;
        const offKept = stores.revocations.subscribe((e) => {
          kept.push(e);
          wake?.();
        });
        const offDropped = stores.revocations.subscribe((e) => dropped.push(e));
        // Waits for delivery without sleeping: shared backends deliver asynchronously.
        const deliveredCount = (n: number): Promise<void> =>
          new Promise((resolve) => {
            const check = (): void => {
              if (kept.length >= n) resolve();
            };
            wake = check;
            check();
          });

        const first = await stores.revocations.append(jti(1), T0 + HOUR);
        await deliveredCount(1);
        assert.deepEqual(kept, [first]);
        assert.deepEqual(dropped, [first]);

        offDropped();
        const second = await stores.revocations.append(jti(2), T0 + HOUR);
        await deliveredCount(2);
        assert.deepEqual(kept, [first, second]);
        assert.deepEqual(dropped, [first]);
        offKept();
      });
    });

    void describe('signing keys and secrets', () => {
      void it('inserts keys and lists them oldest first with every field intact', async () => {
        const newer = makeKey({ createdAt: T0 + DAY });
        const older = makeKey({ createdAt: T0 });
        const hmac = makeKey({ alg: 'HS256', privateKey: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA', publicJwk: null, createdAt: T0 + 2 * DAY });
        for (const k of [newer, hmac, older]) await stores.keys.insertKey(k);
        assert.deepEqual(await stores.keys.listKeys(), [older, newer, hmac]);
      });

      void it('refuses a second key with the same kid', async () => {
        const k = makeKey();
        await stores.keys.insertKey(k);
        await assert.rejects(stores.keys.insertKey({ ...k, createdAt: T0 + 1 }));
        assert.deepEqual(await stores.keys.listKeys(), [k]);
      });

      void it('retires a key by recording when it stopped signing and until when it stays published', async () => {
        const k = makeKey();
        const other = makeKey({ createdAt: T0 + 1 });
        await stores.keys.insertKey(k);
        await stores.keys.insertKey(other);
        await stores.keys.retireKey(k.kid, T0 + HOUR, T0 + DAY);
        assert.deepEqual(await stores.keys.listKeys(), [{ ...k, retiredAt: T0 + HOUR, publishUntil: T0 + DAY }, other]);
      });

      void it('sweeps keys whose publication has ended, never the current one, and counts them', async () => {
        const gone = makeKey({ retiredAt: T0 - DAY, publishUntil: T0 });
        const published = makeKey({ retiredAt: T0 - HOUR, publishUntil: T0 + 1, createdAt: T0 + 1 });
        const current = makeKey({ createdAt: T0 + 2 });
        for (const k of [gone, published, current]) await stores.keys.insertKey(k);
        assert.equal(await stores.keys.sweepKeys(T0), 1);
        assert.deepEqual(await stores.keys.listKeys(), [published, current]);
        assert.equal(await stores.keys.sweepKeys(T0 + 10 * 365 * DAY), 1);
        assert.deepEqual(await stores.keys.listKeys(), [current]);
      });

      void it('stores a server secret on first request and returns that first value to every later caller', async () => {
        assert.equal(await stores.keys.getOrCreateSecret('csrf', 'first'), 'first');
        assert.equal(await stores.keys.getOrCreateSecret('csrf', 'second'), 'first');
        assert.equal(await stores.keys.getOrCreateSecret('other', 'third'), 'third');
      });

      void it('agrees on one secret when many callers race to create it', async () => {
        const values = await Promise.all(Array.from({ length: 20 }, (_, i) => stores.keys.getOrCreateSecret('raced', `candidate-${i}`)));
        assert.equal(new Set(values).size, 1);
        assert.equal(await stores.keys.getOrCreateSecret('raced', 'late'), values[0]);
      });
    });

    void describe('rate limits', () => {
      void it('counts hits within a fixed window that resets windowMs after the first hit', async () => {
        assert.deepEqual(await stores.rateLimits.hit('login:alice', MINUTE, T0), { count: 1, resetAt: T0 + MINUTE });
        assert.deepEqual(await stores.rateLimits.hit('login:alice', MINUTE, T0 + 10 * SECOND), { count: 2, resetAt: T0 + MINUTE });
        assert.deepEqual(await stores.rateLimits.hit('login:alice', MINUTE, T0 + MINUTE - 1), { count: 3, resetAt: T0 + MINUTE });
      });

      void it('starts a new window once the old one has ended', async () => {
        await stores.rateLimits.hit('ip:1', MINUTE, T0);
        await stores.rateLimits.hit('ip:1', MINUTE, T0 + 1);
        assert.deepEqual(await stores.rateLimits.hit('ip:1', MINUTE, T0 + MINUTE), { count: 1, resetAt: T0 + 2 * MINUTE });
      });

      void it('counts keys independently', async () => {
        await stores.rateLimits.hit('a', MINUTE, T0);
        await stores.rateLimits.hit('a', MINUTE, T0);
        assert.deepEqual(await stores.rateLimits.hit('b', MINUTE, T0), { count: 1, resetAt: T0 + MINUTE });
      });

      void it('peeks at the count without adding a hit, and sees zero when no window is open', async () => {
        assert.deepEqual(await stores.rateLimits.peek('p', T0), { count: 0, resetAt: T0 });
        await stores.rateLimits.hit('p', MINUTE, T0);
        await stores.rateLimits.hit('p', MINUTE, T0);
        assert.deepEqual(await stores.rateLimits.peek('p', T0 + 1), { count: 2, resetAt: T0 + MINUTE });
        assert.deepEqual(await stores.rateLimits.peek('p', T0 + 2), { count: 2, resetAt: T0 + MINUTE });
        assert.deepEqual(await stores.rateLimits.peek('p', T0 + MINUTE), { count: 0, resetAt: T0 + MINUTE });
      });

      void it('clears a key on reset, so the next hit opens a new window', async () => {
        await stores.rateLimits.hit('r', MINUTE, T0);
        await stores.rateLimits.hit('r', MINUTE, T0);
        await stores.rateLimits.reset('r');
        assert.equal((await stores.rateLimits.peek('r', T0 + 1)).count, 0);
        assert.deepEqual(await stores.rateLimits.hit('r', MINUTE, T0 + 1), { count: 1, resetAt: T0 + 1 + MINUTE });
        await stores.rateLimits.reset('never-hit');
      });

      void it('counts every one of many concurrent hits', async () => {
        const results = await Promise.all(Array.from({ length: 30 }, () => stores.rateLimits.hit('burst', MINUTE, T0)));
        assert.deepEqual(
          results.map((r) => r.count).sort((a, b) => a - b),
          Array.from({ length: 30 }, (_, i) => i + 1),
        );
        assert.equal((await stores.rateLimits.peek('burst', T0)).count, 30);
      });
    });

    void describe('the store set', () => {
      void it('answers ok for every backend on ping', async () => {
        const health = await stores.ping();
        assert.ok(Object.keys(health).length > 0);
        for (const [backend, state] of Object.entries(health)) assert.equal(state, 'ok', backend);
      });

      void it('sweeps everything expired in one call and reports the count of each kind', async () => {
        const user = await aUser();
        await stores.sessions.createSession(makeSession(user.id, { idleExpiresAt: T0 }));
        await stores.sessions.createSession(makeSession(user.id));
        await stores.refresh.createFamily(makeFamily(user.id, { expiresAt: T0 }));
        await stores.refresh.createFamily(makeFamily(user.id));
        await stores.revocations.append({ type: 'all', not_before: T0 / 1000 }, T0);
        await stores.revocations.append({ type: 'all', not_before: T0 / 1000 }, T0 + 1);
        await stores.keys.insertKey(makeKey({ retiredAt: T0 - DAY, publishUntil: T0 }));
        await stores.keys.insertKey(makeKey());
        const counts = await stores.sweepExpired(T0);
        assert.equal(counts['sessions'], 1);
        assert.equal(counts['families'], 1);
        assert.equal(counts['events'], 1);
        assert.equal(counts['keys'], 1);
        for (const n of Object.values(counts)) assert.ok(Number.isInteger(n) && n >= 0);
        const again = await stores.sweepExpired(T0);
        for (const n of Object.values(again)) assert.equal(n, 0);
      });

      void it('rejects work after close as unavailable, and ping says it is not ok', async () => {
        const user = await aUser();
        await close();
        await assert.rejects(stores.users.findUserById(user.id), StoreUnavailableError);
        // Sync backends throw, async ones reject: both are an unavailable store.
        await assert.rejects(async () => stores.sessions.findSession('x', T0), StoreUnavailableError);
        await assert.rejects(stores.refresh.rotateRefresh({ oldHash: 'x', nextHash: 'y', now: T0, graceMs: GRACE, grant: grantAt(T0) }), StoreUnavailableError);
        for (const state of Object.values(await stores.ping())) assert.notEqual(state, 'ok');
      });
    });
  });
}
