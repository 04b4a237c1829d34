import { createHmac } from 'node:crypto';
import { createTokenChecker, newAccessClaims, type AccessClaims, type TokenChecker } from './access-tokens.js';
import type { Clock, Random } from './clock.js';
import type { Config } from './config.js';
import { AuthError } from './errors.js';
import { generateKey, Keyring } from './keyring.js';
import { Metrics } from './metrics.js';
import { normalizePassword, normalizeUsername, usernameKey, type PasswordHasher } from './passwords.js';
import { isPromise, type FeedState, type MaybePromise, type Mode, type RevocationEvent, type RevokeReason, type RevokedFamily, type Role, type SessionRecord, type Stores, type UserRecord } from './ports.js';
import { RevocationState } from './revocation.js';
import { digest, looksLikeSecret, newId, newSecret, safeEqual } from './secrets.js';

/** What a caller proved: a session cookie, or a verified access token. */
export type Principal = SessionPrincipal | TokenPrincipal;
export interface SessionPrincipal {
  kind: 'session';
  mode: 'session';
  user: UserRecord;
  session: SessionRecord;
  sessionId: string;
}
export interface TokenPrincipal {
  kind: 'token';
  mode: 'jwt' | 'hybrid';
  claims: AccessClaims;
}

/** `user` as API.md shows it: never a password hash. */
export interface PublicUser {
  id: string;
  username: string;
  name: string;
  role: Role;
  disabled: boolean;
}

export type LoginResult =
  | { mode: 'session'; user: PublicUser; sessionId: string; csrf: string; expiresAt: number }
  | { mode: 'jwt'; user: PublicUser; accessToken: string; expiresIn: number }
  | { mode: 'hybrid'; user: PublicUser; accessToken: string; expiresIn: number; refreshToken: string; csrf: string };

export interface RefreshResult {
  accessToken: string;
  expiresIn: number;
  refreshToken: string;
}

/** The body of `GET /auth/me`. */
export interface MeBody {
  user: PublicUser;
  auth: { mode: Mode; expires_at: string };
}

export interface SessionView {
  id: string;
  mode: 'session' | 'hybrid';
  created_at: string;
  last_used_at: string;
  user_agent: string;
  current: boolean;
}

/** The few log calls the core makes; pino satisfies it. Never given a secret. */
export interface Log {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AuthDeps {
  config: Config;
  stores: Stores;
  hasher: PasswordHasher;
  clock: Clock;
  random: Random;
  log: Log;
}

const USER_CACHE_MAX = 50_000;

export const toPublicUser = (u: UserRecord): PublicUser => ({
  id: u.id,
  username: u.username,
  name: u.name,
  role: u.role,
  disabled: u.disabled,
});

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Frontdesk's use cases, free of HTTP and of any particular store. Each HTTP
 * route calls one of these methods.
 *
 * @example
 * const auth = await Auth.create({ config, stores, hasher, clock: systemClock, random: cryptoRandom, log });
 * const result = await auth.login({ username: 'ada', password: '…', mode: 'hybrid', address: '127.0.0.1', userAgent: '' });
 */
export class Auth {
  readonly revocation = new RevocationState();
  readonly metrics = new Metrics();
  readonly keyring: Keyring;
  readonly tokens: TokenChecker;
  /** Users by id: lets `/auth/me` answer token requests and session look-ups without a user query. Dropped on every user event. */
  private readonly users = new Map<string, UserRecord>();
  private unsubscribe: (() => void) | undefined;
  /** Per user, the latest `iat` this node gave a token dated ahead of the clock (seconds). */
  private readonly datedAhead = new Map<string, number>();
  private latestDatedAhead = 0;

  private constructor(
    private readonly d: AuthDeps,
    keys: Awaited<ReturnType<Stores['keys']['listKeys']>>,
    /** HMAC key deriving a refresh token's successor from the token itself. */
    private readonly successorKey: string,
    /** Verified against when the username is unknown, so both failures cost one Argon2 verify. */
    private readonly dummyHash: string,
  ) {
    const c = d.config;
    this.keyring = new Keyring(c.jwtAlg, keys, { issuer: c.issuer, audience: c.audience });
    this.tokens = createTokenChecker({
      alg: c.jwtAlg,
      clock: d.clock,
      leeway: c.leeway,
      keyFor: (kid, now) => this.keyring.verifierFor(kid, now),
      isRevoked: (claims) => this.revocation.isRevoked(claims),
    });
    this.revocation.onUserChange = (sub) => (sub === null ? this.users.clear() : this.users.delete(sub));
    this.metrics.describe('frontdesk_logins_total', 'Login attempts by mode and result.');
    this.metrics.describe('frontdesk_refresh_total', 'Refresh attempts by result.');
    this.metrics.describe('frontdesk_revocation_events_total', 'Revocation events by type.');
  }

