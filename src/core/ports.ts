/**
 * Store ports: what the core needs from persistence, in the core's words.
 * Every backend (memory, sqlite, postgres, redis) implements these and runs the
 * same contract suite (test/stores/contract.ts). Single-use steps — refresh
 * rotation above all — are atomic inside the backend; the core never does
 * read-then-write for them.
 *
 * Times are milliseconds since the epoch, passed in by the core (stores never
 * read the clock, so tests control expiry). Secrets arrive already hashed.
 */

export type Role = 'user' | 'admin';

/**
 * A value now, or later. Embedded backends (memory, SQLite) answer the session
 * look-up synchronously so that the session hot path awaits nothing it does not
 * need; networked ones return a promise. Callers handle both (see isPromise).
 */
export type MaybePromise<T> = T | Promise<T>;

export const isPromise = <T>(v: MaybePromise<T>): v is Promise<T> => typeof (v as { then?: unknown } | null)?.then === 'function';
export type Mode = 'session' | 'jwt' | 'hybrid';

export interface UserRecord {
  id: string;
  /** As registered, NFKC-normalised; shown to people. */
  username: string;
  /** NFKC + lower-cased: the unique key that makes `Alice` and `ａｌｉｃｅ` one user. */
  usernameKey: string;
  name: string;
  role: Role;
  disabled: boolean;
  passwordHash: string;
  createdAt: number;
  updatedAt: number;
}

export interface UserPatch {
  role?: Role;
  disabled?: boolean;
  passwordHash?: string;
}

export interface UserPage {
  users: UserRecord[];
  nextCursor: string | null;
}

export interface UserStore {
  /** Inserts the user, or answers 'conflict' when `usernameKey` is taken (atomically: no check-then-insert race). */
  createUser(user: UserRecord): Promise<UserRecord | 'conflict'>;
  findUserById(id: string): Promise<UserRecord | null>;
  findUserByUsername(usernameKey: string): Promise<UserRecord | null>;
  /** Users ordered by `usernameKey`; `q` filters by substring of the username key; `cursor` is opaque. */
  listUsers(query: { q?: string | undefined; limit: number; cursor?: string | undefined }): Promise<UserPage>;
  /** Applies the patch and returns the updated user, or null if there is no such user. */
  updateUser(id: string, patch: UserPatch, now: number): Promise<UserRecord | null>;
}

export interface SessionRecord {
  /** SHA-256 of the 256-bit session ID held in the cookie. */
  idHash: string;
  /** 128-bit public ID used in `/auth/sessions`; not a credential. */
  publicId: string;
  userId: string;
  /** SHA-256 of the CSRF token bound to this session. */
  csrfHash: string;
  createdAt: number;
  lastUsedAt: number;
  /** Sliding idle deadline, moved by `touchSession`. */
  idleExpiresAt: number;
  /** Absolute deadline, never moved. */
  expiresAt: number;
  userAgent: string;
}

export interface SessionStore {
  createSession(session: SessionRecord): Promise<void>;
  /** The session if it exists and neither deadline has passed at `now`; else null. Synchronous where the backend can be. */
  findSession(idHash: string, now: number): MaybePromise<SessionRecord | null>;
  /** Slides the idle deadline. A missing session is not an error. */
  touchSession(idHash: string, lastUsedAt: number, idleExpiresAt: number): Promise<void>;
  /** Deletes by credential hash; true if a session was deleted. */
  deleteSession(idHash: string): Promise<boolean>;
  /** Deletes one of the user's sessions by its public ID; true if one was deleted. */
  deleteSessionByPublicId(userId: string, publicId: string): Promise<boolean>;
  /** Deletes every session of the user except the one with `exceptPublicId`; returns how many. */
  deleteUserSessions(userId: string, exceptPublicId?: string): Promise<number>;
  /** Live sessions of the user at `now`, newest first. */
  listUserSessions(userId: string, now: number): Promise<SessionRecord[]>;
  deleteAllSessions(): Promise<number>;
  /** Deletes sessions past either deadline; returns how many. */
  sweepSessions(now: number): Promise<number>;
}

