/**
 * The web app in a real browser (Debian's Chromium through playwright-core),
 * against a real Frontdesk on a random port. Uses `localhost`, not 127.0.0.1:
 * Chromium treats http://localhost as a secure context, so the `Secure` and
 * `__Host-` cookies work there as they do in production over HTTPS.
 */
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, type JsonWebKey } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../harness/chromium.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { axeViolations, ensureWebBuilt, readStorage, screenshot, signIn, signUp, watchConsole, type Mode } from './support.js';

const ADMIN = { username: 'admin', password: 'admin-password-1' };

let server: TestServer;
let browser: Browser;
const contexts: BrowserContext[] = [];

async function newPage(options: { colorScheme?: 'light' | 'dark' } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 }, locale: 'en-US', colorScheme: options.colorScheme ?? 'light' });
  contexts.push(context);
  const page = await context.newPage();
  return { context, page };
}

/** A JWT-mode token straight from the API, for the debugger. */
async function apiToken(): Promise<string> {
  const res = await fetch(`${server.url}/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...ADMIN, mode: 'jwt' }),
  });
  assert.equal(res.status, 200);
  return ((await res.json()) as { access_token: string }).access_token;
}

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('web app', { timeout: 120_000 }, () => {
  before(async () => {
    await ensureWebBuilt();
    [server, browser] = await Promise.all([
      startServer({ FRONTDESK_ADMIN_USERNAME: ADMIN.username, FRONTDESK_ADMIN_PASSWORD: ADMIN.password }),
      launchChromium(),
    ]);
  });

  after(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await browser?.close();
    await server?.close();
  });

  test('a visitor signs up, then signs in with each mode and sees /auth/me; no token lands in storage; a reload keeps session and hybrid but not JWT', async () => {
    const user = { username: 'grace', password: 'correct-horse-battery', name: 'Grace Hopper' };
    {
      const { page } = await newPage();
      const logs = watchConsole(page);
      await page.goto(server.url);
      await signUp(page, user.username, user.password, user.name, 'Session');
      await page.getByRole('button', { name: 'Sign out', exact: true }).click();
      await page.getByText('You signed out.').waitFor();
      assert.deepEqual(logs.errors(), []);
    }

    for (const mode of ['Session', 'JWT', 'Hybrid'] as Mode[]) {
      const { context, page } = await newPage();
      const logs = watchConsole(page);
      await page.goto(server.url);
      const login = page.waitForResponse((r) => r.url().endsWith('/auth/login'));
      await signIn(page, user.username, user.password, mode);
      const loginBody = (await (await login).json()) as { access_token?: string };

      assert.equal(await page.getByTestId('username').textContent(), user.username);
      assert.equal(await page.getByTestId('mode').textContent(), mode);
      await page.getByRole('button', { name: 'Call /auth/me' }).click();
      await page.getByTestId('me-output').filter({ hasText: `"username": "${user.username}"` }).waitFor();
      assert.match((await page.getByTestId('me-output').textContent()) ?? '', new RegExp(`"mode": "${mode.toLowerCase()}"`));

      // The token lives in a variable only; the HttpOnly cookies stay invisible to scripts.
      const stored = await readStorage(page);
      const httpOnly = (await context.cookies()).filter((c) => c.httpOnly);
      assert.equal(stored.indexedDb.length, 0, 'no IndexedDB database');
      assert.equal(stored.session.length, 0, 'sessionStorage is empty');
      assert.deepEqual(stored.local, [['frontdesk.mode', mode.toLowerCase()]], 'localStorage holds only the mode hint');
      assert.doesNotMatch(stored.cookie, /__Host-session|__Secure-refresh/);
      for (const value of [loginBody.access_token, ...httpOnly.map((c) => c.value)].filter((v): v is string => typeof v === 'string')) {
        assert.ok(!JSON.stringify(stored).includes(value), 'no credential value is readable from storage or document.cookie');
      }
      if (mode === 'Session') {
        assert.deepEqual(httpOnly.map((c) => c.name), ['__Host-session']);
        await page.getByText('this page cannot read it').first().waitFor();
      } else {
        assert.match((await page.getByTestId('token-size').textContent()) ?? '', /^\d+ bytes$/);
        assert.match((await page.getByTestId('countdown').textContent()) ?? '', /^expires in \d+:\d\d$/);
        assert.match((await page.getByTestId('token-header').textContent()) ?? '', /"typ": "at\+jwt"/);
        assert.deepEqual(httpOnly.map((c) => c.name), mode === 'Hybrid' ? ['__Secure-refresh'] : []);
      }

      await page.reload();
      if (mode === 'JWT') {
        await page.getByRole('heading', { name: 'Sign in to Frontdesk' }).waitFor();
        await page.getByText('only in the memory of the page, so reloading the page').waitFor();
      } else {
        await page.getByRole('heading', { level: 1, name: `Signed in as ${user.username}` }).waitFor();
        assert.equal(await page.getByTestId('mode').textContent(), mode);
      }
      assert.deepEqual(logs.errors(), []);
    }
  });

  test('with the keyboard alone, Tab reaches Username, then Password, and Enter signs in', async () => {
    const { page } = await newPage();
    await page.goto(server.url);
    await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string>('document.activeElement.id'), 'username');
    await page.keyboard.type(ADMIN.username);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate<string>('document.activeElement.id'), 'password');
    await page.keyboard.type(ADMIN.password);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: `Signed in as ${ADMIN.username}` }).waitFor();
    assert.equal(await page.getByTestId('mode').textContent(), 'Hybrid', 'Hybrid is the default mode');
  });

  test('on a 401 the client refreshes once, shared by concurrent calls, and retries each call once', async () => {
    const { page } = await newPage();
    // The refused first attempts are staged by the test below.
    const logs = watchConsole(page, ['401 /auth/me', '401 /auth/sessions']);
    await page.goto(server.url);
    const login = page.waitForResponse((r) => r.url().endsWith('/auth/login'));
    await signIn(page, ADMIN.username, ADMIN.password, 'Hybrid');
    const { access_token: first } = (await (await login).json()) as { access_token: string };
    await page.locator('.sessions li').first().waitFor();

    // From now on the first access token is treated as expired: calls that carry it
    // are held until both are in flight, then refused as the server would.
    let held = 0;
    let release = () => {};
    const bothInFlight = new Promise<void>((resolve) => (release = resolve));
    for (const path of ['/auth/me', '/auth/sessions']) {
      await page.route(`**${path}`, async (route) => {
        if (route.request().headers().authorization !== `Bearer ${first}`) return route.continue();
        if (++held === 2) release();
        await bothInFlight;
        return route.fulfill({
          status: 401,
          headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
          json: { error: { code: 'token_expired', message: 'The access token has expired.' } },
        });
      });
    }
    const refreshes: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/auth/refresh') refreshes.push(r.url());
    });
    const retried = Promise.all(
      ['/auth/me', '/auth/sessions'].map((path) => page.waitForResponse((r) => new URL(r.url()).pathname === path && r.status() === 200)),
    );
    // Two calls at once: "Call /auth/me" and "Refresh list".
    await page.getByRole('button', { name: 'Call /auth/me' }).click();
    await page.getByRole('button', { name: 'Refresh list' }).click();
    await retried;
    await page.getByText(/^GET \/auth\/me answered/).waitFor();
    const activity = page.getByRole('log', { name: 'Client activity' });
    assert.equal(held, 2, 'both calls went out with the expired token');
    assert.equal(refreshes.length, 1, `one refresh for both calls; activity:\n${(await activity.textContent()) ?? ''}`);
    assert.equal(await activity.getByText('token_expired → refreshing once, then retrying').count(), 2);
    assert.deepEqual(logs.errors(), []);
  });

  test('signing out in one tab signs the other tab out', async () => {
    const { context, page: a } = await newPage();
    const logsA = watchConsole(a);
    await a.goto(server.url);
    await signIn(a, ADMIN.username, ADMIN.password, 'Hybrid');
    const b = await context.newPage();
    const logsB = watchConsole(b);
    await b.goto(server.url); // signed in through the silent refresh
    await b.getByRole('heading', { level: 1, name: `Signed in as ${ADMIN.username}` }).waitFor();

    await a.getByRole('button', { name: 'Sign out', exact: true }).click();
    await a.getByText('You signed out.').waitFor();
    await b.getByText('You signed out in another tab').waitFor();
    await b.getByLabel('Username', { exact: true }).waitFor();
    assert.deepEqual([...logsA.errors(), ...logsB.errors()], []);
  });

  test('revoking a device in the list signs that browser out, and it says why', async () => {
    const { page: mine } = await newPage();
    const { page: other } = await newPage();
    // The revoked browser's next call is refused: that 401 is the point of the test.
    const logsOther = watchConsole(other, ['401 /auth/me']);
    await other.goto(server.url);
    await signIn(other, ADMIN.username, ADMIN.password, 'Session');
    await mine.goto(server.url);
    await signIn(mine, ADMIN.username, ADMIN.password, 'Hybrid');

    const current = mine.locator('.sessions li[aria-current="true"]');
    await current.getByText('This device').waitFor();
    assert.equal(await current.getByRole('button', { name: 'Revoke' }).count(), 0, 'the current device has no Revoke button');
    // Revoke the session-mode sign-in of the other browser.
    const row = mine.locator('.sessions li:not([aria-current])').filter({ has: mine.locator('.mode-session') });
    await row.getByRole('button', { name: 'Revoke' }).click();
    await mine.getByText(/Revoked .*: it is signed out/).waitFor();

    await other.getByRole('button', { name: 'Call /auth/me' }).click();
    await other.getByRole('heading', { name: 'Sign in to Frontdesk' }).waitFor();
    await other.getByRole('alert').filter({ hasText: 'You were signed out because your sign-in' }).waitFor();
    assert.deepEqual(logsOther.errors(), []);
  });

  test('an admin finds a user, disables them and rotates the keys; the disabled user is signed out and told why they cannot sign in', async () => {
    const linus = { username: 'linus', password: 'penguins-all-the-way' };
    const created = await fetch(`${server.url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...linus, name: 'Linus' }),
    });
    assert.equal(created.status, 201);
    const { page: user } = await newPage();
    const logsUser = watchConsole(user, ['401 /auth/me', '403 /auth/login']);
    await user.goto(server.url);
    await signIn(user, linus.username, linus.password, 'Session');

    const { page: admin } = await newPage();
    const logsAdmin = watchConsole(admin);
    await admin.goto(server.url);
    await signIn(admin, ADMIN.username, ADMIN.password, 'Hybrid');
    const section = admin.getByRole('region', { name: 'Admin' });
    await section.getByLabel('Search users').fill('lin');
    await section.getByRole('button', { name: 'Search' }).click();
    // The first, unfiltered list also holds linus: wait for the search's own answer.
    await section.getByText('1 user matching “lin”.').waitFor();
    const row = section.getByRole('row', { name: /linus/ });
    assert.equal(await section.getByRole('row').count(), 2, 'the header row and linus only');
    await row.getByRole('button', { name: 'Disable linus' }).click();
    await section.getByText('linus is disabled and signed out everywhere.').waitFor();
    await section.getByRole('row', { name: /linus/ }).getByText('Disabled').waitFor();
    await section.getByRole('button', { name: 'Rotate signing keys' }).click();
    await section.getByText(/^New signing key: kid \S+/).waitFor();

    await user.getByRole('button', { name: 'Call /auth/me' }).click();
    await user.getByRole('heading', { name: 'Sign in to Frontdesk' }).waitFor();
    await user.getByRole('alert').filter({ hasText: 'You were signed out because your sign-in' }).waitFor();
    await user.getByLabel('Password', { exact: true }).fill(linus.password);
    await user.getByLabel('Username', { exact: true }).fill(linus.username);
    await user.getByRole('button', { name: 'Sign in', exact: true }).click();
    await user.getByRole('alert').filter({ hasText: 'This account cannot sign in: This account is disabled.' }).waitFor();
    assert.deepEqual([...logsUser.errors(), ...logsAdmin.errors()], []);
  });

  test('the debugger decodes a token, verifies it against the JWKS or a pasted key, and flags alg none', async () => {
    const token = await apiToken();
    const { page } = await newPage();
    const logs = watchConsole(page);
    await page.goto(`${server.url}/debugger`);
    const input = page.getByLabel('Token', { exact: true });
    const verdict = page.getByTestId('verdict');

    await input.fill(token);
    await page.getByTestId('decoded-payload').filter({ hasText: `"name": ` }).waitFor();
    assert.match((await page.getByTestId('decoded-header').textContent()) ?? '', /"alg": "EdDSA"/);
    await verdict.filter({ hasText: /^Verified/ }).waitFor();
    assert.match((await verdict.textContent()) ?? '', /kid ".+" .*this server’s JWKS/);
    await page.getByRole('cell', { name: /in 10 min/ }).first().waitFor(); // exp explained as a relative time

    // A changed payload no longer matches the signature.
    const [h, , s] = token.split('.') as [string, string, string];
    await input.fill(`${h}.${b64url({ sub: 'someone-else', exp: Math.floor(Date.now() / 1000) + 60 })}.${s}`);
    await verdict.filter({ hasText: /^Invalid: the signature does not match/ }).waitFor();

    // The same key, pasted as a JWK, verifies the original.
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    const { kid } = JSON.parse(Buffer.from(h, 'base64url').toString()) as { kid: string };
    await input.fill(token);
    await page.getByRole('radio', { name: 'A key I paste' }).check();
    await page.getByLabel('Key', { exact: true }).fill(JSON.stringify(jwks.keys.find((k) => k.kid === kid)));
    await verdict.filter({ hasText: /^Verified: the signature matches .* that you pasted/ }).waitFor();

    // And as a PEM public key (SPKI).
    const pem = createPublicKey({ key: jwks.keys.find((k) => k.kid === kid) as JsonWebKey, format: 'jwk' }).export({ type: 'spki', format: 'pem' }).toString();
    await page.getByLabel('Key', { exact: true }).fill(pem);
    await verdict.filter({ hasText: /^Verified: the signature matches the PEM public key that you pasted/ }).waitFor();

    // HS256 with a pasted secret goes through WebCrypto's HMAC.
    const secret = 'a-shared-secret-for-the-test';
    const hsInput = `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url({ sub: 'svc', iat: 1_700_000_000, exp: 1_700_000_000 + 86_400, password: 'hunter2' })}`;
    const hs = `${hsInput}.${createHmac('sha256', secret).update(hsInput).digest('base64url')}`;
    await page.getByLabel('Key', { exact: true }).fill(secret);
    await input.fill(hs);
    await verdict.filter({ hasText: /^Verified: the signature matches the secret that you pasted/ }).waitFor();
    const warnings = page.getByRole('list', { name: 'Warnings' });
    await warnings.getByText('Its lifetime is 24 h').waitFor();
    await warnings.getByText('The claim "password" looks secret').waitFor();

    // alg none: flagged, and never "Verified".
    await input.fill(`${b64url({ alg: 'none', typ: 'JWT', jku: 'https://evil.example/jwks' })}.${b64url({ sub: 'admin', role: 'admin' })}.`);
    await warnings.getByText('alg is "none"').waitFor();
    await warnings.getByText('No exp claim').waitFor();
    await warnings.getByText('The header carries "jku"').waitFor();
    await verdict.filter({ hasText: /^Invalid: alg is "none"/ }).waitFor();
    assert.deepEqual(logs.errors(), []);
  });

  test('the debugger verifies ES256 and RS256 tokens against the JWKS of a server that signs with them', async () => {
    for (const alg of ['ES256', 'RS256']) {
      const other = await startServer({ FRONTDESK_JWT_ALG: alg, FRONTDESK_ADMIN_USERNAME: ADMIN.username, FRONTDESK_ADMIN_PASSWORD: ADMIN.password });
      try {
        const res = await fetch(`${other.url}/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...ADMIN, mode: 'jwt' }),
        });
        const { access_token: token } = (await res.json()) as { access_token: string };
        const { page } = await newPage();
        const logs = watchConsole(page);
        await page.goto(`${other.url}/debugger`);
        await page.getByLabel('Token', { exact: true }).fill(token);
        await page.getByTestId('verdict').filter({ hasText: new RegExp(`^Verified: the signature matches kid ".+" \\(${alg === 'ES256' ? 'EC P-256' : 'RSA'}\\)`) }).waitFor();
        assert.deepEqual(logs.errors(), [], alg);
        await page.close();
      } finally {
        await other.close();
      }
    }
  });

  test('the benchmark page shows the latest report as tables', async () => {
    const rps = (median: number) => ({ min: median * 0.9, median, max: median * 1.1 });
    const httpCase = (id: string, label: string, path: string, median: number, credentialBytes: number) => ({
      id,
      label,
      group: 'frontdesk',
      method: 'GET',
      path,
      credentialBytes,
      requestBytes: 200 + credentialBytes,
      rounds: [],
      summary: { rps: rps(median), ratio: rps(median / 20_000), cpuRatio: null, p50: 1, p99: 4, serverCpuS: 3, loadCpuS: 2, serverCpuUsPerReq: 48.2, sidecarCpuUsPerReq: {}, non2xx: 0, errors: 0, loadBound: false },
    });
    const report = {
      schema: 1,
      startedAt: '2025-01-02T03:04:05Z',
      finishedAt: '2025-01-02T03:14:05Z',
      options: { quick: true, durationSeconds: 5, warmupSeconds: 1, rounds: 3, connections: 16, only: null, micro: true, http: true, outDir: 'bench/results' },
      machine: { cpuModel: 'Test CPU', cores: 2, cgroupCpuLimit: null, memoryGiB: 4, node: 'v20', v8: '11', os: 'linux', loadAvgStart: [0], loadAvgEnd: [0], sharedNote: '' },
      baselineId: 'baseline',
      http: [httpCase('me-session', 'GET /auth/me, session', '/auth/me', 9_000, 60), httpCase('me-jwt', 'GET /auth/me, JWT', '/auth/me', 12_345, 480)],
      skipped: [{ id: 'pg', label: 'PostgreSQL store', reason: 'no PostgreSQL here' }],
      micro: { results: [{ id: 'verify-eddsa', group: 'verify', label: 'Verify an access token', alg: 'EdDSA', nsPerOp: rps(52_000), opsPerSec: 19_230, samples: 10, opsPerSample: 100 }], skipped: [], tokenSizes: [{ alg: 'EdDSA', tokenBytes: 446, headerBytes: 469 }], sessionCookieBytes: 60 },
      warnings: [],
    };
    const { page } = await newPage();
    const logs = watchConsole(page);
    // The report itself comes from `npm run bench`; here the page is fed a fixed one.
    await page.route('**/bench/latest.json', (route) => route.fulfill({ json: report }));
    await page.goto(`${server.url}/bench`);
    const http = page.getByRole('table', { name: /HTTP throughput/ });
    await http.getByRole('row', { name: /GET \/auth\/me, JWT/ }).getByText(/^12,345 /).waitFor();
    await page.getByRole('table', { name: 'Micro-benchmarks' }).getByRole('row', { name: /Verify an access token/ }).waitFor();
    await page.getByText('Skipped PostgreSQL store: no PostgreSQL here').waitFor();
    assert.deepEqual(await axeViolations(page), []);
    assert.deepEqual(logs.errors(), []);
  });

  test('every page passes axe-core with no serious or critical violation, logs no console error, and is captured in light and dark', async () => {
    for (const scheme of ['light', 'dark'] as const) {
      const { page } = await newPage({ colorScheme: scheme });
      const logs = watchConsole(page, ['404 /bench/latest.json']);
      const check = async (name: string) => {
        assert.deepEqual(await axeViolations(page), [], `${name} (${scheme})`);
        await screenshot(page, name, scheme);
      };

      await page.goto(server.url);
      await page.getByLabel('Username', { exact: true }).waitFor();
      await check('sign-in');

      await signIn(page, ADMIN.username, ADMIN.password, 'Hybrid');
      await page.locator('.sessions li').first().waitFor();
      await page.getByRole('row', { name: /admin/ }).first().waitFor(); // the admin's user list
      await page.getByRole('button', { name: 'Call /auth/me' }).click();
      await page.getByTestId('me-output').filter({ hasText: '"user"' }).waitFor();
      await check('dashboard');

      await page.getByRole('button', { name: 'Open in the token debugger' }).click();
      await page.getByTestId('verdict').filter({ hasText: /^Verified/ }).waitFor();
      await check('debugger');

      await page.getByRole('link', { name: 'Benchmarks' }).click();
      await page.getByRole('heading', { level: 1, name: 'Benchmarks' }).waitFor();
      await page.locator('[data-testid="bench-empty"], .bench table, .bench dl').first().waitFor();
      await check('bench');

      assert.deepEqual(logs.errors(), [], scheme);
    }
  });
});