  /** Loads keys (creating the first one), the revocation state and the server secrets. */
  static async create(d: AuthDeps): Promise<Auth> {
    const now = d.clock.now();
    let keys = await d.stores.keys.listKeys();
    let created: string | undefined;
    if (!keys.some((k) => k.alg === d.config.jwtAlg && k.retiredAt === null)) {
      const key = generateKey(d.config.jwtAlg, now, d.random);
      await d.stores.keys.insertKey(key);
      created = key.kid;
      keys = await d.stores.keys.listKeys();
    }
    const successorKey = await d.stores.keys.getOrCreateSecret('refresh-successor', newSecret(d.random));
    const dummyHash = await d.hasher.hash(newSecret(d.random));
    const auth = new Auth(d, keys, successorKey, dummyHash);
    auth.unsubscribe = d.stores.revocations.subscribe(
      (e) => auth.onStoredEvent(e.event, e.id),
      (state) => auth.onFeedState(state),
    );
    await auth.catchUp();
    // Nodes that start together on an empty store may each create a first key: announcing
    // it makes every node reload the ring, publish both and sign with the same newest one.
    if (created !== undefined) await auth.emit({ type: 'key', kid: created }, now + auth.maxTokenLifetimeMs);
    if (d.config.admin) await auth.ensureAdmin(d.config.admin.username, d.config.admin.password);
    return auth;
  }

  /** Applies every unexpired revocation event after our cursor (at start, and after a reconnect). */
  async catchUp(): Promise<void> {
    for (;;) {
      const batch = await this.d.stores.revocations.since(this.revocation.cursor, 1000, this.d.clock.now());
      for (const e of batch) this.revocation.applyStored(e);
      if (batch.length < 1000) return;
    }
  }

  close(): void {
    this.unsubscribe?.();
  }

  // ── revocation feed health (shared stores) ──────────────────────────────
  // With several nodes, revocations made elsewhere reach this node through the store's
  // feed. While it is down this node verifies tokens with the revocation state it has,
  // for at most REVOCATION_FEED_STALENESS_MS; after that it fails closed (503), because
  // a token revoked on another node meanwhile would otherwise pass here. Memory and
  // SQLite never report a feed state, so this never triggers for them.

  /** How long Bearer tokens are still accepted after the revocation feed went down. */
  static readonly REVOCATION_FEED_STALENESS_MS = 10_000;
  private feedDownSince: number | null = null;

  private onFeedState(state: FeedState): void {
    if (state === 'live') {
      if (this.feedDownSince !== null) this.d.log.info({ downMs: this.d.clock.now() - this.feedDownSince }, 'revocation feed live again');
      this.feedDownSince = null;
    } else if (this.feedDownSince === null) {
      this.feedDownSince = this.d.clock.now();
      this.d.log.warn({ staleAfterMs: Auth.REVOCATION_FEED_STALENESS_MS }, 'revocation feed down: verifying with the state this node has');
    }
  }

  private checkRevocationFeed(): void {
    if (this.feedDownSince !== null && this.d.clock.now() - this.feedDownSince > Auth.REVOCATION_FEED_STALENESS_MS) {
      throw new AuthError('unavailable', 'Revocations cannot be confirmed right now; try again shortly.');
    }
  }

  /** The injected clock's time, for callers that must agree with the core about "now". */
  now(): number {
    return this.d.clock.now();
  }

  /** The public JWKS: every key still published. */
  jwks(): { keys: Record<string, unknown>[] } {
    return this.keyring.jwks(this.d.clock.now());
  }

  private onStoredEvent(event: RevocationEvent, cursor: string): void {
    this.revocation.apply(event, cursor);
    if (event.type === 'key') {
      this.reloadKeys().catch((e: unknown) => this.d.log.error({ err: e }, 'reloading signing keys failed'));
    }
  }

  private async reloadKeys(): Promise<void> {
    this.keyring.load(await this.d.stores.keys.listKeys());
    this.tokens.clear();
  }

