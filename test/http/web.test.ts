import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ensureWebBuilt } from '../e2e/support.js';
import { Client } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

let s: TestServer;
before(async () => {
  // The server decides at start whether it serves the app, so build it first.
  await ensureWebBuilt();
  s = await startServer();
});
after(async () => {
  await s.close();
});

describe('the web app routes', () => {
  it('serves the app at /, /debugger and /bench with the document security headers', async () => {
    for (const path of ['/', '/debugger', '/bench']) {
      const r = await new Client(s.url).get<string>(path);
      assert.equal(r.status, 200, path);
      assert.match(r.headers.get('content-type') ?? '', /^text\/html/, path);
      assert.match(r.body, /<html/i);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(r.headers.get('x-frame-options'), 'DENY');
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer');
      assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      assert.match(r.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    }
  });

  it('keeps unknown API paths JSON 404s next to the app', async () => {
    for (const path of ['/auth/nope', '/admin/nope', '/nope']) {
      const r = await new Client(s.url).get(path);
      assert.equal(r.status, 404, path);
      assert.equal((r.body.error as { code: string }).code, 'not_found');
    }
  });

  it('serves the committed benchmark report to the /bench page', async () => {
    const r = await new Client(s.url).get('/bench/latest.json');
    assert.equal(r.status, 200);
    assert.equal(typeof r.body, 'object');
  });
});