export interface AccessGrant {
  jti: string;
  /** Expiry of that access token, seconds since the epoch. */
  exp: number;
}

export type RevokeReason = 'logout' | 'logout_all' | 'password' | 'admin' | 'disabled' | 'reused' | 'wipe';

export interface FamilyRecord {
  /** 128-bit public ID; the `sid` claim of hybrid access tokens. */
  id: string;
  userId: string;
  csrfHash: string;
  /** Hash of the one refresh token of this family that is currently valid. */
  currentHash: string;
  createdAt: number;
  lastUsedAt: number;
  /** Absolute deadline of the family (FRONTDESK_REFRESH_TTL). */
  expiresAt: number;
  userAgent: string;
  revokedAt: number | null;
  revokedReason: RevokeReason | null;
}

/**
 * A family as one revocation left it, with the access tokens it issued that are
 * still unexpired at the revocation's `now`: the caller denies those.
 *
 * Grants are not part of FamilyRecord on purpose: a family refreshed every few
 * seconds issues hundreds of access tokens per access-token lifetime, and a
 * rotation must not read or rewrite them. Stores append one grant per rotation
 * and read them only here.
 */
export interface RevokedFamily extends FamilyRecord {
  grants: AccessGrant[];
}

export interface RotateInput {
  oldHash: string;
  /** Hash of the successor token. Derived deterministically from the old token, so a concurrent duplicate presents the same successor. */
  nextHash: string;
  now: number;
  graceMs: number;
  /** The access token issued with this refresh, recorded on the family. */
  grant: AccessGrant;
}

/**
 * - rotated: `oldHash` was current; `nextHash` is now current and `grant` is recorded.
 * - grace: `oldHash` was rotated to `nextHash` within the grace window; nothing changes but `grant` is recorded.
 * - reused: `oldHash` was rotated earlier (or to another successor); the family is now revoked with reason
 *   'reused', and comes with its unexpired grants (`grant` is not recorded: no token is issued).
 * - revoked: the family was already revoked (the family carries the reason) or has expired.
 * - unknown: no such token.
 */
export type RotateResult =
  | { status: 'rotated' | 'grace' | 'revoked'; family: FamilyRecord }
  | { status: 'reused'; family: RevokedFamily }
  | { status: 'unknown' };

export interface RefreshStore {
  /** Creates the family with `currentHash` as its first token, recording `grant` (the access token issued with it) if given. */
  createFamily(family: FamilyRecord, grant?: AccessGrant): Promise<void>;
  /** One atomic step: see RotateResult. Costs the same however often the family was rotated. */
  rotateRefresh(input: RotateInput): Promise<RotateResult>;
  /** The live family that token hash belongs to (current or rotated token), or null. */
  findFamilyByToken(tokenHash: string, now: number): Promise<FamilyRecord | null>;
  /**
   * Revokes one family of the user (by public ID); returns it as it was, with the grants
   * unexpired at `now`, or null if none was live. Atomic with rotation: a grant recorded by a
   * rotation that won the race is returned, and no rotation records one afterwards.
   */
  revokeFamily(userId: string, familyId: string, reason: RevokeReason, now: number): Promise<RevokedFamily | null>;
  /** Revokes every live family of the user except `exceptFamilyId`; returns those revoked. */
  revokeUserFamilies(userId: string, reason: RevokeReason, now: number, exceptFamilyId?: string): Promise<FamilyRecord[]>;
  /** Live (unrevoked, unexpired) families of the user, newest first. */
  listUserFamilies(userId: string, now: number): Promise<FamilyRecord[]>;
  /** Revokes every live family; returns how many. */
  revokeAllFamilies(reason: RevokeReason, now: number): Promise<number>;
  /** Deletes families (and their tokens and grants) past `expiresAt`; revoked ones are kept until then so a replay still reads 'reused'. */
  sweepFamilies(now: number): Promise<number>;
  /** Deletes grants whose access token has expired at `now` (nothing is left to deny); returns how many. */
  sweepGrants(now: number): Promise<number>;
}