  private get maxTokenLifetimeMs(): number {
    return (this.d.config.accessTtl + this.d.config.leeway) * 1000;
  }

  /** Persists a revocation event, applies it here at once, and lets other nodes and verifiers hear of it. */
  private async emit(event: RevocationEvent, expiresAt: number): Promise<void> {
    const stored = await this.d.stores.revocations.append(event, expiresAt);
    this.revocation.applyStored(stored);
    this.metrics.inc('frontdesk_revocation_events_total', `type="${event.type}"`);
  }

  /** Denies every access token the revoked family issued that is still unexpired. */
  private async denyGrants(family: RevokedFamily): Promise<void> {
    const nowS = this.d.clock.now() / 1000;
    for (const g of family.grants) {
      if (g.exp > nowS) await this.emit({ type: 'jti', jti: g.jti, exp: g.exp }, (g.exp + this.d.config.leeway) * 1000);
    }
  }

  /**
   * The next epoch, in whole seconds like `iat`: the second after now, so every token
   * issued up to now — even in this very millisecond — is dated before it. A token that
   * was dated ahead, at an earlier epoch (see newClaims), must die too: then the epoch
   * goes one second past it. Only tokens actually issued ahead push it further, so a
   * burst of revocations alone never dates new tokens beyond the leeway.
   */
  private nextEpochSeconds(latestIatAhead: number): number {
    return Math.max(Math.floor(this.d.clock.now() / 1000) + 1, latestIatAhead + 1);
  }

  /** Every access token of the user issued before now dies, except `except` (a sid or jti). */
  private async bumpUserEpoch(sub: string, except?: string): Promise<void> {
    const notBefore = this.nextEpochSeconds(this.datedAhead.get(sub) ?? 0);
    const event: RevocationEvent = { type: 'user', sub, not_before: notBefore };
    if (except !== undefined) event.except = except;
    await this.emit(event, notBefore * 1000 + this.maxTokenLifetimeMs);
  }

  private async userById(id: string): Promise<UserRecord | null> {
    const cached = this.users.get(id);
    if (cached !== undefined) return cached;
    const u = await this.d.stores.users.findUserById(id);
    if (u) this.remember(u);
    return u;
  }

  private remember(u: UserRecord): void {
    if (this.users.size >= USER_CACHE_MAX) this.users.delete(this.users.keys().next().value as string);
    this.users.set(u.id, u);
  }

  // ── accounts ────────────────────────────────────────────────────────────

  async register(input: { username: string; password: string; name?: string | undefined }, role: Role = 'user'): Promise<PublicUser> {
    const { username, key } = normalizeUsername(input.username);
    const password = normalizePassword(input.password);
    const name = (input.name ?? username).normalize('NFKC').trim();
    if ([...name].length > 128 || /[\p{Cc}\p{Zl}\p{Zp}]/u.test(name)) {
      throw new AuthError('invalid_request', 'Name must be at most 128 characters, without control characters.');
    }
    const now = this.d.clock.now();
    const user: UserRecord = {
      id: newId(this.d.random),
      username,
      usernameKey: key,
      name: name || username,
      role,
      disabled: false,
      passwordHash: await this.d.hasher.hash(password),
      createdAt: now,
      updatedAt: now,
    };
    const created = await this.d.stores.users.createUser(user);
    if (created === 'conflict') throw new AuthError('conflict', 'That username is taken.');
    return toPublicUser(created);
  }

  private async ensureAdmin(rawUsername: string, password: string): Promise<void> {
    const existing = await this.d.stores.users.findUserByUsername(usernameKey(rawUsername));
    if (!existing) {
      try {
        await this.register({ username: rawUsername, password }, 'admin');
        return;
      } catch (e) {
        // Another node created it meanwhile (nodes starting together): make sure of it below.
        if (!(e instanceof AuthError && e.code === 'conflict')) throw e;
        return this.ensureAdmin(rawUsername, password);
      }
    }
    const patch: { role?: Role; disabled?: boolean; passwordHash?: string } = {};
    if (existing.role !== 'admin') patch.role = 'admin';
    if (existing.disabled) patch.disabled = false;
    if (!(await this.d.hasher.verify(existing.passwordHash, normalizePassword(password)))) {
      patch.passwordHash = await this.d.hasher.hash(normalizePassword(password));
    }
    if (Object.keys(patch).length > 0) {
      await this.d.stores.users.updateUser(existing.id, patch, this.d.clock.now());
      await this.bumpUserEpoch(existing.id);
    }
  }

