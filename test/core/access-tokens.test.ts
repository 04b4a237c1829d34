import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTokenChecker, MAX_TOKEN_BYTES, type AccessClaims, type TokenChecker } from '../../src/core/access-tokens.js';
import { cryptoRandom, ManualClock } from '../../src/core/clock.js';
import type { JwtAlg } from '../../src/core/config.js';
import { AuthError, type ErrorCode } from '../../src/core/errors.js';
import { generateKey, Keyring } from '../../src/core/keyring.js';
import type { KeyRecord } from '../../src/core/ports.js';
import { b64u, signRaw } from '../helpers/jws.js';

// Unit tests of the acceptance rules (API.md, "Access tokens") with a real Keyring and a
// ManualClock. Negative cases are hand-built and signed with the ring's real key, so the
// one thing wrong with each token is the thing under test; a control token built the same
// way without the defect is accepted, which proves the rule (not the builder) refused it.

const ISSUER = 'https://frontdesk.test';
const AUDIENCE = 'frontdesk';
const LEEWAY = 30;
/** Whole seconds, so `iat`/`exp` arithmetic in seconds and the clock in ms agree exactly. */
const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const ALGS: JwtAlg[] = ['EdDSA', 'ES256', 'RS256', 'HS256'];

function expectRefused(checker: TokenChecker, token: string, code: ErrorCode = 'invalid_token'): void {
  assert.throws(
    () => checker.verify(token),
    (e: unknown) => e instanceof AuthError && e.code === code,
    `expected ${code}`,
  );
}

interface Fixture {
  clock: ManualClock;
  key: KeyRecord;
  ring: Keyring;
  checker: TokenChecker;
  /** Flip to make isRevoked answer true. */
  revoked: { value: boolean };
  claims(over?: Record<string, unknown>): Record<string, unknown>;
  header(over?: Record<string, unknown>): Record<string, unknown>;
  /** Signs JSON.stringify(header) / JSON.stringify(payload) with the real key. */
  token(payload?: Record<string, unknown>, header?: Record<string, unknown>): string;
}

function fixture(alg: JwtAlg = 'EdDSA', cacheSize?: number): Fixture {
  const clock = new ManualClock(T0);
  const key = generateKey(alg, clock.now(), cryptoRandom);
  const ring = new Keyring(alg, [key], { issuer: ISSUER, audience: AUDIENCE });
  const revoked = { value: false };
  const checker = createTokenChecker({
    alg,
    clock,
    leeway: LEEWAY,
    keyFor: (kid, now) => ring.verifierFor(kid, now),
    isRevoked: () => revoked.value,
    ...(cacheSize !== undefined && { cacheSize }),
  });
  const nowS = T0 / 1000;
  const claims = (over: Record<string, unknown> = {}) => ({
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'user-1',
    name: 'Ada',
    role: 'user',
    iat: nowS,
    exp: nowS + 600,
    jti: 'jti-1',
    ...over,
  });
  const header = (over: Record<string, unknown> = {}) => ({ alg, typ: 'at+jwt', kid: key.kid, ...over });
  const token = (payload = claims(), h = header()) => signRaw(key, JSON.stringify(h), JSON.stringify(payload));
  return { clock, key, ring, checker, revoked, claims, header, token };
}

