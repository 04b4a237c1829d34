import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { openSqliteStores } from '../../src/stores/sqlite.js';
import { usernameKey } from '../../src/core/passwords.js';
import { Client } from '../helpers/client.js';
import { spawnServer } from '../helpers/process.js';
import { startServer } from '../helpers/server.js';

const PASSWORD = 'correct horse battery';
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'frontdesk-durable-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('durability', () => {
  it('users, sessions, families and keys survive a restart on the same data dir', async () => {
    const dataDir = tempDir();
    const first = await startServer({}, { dataDir });
    const c = new Client(first.url);
    await c.post('/auth/register', { username: 'durable', password: PASSWORD });
    const session = new Client(first.url);
    await session.post('/auth/login', { username: 'durable', password: PASSWORD, mode: 'session' });
    const hybrid = new Client(first.url);
    const h = await hybrid.post<{ access_token: string; refresh_token: string }>('/auth/login', {
      username: 'durable',
      password: PASSWORD,
      mode: 'hybrid',
      refresh_in_body: true,
    });
    const jwt = await c.post<{ access_token: string }>('/auth/login', { username: 'durable', password: PASSWORD, mode: 'jwt' });
    const jwksBefore = (await c.get('/.well-known/jwks.json')).body;
    const port = new URL(first.url).port;
    await first.close();

    const second = await startServer({ PORT: port, FRONTDESK_ISSUER: `http://localhost:${port}` }, { dataDir });
    try {
      const again = (path: string, cl: Client) => new Client(second.url).get(path, { headers: { cookie: cl.cookieHeader() ?? '' } });
      assert.deepEqual((await new Client(second.url).get('/.well-known/jwks.json')).body, jwksBefore, 'the same signing key');
      assert.equal((await again('/auth/me', session)).status, 200, 'the session cookie still works');
      assert.equal((await new Client(second.url).get('/auth/me', { bearer: jwt.body.access_token })).status, 200, 'the access token still verifies');
      const r = await new Client(second.url).post('/auth/refresh', { refresh_token: h.body.refresh_token });
      assert.equal(r.status, 200, 'the refresh family still rotates');
      assert.equal((await new Client(second.url).post('/auth/login', { username: 'durable', password: PASSWORD, mode: 'jwt' })).status, 200);
    } finally {
      await second.close();
    }
  });

  it('a kill -9 in the middle of a burst of registrations loses no answered user', async () => {
    const dataDir = tempDir();
    const srv = await spawnServer({ FRONTDESK_DATA_DIR: dataDir });
    const answered: string[] = [];
    let killed = false;
    const register = async (i: number) => {
      const username = `burst${i}`;
      try {
        const r = await fetch(`${srv.url}/auth/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username, password: PASSWORD }),
        });
        if (r.status === 201) answered.push(username);
      } catch {
        // the connection died with the server: not answered
      }
      if (answered.length >= 25 && !killed) {
        killed = true;
        srv.child.kill('SIGKILL');
      }
    };
    // 8 registrations in flight at a time, until the kill lands.
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (!killed && next < 400) await register(next++);
      }),
    );
    assert.equal(await srv.exited, 'SIGKILL');
    assert.ok(answered.length >= 25, `answered ${answered.length}`);

    const stores = openSqliteStores({ file: join(dataDir, 'frontdesk.db') });
    try {
      for (const username of answered) {
        assert.ok(await stores.users.findUserByUsername(usernameKey(username)), `${username} was answered 201 and must exist`);
      }
    } finally {
      await stores.close();
    }
  });

  it('SIGTERM lets in-flight requests finish, then closes the database cleanly', async () => {
    const dataDir = tempDir();
    const srv = await spawnServer({ FRONTDESK_DATA_DIR: dataDir });
    await fetch(`${srv.url}/auth/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'graceful', password: PASSWORD }),
    });
    // A login spends tens of milliseconds in Argon2: it is in flight when the signal lands.
    const inflight = fetch(`${srv.url}/auth/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'graceful', password: PASSWORD, mode: 'jwt' }),
    });
    await new Promise((r) => setTimeout(r, 5));
    srv.child.kill('SIGTERM');
    const res = await inflight;
    assert.equal(res.status, 200, 'the in-flight login completes');
    assert.equal(await srv.exited, 0, srv.output());
    const wal = join(dataDir, 'frontdesk.db-wal');
    assert.ok(!existsSync(wal) || statSync(wal).size === 0, 'the WAL was checkpointed on close');
  });
});
