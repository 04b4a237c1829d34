import { AuthError, StoreUnavailableError } from '../core/errors.js';
import type {
  AccessGrant,
  FamilyRecord,
  KeyRecord,
  RevocationEvent,
  RevokeReason,
  RevokedFamily,
  RotateInput,
  RotateResult,
  SessionRecord,
  StoredEvent,
  Stores,
  UserPatch,
  UserRecord,
} from '../core/ports.js';

/*
 * The reference backend: plain Maps, one process, nothing survives a restart.
 * Every method does its work synchronously before its promise settles, so each
 * single-use step (rotation above all) is atomic without locks. Records are
 * cloned on the way in and out, as a database would, so a caller mutating a
 * returned object cannot change what is stored.
 */

/**
 * In-process fan-out of appended revocation events. Listeners run synchronously
 * after the event is stored; one that throws does not stop the others nor fail
 * the append (the event is already durable), and its error is reported as a
 * process warning rather than dropped.
 *
 * @example
 * const hub = new EventHub();
 * const off = hub.subscribe((e) => console.log(e.id));
 * hub.publish({ id: '1', event: { type: 'all', not_before: 1 } });
 * off();
 */
export class EventHub {
  private readonly listeners = new Set<(event: StoredEvent) => void>();

  subscribe(listener: (event: StoredEvent) => void): () => void {
    // Wrapped so the same function subscribed twice gets two independent subscriptions.
    const entry = (event: StoredEvent): void => listener(event);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  publish(event: StoredEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(structuredClone(event));
      } catch (error) {
        process.emitWarning(error instanceof Error ? error : new Error(String(error)), 'RevocationListenerWarning');
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}

/** Opaque user-list cursor: the last username key of the page, base64url. */
export function encodeUserCursor(usernameKey: string): string {
  return Buffer.from(usernameKey, 'utf8').toString('base64url');
}

/** Inverse of encodeUserCursor; a value it did not produce is a 400, not a silently odd page. */
export function decodeUserCursor(cursor: string): string {
  const key = Buffer.from(cursor, 'base64url').toString('utf8');
  if (cursor.length === 0 || encodeUserCursor(key) !== cursor) {
    throw new AuthError('invalid_request', 'The cursor is not valid.');
  }
  return key;
}

/** Event cursors are decimal integers; anything else (a forged Last-Event-ID) is a 400. */
export function parseEventCursor(cursor: string): number {
  if (!/^(0|[1-9][0-9]{0,14})$/.test(cursor)) {
    throw new AuthError('invalid_request', 'The revocation cursor is not valid.');
  }
  return Number(cursor);
}

/** Guards a page size so a bad limit fails loudly instead of returning everything or nothing. */
export function checkLimit(limit: number): void {
  if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer, got ${limit}`);
}

// Byte-wise UTF-8 order, the order SQLite's BINARY collation gives, so cursors agree across backends.
const byKey = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

interface TokenRow {
  familyId: string;
  rotatedAt: number | null;
  successorHash: string | null;
}

interface WindowRow {
  count: number;
  resetAt: number;
}

/**
 * Creates empty in-memory stores: for tests, and the reference that the
 * contract suite (test/stores/contract.ts) pins the other backends to.
 *
 * @example
 * const stores = createMemoryStores();
 * await stores.users.createUser(user);
 */
export function createMemoryStores(): Stores {
  const users = new Map<string, UserRecord>();
  const userIdByKey = new Map<string, string>();
  const sessions = new Map<string, SessionRecord>();
  const families = new Map<string, FamilyRecord>();
  const tokens = new Map<string, TokenRow>();
  // Per family, jti → exp (seconds) of the access tokens it issued: appended per rotation, read on revocation.
  const grants = new Map<string, Map<string, number>>();
  const events: { id: number; event: RevocationEvent; expiresAt: number }[] = [];
  let lastEventId = 0;
  const keys = new Map<string, KeyRecord>();
  const secrets = new Map<string, string>();
  const windows = new Map<string, WindowRow>();
  const hub = new EventHub();
  let closed = false;

  // Runs a step synchronously, so it is atomic, and refuses work after close like a real backend would.
  const op = <T>(fn: () => T): Promise<T> => {
    if (closed) return Promise.reject(new StoreUnavailableError('memory'));
    try {
      return Promise.resolve(fn());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  };

  const isLiveSession = (s: SessionRecord, now: number): boolean => now < s.idleExpiresAt && now < s.expiresAt;
  const isLiveFamily = (f: FamilyRecord, now: number): boolean => f.revokedAt === null && now < f.expiresAt;
  const newestFirst = <T extends { createdAt: number }>(rows: T[]): T[] =>
    // Insertion order reversed first, so ties on createdAt also come newest first.
    rows.reverse().sort((a, b) => b.createdAt - a.createdAt);

  const revoke = (family: FamilyRecord, reason: RevokeReason, now: number): FamilyRecord => {
    family.revokedAt = now;
    family.revokedReason = reason;
    return structuredClone(family);
  };

  const addGrant = (familyId: string, grant: AccessGrant, now: number): void => {
    if (grant.exp * 1000 <= now) return;
    let byJti = grants.get(familyId);
    if (byJti === undefined) grants.set(familyId, (byJti = new Map<string, number>()));
    byJti.set(grant.jti, grant.exp);
  };

  /** Revokes and returns the family with the grants still unexpired at `now`. */
  const revokeWithGrants = (family: FamilyRecord, reason: RevokeReason, now: number): RevokedFamily => {
    const live: AccessGrant[] = [];
    for (const [jti, exp] of grants.get(family.id) ?? []) if (exp * 1000 > now) live.push({ jti, exp });
    return { ...revoke(family, reason, now), grants: live };
  };

  const sweepSessions = (now: number): number => {
    let n = 0;
    for (const [hash, s] of sessions) {
      if (!isLiveSession(s, now)) {
        sessions.delete(hash);
        n++;
      }
    }
    return n;
  };

  const sweepFamilies = (now: number): number => {
    const dead = new Set<string>();
    for (const [id, f] of families) {
      if (now >= f.expiresAt) {
        families.delete(id);
        dead.add(id);
      }
    }
    for (const [hash, t] of tokens) if (dead.has(t.familyId)) tokens.delete(hash);
    for (const id of dead) grants.delete(id);
    return dead.size;
  };

  const sweepGrants = (now: number): number => {
    let n = 0;
    for (const [familyId, byJti] of grants) {
      for (const [jti, exp] of byJti) {
        if (exp * 1000 <= now) {
          byJti.delete(jti);
          n++;
        }
      }
      if (byJti.size === 0) grants.delete(familyId);
    }
    return n;
  };

  const sweepEvents = (now: number): number => {
    const before = events.length;
    const kept = events.filter((e) => now < e.expiresAt);
    events.splice(0, events.length, ...kept);
    return before - kept.length;
  };

  const sweepKeys = (now: number): number => {
    let n = 0;
    for (const [kid, k] of keys) {
      if (k.publishUntil !== null && now >= k.publishUntil) {
        keys.delete(kid);
        n++;
      }
    }
    return n;
  };

  const sweepWindows = (now: number): number => {
    let n = 0;
    for (const [key, w] of windows) {
      if (now >= w.resetAt) {
        windows.delete(key);
        n++;
      }
    }
    return n;
  };

  return {
    users: {
      createUser: (user) =>
        op(() => {
          if (userIdByKey.has(user.usernameKey)) return 'conflict' as const;
          if (users.has(user.id)) throw new Error(`a user with id ${user.id} already exists`);
          users.set(user.id, structuredClone(user));
          userIdByKey.set(user.usernameKey, user.id);
          return structuredClone(user);
        }),
      findUserById: (id) => op(() => cloneOrNull(users.get(id))),
      findUserByUsername: (usernameKey) =>
        op(() => {
          const id = userIdByKey.get(usernameKey);
          return id === undefined ? null : cloneOrNull(users.get(id));
        }),
      listUsers: ({ q, limit, cursor }) =>
        op(() => {
          checkLimit(limit);
          const after = cursor === undefined ? '' : decodeUserCursor(cursor);
          const matching = [...users.values()]
            .filter((u) => byKey(u.usernameKey, after) > 0 && (q === undefined || u.usernameKey.includes(q)))
            .sort((a, b) => byKey(a.usernameKey, b.usernameKey));
          const page = matching.slice(0, limit);
          const last = page.at(-1);
          return {
            users: page.map((u) => structuredClone(u)),
            nextCursor: matching.length > limit && last !== undefined ? encodeUserCursor(last.usernameKey) : null,
          };
        }),
      updateUser: (id, patch: UserPatch, now) =>
        op(() => {
          const user = users.get(id);
          if (user === undefined) return null;
          if (patch.role !== undefined) user.role = patch.role;
          if (patch.disabled !== undefined) user.disabled = patch.disabled;
          if (patch.passwordHash !== undefined) user.passwordHash = patch.passwordHash;
          user.updatedAt = now;
          return structuredClone(user);
        }),
    },

    sessions: {
      createSession: (session) =>
        op(() => {
          if (sessions.has(session.idHash)) throw new Error('a session with that id hash already exists');
          sessions.set(session.idHash, structuredClone(session));
        }),
      findSession: (idHash, now) => {
        if (closed) throw new StoreUnavailableError('memory');
        const s = sessions.get(idHash);
        return s !== undefined && isLiveSession(s, now) ? structuredClone(s) : null;
      },
      touchSession: (idHash, lastUsedAt, idleExpiresAt) =>
        op(() => {
          const s = sessions.get(idHash);
          // A session already idle-expired at the touch time stays dead: touching must never resurrect it.
          if (s === undefined || lastUsedAt >= s.idleExpiresAt) return;
          s.lastUsedAt = lastUsedAt;
          s.idleExpiresAt = idleExpiresAt;
        }),
      deleteSession: (idHash) => op(() => sessions.delete(idHash)),
      deleteSessionByPublicId: (userId, publicId) =>
        op(() => {
          for (const [hash, s] of sessions) {
            if (s.publicId === publicId && s.userId === userId) return sessions.delete(hash);
          }
          return false;
        }),
      deleteUserSessions: (userId, exceptPublicId) =>
        op(() => {
          let n = 0;
          for (const [hash, s] of sessions) {
            if (s.userId === userId && s.publicId !== exceptPublicId) {
              sessions.delete(hash);
              n++;
            }
          }
          return n;
        }),
      listUserSessions: (userId, now) =>
        op(() =>
          newestFirst([...sessions.values()].filter((s) => s.userId === userId && isLiveSession(s, now))).map((s) =>
            structuredClone(s),
          ),
        ),
      deleteAllSessions: () =>
        op(() => {
          const n = sessions.size;
          sessions.clear();
          return n;
        }),
      sweepSessions: (now) => op(() => sweepSessions(now)),
    },

    refresh: {
      createFamily: (family, grant) =>
        op(() => {
          if (families.has(family.id)) throw new Error(`a refresh family with id ${family.id} already exists`);
          if (tokens.has(family.currentHash)) throw new Error('that refresh token hash is already in use');
          families.set(family.id, structuredClone(family));
          tokens.set(family.currentHash, { familyId: family.id, rotatedAt: null, successorHash: null });
          if (grant) addGrant(family.id, grant, family.createdAt);
        }),
      rotateRefresh: (input: RotateInput) => op((): RotateResult => rotate(input)),
      findFamilyByToken: (tokenHash, now) =>
        op(() => {
          const t = tokens.get(tokenHash);
          const f = t === undefined ? undefined : families.get(t.familyId);
          return f !== undefined && isLiveFamily(f, now) ? structuredClone(f) : null;
        }),
      revokeFamily: (userId, familyId, reason, now) =>
        op(() => {
          const f = families.get(familyId);
          return f !== undefined && f.userId === userId && isLiveFamily(f, now) ? revokeWithGrants(f, reason, now) : null;
        }),
      revokeUserFamilies: (userId, reason, now, exceptFamilyId) =>
        op(() =>
          [...families.values()]
            .filter((f) => f.userId === userId && f.id !== exceptFamilyId && isLiveFamily(f, now))
            .map((f) => revoke(f, reason, now)),
        ),
      listUserFamilies: (userId, now) =>
        op(() =>
          newestFirst([...families.values()].filter((f) => f.userId === userId && isLiveFamily(f, now))).map((f) =>
            structuredClone(f),
          ),
        ),
      revokeAllFamilies: (reason, now) =>
        op(() => [...families.values()].filter((f) => isLiveFamily(f, now)).map((f) => revoke(f, reason, now)).length),
      sweepFamilies: (now) => op(() => sweepFamilies(now)),
      sweepGrants: (now) => op(() => sweepGrants(now)),
    },

    revocations: {
      append: (event, expiresAt) =>
        op(() => {
          const id = ++lastEventId;
          events.push({ id, event: structuredClone(event), expiresAt });
          const stored: StoredEvent = { id: String(id), event: structuredClone(event) };
          hub.publish(stored);
          return stored;
        }),
      since: (cursor, limit, now) =>
        op(() => {
          checkLimit(limit);
          const after = cursor === null ? 0 : parseEventCursor(cursor);
          return events
            .filter((e) => e.id > after && now < e.expiresAt)
            .slice(0, limit)
            .map((e) => ({ id: String(e.id), event: structuredClone(e.event) }));
        }),
      subscribe: (listener) => hub.subscribe(listener),
      sweepEvents: (now) => op(() => sweepEvents(now)),
    },

    keys: {
      listKeys: () =>
        // Map iteration is insertion order and sort is stable, so ties on createdAt keep insertion order.
        op(() => [...keys.values()].sort((a, b) => a.createdAt - b.createdAt).map((k) => structuredClone(k))),
      insertKey: (key) =>
        op(() => {
          if (keys.has(key.kid)) throw new Error(`a key with kid ${key.kid} already exists`);
          keys.set(key.kid, structuredClone(key));
        }),
      retireKey: (kid, retiredAt, publishUntil) =>
        op(() => {
          const k = keys.get(kid);
          if (k === undefined) return;
          k.retiredAt = retiredAt;
          k.publishUntil = publishUntil;
        }),
      sweepKeys: (now) => op(() => sweepKeys(now)),
      getOrCreateSecret: (name, candidate) =>
        op(() => {
          const existing = secrets.get(name);
          if (existing !== undefined) return existing;
          secrets.set(name, candidate);
          return candidate;
        }),
    },

    rateLimits: {
      hit: (key, windowMs, now) =>
        op(() => {
          const w = windows.get(key);
          if (w === undefined || now >= w.resetAt) {
            windows.set(key, { count: 1, resetAt: now + windowMs });
            return { count: 1, resetAt: now + windowMs };
          }
          w.count++;
          return { count: w.count, resetAt: w.resetAt };
        }),
      peek: (key, now) =>
        op(() => {
          const w = windows.get(key);
          return w === undefined || now >= w.resetAt ? { count: 0, resetAt: now } : { count: w.count, resetAt: w.resetAt };
        }),
      reset: (key) =>
        op(() => {
          windows.delete(key);
        }),
    },

    ping: () => Promise.resolve({ memory: closed ? 'closed' : 'ok' }),
    sweepExpired: (now) =>
      op(() => ({
        sessions: sweepSessions(now),
        families: sweepFamilies(now),
        grants: sweepGrants(now),
        events: sweepEvents(now),
        keys: sweepKeys(now),
        rateLimits: sweepWindows(now),
      })),
    close: () => {
      closed = true;
      hub.clear();
      return Promise.resolve();
    },
  };

  function cloneOrNull<T>(value: T | undefined): T | null {
    return value === undefined ? null : structuredClone(value);
  }

  function rotate({ oldHash, nextHash, now, graceMs, grant }: RotateInput): RotateResult {
    const token = tokens.get(oldHash);
    const family = token === undefined ? undefined : families.get(token.familyId);
    if (token === undefined || family === undefined) return { status: 'unknown' };
    if (!isLiveFamily(family, now)) return { status: 'revoked', family: structuredClone(family) };

    if (family.currentHash === oldHash) {
      if (tokens.has(nextHash)) throw new Error('the successor refresh token hash is already in use');
      tokens.set(nextHash, { familyId: family.id, rotatedAt: null, successorHash: null });
      token.rotatedAt = now;
      token.successorHash = nextHash;
      family.currentHash = nextHash;
      family.lastUsedAt = now;
      addGrant(family.id, grant, now);
      return { status: 'rotated', family: structuredClone(family) };
    }

    // A rotated token: a concurrent duplicate (same successor, inside the window) or a replay.
    if (token.rotatedAt !== null && token.successorHash === nextHash && now - token.rotatedAt <= graceMs) {
      addGrant(family.id, grant, now);
      return { status: 'grace', family: structuredClone(family) };
    }
    return { status: 'reused', family: revokeWithGrants(family, 'reused', now) };
  }
}