void describe('createTokenChecker', () => {
  void describe('round trip', () => {
    for (const alg of ALGS) {
      void it(`verifies a token the keyring signed with ${alg} and returns its claims`, () => {
        const f = fixture(alg);
        const claims = f.claims({ sid: 'family-1' });
        const token = f.ring.sign(claims);
        const [h] = token.split('.');
        assert.deepEqual(JSON.parse(Buffer.from(h ?? '', 'base64url').toString()), { alg, typ: 'at+jwt', kid: f.key.kid });
        assert.deepEqual(f.checker.verify(token), claims);
      });

      void it(`accepts a ${alg} token signed by hand with node:crypto (the wire format is plain JWS)`, () => {
        const f = fixture(alg);
        assert.equal(f.checker.verify(f.token()).sub, 'user-1');
      });

      void it(`refuses a ${alg} token whose signature belongs to another key of the same algorithm`, () => {
        const f = fixture(alg);
        const other = generateKey(alg, T0, cryptoRandom);
        expectRefused(f.checker, signRaw(other, JSON.stringify(f.header()), JSON.stringify(f.claims())));
      });
    }

    void it('refuses a token whose alg is not the configured one, even when validly signed under that alg', () => {
      const f = fixture('EdDSA');
      const es = fixture('ES256');
      // A ring that holds the ES256 key under the EdDSA checker's kid cannot be reached: the alg is pinned first.
      expectRefused(f.checker, signRaw(es.key, JSON.stringify(f.header({ alg: 'ES256' })), JSON.stringify(f.claims())));
      expectRefused(f.checker, es.token());
    });
  });

  void describe('time', () => {
    void it('accepts a fresh token', () => {
      const f = fixture();
      const claims = f.checker.verify(f.token());
      assert.equal(claims.jti, 'jti-1');
      assert.equal(claims.role, 'user');
    });

    void it('accepts a token just inside exp + leeway and answers token_expired just past it', () => {
      const f = fixture('EdDSA', 0);
      const exp = T0 / 1000 + 600;
      const token = f.token(f.claims({ exp }));
      f.clock.set(exp * 1000 + LEEWAY * 1000 - 1);
      assert.equal(f.checker.verify(token).exp, exp);
      f.clock.set(exp * 1000 + LEEWAY * 1000 + 1);
      expectRefused(f.checker, token, 'token_expired');
    });

    void it('refuses a token without exp', () => {
      const f = fixture();
      const { exp: _exp, ...noExp } = f.claims();
      expectRefused(f.checker, f.token(noExp));
    });

    void it('refuses iat further in the future than the leeway, and accepts it within the leeway', () => {
      const f = fixture('EdDSA', 0);
      const nowS = T0 / 1000;
      assert.ok(f.checker.verify(f.token(f.claims({ iat: nowS + LEEWAY - 1, exp: nowS + 600 }))));
      expectRefused(f.checker, f.token(f.claims({ iat: nowS + LEEWAY + 1, exp: nowS + 600 })));
    });

    void it('refuses nbf further in the future than the leeway, and accepts it within the leeway', () => {
      const f = fixture('EdDSA', 0);
      const nowS = T0 / 1000;
      assert.ok(f.checker.verify(f.token(f.claims({ nbf: nowS + LEEWAY - 1 }))));
      expectRefused(f.checker, f.token(f.claims({ nbf: nowS + LEEWAY + 1 })));
      expectRefused(f.checker, f.token(f.claims({ nbf: String(nowS) })));
    });
  });

  void describe('cache', () => {
    void it('refuses a cached token once it has expired: the cache never outlives its token', () => {
      const f = fixture();
      const token = f.token();
      f.checker.verify(token);
      f.checker.verify(token);
      assert.deepEqual(f.checker.stats, { hits: 1, misses: 1 });
      f.clock.advance((600 + LEEWAY) * 1000 + 1);
      expectRefused(f.checker, token, 'token_expired');
      assert.equal(f.checker.stats.hits, 2, 'the refusal came from the cached entry');
      // The entry is gone: the next attempt is a miss, and still refused.
      expectRefused(f.checker, token, 'token_expired');
      assert.equal(f.checker.stats.misses, 2);
    });

    void it('checks revocation on cache hits: a token revoked after its first verification is refused', () => {
      const f = fixture();
      const token = f.token();
      f.checker.verify(token);
      f.revoked.value = true;
      expectRefused(f.checker, token);
      assert.deepEqual(f.checker.stats, { hits: 1, misses: 1 }, 'the refusal came from the cached path');
    });

    void it('serves a cached verification only to the identical token, not to one that merely ends the same', () => {
      const f = fixture();
      const token = f.token();
      f.checker.verify(token);
      // The verified signature with another payload (admin role): it shares every character of the
      // signature, so it shares the cache key, and must still be verified in full and refused.
      const [h, , sig] = token.split('.');
      const forged = `${h ?? ''}.${b64u(JSON.stringify(f.claims({ role: 'admin' })))}.${sig ?? ''}`;
      expectRefused(f.checker, forged);
      assert.deepEqual(f.checker.stats, { hits: 0, misses: 2 }, 'the forged token was not a cache hit');
      assert.equal(f.checker.verify(token).role, 'user');
      assert.equal(f.checker.stats.hits, 1, 'the genuine token is still cached');
    });

    void it('checks revocation on the first verification too', () => {
      const f = fixture();
      f.revoked.value = true;
      expectRefused(f.checker, f.token());
    });

    void it('forgets cached verifications on clear()', () => {
      const f = fixture();
      const token = f.token();
      f.checker.verify(token);
      f.checker.clear();
      f.checker.verify(token);
      assert.deepEqual(f.checker.stats, { hits: 0, misses: 2 });
    });
  });

  void describe('keys', () => {
    void it('refuses a token whose kid names no key in the ring', () => {
      const f = fixture();
      expectRefused(f.checker, f.token(f.claims(), f.header({ kid: 'no-such-key' })));
    });

    void it('refuses a token without kid', () => {
      const f = fixture();
      const { kid: _kid, ...noKid } = f.header();
      expectRefused(f.checker, f.token(f.claims(), noKid));
    });

    void it('accepts a retired key until publishUntil and refuses it after', () => {
      const f = fixture('EdDSA', 0);
      const publishUntil = T0 + 60_000;
      const next = generateKey('EdDSA', T0 + 1, cryptoRandom);
      f.ring.load([{ ...f.key, retiredAt: T0, publishUntil }, next]);
      assert.equal(f.ring.kid, next.kid);
      // exp lies beyond publishUntil, so only the key's publication can refuse it.
      const token = f.token(f.claims({ exp: T0 / 1000 + 3600 }));
      f.clock.set(publishUntil - 1);
      assert.ok(f.checker.verify(token));
      f.clock.set(publishUntil + 1);
      expectRefused(f.checker, token);
    });
  });

  void describe('shape', () => {
    void it('refuses a token larger than 8 KiB and accepts one at the limit', () => {
      const f = fixture('EdDSA', 0);
      // Grow a padding claim until the token reaches the limit (base64url cannot reach every length).
      const sized = (n: number) => f.token(f.claims({ pad: 'x'.repeat(n) }));
      // An Ed25519 signature is always 64 bytes, so the length is known without signing.
      const payloadLength = (n: number) => b64u(JSON.stringify(f.claims({ pad: 'x'.repeat(n) }))).length;
      const base = sized(0).length - payloadLength(0);
      const lengthOf = (n: number) => base + payloadLength(n);
      let n = 0;
      while (lengthOf(n + 1) <= MAX_TOKEN_BYTES) n++;
      const atLimit = sized(n);
      const over = sized(n + 1);
      assert.ok(atLimit.length <= MAX_TOKEN_BYTES && atLimit.length >= MAX_TOKEN_BYTES - 1);
      assert.ok(over.length > MAX_TOKEN_BYTES);
      assert.ok(f.checker.verify(atLimit));
      expectRefused(f.checker, over);
    });

    void it('refuses malformed compact serializations', () => {
      const f = fixture();
      const good = f.token();
      const [h, p, s] = good.split('.') as [string, string, string];
      const bad = [
        '',
        '.',
        '..',
        `${h}.${p}`,
        `${h}.${p}.`,
        `.${p}.${s}`,
        `${h}..${s}`,
        `${h}.${p}.${s}.${s}`,
        `${h}.${p}.${s}.`,
        `${h}+.${p}.${s}`,
        `${h}.${p}/.${s}`,
        `${h}.${p}.${s}=`,
        `${h}.${p}.${s} `,
        `${b64u('not json')}.${p}.${s}`,
        `${b64u('[1,2]')}.${p}.${s}`,
        `${b64u('"at+jwt"')}.${p}.${s}`,
        `${b64u('null')}.${p}.${s}`,
        `${h}.${b64u('not json')}.${s}`,
      ];
      for (const token of bad) expectRefused(f.checker, token);
      assert.ok(f.checker.verify(good));
    });

    void it('refuses a validly signed payload that is not a JSON object', () => {
      const f = fixture();
      const header = JSON.stringify(f.header());
      for (const payload of ['not json', '[1]', '"x"', '42', 'null']) expectRefused(f.checker, signRaw(f.key, header, payload));
    });

    void it('refuses a header that names a member twice (the last value alone would be acceptable)', () => {
      const f = fixture();
      const payload = JSON.stringify(f.claims());
      const kid = JSON.stringify(f.key.kid);
      assert.ok(f.checker.verify(signRaw(f.key, `{"alg":"EdDSA","typ":"at+jwt","kid":${kid}}`, payload)));
      expectRefused(f.checker, signRaw(f.key, `{"alg":"EdDSA","typ":"JWT","kid":${kid},"typ":"at+jwt"}`, payload));
      expectRefused(f.checker, signRaw(f.key, `{"alg":"HS256","typ":"at+jwt","kid":${kid},"alg":"EdDSA"}`, payload));
      expectRefused(f.checker, signRaw(f.key, `{"alg":"EdDSA","typ":"at+jwt","kid":"other","\\u006bid":${kid}}`, payload));
    });

    void it('refuses a payload that names a member twice (the last value alone would be acceptable)', () => {
      const f = fixture();
      const header = JSON.stringify(f.header());
      const json = JSON.stringify(f.claims());
      const withExtra = (extra: string) => `${json.slice(0, -1)},${extra}}`;
      assert.ok(f.checker.verify(signRaw(f.key, header, json)));
      expectRefused(f.checker, signRaw(f.key, header, withExtra('"role":"user"')));
      expectRefused(f.checker, signRaw(f.key, header, `{"role":"admin",${json.slice(1)}`));
      expectRefused(f.checker, signRaw(f.key, header, withExtra('"\\u0073ub":"user-1"')));
      expectRefused(f.checker, signRaw(f.key, header, withExtra('"ext":{"a":1,"a":2}')));
    });
  });

  void describe('claims', () => {
    for (const claim of ['iss', 'aud', 'sub', 'name', 'role', 'iat', 'exp', 'jti']) {
      void it(`refuses a token without ${claim}`, () => {
        const f = fixture();
        const { [claim]: _gone, ...rest } = f.claims();
        expectRefused(f.checker, f.token(rest));
      });
    }

    void it('refuses a role that is not "user" or "admin"', () => {
      const f = fixture();
      for (const role of [1, true, null, ['admin'], { admin: true }, 'Admin', 'root', '']) {
        expectRefused(f.checker, f.token(f.claims({ role })));
      }
      assert.equal(f.checker.verify(f.token(f.claims({ role: 'admin' }))).role, 'admin');
    });

    void it('refuses claims of the wrong type', () => {
      const f = fixture();
      const nowS = T0 / 1000;
      for (const over of [{ sub: 7 }, { jti: 7 }, { name: null }, { iat: String(nowS) }, { exp: String(nowS + 600) }, { sid: 7 }]) {
        expectRefused(f.checker, f.token(f.claims(over)));
      }
    });

    void it('refuses a foreign issuer or audience', () => {
      const f = fixture();
      expectRefused(f.checker, f.token(f.claims({ iss: 'https://evil.test' })));
      expectRefused(f.checker, f.token(f.claims({ aud: 'another-service' })));
      expectRefused(f.checker, f.token(f.claims({ aud: ['another-service'] })));
    });
  });

  void describe('header', () => {
    void it('refuses a header with crit, even naming a registered parameter', () => {
      const f = fixture();
      expectRefused(f.checker, f.token(f.claims(), f.header({ crit: ['exp'] })));
      expectRefused(f.checker, f.token(f.claims(), f.header({ crit: ['b64'], b64: true })));
      expectRefused(f.checker, f.token(f.claims(), f.header({ crit: [] })));
    });

    for (const member of ['jwk', 'jku', 'x5u', 'x5c'] as const) {
      void it(`refuses a header carrying ${member}, even when the signature is valid under the published key`, () => {
        const f = fixture();
        const value: Record<(typeof member), unknown> = {
          jwk: f.key.publicJwk,
          jku: 'http://127.0.0.1:1/jwks.json',
          x5u: 'http://127.0.0.1:1/cert.pem',
          x5c: ['MIIB'],
        };
        expectRefused(f.checker, f.token(f.claims(), f.header({ [member]: value[member] })));
      });
    }

    void it('refuses a typ other than at+jwt', () => {
      const f = fixture();
      for (const typ of ['JWT', 'jwt', 'JOSE', 'dpop+jwt', 'at+jwt ', '', 1, null]) {
        expectRefused(f.checker, f.token(f.claims(), f.header({ typ })));
      }
      const { typ: _typ, ...noTyp } = f.header();
      expectRefused(f.checker, f.token(f.claims(), noTyp));
      // RFC 9068 §2.1 also allows the full media type.
      assert.ok(f.checker.verify(f.token(f.claims(), f.header({ typ: 'application/at+jwt' }))));
    });

    void it('refuses alg none and an alg of the wrong case', () => {
      const f = fixture();
      const payload = f.claims();
      const none = `${b64u(JSON.stringify(f.header({ alg: 'none' })))}.${b64u(JSON.stringify(payload))}.`;
      expectRefused(f.checker, none);
      expectRefused(f.checker, `${none}AAAA`);
      expectRefused(f.checker, f.token(payload, f.header({ alg: 'eddsa' })));
    });
  });

  void describe('order of checks', () => {
    // A permissive key lookup (any kid, any signature) isolates the checker's own header rules
    // from fast-jwt's, which repeats some of them: the checker is also what other services'
    // verifiers run, whatever key source they plug in.
    function permissive() {
      const clock = new ManualClock(T0);
      const lookups: string[] = [];
      const checker = createTokenChecker({
        alg: 'EdDSA',
        clock,
        leeway: LEEWAY,
        cacheSize: 0,
        keyFor: (kid) => {
          lookups.push(kid);
          return (token) => JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as Record<string, unknown>;
        },
        isRevoked: () => false,
      });
      const nowS = T0 / 1000;
      const payload = { iss: ISSUER, aud: AUDIENCE, sub: 'u', name: 'n', role: 'user', iat: nowS, exp: nowS + 600, jti: 'j' };
      const token = (header: Record<string, unknown>) => `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(payload))}.c2ln`;
      return { checker, lookups, token };
    }

    void it('accepts what the permissive key lookup verifies (the control for the cases below)', () => {
      const p = permissive();
      assert.equal(p.checker.verify(p.token({ alg: 'EdDSA', typ: 'at+jwt', kid: 'k' })).sub, 'u');
      assert.deepEqual(p.lookups, ['k']);
    });

    void it('refuses a bad header before it looks up any key: alg, typ, jwk/jku/x5u/x5c, crit, missing kid', () => {
      const p = permissive();
      const ok = { alg: 'EdDSA', typ: 'at+jwt', kid: 'k' };
      const { kid: _kid, ...noKid } = ok;
      const headers: Record<string, unknown>[] = [
        { ...ok, alg: 'none' },
        { ...ok, alg: 'HS256' },
        { ...ok, alg: 'ES256' },
        { ...ok, typ: 'JWT' },
        { ...ok, jwk: { kty: 'OKP', crv: 'Ed25519', x: 'AAAA' } },
        { ...ok, jku: 'http://127.0.0.1:1/jwks' },
        { ...ok, x5u: 'http://127.0.0.1:1/cert' },
        { ...ok, x5c: ['MIIB'] },
        { ...ok, crit: ['exp'] },
        { ...ok, kid: 7 },
        noKid,
      ];
      for (const header of headers) expectRefused(p.checker, p.token(header));
      assert.deepEqual(p.lookups, [], 'a key was looked up for a header that must be refused first');
    });

    void it('reads no claim of a token whose signature fails', () => {
      const clock = new ManualClock(T0);
      let claimsRead = false;
      const checker = createTokenChecker({
        alg: 'EdDSA',
        clock,
        leeway: LEEWAY,
        keyFor: () => () => {
          throw Object.assign(new Error('bad signature'), { code: 'FAST_JWT_INVALID_SIGNATURE' });
        },
        isRevoked: () => {
          claimsRead = true;
          return false;
        },
      });
      const f = fixture();
      // Expired and in the future at once: any claim check that ran first would answer something else.
      const token = f.token(f.claims({ exp: 1, iat: T0 / 1000 + 3600 }));
      expectRefused(checker, token, 'invalid_token');
      assert.equal(claimsRead, false);
    });
  });

  void it('returns claims typed as AccessClaims, sid included for hybrid tokens', () => {
    const f = fixture();
    const claims: AccessClaims = f.checker.verify(f.token(f.claims({ sid: 'fam' })));
    assert.equal(claims.sid, 'fam');
  });
});
