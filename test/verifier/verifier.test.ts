import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ManualClock } from '../../src/core/clock.js';
import { createVerifier, VerifierConfigError, VerifierError, type Verifier, type VerifierLogger, type VerifierOptions } from '../../src/verifier/index.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { b64u, jwtLogin, PASSWORD, SECRET, spawnTs, until } from './support.js';

// The verifier library against a real Frontdesk on loopback: key rotation, a flood of
// bogus kids, and a revocation stream that is cut, goes stale and catches up.

const servers: TestServer[] = [];
const verifiers: Verifier[] = [];
after(async () => {
  for (const v of verifiers) v.close();
  for (const s of servers) await s.close();
});

async function server(env: Record<string, string> = {}, dataDir?: string): Promise<TestServer> {
  const s = await startServer(
    { FRONTDESK_VERIFIER_SECRET: SECRET, FRONTDESK_ADMIN_USERNAME: 'root', FRONTDESK_ADMIN_PASSWORD: PASSWORD, ...env },
    dataDir === undefined ? {} : { dataDir },
  );
  servers.push(s);
  return s;
}

/** Log lines, kept for assertions. */
function recorder(): VerifierLogger & { lines: string[] } {
  const lines: string[] = [];
  const rec = (level: string) => (obj: object, msg: string) => lines.push(`${level} ${msg} ${JSON.stringify(obj)}`);
  return { lines, info: rec('info'), warn: rec('warn'), error: rec('error') };
}

function verifierFor(s: TestServer, extra: Partial<VerifierOptions> = {}, follow = true): Verifier {
  const v = createVerifier({
    issuer: s.config.issuer,
    audience: s.config.audience,
    jwksUrl: `${s.url}/.well-known/jwks.json`,
    ...(follow && { revocations: { url: `${s.url}/auth/revocations`, secret: SECRET } }),
    logger: recorder(),
    ...extra,
  });
  verifiers.push(v);
  return v;
}

function refusal(v: Verifier, token: string): VerifierError {
  try {
    v.verify(token);
  } catch (e) {
    assert.ok(e instanceof VerifierError, `a VerifierError, not ${String(e)}`);
    return e;
  }
  assert.fail('the token was accepted');
}

const kidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()) as { kid: string }).kid;

describe('createVerifier', () => {
  it('refuses bad options at once, naming the option', () => {
    const base = { issuer: 'http://i', audience: 'a', jwksUrl: 'http://i/.well-known/jwks.json', logger: recorder() };
    assert.throws(() => createVerifier({ ...base, jwksUrl: 'ftp://x' }), (e: unknown) => e instanceof VerifierConfigError && /jwksUrl/.test(e.message));
    assert.throws(() => createVerifier({ ...base, alg: 'HS256' as 'EdDSA' }), /HS256/);
    assert.throws(() => createVerifier({ ...base, leeway: 60 }), /leeway/);
    assert.throws(() => createVerifier({ ...base, staleAfterMs: 5 }), /staleAfterMs/);
    assert.throws(() => createVerifier({ ...base, revocations: { url: 'http://i/auth/revocations', secret: 'short' } }), /secret/);
    assert.throws(() => createVerifier({ ...base, issuer: '' }), /issuer/);
  });

  it('warns when revocations are not followed', () => {
    const log = recorder();
    const v = createVerifier({ issuer: 'http://i', audience: 'a', jwksUrl: 'http://127.0.0.1:9/jwks', logger: log });
    v.close();
    assert.match(log.lines.join('\n'), /revocations are not followed/);
  });
});

