// The floor for a session check on SQLite: Fastify, SHA-256 of the cookie's
// session ID, one prepared primary-key lookup in better-sqlite3 (WAL, on disk),
// an expiry check. No framework plugin, no cookie parser: nothing but the work.
import Fastify from 'fastify';
import Database from 'better-sqlite3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HOST, onFatal, port, ready } from './_common.mjs';

const dir = process.env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'bench-sqlite-'));
const db = new Database(join(dir, 'sessions.db'));
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.exec(`CREATE TABLE IF NOT EXISTS sessions (
  id_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, name TEXT NOT NULL, role TEXT NOT NULL,
  idle_expires_at INTEGER NOT NULL, expires_at INTEGER NOT NULL) WITHOUT ROWID`);
const insert = db.prepare('INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?, ?)');
const sha = (s) => createHash('sha256').update(s).digest('base64url');
const far = Date.now() + 86_400_000;
db.transaction(() => {
  for (let i = 0; i < 10_000; i++) insert.run(sha(randomBytes(32).toString('base64url')), `u_${i}`, `User ${i}`, 'user', far, far);
})();
const sid = randomBytes(32).toString('base64url');
insert.run(sha(sid), 'u_4f1c2a9e7b3d4c58', 'Ada Lovelace', 'user', far, far);
const find = db.prepare('SELECT user_id, name, role, idle_expires_at, expires_at FROM sessions WHERE id_hash = ?');

const app = Fastify({ logger: false });
app.get('/me', async (req, reply) => {
  const m = /(?:^|;\s*)sid=([^;]+)/.exec(req.headers.cookie ?? '');
  const row = m ? find.get(sha(m[1])) : undefined;
  const now = Date.now();
  if (!row || row.idle_expires_at <= now || row.expires_at <= now) return reply.code(401).send({ error: 'unauthenticated' });
  return { user: { id: row.user_id, name: row.name, role: row.role } };
});
app.listen({ port: port(), host: HOST }).then(() => ready({ path: '/me', headers: { cookie: `sid=${sid}` } }), onFatal);
