/**
 * The client library's refresh behaviour in a real browser, with access tokens
 * that live 5 seconds: silent refresh before expiry, one refresh per expiry
 * shared by all tabs, and refresh-token reuse detection surfacing as a reason.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Request } from 'playwright-core';
import { launchChromium } from '../harness/chromium.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { ensureWebBuilt, signIn, watchConsole } from './support.js';

const USER = { username: 'ada', password: 'analytical-engine-1843' };
const TTL_S = 5;

let server: TestServer;
let browser: Browser;
const contexts: BrowserContext[] = [];

async function newContext(): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 800 }, locale: 'en-US' });
  contexts.push(context);
  return context;
}

describe('silent refresh with 5-second access tokens', { timeout: 90_000 }, () => {
  before(async () => {
    await ensureWebBuilt();
    // A 1 s grace window lets the reuse test replay a rotated token without waiting 10 s.
    [server, browser] = await Promise.all([startServer({ FRONTDESK_ACCESS_TTL: String(TTL_S), FRONTDESK_REFRESH_GRACE: '1' }), launchChromium()]);
    const res = await fetch(`${server.url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...USER, name: 'Ada Lovelace' }),
    });
    assert.equal(res.status, 201);
  });

  after(async () => {
    await Promise.all(contexts.map((c) => c.close()));
    await browser?.close();
    await server?.close();
  });

  test('a hybrid user in two tabs keeps working for 20 s without an error, and the refresh endpoint is called once per expiry, not per request or per tab', async () => {
    const context = await newContext();
    const a = await context.newPage();
    const logsA = watchConsole(a);
    await a.goto(server.url);
    await signIn(a, USER.username, USER.password, 'Hybrid');
    const b = await context.newPage();
    const logsB = watchConsole(b);
    await b.goto(server.url);
    await b.getByRole('heading', { level: 1, name: `Signed in as ${USER.username}` }).waitFor();

    const refreshes: number[] = [];
    const statuses: number[] = [];
    context.on('request', (r: Request) => {
      if (new URL(r.url()).pathname === '/auth/refresh') refreshes.push(Date.now());
    });
    context.on('response', (r) => {
      if (new URL(r.url()).pathname === '/auth/me') statuses.push(r.status());
    });

    const started = Date.now();
    let calls = 0;
    while (Date.now() - started < 20_000) {
      for (const page of [a, b]) {
        const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/auth/me' && r.status() === 200);
        await page.getByRole('button', { name: 'Call /auth/me' }).click();
        await answered;
        calls += 1;
        // A user's pace, not a synchronisation: the next call is made a moment later.
        await page.waitForTimeout(150);
      }
    }
    const elapsed = (Date.now() - started) / 1000;

    for (const page of [a, b]) {
      await page.getByText(/^GET \/auth\/me answered/).waitFor();
      assert.equal(await page.getByRole('heading', { level: 1, name: `Signed in as ${USER.username}` }).count(), 1);
    }
    assert.ok(
      statuses.every((s) => s === 200),
      `every /auth/me call succeeded at the first try: ${statuses.filter((s) => s !== 200).length} were refused`,
    );
    const expiries = elapsed / TTL_S;
    assert.ok(refreshes.length >= Math.floor(expiries), `${refreshes.length} refreshes in ${elapsed.toFixed(1)} s: the token was kept fresh`);
    assert.ok(refreshes.length <= Math.ceil(expiries) + 2, `${refreshes.length} refreshes for ${expiries.toFixed(1)} expiries and ${calls} calls`);
    const gaps = refreshes.slice(1).map((t, i) => t - (refreshes[i] ?? t));
    assert.ok(Math.min(...gaps) > 2000, `the two tabs never refreshed together (gaps ${gaps.join(', ')} ms)`);
    // The follower tab got its tokens from the leader instead of refreshing itself.
    await b.getByRole('log', { name: 'Client activity' }).getByText('another tab shared a new access token').first().waitFor();
    assert.deepEqual([...logsA.errors(), ...logsB.errors()], []);
  });

  test('a replayed refresh token signs the user out in every tab, with a message that says why', async () => {
    const context = await newContext();
    const a = await context.newPage();
    // The refused refresh after the replay is the point of the test.
    const logsA = watchConsole(a, ['401 /auth/refresh']);
    await a.goto(server.url);
    await signIn(a, USER.username, USER.password, 'Hybrid');
    const b = await context.newPage();
    const logsB = watchConsole(b);
    await b.goto(server.url);
    await b.getByRole('heading', { level: 1, name: `Signed in as ${USER.username}` }).waitFor();

    // Keep a copy of the refresh token, as a thief would, then let the app rotate
    // it twice, so the copy is well past the grace window.
    const refreshCookie = async () => (await context.cookies()).find((c) => c.name === '__Secure-refresh');
    const stolen = await refreshCookie();
    assert.ok(stolen);
    for (let i = 0; i < 2; i++) {
      await a.waitForResponse((r) => new URL(r.url()).pathname === '/auth/refresh' && r.status() === 200);
    }
    assert.notEqual((await refreshCookie())?.value, stolen.value, 'the refresh token was rotated');

    // Replay the old token: put it back in the browser and reload, so the silent
    // refresh on load presents it.
    await context.addCookies([
      { name: stolen.name, value: stolen.value, domain: stolen.domain, path: stolen.path, secure: true, httpOnly: true, sameSite: 'Strict' },
    ]);
    const refused = a.waitForResponse((r) => new URL(r.url()).pathname === '/auth/refresh');
    await a.reload();
    const res = await refused;
    assert.equal(res.status(), 401);
    assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'refresh_reused');

    // Both tabs are signed out, and say why in words.
    for (const page of [a, b]) {
      await page.getByRole('heading', { name: 'Sign in to Frontdesk' }).waitFor();
      await page.getByRole('alert').filter({ hasText: 'an old refresh token was used a second time' }).waitFor();
    }
    // The family is revoked on the server too: the newest token is dead as well.
    assert.equal(await refreshCookie(), undefined, 'the server cleared the refresh cookie');
    assert.deepEqual([...logsA.errors(), ...logsB.errors()], []);
  });
});