  // ── login ───────────────────────────────────────────────────────────────

  private async throttle(keys: { key: string; limit: number }[]): Promise<void> {
    const now = this.d.clock.now();
    for (const { key, limit } of keys) {
      const { count, resetAt } = await this.d.stores.rateLimits.peek(key, now);
      if (count >= limit) {
        throw new AuthError('rate_limited', 'Too many failed attempts; try again later.', Math.max(1, Math.ceil((resetAt - now) / 1000)));
      }
    }
  }

  private async recordFailure(keys: string[]): Promise<void> {
    const windowMs = this.d.config.loginLimits.windowSeconds * 1000;
    for (const key of keys) await this.d.stores.rateLimits.hit(key, windowMs, this.d.clock.now());
  }

  /** Checks a username and password; throttled per username and per address, unknown usernames alike. */
  private async checkPassword(rawUsername: string, rawPassword: string, address: string): Promise<UserRecord> {
    const limits = this.d.config.loginLimits;
    const userKey = `login:user:${usernameKey(rawUsername)}`;
    const addrKey = `login:addr:${address}`;
    await this.throttle([
      { key: userKey, limit: limits.perUsername },
      { key: addrKey, limit: limits.perAddress },
    ]);
    const user = await this.d.stores.users.findUserByUsername(usernameKey(rawUsername));
    const password = rawPassword.normalize('NFKC');
    // Unknown users verify against a dummy hash so both failures take one Argon2 verify.
    const ok = await this.d.hasher.verify(user?.passwordHash ?? this.dummyHash, password);
    if (!user || !ok) {
      await this.recordFailure([userKey, addrKey]);
      throw new AuthError('invalid_credentials', 'Wrong username or password.');
    }
    await this.d.stores.rateLimits.reset(userKey);
    if (this.d.hasher.needsRehash(user.passwordHash)) {
      const updated = await this.d.stores.users.updateUser(user.id, { passwordHash: await this.d.hasher.hash(password) }, this.d.clock.now());
      if (updated) return updated;
    }
    return user;
  }

  async login(input: {
    username: string;
    password: string;
    mode: Mode;
    address: string;
    userAgent: string;
    /** The session cookie presented with the login, if any: it is ended (no fixation). */
    previousSessionId?: string | undefined;
  }): Promise<LoginResult> {
    if (!this.d.config.modes.includes(input.mode)) {
      throw new AuthError('invalid_request', `Mode "${input.mode}" is disabled on this server.`);
    }
    let user: UserRecord;
    try {
      user = await this.checkPassword(input.username, input.password, input.address);
    } catch (e) {
      this.metrics.inc('frontdesk_logins_total', `mode="${input.mode}",result="failed"`);
      throw e;
    }
    if (user.disabled) throw new AuthError('forbidden', 'This account is disabled.');
    this.remember(user);
    this.metrics.inc('frontdesk_logins_total', `mode="${input.mode}",result="ok"`);
    const userAgent = input.userAgent.slice(0, 256);
    switch (input.mode) {
      case 'session': {
        if (input.previousSessionId && looksLikeSecret(input.previousSessionId)) {
          await this.d.stores.sessions.deleteSession(digest(input.previousSessionId));
        }
        const now = this.d.clock.now();
        const sessionId = newSecret(this.d.random); // 256-bit
        const csrf = newSecret(this.d.random); // 256-bit
        const expiresAt = now + this.d.config.sessionAbsoluteTtl * 1000;
        await this.d.stores.sessions.createSession({
          idHash: digest(sessionId),
          publicId: newId(this.d.random),
          userId: user.id,
          csrfHash: digest(csrf),
          createdAt: now,
          lastUsedAt: now,
          idleExpiresAt: Math.min(now + this.d.config.sessionIdleTtl * 1000, expiresAt),
          expiresAt,
          userAgent,
        });
        return { mode: 'session', user: toPublicUser(user), sessionId, csrf, expiresAt };
      }
      case 'jwt': {
        const claims = this.newClaims(user);
        return { mode: 'jwt', user: toPublicUser(user), accessToken: this.keyring.sign({ ...claims }), expiresIn: this.d.config.accessTtl };
      }
      case 'hybrid': {
        const now = this.d.clock.now();
        const familyId = newId(this.d.random);
        const refreshToken = newSecret(this.d.random); // 256-bit
        const csrf = newSecret(this.d.random);
        const claims = this.newClaims(user, familyId);
        await this.d.stores.refresh.createFamily({
          id: familyId,
          userId: user.id,
          csrfHash: digest(csrf),
          currentHash: digest(refreshToken),
          createdAt: now,
          lastUsedAt: now,
          expiresAt: now + this.d.config.refreshTtl * 1000,
          userAgent,
          revokedAt: null,
          revokedReason: null,
        }, { jti: claims.jti, exp: claims.exp });
        return {
          mode: 'hybrid',
          user: toPublicUser(user),
          accessToken: this.keyring.sign({ ...claims }),
          expiresIn: this.d.config.accessTtl,
          refreshToken,
          csrf,
        };
      }
    }
  }