describe('keys', () => {
  it('after POST /admin/keys/rotate, new-key tokens verify without a restart and old ones until they expire', async () => {
    const s = await server();
    const clock = new ManualClock(Date.now());
    const following = verifierFor(s, { clock });
    const notFollowing = verifierFor(s, { clock }, false);
    await Promise.all([following.ready(), notFollowing.ready()]);
    const admin = (await jwtLogin(s.url, 'root')).token;
    const old = (await jwtLogin(s.url, 'rotating')).token;
    assert.equal(following.verify(old).sub, notFollowing.verify(old).sub);

    const r = await fetch(`${s.url}/admin/keys/rotate`, { method: 'POST', headers: { authorization: `Bearer ${admin}` } });
    assert.equal(r.status, 200);
    const { kid } = (await r.json()) as { kid: string };
    const fresh = (await jwtLogin(s.url, 'rotating')).token;
    assert.equal(kidOf(fresh), kid);
    assert.notEqual(kidOf(old), kid);

    // Following the stream: the `key` event refetches the JWKS before anyone asks.
    await until('the key event to bring the new key', () => following.stats.jwks.kids === 2, 3000);
    assert.equal(following.verify(fresh).sub, following.verify(old).sub);
    // Not following: verifyAsync waits for the refetch an unknown kid triggers.
    assert.equal((await notFollowing.verifyAsync(fresh)).role, 'user');
    assert.equal(notFollowing.verify(old).role, 'user');

    // The old token lives until its exp (+ leeway), and then it is token_expired, like the new one.
    const expOf = (t: string) => (JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
    clock.set((expOf(old) + s.config.leeway - 1) * 1000);
    assert.equal(following.verify(old).sub, notFollowing.verify(old).sub, 'still valid a second before exp + leeway');
    clock.set((Math.max(expOf(old), expOf(fresh)) + s.config.leeway + 1) * 1000);
    assert.equal(refusal(following, old).code, 'token_expired');
    assert.equal(refusal(notFollowing, fresh).code, 'token_expired');
  });

  it('1,000 tokens with random unknown kids cost a handful of JWKS fetches, and are all refused', async () => {
    const s = await server();
    let fetches = 0;
    const counting: typeof fetch = (input, init) => {
      if (String(input instanceof Request ? input.url : input).endsWith('/jwks.json')) fetches++;
      return fetch(input, init);
    };
    const v = verifierFor(s, { fetch: counting, jwks: { minIntervalMs: 5000 } }, false);
    await v.ready();
    const real = (await jwtLogin(s.url, 'flooded')).token;
    const [, payload, sig] = real.split('.');
    const bogus = () => `${b64u(JSON.stringify({ alg: 'EdDSA', typ: 'at+jwt', kid: randomBytes(16).toString('base64url') }))}.${payload}.${sig}`;
    const before = fetches;

    const started = performance.now();
    let refused = 0;
    for (let i = 0; i < 500; i++) if (refusal(v, bogus()).code === 'invalid_token') refused++;
    const syncMs = performance.now() - started;
    const settled = await Promise.allSettled(Array.from({ length: 500 }, () => v.verifyAsync(bogus())));
    for (const r of settled) if (r.status === 'rejected' && r.reason instanceof VerifierError && r.reason.code === 'invalid_token') refused++;

    assert.equal(refused, 1000);
    const caused = fetches - before;
    console.log(`1,000 bogus kids: ${caused} JWKS fetch(es); 500 synchronous refusals in ${syncMs.toFixed(1)} ms`);
    assert.ok(caused >= 1 && caused <= 3, `${caused} fetches`);
    assert.equal(v.verify(real).sub, (await jwtLogin(s.url, 'flooded')).sub, 'the real key is still known');
  });
});

describe('the revocation stream', () => {
  it('cut and restored: revocations made meanwhile are honoured; past staleAfterMs every token is refused until it catches up', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'frontdesk-verifier-'));
    try {
      let s = await server({}, dataDir);
      const port = new URL(s.url).port;
      const log = recorder();
      const v = verifierFor(s, { staleAfterMs: 1500, reconnect: { minMs: 50, maxMs: 250 }, logger: log });
      await v.ready();
      const doomed = await jwtLogin(s.url, 'doomed');
      const spared = await jwtLogin(s.url, 'spared');
      assert.equal(v.verify(doomed.token).sub, doomed.sub);
      assert.equal(v.verify(spared.token).sub, spared.sub);

      // Cut: the server goes away. While it is down, an operator revokes "doomed" on the store itself.
      await s.close();
      const cli = spawnTs('src/cli/main.ts', ['sessions', 'revoke', 'doomed'], { FRONTDESK_DATA_DIR: dataDir });
      assert.equal(await cli.exit(), 0, cli.output());

      // Past the staleness bound the verifier fails closed, with a log line and a stat saying so.
      // Freshness is computed on read, the log line by the watchdog's next tick: wait for both.
      await until('the feed to go stale, and say so', () => !v.stats.feed.fresh && v.stats.feed.staleEpisodes > 0, 5000);
      for (const t of [doomed.token, spared.token]) assert.match(refusal(v, t).message, /revocation feed is stale/);
      const staleLine = log.lines.find((l) => l.startsWith('warn revocation feed stale: refusing every token'));
      assert.ok(staleLine, log.lines.join('\n'));
      const silentMs = (JSON.parse(staleLine.slice(staleLine.indexOf('{'))) as { silentMs: number }).silentMs;
      assert.ok(silentMs >= 1500 && silentMs < 2500, `went stale after ${silentMs} ms of silence (bound 1500 ms)`);
      assert.equal(v.stats.feed.staleEpisodes, 1);
      assert.match(v.metrics(), /^frontdesk_verifier_feed_fresh 0$/m);
      assert.ok(v.stats.tokens.refusedStale >= 2);

      // Restored on the same data and port: the reconnect replays from the cursor.
      s = await server({ PORT: port, FRONTDESK_ISSUER: s.config.issuer }, dataDir);
      const restoredAt = performance.now();
      await until('the feed to catch up', () => v.stats.feed.fresh, 5000, 5);
      const caughtUpIn = performance.now() - restoredAt;
      console.log(`stream cut: stale after ${silentMs} ms of silence (bound 1500 ms); caught up ${caughtUpIn.toFixed(0)} ms after the restart`);
      assert.equal(v.verify(spared.token).sub, spared.sub, 'accepting again');
      assert.equal(refusal(v, doomed.token).message, 'The token has been revoked.', 'the revocation made while cut is honoured');
      assert.match(log.lines.join('\n'), /info revocation feed caught up again; accepting tokens/);
      assert.match(v.metrics(), /^frontdesk_verifier_feed_fresh 1$/m);

      // And it keeps following live.
      const r = await fetch(`${s.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${spared.token}` } });
      assert.equal(r.status, 204);
      await until('the logout to arrive', () => v.stats.denylist.jtis > 0, 1000, 2);
      assert.equal(refusal(v, spared.token).message, 'The token has been revoked.');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a quiet stream stays fresh: the verifier probes by reconnecting before the bound, and misses nothing', async () => {
    const s = await server();
    const v = verifierFor(s, { staleAfterMs: 600 });
    await v.ready();
    const { token } = await jwtLogin(s.url, 'quiet');
    const deadline = performance.now() + 2000;
    while (performance.now() < deadline) {
      assert.equal(v.stats.feed.fresh, true);
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(v.stats.feed.probes >= 2, `${v.stats.feed.probes} probes`);
    v.verify(token);
    await fetch(`${s.url}/auth/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    await until('the logout to arrive', () => v.stats.denylist.jtis === 1, 1000, 2);
    assert.equal(refusal(v, token).message, 'The token has been revoked.');
  });

  it('refuses every token until the first replay, and says why when the secret is wrong', async () => {
    const s = await server();
    const log = recorder();
    const v = createVerifier({
      issuer: s.config.issuer,
      audience: s.config.audience,
      jwksUrl: `${s.url}/.well-known/jwks.json`,
      revocations: { url: `${s.url}/auth/revocations`, secret: 'w'.repeat(40) },
      reconnect: { minMs: 20, maxMs: 50 },
      logger: log,
    });
    verifiers.push(v);
    const { token } = await jwtLogin(s.url, 'early');
    await until('a refused connection', () => v.stats.feed.lastError !== null, 3000);
    assert.match(v.stats.feed.lastError!, /401 unauthenticated/);
    assert.match(refusal(v, token).message, /has not caught up yet/);
    assert.match(log.lines.join('\n'), /revocation stream disconnected/);
  });
});