/**
 * Revocation events, the wire format of API.md ("For other services").
 * Times are NumericDate seconds. `not_before` is a whole second after the
 * revocation: tokens whose `iat` is before it are revoked.
 */
export type RevocationEvent =
  | { type: 'jti'; jti: string; exp: number }
  | { type: 'user'; sub: string; not_before: number; except?: string }
  | { type: 'all'; not_before: number }
  | { type: 'key'; kid: string };

export interface StoredEvent {
  /** Cursor: opaque, ordered by the store. */
  id: string;
  event: RevocationEvent;
}

/**
 * Health of a shared backend's event feed, as its subscribers hear it:
 * - down: the connection that carries other nodes' events is lost, so events may be missing;
 * - live: (re)connected, and every event missed meanwhile has been delivered.
 */
export type FeedState = 'live' | 'down';

export interface RevocationStore {
  /** Appends an event that matters until `expiresAt` (ms); returns it with its cursor. */
  append(event: RevocationEvent, expiresAt: number): Promise<StoredEvent>;
  /** Unexpired events after `cursor` (all unexpired ones when null), oldest first, at most `limit`. */
  since(cursor: string | null, limit: number, now: number): Promise<StoredEvent[]>;
  /**
   * Calls `listener` for events appended from now on, by this process or (for
   * shared backends) any other node. Returns an unsubscribe function.
   *
   * `onFeed`, if given, hears when a shared backend's feed goes 'down' and when it
   * is 'live' again — only after the events missed while down were delivered to
   * `listener`. It is called at once with 'down' if the feed is down when subscribing.
   * In-process feeds (memory, SQLite) cannot go down and never call it.
   */
  subscribe(listener: (event: StoredEvent) => void, onFeed?: (state: FeedState) => void): () => void;
  sweepEvents(now: number): Promise<number>;
}

export interface KeyRecord {
  kid: string;
  alg: 'EdDSA' | 'ES256' | 'RS256' | 'HS256';
  /** PKCS#8 PEM for asymmetric keys; base64url secret for HS256. */
  privateKey: string;
  /** Public JWK (with kid, alg, use); null for HS256. */
  publicJwk: Record<string, unknown> | null;
  createdAt: number;
  /** When it stopped signing; null while current. */
  retiredAt: number | null;
  /** Until when it stays published; null while current. */
  publishUntil: number | null;
}

export interface KeyStore {
  /** Every stored key, oldest first. */
  listKeys(): Promise<KeyRecord[]>;
  insertKey(key: KeyRecord): Promise<void>;
  retireKey(kid: string, retiredAt: number, publishUntil: number): Promise<void>;
  /** Deletes keys whose publishUntil has passed. */
  sweepKeys(now: number): Promise<number>;
  /** Returns the named server secret, storing `candidate` first if none exists (atomic insert-if-absent). */
  getOrCreateSecret(name: string, candidate: string): Promise<string>;
}

export interface RateLimitStore {
  /** Counts one hit against `key` in a fixed window of `windowMs`; returns the count and when the window resets. */
  hit(key: string, windowMs: number, now: number): Promise<{ count: number; resetAt: number }>;
  /** The current count without adding a hit. */
  peek(key: string, now: number): Promise<{ count: number; resetAt: number }>;
  reset(key: string): Promise<void>;
}

/** The set of stores one Frontdesk node runs on. */
export interface Stores {
  users: UserStore;
  sessions: SessionStore;
  refresh: RefreshStore;
  revocations: RevocationStore;
  keys: KeyStore;
  rateLimits: RateLimitStore;
  /** Health of each backend by name (e.g. `{ sqlite: 'ok' }`); a failing one says why in a few words. */
  ping(): Promise<Record<string, string>>;
  /** Deletes what has expired; returns counts by kind, for logs and metrics. */
  sweepExpired(now: number): Promise<Record<string, number>>;
  close(): Promise<void>;
}
