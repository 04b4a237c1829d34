import type { RevocationEvent, StoredEvent } from './ports.js';

/** The claims the revocation check reads. */
export interface RevocableClaims {
  sub: string;
  jti: string;
  /** NumericDate seconds. */
  iat: number;
  sid?: string | undefined;
}

/**
 * What has been revoked, in memory, so a token check costs map look-ups and no
 * I/O. Fed by revocation events (local, from the store's subscription, or from
 * the SSE stream in other services); applying an event twice is harmless.
 *
 * - `jti` entries live until the token they deny expires;
 * - a per-user "not before" epoch kills tokens issued earlier (logout-all,
 *   password change, disable, role change), optionally sparing one sid/jti;
 * - a global epoch kills everything issued before a wipe.
 */
export class RevocationState {
  private readonly jtis = new Map<string, number>();
  private readonly users = new Map<string, { nb: number; except: string | undefined }>();
  private globalNb = 0;
  /** The latest epoch of any kind (ms): no token is dated after it by more than the clock allows. */
  private latestNb = 0;
  /** Cursor of the newest stored event applied. */
  cursor: string | null = null;
  /** Called with the subject of every user event, and with null for a global one (caches of user data listen). */
  onUserChange: ((sub: string | null) => void) | undefined;

  apply(event: RevocationEvent, cursor?: string): void {
    switch (event.type) {
      case 'jti':
        this.jtis.set(event.jti, event.exp);
        break;
      case 'user': {
        const nb = Math.round(event.not_before * 1000);
        const prev = this.users.get(event.sub);
        if (!prev || prev.nb <= nb) this.users.set(event.sub, { nb, except: event.except });
        this.latestNb = Math.max(this.latestNb, nb);
        this.onUserChange?.(event.sub);
        break;
      }
      case 'all': {
        this.globalNb = Math.max(this.globalNb, Math.round(event.not_before * 1000));
        this.latestNb = Math.max(this.latestNb, this.globalNb);
        this.onUserChange?.(null);
        break;
      }
      case 'key':
        break;
    }
    if (cursor !== undefined) this.cursor = cursor;
  }

  applyStored(e: StoredEvent): void {
    this.apply(e.event, e.id);
  }

  /** True when a verified token must be refused. Hot path: no allocation. */
  isRevoked(c: RevocableClaims): boolean {
    if (this.jtis.size !== 0 && this.jtis.has(c.jti)) return true;
    const iatMs = Math.round(c.iat * 1000);
    if (iatMs < this.globalNb) return true;
    const u = this.users.get(c.sub);
    return u !== undefined && iatMs < u.nb && u.except !== c.jti && (c.sid === undefined || u.except !== c.sid);
  }

  /** The latest epoch (ms) that applies to `sub`: a new token for it must not be dated before this. */
  /** The latest epoch of any user or global (ms): tokens issued now may be dated up to it. */
  get latestNotBefore(): number {
    return this.latestNb;
  }

  notBeforeOf(sub: string): number {
    return Math.max(this.globalNb, this.users.get(sub)?.nb ?? 0);
  }

  /**
   * Drops entries that can no longer matter: denied tokens past expiry plus the
   * verification leeway (until then the checker would still accept them), and
   * epochs older than any token that can still verify. The leeway defaults to
   * the largest API.md allows, which errs towards keeping entries.
   */
  prune(nowMs: number, maxTokenLifetimeMs: number, leewayMs = 30_000): void {
    for (const [jti, exp] of this.jtis) if (exp * 1000 + leewayMs < nowMs) this.jtis.delete(jti);
    for (const [sub, u] of this.users) if (u.nb + maxTokenLifetimeMs < nowMs) this.users.delete(sub);
  }

  get size(): { jtis: number; users: number } {
    return { jtis: this.jtis.size, users: this.users.size };
  }
}