  private newClaims(user: UserRecord, sid?: string): AccessClaims {
    const c = this.d.config;
    const claims = newAccessClaims(
      { sub: user.id, name: user.name, role: user.role, sid },
      {
        issuer: c.issuer,
        audience: c.audience,
        ttlSeconds: c.accessTtl,
        clock: this.d.clock,
        random: this.d.random,
        notBeforeMs: this.revocation.notBeforeOf(user.id),
      },
    );
    // Dated ahead of now (right after a revocation): the next revocation must reach past it.
    if (claims.iat * 1000 > this.d.clock.now()) {
      this.datedAhead.set(user.id, Math.max(this.datedAhead.get(user.id) ?? 0, claims.iat));
      this.latestDatedAhead = Math.max(this.latestDatedAhead, claims.iat);
    }
    return claims;
  }


  // ── authenticating requests ─────────────────────────────────────────────

  /** Verifies a Bearer token: in memory only, no store look-up. */
  authenticateBearer(token: string): TokenPrincipal {
    const claims = this.tokens.verify(token);
    this.checkRevocationFeed();
    return { kind: 'token', mode: claims.sid === undefined ? 'jwt' : 'hybrid', claims };
  }

  /**
   * Looks up a session cookie; null when it names no live session of an enabled user.
   * Synchronous when the store and the user cache can answer at once (SQLite, memory):
   * the session hot path then awaits nothing.
   */
  authenticateSession(sessionId: string): MaybePromise<SessionPrincipal | null> {
    if (!looksLikeSecret(sessionId)) return null;
    const now = this.d.clock.now();
    const idHash = digest(sessionId);
    const found = this.d.stores.sessions.findSession(idHash, now);
    return isPromise(found) ? found.then((s) => this.sessionPrincipal(s, sessionId, now)) : this.sessionPrincipal(found, sessionId, now);
  }

  private sessionPrincipal(session: SessionRecord | null, sessionId: string, now: number): MaybePromise<SessionPrincipal | null> {
    if (!session) return null;
    const cached = this.users.get(session.userId);
    if (cached === undefined) return this.userById(session.userId).then((u) => this.liveSession(session, u, sessionId, now));
    return this.liveSession(session, cached, sessionId, now);
  }

  private liveSession(session: SessionRecord, user: UserRecord | null, sessionId: string, now: number): MaybePromise<SessionPrincipal | null> {
    if (!user || user.disabled) return null;
    const p: SessionPrincipal = { kind: 'session', mode: 'session', user, session, sessionId };
    // Sliding expiry with throttled writes: at most one touch per session per interval.
    const idleMs = this.d.config.sessionIdleTtl * 1000;
    if (now - session.lastUsedAt < Math.min(60_000, idleMs / 10)) return p;
    const idleExpiresAt = Math.min(now + idleMs, session.expiresAt);
    session.lastUsedAt = now;
    session.idleExpiresAt = idleExpiresAt;
    return this.d.stores.sessions.touchSession(session.idHash, now, idleExpiresAt).then(() => p);
  }

  /** CSRF for cookie-authenticated writes: header equals cookie, and the value is the one bound to this session. */
  checkSessionCsrf(p: Principal, header: string | undefined, cookie: string | undefined): void {
    if (p.kind !== 'session') return;
    this.checkCsrf(p.session.csrfHash, header, cookie);
  }

  private checkCsrf(boundHash: string, header: string | undefined, cookie: string | undefined): void {
    if (!header || !cookie || !safeEqual(header, cookie) || !safeEqual(digest(header), boundHash)) {
      throw new AuthError('csrf', 'Missing or wrong X-CSRF-Token for this session.');
    }
  }

