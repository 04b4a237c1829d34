// Better Auth's session check: its own Node handler, its Kysely SQLite adapter on
// better-sqlite3 12, email+password sign-up at start, then GET
// /api/auth/get-session with the session cookie. Defaults otherwise, except the
// rate limiter (off, so the check itself is measured) and telemetry (off).
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import Database from 'better-sqlite3';
import { createServer } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST, onFatal, port, ready } from './_common.mjs';

const p = port();
const dir = process.env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'bench-better-auth-'));
const db = new Database(join(dir, 'auth.db'));
db.pragma('journal_mode = WAL');

const auth = betterAuth({
  database: db,
  baseURL: `http://${HOST}:${p}`,
  secret: 'bench-only-secret-0123456789abcdef0123456789',
  emailAndPassword: { enabled: true },
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
});
const { runMigrations } = await getMigrations(auth.options);
await runMigrations();

const server = createServer(toNodeHandler(auth));
server.on('error', onFatal);
server.listen(p, HOST, async () => {
  try {
    const r = await fetch(`http://${HOST}:${p}/api/auth/sign-up/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: `http://${HOST}:${p}` },
      body: JSON.stringify({ email: 'ada@example.com', password: 'correct horse battery staple', name: 'Ada Lovelace' }),
    });
    if (!r.ok) throw new Error(`sign-up: ${r.status} ${await r.text()}`);
    const cookie = r.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    if (!cookie.includes('session_token')) throw new Error('sign-up set no session cookie');
    ready({ path: '/api/auth/get-session', headers: { cookie } });
  } catch (err) {
    onFatal(err);
  }
});
