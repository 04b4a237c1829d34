import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ARGON2_PARAMS, createArgon2Hasher, limitConcurrency } from '../../src/adapters/argon2.js';
import { AuthError, type ErrorCode } from '../../src/core/errors.js';
import { normalizePassword, normalizeUsername, usernameKey } from '../../src/core/passwords.js';

/** Predicate for assert.throws: an AuthError with exactly this code. */
const authError = (code: ErrorCode) => (e: unknown) => {
  assert.ok(e instanceof AuthError, `expected an AuthError, got ${String(e)}`);
  assert.equal(e.code, code);
  return true;
};

/** Reads m, t and p back from an encoded Argon2 hash (PHC string: $argon2id$v=19$m=…,t=…,p=…$salt$hash, in any order). */
function paramsOf(encoded: string): { variant: string; m: number; t: number; p: number } {
  const match = /^\$(argon2(?:id|i|d))\$v=\d+\$([a-z]=\d+(?:,[a-z]=\d+)*)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/.exec(encoded);
  assert.ok(match, `not an encoded Argon2 hash: ${encoded}`);
  const params = new Map((match[2] ?? '').split(',').map((kv) => [kv[0] ?? '', Number(kv.slice(2))] as const));
  return { variant: match[1] ?? '', m: params.get('m') ?? NaN, t: params.get('t') ?? NaN, p: params.get('p') ?? NaN };
}

/**
 * Weaker-than-current Argon2 parameters, for hashes that must be rehashed. The cast works around
 * createArgon2Hasher's parameter type, `Partial<typeof ARGON2_PARAMS>`, which (ARGON2_PARAMS being
 * `as const`) admits only the current values.
 */
const WEAKER = { timeCost: 1, memoryCost: 8192 } as unknown as Partial<typeof ARGON2_PARAMS>;

const smile = '\u{1F600}'; // one code point, two UTF-16 code units

describe('normalizeUsername', () => {
  test('full-width and other compatibility forms are folded by NFKC, and the key is lower-cased', () => {
    assert.deepEqual(normalizeUsername('Ａｌｉｃｅ'), { username: 'Alice', key: 'alice' });
    assert.deepEqual(normalizeUsername('ALICE'), { username: 'ALICE', key: 'alice' });
    assert.equal(normalizeUsername('ﬁona').key, 'fiona'); // the "ﬁ" ligature is two letters after NFKC
  });

  test('a name of 3 to 64 code points is accepted, and 2 or 65 is refused', () => {
    assert.equal(normalizeUsername('abc').username, 'abc');
    assert.equal(normalizeUsername('a'.repeat(64)).username, 'a'.repeat(64));
    assert.throws(() => normalizeUsername('ab'), authError('invalid_request'));
    assert.throws(() => normalizeUsername('a'.repeat(65)), authError('invalid_request'));
  });

  test('length is counted in code points, not UTF-16 code units', () => {
    // Two emoji are four code units but two characters: too short. 64 emoji are 128 units but allowed.
    assert.throws(() => normalizeUsername(smile.repeat(2)), authError('invalid_request'));
    assert.equal(normalizeUsername(smile.repeat(3)).username, smile.repeat(3));
    assert.equal(normalizeUsername(smile.repeat(64)).username, smile.repeat(64));
    assert.throws(() => normalizeUsername(smile.repeat(65)), authError('invalid_request'));
  });

  test('length is measured after NFKC, so a name that folds below 3 characters is refused', () => {
    assert.throws(() => normalizeUsername('ａｂ'), authError('invalid_request'));
  });

  test('control, zero-width and line-separator characters are refused', () => {
    for (const bad of ['ali\u0000ce', 'ali\u0007ce', 'ali\nce', 'ali\u200Bce', 'ali\u200Dce', 'ali\uFEFFce', 'ali\u2028ce', 'ali\u2029ce']) {
      assert.throws(() => normalizeUsername(bad), authError('invalid_request'), JSON.stringify(bad));
    }
  });

  test('usernameKey never throws and agrees with normalizeUsername on valid names', () => {
    assert.equal(usernameKey('Ａｌｉｃｅ'), normalizeUsername('alice').key);
    assert.equal(usernameKey('x'), 'x');
    assert.equal(usernameKey('a\u0000'), 'a\u0000');
  });
});

