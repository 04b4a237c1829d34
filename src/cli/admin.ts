import type { AccessClaims } from '../core/access-tokens.js';
import type { Principal, PublicUser } from '../core/auth.js';
import { usernameKey } from '../core/passwords.js';
import type { KeyRecord, Role, UserRecord } from '../core/ports.js';
import { EXIT, FailedError, UsageError } from './errors.js';
import { grid, type Io } from './io.js';
import { withAuth, type Opened } from './store.js';

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

async function findUser(o: Opened, ref: string | undefined): Promise<UserRecord> {
  if (ref === undefined || ref === '') throw new UsageError('name the user (username or id)');
  const u = (await o.stores.users.findUserByUsername(usernameKey(ref))) ?? (await o.stores.users.findUserById(ref));
  if (!u) throw new FailedError(`no user ${JSON.stringify(ref)}`, 'not_found');
  return u;
}

/**
 * The operator acting on a user's sign-ins, shaped as the core's Principal for
 * that user. It is never a current sign-in of theirs (no jti or sid matches), so
 * `revokeSession` can end any of them.
 */
function actingFor(o: Opened, u: UserRecord): Principal {
  const claims: AccessClaims = { iss: o.config.issuer, aud: o.config.audience, sub: u.id, name: u.name, role: u.role, iat: 0, exp: 0, jti: 'frontdesk-cli' };
  return { kind: 'token', mode: 'jwt', claims };
}

function userLine(u: PublicUser): string {
  return `${u.username} (id ${u.id}, role ${u.role}${u.disabled ? ', disabled' : ''})`;
}

// ── keys ────────────────────────────────────────────────────────────────────

function keyStatus(k: KeyRecord, current: string | undefined, now: number): string {
  if (k.kid === current) return 'current';
  if (k.retiredAt === null) return 'unused';
  return k.publishUntil !== null && k.publishUntil > now ? 'retired' : 'expired';
}

export async function keysList(a: { json: boolean; io: Io }): Promise<number> {
  return withAuth(a.io, async (o) => {
    const now = a.io.now();
    const keys = await o.stores.keys.listKeys();
    const current = o.auth.keyring.kid;
    // Never the private part: kid, algorithm and dates only.
    const rows = keys.map((k) => ({
      kid: k.kid,
      alg: k.alg,
      status: keyStatus(k, current, now),
      created_at: iso(k.createdAt),
      retired_at: iso(k.retiredAt),
      published_until: iso(k.publishUntil),
    }));
    if (a.json) a.io.out(JSON.stringify({ keys: rows }, null, 2));
    else a.io.out(grid(['KID', 'ALG', 'STATUS', 'CREATED', 'PUBLISHED UNTIL'], rows.map((r) => [r.kid, r.alg, r.status, r.created_at ?? '', r.published_until ?? '-'])));
    return EXIT.ok;
  });
}

export async function keysRotate(a: { json: boolean; io: Io }): Promise<number> {
  return withAuth(a.io, async (o) => {
    const kid = await o.auth.rotateKeys();
    a.io.out(a.json ? JSON.stringify({ kid }) : `new signing key ${kid}; the previous one stays published until its tokens expire`);
    return EXIT.ok;
  });
}

// ── users ───────────────────────────────────────────────────────────────────

const ROLES = ['user', 'admin'] as const;
function role(value: string | undefined): Role {
  if (value === undefined || !(ROLES as readonly string[]).includes(value)) throw new UsageError(`role must be user or admin (got ${JSON.stringify(value)})`);
  return value as Role;
}

export async function usersAdd(a: {
  username: string | undefined;
  password: string | undefined;
  passwordStdin: boolean;
  name: string | undefined;
  role: string | undefined;
  json: boolean;
  io: Io;
}): Promise<number> {
  if (a.username === undefined) throw new UsageError('name the new user');
  if ((a.password === undefined) === !a.passwordStdin) throw new UsageError('give the password with --password-stdin (or --password)');
  const r = a.role === undefined ? 'user' : role(a.role);
  const password = a.passwordStdin ? (await a.io.stdin()).replace(/\r?\n$/, '') : a.password!;
  return withAuth(
    a.io,
    async (o) => {
      const user = await o.auth.register({ username: a.username!, password, name: a.name }, r);
      a.io.out(a.json ? JSON.stringify({ user }) : `created ${userLine(user)}`);
      return EXIT.ok;
    },
    { create: true },
  );
}

