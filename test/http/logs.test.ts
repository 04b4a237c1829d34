import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Client } from '../helpers/client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const PASSWORD = 'a password nobody logs';
let s: TestServer;
let logs = '';

before(async () => {
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs += chunk.toString();
      cb();
    },
  });
  s = await startServer({ FRONTDESK_LOG_LEVEL: 'trace', FRONTDESK_REFRESH_GRACE: '0' }, { logStream: stream });
});
after(async () => {
  await s.close();
});

describe('logs', () => {
  it('never hold a password, a token, a session ID or a CSRF value, even on errors', async () => {
    const c = new Client(s.url);
    await c.post('/auth/register', { username: 'logged', password: PASSWORD });
    await c.post('/auth/login', { username: 'logged', password: 'wrong password here', mode: 'jwt' });
    const secrets: string[] = [PASSWORD, 'wrong password here'];
    const sess = new Client(s.url);
    await sess.post('/auth/login', { username: 'logged', password: PASSWORD, mode: 'session' });
    secrets.push(sess.jar.get('__Host-session')!, sess.jar.get('__Host-csrf')!);
    await sess.post('/auth/logout', undefined, { headers: { 'x-csrf-token': 'wrong' } });
    const hybrid = new Client(s.url);
    const h = await hybrid.post<{ access_token: string }>('/auth/login', { username: 'logged', password: PASSWORD, mode: 'hybrid' });
    const refresh = hybrid.jar.get('__Secure-refresh')!;
    secrets.push(h.body.access_token, refresh);
    // Rotate, then replay the old token after the (zero) grace window: a logged security event.
    await hybrid.post('/auth/refresh', undefined, { csrf: true });
    await new Client(s.url).post('/auth/refresh', { refresh_token: refresh });
    await c.get('/auth/me', { bearer: `${h.body.access_token}x` });
    await c.get('/auth/me', { headers: { authorization: `Bearer ${h.body.access_token}`, cookie: `__Host-session=${secrets[2]}` } });

    assert.match(logs, /refresh token reuse/, 'the reuse was logged');
    for (const secret of secrets) assert.ok(!logs.includes(secret), `a secret of ${secret.length} chars appears in the logs`);
  });
});