  /**
   * `GET /auth/me` for a token, from the verified claims alone: synchronous when the
   * user's name is in the cache (usernames never change), else null (call `me`).
   */
  meFromToken(p: TokenPrincipal): MeBody | null {
    const cached = this.users.get(p.claims.sub);
    return cached === undefined ? null : tokenMe(p, cached.username);
  }

  /** `GET /auth/me` for a session: the user record read with the session. */
  meFromSession(p: SessionPrincipal): MeBody {
    const s = p.session;
    return { user: toPublicUser(p.user), auth: { mode: 'session', expires_at: iso(Math.min(s.idleExpiresAt, s.expiresAt)) } };
  }

  async me(p: Principal): Promise<MeBody> {
    if (p.kind === 'session') return this.meFromSession(p);
    const user = this.users.get(p.claims.sub) ?? (await this.userById(p.claims.sub));
    if (!user) throw new AuthError('invalid_token', 'The token names no user.');
    return tokenMe(p, user.username);
  }

  // ── refresh ─────────────────────────────────────────────────────────────

  private successorOf(token: string): string {
    // Deterministic, so two concurrent refreshes with one token present the same successor
    // and the family does not fork; keyed, so a thief of an old token cannot compute the next.
    return createHmac('sha256', this.successorKey).update(token).digest('base64url');
  }

  /**
   * Rotates a refresh token. `csrf` is given when the token came from the cookie
   * (a cookie-authenticated write), and must match the family's bound value.
   */
  async refresh(input: { token: string; csrf?: { header: string | undefined; cookie: string | undefined } }): Promise<RefreshResult> {
    if (!looksLikeSecret(input.token)) throw new AuthError('invalid_token', 'The refresh token is malformed.');
    const now = this.d.clock.now();
    const oldHash = digest(input.token);
    const family = await this.d.stores.refresh.findFamilyByToken(oldHash, now);
    if (input.csrf && family) this.checkCsrf(family.csrfHash, input.csrf.header, input.csrf.cookie);
    if (!family) {
      // Not live: ask the store why, without recording anything (a dead family cannot rotate),
      // so a token of a family ended for reuse keeps answering refresh_reused.
      const dead = await this.d.stores.refresh.rotateRefresh({ oldHash, nextHash: oldHash, now, graceMs: 0, grant: { jti: '', exp: 0 } });
      this.metrics.inc('frontdesk_refresh_total', `result="${dead.status}"`);
      if (dead.status === 'unknown') throw new AuthError('invalid_token', 'The refresh token is not valid; sign in again.');
      throw endedSignIn(dead.family.revokedReason);
    }
    const user = await this.userById(family.userId);
    if (!user || user.disabled) {
      await this.d.stores.refresh.revokeFamily(family.userId, family.id, 'disabled', now);
      throw new AuthError('unauthenticated', 'This account is disabled.');
    }
    const claims = this.newClaims(user, family.id);
    const next = this.successorOf(input.token);
    const r = await this.d.stores.refresh.rotateRefresh({
      oldHash,
      nextHash: digest(next),
      now,
      graceMs: this.d.config.refreshGrace * 1000,
      grant: { jti: claims.jti, exp: claims.exp },
    });
    this.metrics.inc('frontdesk_refresh_total', `result="${r.status}"`);
    switch (r.status) {
      case 'rotated':
      case 'grace':
        return { accessToken: this.keyring.sign({ ...claims }), expiresIn: this.d.config.accessTtl, refreshToken: next };
      case 'reused':
        // RFC 9700 §4.14.2: a replayed refresh token means theft; end the whole family, successor included.
        await this.denyGrants(r.family);
        this.d.log.warn({ family: r.family.id, user: r.family.userId }, 'refresh token reuse: family revoked');
        throw new AuthError('refresh_reused', 'This refresh token was already used; the sign-in was ended for safety.');
      case 'revoked':
        throw endedSignIn(r.family.revokedReason);
      case 'unknown':
        throw new AuthError('invalid_token', 'The refresh token is not valid; sign in again.');
    }
  }

  // ── logout and revocation ───────────────────────────────────────────────