export async function usersList(a: { q: string | undefined; limit: string | undefined; json: boolean; io: Io }): Promise<number> {
  const limit = a.limit === undefined ? 100 : Number(a.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new UsageError('--limit must be a whole number from 1 to 100');
  return withAuth(a.io, async (o) => {
    const users: PublicUser[] = [];
    let cursor: string | undefined;
    // Pages through everyone (limit is the page size), so scripts see every user.
    do {
      const page = await o.auth.listUsers({ q: a.q, limit, cursor });
      users.push(...page.users);
      cursor = page.next_cursor ?? undefined;
    } while (cursor !== undefined);
    if (a.json) a.io.out(JSON.stringify({ users }, null, 2));
    else a.io.out(grid(['USERNAME', 'ID', 'ROLE', 'DISABLED', 'NAME'], users.map((u) => [u.username, u.id, u.role, u.disabled ? 'yes' : 'no', u.name])));
    return EXIT.ok;
  });
}

export async function usersPatch(a: { user: string | undefined; patch: { role?: string; disabled?: boolean }; json: boolean; io: Io }): Promise<number> {
  const patch: { role?: Role; disabled?: boolean } = {};
  if ('role' in a.patch) patch.role = role(a.patch.role);
  if (a.patch.disabled !== undefined) patch.disabled = a.patch.disabled;
  return withAuth(a.io, async (o) => {
    const u = await findUser(o, a.user);
    const user = await o.auth.patchUser(u.id, patch);
    a.io.out(a.json ? JSON.stringify({ user }) : `updated ${userLine(user)}`);
    return EXIT.ok;
  });
}

// ── sessions ────────────────────────────────────────────────────────────────

export async function sessionsList(a: { user: string | undefined; json: boolean; io: Io }): Promise<number> {
  return withAuth(a.io, async (o) => {
    const u = await findUser(o, a.user);
    const now = a.io.now();
    const [sessions, families] = await Promise.all([o.stores.sessions.listUserSessions(u.id, now), o.stores.refresh.listUserFamilies(u.id, now)]);
    // API.md's session view, minus `current` (the CLI is nobody's sign-in).
    const rows = [
      ...sessions.map((s) => ({ id: s.publicId, mode: 'session' as const, created_at: iso(s.createdAt)!, last_used_at: iso(s.lastUsedAt)!, expires_at: iso(Math.min(s.idleExpiresAt, s.expiresAt))!, user_agent: s.userAgent })),
      ...families.map((f) => ({ id: f.id, mode: 'hybrid' as const, created_at: iso(f.createdAt)!, last_used_at: iso(f.lastUsedAt)!, expires_at: iso(f.expiresAt)!, user_agent: f.userAgent })),
    ].sort((x, y) => y.created_at.localeCompare(x.created_at));
    if (a.json) a.io.out(JSON.stringify({ user: u.username, sessions: rows }, null, 2));
    else a.io.out(grid(['ID', 'MODE', 'CREATED', 'LAST USED', 'USER AGENT'], rows.map((r) => [r.id, r.mode, r.created_at, r.last_used_at, r.user_agent])));
    return EXIT.ok;
  });
}

export async function sessionsRevoke(a: { user: string | undefined; id: string | undefined; json: boolean; io: Io }): Promise<number> {
  return withAuth(a.io, async (o) => {
    const u = await findUser(o, a.user);
    if (a.id === undefined) {
      await o.auth.revokeUserByAdmin(u.id);
      a.io.out(a.json ? JSON.stringify({ revoked: 'all', user: u.username }) : `ended every session, refresh family and access token of ${u.username}`);
    } else {
      await o.auth.revokeSession(actingFor(o, u), a.id);
      a.io.out(a.json ? JSON.stringify({ revoked: a.id, user: u.username }) : `ended session ${a.id} of ${u.username}`);
    }
    return EXIT.ok;
  });
}

export async function sessionsWipe(a: { yes: boolean; json: boolean; io: Io }): Promise<number> {
  if (!a.yes) throw new UsageError('this signs out every user in every mode; add --yes to do it');
  return withAuth(a.io, async (o) => {
    await o.auth.wipeAll();
    a.io.out(a.json ? JSON.stringify({ wiped: true }) : 'signed out everyone: every session, refresh family and access token issued before now is dead');
    return EXIT.ok;
  });
}
