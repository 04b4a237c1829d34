import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { RevocationEvent } from '../../src/core/ports.js';
import { RevocationState, type RevocableClaims } from '../../src/core/revocation.js';

/** Claims of a token issued at `iat` (seconds) to `sub`. */
const token = (sub: string, iat: number, jti = `jti-${sub}-${iat}`, sid?: string): RevocableClaims =>
  sid === undefined ? { sub, iat, jti } : { sub, iat, jti, sid };

const T = 1_767_225_600; // 2026-01-01T00:00:00Z in seconds
const TTL_MS = (600 + 30) * 1000; // access TTL + leeway

describe('RevocationState', () => {
  test('a fresh state revokes nothing and has no epochs', () => {
    const s = new RevocationState();
    assert.equal(s.isRevoked(token('u1', T)), false);
    assert.equal(s.notBeforeOf('u1'), 0);
    assert.deepEqual(s.size, { jtis: 0, users: 0 });
  });

  test('a jti event refuses exactly that token', () => {
    const s = new RevocationState();
    s.apply({ type: 'jti', jti: 'j1', exp: T + 600 });
    assert.equal(s.isRevoked(token('u1', T, 'j1')), true);
    assert.equal(s.isRevoked(token('u1', T, 'j2')), false);
    assert.equal(s.isRevoked(token('u2', T + 5, 'j2')), false);
  });

  test("a user event refuses that user's tokens issued before not_before, with millisecond precision", () => {
    const s = new RevocationState();
    s.apply({ type: 'user', sub: 'u1', not_before: T + 0.5 });
    assert.equal(s.isRevoked(token('u1', T - 100)), true);
    assert.equal(s.isRevoked(token('u1', T)), true, 'T.000 is before T.500');
    assert.equal(s.isRevoked(token('u1', T + 1)), false, 'issued after the epoch');
    assert.equal(s.isRevoked(token('u2', T - 100)), false, 'another user is untouched');
  });

  test('a user event whose except is a sid spares the tokens of that family only', () => {
    const s = new RevocationState();
    s.apply({ type: 'user', sub: 'u1', not_before: T + 10, except: 'fam-A' });
    assert.equal(s.isRevoked(token('u1', T, 'j1', 'fam-A')), false);
    assert.equal(s.isRevoked(token('u1', T, 'j2', 'fam-B')), true);
    assert.equal(s.isRevoked(token('u1', T, 'j3')), true, 'a jwt-mode token has no sid and is not spared');
  });

  test('a user event whose except is a jti spares that token only', () => {
    const s = new RevocationState();
    s.apply({ type: 'user', sub: 'u1', not_before: T + 10, except: 'j-keep' });
    assert.equal(s.isRevoked(token('u1', T, 'j-keep')), false);
    assert.equal(s.isRevoked(token('u1', T, 'j-other')), true);
    assert.equal(s.isRevoked(token('u1', T, 'j-other', 'fam-A')), true);
  });

  test("an all event refuses every user's tokens issued before it and passes later ones", () => {
    const s = new RevocationState();
    s.apply({ type: 'all', not_before: T + 10 });
    assert.equal(s.isRevoked(token('u1', T)), true);
    assert.equal(s.isRevoked(token('u2', T + 9, 'j', 'fam')), true);
    assert.equal(s.isRevoked(token('u3', T + 10)), false);
    assert.equal(s.isRevoked(token('u3', T + 60)), false);
  });

  test('a user epoch with an except does not spare tokens issued before an all event', () => {
    const s = new RevocationState();
    s.apply({ type: 'all', not_before: T + 10 });
    s.apply({ type: 'user', sub: 'u1', not_before: T + 20, except: 'fam-A' });
    assert.equal(s.isRevoked(token('u1', T + 5, 'j', 'fam-A')), true);
    assert.equal(s.isRevoked(token('u1', T + 15, 'j', 'fam-A')), false);
  });

  test('a key event changes no token decision', () => {
    const s = new RevocationState();
    s.apply({ type: 'key', kid: 'k2' });
    assert.equal(s.isRevoked(token('u1', T)), false);
    assert.deepEqual(s.size, { jtis: 0, users: 0 });
  });

  test('applying the same events twice is harmless', () => {
    const once = new RevocationState();
    const twice = new RevocationState();
    const events: RevocationEvent[] = [
      { type: 'jti', jti: 'j1', exp: T + 600 },
      { type: 'user', sub: 'u1', not_before: T + 10, except: 'fam-A' },
      { type: 'all', not_before: T + 5 },
    ];
    for (const e of events) once.apply(e);
    for (const e of events) twice.apply(e);
    for (const e of events) twice.apply(e);
    const probes = [
      token('u1', T, 'j1'),
      token('u1', T + 7, 'jx', 'fam-A'),
      token('u1', T + 7, 'jy', 'fam-B'),
      token('u1', T + 11, 'jz'),
      token('u2', T + 4),
      token('u2', T + 6),
    ];
    assert.deepEqual(
      probes.map((p) => twice.isRevoked(p)),
      probes.map((p) => once.isRevoked(p)),
    );
    assert.deepEqual(probes.map((p) => twice.isRevoked(p)), [true, false, true, false, true, false]);
    assert.deepEqual(twice.size, once.size);
    assert.equal(twice.notBeforeOf('u1'), once.notBeforeOf('u1'));
  });

  test('an older user epoch arriving after a newer one does not roll it back', () => {
    const s = new RevocationState();
    s.apply({ type: 'user', sub: 'u1', not_before: T + 20 });
    s.apply({ type: 'user', sub: 'u1', not_before: T + 10, except: 'j-old' });
    assert.equal(s.notBeforeOf('u1'), (T + 20) * 1000);
    assert.equal(s.isRevoked(token('u1', T + 15)), true, 'issued between the two epochs');
    assert.equal(s.isRevoked(token('u1', T + 5, 'j-old')), true, "the stale event's except does not apply");
  });

  test('an older all epoch arriving after a newer one does not roll it back', () => {
    const s = new RevocationState();
    s.apply({ type: 'all', not_before: T + 20 });
    s.apply({ type: 'all', not_before: T + 10 });
    assert.equal(s.isRevoked(token('u1', T + 15)), true);
    assert.equal(s.notBeforeOf('anyone'), (T + 20) * 1000);
  });

  test('notBeforeOf is the later of the user epoch and the global epoch, in milliseconds', () => {
    const s = new RevocationState();
    s.apply({ type: 'user', sub: 'u1', not_before: T + 10.25 });
    assert.equal(s.notBeforeOf('u1'), (T + 10) * 1000 + 250);
    assert.equal(s.notBeforeOf('u2'), 0);
    s.apply({ type: 'all', not_before: T + 5 });
    assert.equal(s.notBeforeOf('u1'), (T + 10) * 1000 + 250);
    assert.equal(s.notBeforeOf('u2'), (T + 5) * 1000);
    s.apply({ type: 'all', not_before: T + 30 });
    assert.equal(s.notBeforeOf('u1'), (T + 30) * 1000);
  });

  test('prune drops denied jtis whose tokens have long expired and keeps the others', () => {
    const s = new RevocationState();
    s.apply({ type: 'jti', jti: 'old', exp: T + 600 });
    s.apply({ type: 'jti', jti: 'live', exp: T + 1200 });
    s.prune((T + 500) * 1000, TTL_MS);
    assert.deepEqual(s.size, { jtis: 2, users: 0 }, 'nothing has expired yet');
    s.prune((T + 600 + 120) * 1000, TTL_MS);
    assert.deepEqual(s.size, { jtis: 1, users: 0 });
    assert.equal(s.isRevoked(token('u1', T + 600, 'live')), true);
  });

  test('prune drops user epochs once every token issued before them has expired, and keeps recent ones', () => {
    const s = new RevocationState();
    s.apply({ type: 'user', sub: 'u1', not_before: T });
    s.apply({ type: 'user', sub: 'u2', not_before: T + 600 });
    s.prune(T * 1000 + TTL_MS, TTL_MS);
    assert.deepEqual(s.size, { jtis: 0, users: 2 }, 'a token issued just before the epoch may still be valid');
    s.prune(T * 1000 + TTL_MS + 1, TTL_MS);
    assert.deepEqual(s.size, { jtis: 0, users: 1 });
    assert.equal(s.notBeforeOf('u1'), 0);
    assert.equal(s.isRevoked(token('u2', T + 599)), true);
  });

  test('applyStored moves the cursor and a local apply without one leaves it', () => {
    const s = new RevocationState();
    assert.equal(s.cursor, null);
    s.applyStored({ id: '7', event: { type: 'jti', jti: 'j1', exp: T } });
    assert.equal(s.cursor, '7');
    s.apply({ type: 'jti', jti: 'j2', exp: T });
    assert.equal(s.cursor, '7');
    assert.equal(s.isRevoked(token('u', T - 1, 'j1')), true);
  });

  test('onUserChange hears the subject of user events and null for all events', () => {
    const s = new RevocationState();
    const heard: (string | null)[] = [];
    s.onUserChange = (sub) => heard.push(sub);
    s.apply({ type: 'user', sub: 'u1', not_before: T });
    s.apply({ type: 'jti', jti: 'j', exp: T });
    s.apply({ type: 'all', not_before: T });
    s.apply({ type: 'key', kid: 'k' });
    assert.deepEqual(heard, ['u1', null]);
  });
});