  /** Ends the caller's own sign-in: the session record, or the token (and its family). */
  async logout(p: Principal): Promise<void> {
    if (p.kind === 'session') {
      await this.d.stores.sessions.deleteSession(p.session.idHash);
      return;
    }
    const c = p.claims;
    await this.emit({ type: 'jti', jti: c.jti, exp: c.exp }, (c.exp + this.d.config.leeway) * 1000);
    if (c.sid !== undefined) {
      const family = await this.d.stores.refresh.revokeFamily(c.sub, c.sid, 'logout', this.d.clock.now());
      if (family) await this.denyGrants(family);
    }
  }

  /** Logout by refresh cookie alone (a hybrid client that lost its access token). */
  async logoutByRefresh(token: string, csrf: { header: string | undefined; cookie: string | undefined }): Promise<void> {
    if (!looksLikeSecret(token)) throw new AuthError('unauthenticated', 'Not signed in.');
    const now = this.d.clock.now();
    const family = await this.d.stores.refresh.findFamilyByToken(digest(token), now);
    if (!family) throw new AuthError('unauthenticated', 'Not signed in.');
    this.checkCsrf(family.csrfHash, csrf.header, csrf.cookie);
    const revoked = await this.d.stores.refresh.revokeFamily(family.userId, family.id, 'logout', now);
    if (revoked) await this.denyGrants(revoked);
  }

  /** Every session, family and access token of the user dies, but `keep` (a session public ID, a sid or a jti). */
  private async revokeUser(userId: string, reason: RevokeReason, keep?: string): Promise<void> {
    await this.bumpUserEpoch(userId, keep);
    await this.d.stores.sessions.deleteUserSessions(userId, keep);
    await this.d.stores.refresh.revokeUserFamilies(userId, reason, this.d.clock.now(), keep);
  }

  async logoutAll(p: Principal): Promise<void> {
    await this.revokeUser(subjectOf(p), 'logout_all');
  }

  async changePassword(p: Principal, currentPassword: string, newPassword: string, address: string): Promise<void> {
    const sub = subjectOf(p);
    const user = await this.d.stores.users.findUserById(sub);
    if (!user) throw new AuthError('unauthenticated', 'Not signed in.');
    const next = normalizePassword(newPassword);
    await this.checkPassword(user.usernameKey, currentPassword, address);
    await this.d.stores.users.updateUser(sub, { passwordHash: await this.d.hasher.hash(next) }, this.d.clock.now());
    await this.revokeUser(sub, 'password', currentId(p));
  }

  async listSessions(p: Principal): Promise<SessionView[]> {
    const sub = subjectOf(p);
    const now = this.d.clock.now();
    const current = currentId(p);
    const [sessions, families] = await Promise.all([
      this.d.stores.sessions.listUserSessions(sub, now),
      this.d.stores.refresh.listUserFamilies(sub, now),
    ]);
    const views: SessionView[] = [
      ...sessions.map((s) => ({ id: s.publicId, mode: 'session' as const, created_at: iso(s.createdAt), last_used_at: iso(s.lastUsedAt), user_agent: s.userAgent, current: s.publicId === current })),
      ...families.map((f) => ({ id: f.id, mode: 'hybrid' as const, created_at: iso(f.createdAt), last_used_at: iso(f.lastUsedAt), user_agent: f.userAgent, current: f.id === current })),
    ];
    return views.sort((a, b) => b.created_at.localeCompare(a.created_at));
  }

  async revokeSession(p: Principal, id: string): Promise<void> {
    const sub = subjectOf(p);
    if (await this.d.stores.sessions.deleteSessionByPublicId(sub, id)) return;
    const family = await this.d.stores.refresh.revokeFamily(sub, id, 'logout', this.d.clock.now());
    if (!family) throw new AuthError('not_found', 'No such session.');
    await this.denyGrants(family);
  }

  // ── admin ───────────────────────────────────────────────────────────────

  requireAdmin(p: Principal): void {
    const role = p.kind === 'session' ? p.user.role : p.claims.role;
    if (role !== 'admin') throw new AuthError('forbidden', 'Administrators only.');
  }

  async listUsers(q: { q?: string | undefined; limit: number; cursor?: string | undefined }): Promise<{ users: PublicUser[]; next_cursor: string | null }> {
    const page = await this.d.stores.users.listUsers({ ...q, q: q.q === undefined ? undefined : usernameKey(q.q) });
    return { users: page.users.map(toPublicUser), next_cursor: page.nextCursor };
  }