describe('normalizePassword', () => {
  test('a password of 8 to 256 characters is accepted, and 7 or 257 is refused', () => {
    assert.equal(normalizePassword('12345678'), '12345678');
    assert.equal(normalizePassword('p'.repeat(256)), 'p'.repeat(256));
    assert.throws(() => normalizePassword('1234567'), authError('invalid_request'));
    assert.throws(() => normalizePassword('p'.repeat(257)), authError('invalid_request'));
  });

  test('password length is counted in code points', () => {
    assert.throws(() => normalizePassword(smile.repeat(4)), authError('invalid_request'));
    assert.equal(normalizePassword(smile.repeat(8)), smile.repeat(8));
    assert.equal(normalizePassword(smile.repeat(256)), smile.repeat(256));
    assert.throws(() => normalizePassword(smile.repeat(257)), authError('invalid_request'));
  });

  test('the same password typed in full-width form normalizes to the same string', () => {
    assert.equal(normalizePassword('ｐａｓｓｗｏｒｄ'), 'password');
  });
});

describe('argon2 hasher', () => {
  const hasher = createArgon2Hasher();

  test('hashes with Argon2id at m=19456, t=2, p=1', async () => {
    const encoded = await hasher.hash('correct horse battery');
    assert.deepEqual(paramsOf(encoded), { variant: 'argon2id', m: 19_456, t: 2, p: 1 });
    assert.equal(ARGON2_PARAMS.memoryCost, 19_456);
  });

  test('verify accepts the right password and refuses a wrong one, with a fresh salt per hash', async () => {
    const a = await hasher.hash('correct horse battery');
    const b = await hasher.hash('correct horse battery');
    assert.notEqual(a, b);
    assert.equal(await hasher.verify(a, 'correct horse battery'), true);
    assert.equal(await hasher.verify(a, 'correct horse batterz'), false);
  });

  test('needsRehash is false for current parameters and true for weaker ones', async () => {
    const weak = await createArgon2Hasher(WEAKER).hash('correct horse battery');
    assert.deepEqual(paramsOf(weak), { variant: 'argon2id', m: 8192, t: 1, p: 1 });
    assert.equal(hasher.needsRehash(weak), true);
    assert.equal(hasher.needsRehash(await hasher.hash('correct horse battery')), false);
    // A weaker hash still verifies, so the login that finds it can rehash it.
    assert.equal(await hasher.verify(weak, 'correct horse battery'), true);
  });

  test('an unreadable stored hash is an error, not a wrong password', async () => {
    await assert.rejects(hasher.verify('not-a-hash', 'correct horse battery'), /unreadable/);
  });
});

void describe('argon2 concurrency', () => {
  void test('limitConcurrency runs at most n tasks at once, in order, and passes results and errors through', async () => {
    const limit = limitConcurrency(2);
    let running = 0;
    let peak = 0;
    const started: number[] = [];
    // Node 20 has no Promise.withResolvers.
    const gates = Array.from({ length: 5 }, () => {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      return { promise, resolve };
    });
    const tasks = gates.map((g, i) =>
      limit(async () => {
        started.push(i);
        running++;
        peak = Math.max(peak, running);
        await g.promise;
        running--;
        if (i === 3) throw new Error('task 3 failed');
        return i;
      }),
    );
    const settled = Promise.allSettled(tasks);
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(started, [0, 1], 'only two start');
    for (const g of gates) {
      g.resolve();
      await new Promise((r) => setImmediate(r));
    }
    const results = await settled;
    assert.equal(peak, 2);
    assert.deepEqual(started, [0, 1, 2, 3, 4]);
    assert.deepEqual(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)), [0, 1, 2, 'task 3 failed', 4]);
  });

  void test('the hasher still hashes and verifies through the limit', async () => {
    const hasher = createArgon2Hasher({ concurrency: 1 });
    const hashes = await Promise.all(['a password one', 'a password two'].map((p) => hasher.hash(p)));
    assert.equal(await hasher.verify(hashes[1]!, 'a password two'), true);
    assert.equal(await hasher.verify(hashes[0]!, 'a password two'), false);
  });
});