  async patchUser(id: string, patch: { role?: Role | undefined; disabled?: boolean | undefined }): Promise<PublicUser> {
    const before = await this.d.stores.users.findUserById(id);
    if (!before) throw new AuthError('not_found', 'No such user.');
    const change: { role?: Role; disabled?: boolean } = {};
    if (patch.role !== undefined) change.role = patch.role;
    if (patch.disabled !== undefined) change.disabled = patch.disabled;
    const after = await this.d.stores.users.updateUser(id, change, this.d.clock.now());
    if (!after) throw new AuthError('not_found', 'No such user.');
    if (after.disabled && !before.disabled) {
      await this.revokeUser(id, 'disabled');
    } else if (after.role !== before.role) {
      // Tokens carry the role: those with the stale one die; sessions read the user afresh.
      await this.bumpUserEpoch(id);
    }
    this.users.delete(id);
    return toPublicUser(after);
  }

  async revokeUserByAdmin(id: string): Promise<void> {
    if (!(await this.d.stores.users.findUserById(id))) throw new AuthError('not_found', 'No such user.');
    await this.revokeUser(id, 'admin');
  }

  async wipeAll(): Promise<void> {
    const now = this.d.clock.now();
    const notBefore = this.nextEpochSeconds(this.latestDatedAhead);
    await this.emit({ type: 'all', not_before: notBefore }, notBefore * 1000 + this.maxTokenLifetimeMs);
    await this.d.stores.sessions.deleteAllSessions();
    await this.d.stores.refresh.revokeAllFamilies('wipe', now);
  }

  /** New signing key; the old ones stay published until every token they signed has expired. */
  async rotateKeys(): Promise<string> {
    const now = this.d.clock.now();
    const key = generateKey(this.d.config.jwtAlg, now, this.d.random);
    await this.d.stores.keys.insertKey(key);
    // A token issued right after a revocation is dated at its epoch (up to a few seconds ahead),
    // so the old key stays published until the latest such token has expired too.
    const publishUntil = Math.max(now, this.revocation.latestNotBefore) + this.maxTokenLifetimeMs;
    for (const k of await this.d.stores.keys.listKeys()) {
      if (k.kid !== key.kid && k.retiredAt === null) await this.d.stores.keys.retireKey(k.kid, now, publishUntil);
    }
    await this.reloadKeys();
    await this.emit({ type: 'key', kid: key.kid }, now + this.maxTokenLifetimeMs);
    return key.kid;
  }

  /** Periodic housekeeping: expired rows and in-memory entries that can no longer matter. */
  async sweep(): Promise<Record<string, number>> {
    const now = this.d.clock.now();
    this.revocation.prune(now, this.maxTokenLifetimeMs, this.d.config.leeway * 1000);
    for (const [sub, iat] of this.datedAhead) if (iat * 1000 <= now) this.datedAhead.delete(sub);
    return this.d.stores.sweepExpired(now);
  }
}

/** `GET /auth/me` for a token: everything but the username comes from the verified claims. */
function tokenMe(p: TokenPrincipal, username: string): MeBody {
  const c = p.claims;
  return {
    user: { id: c.sub, username, name: c.name, role: c.role, disabled: false },
    auth: { mode: p.mode, expires_at: iso(c.exp * 1000) },
  };
}

/** Why a refresh family is dead, in words a user understands (the web app shows them). */
const ENDED: Record<RevokeReason, string> = {
  reused: 'This sign-in was ended because its refresh token was used twice.',
  logout: 'You signed out of this device.',
  logout_all: 'You signed out everywhere.',
  password: 'Your password was changed, which signed out your other devices.',
  admin: 'An administrator signed you out.',
  disabled: 'This account is disabled.',
  wipe: 'An administrator signed everyone out.',
};

function endedSignIn(reason: RevokeReason | null): AuthError {
  if (reason === 'reused') return new AuthError('refresh_reused', ENDED.reused);
  return new AuthError('invalid_token', reason === null ? 'This sign-in has expired; sign in again.' : ENDED[reason]);
}

function subjectOf(p: Principal): string {
  return p.kind === 'session' ? p.user.id : p.claims.sub;
}

/** The ID that identifies the caller's own sign-in among its sessions: session public ID, family, or jti. */
function currentId(p: Principal): string {
  return p.kind === 'session' ? p.session.publicId : (p.claims.sid ?? p.claims.jti);
}
