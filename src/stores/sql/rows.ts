/**
 * Rows of the SQL backends (SQLite and PostgreSQL share their column names and
 * types, snake_case, times as integer milliseconds) and their mapping to the
 * core's records. Only users differ (the `disabled` column's type), so each
 * driver maps those itself.
 */
import type { FamilyRecord, KeyRecord, RevocationEvent, RevokeReason, SessionRecord, StoredEvent } from '../../core/ports.js';

export interface SessionRow {
  id_hash: string;
  public_id: string;
  user_id: string;
  csrf_hash: string;
  created_at: number;
  last_used_at: number;
  idle_expires_at: number;
  expires_at: number;
  user_agent: string;
}

export interface FamilyRow {
  id: string;
  user_id: string;
  csrf_hash: string;
  current_hash: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  user_agent: string;
  revoked_at: number | null;
  revoked_reason: RevokeReason | null;
}

/** One access token issued by a family (`refresh_grants`); `exp` in seconds, like the JWT's. */
export interface GrantRow {
  jti: string;
  exp: number;
}

export interface EventRow {
  id: number;
  event: string;
}

export interface KeyRow {
  kid: string;
  alg: KeyRecord['alg'];
  private_key: string;
  public_jwk: string | null;
  created_at: number;
  retired_at: number | null;
  publish_until: number | null;
}

export const toSession = (r: SessionRow): SessionRecord => ({
  idHash: r.id_hash,
  publicId: r.public_id,
  userId: r.user_id,
  csrfHash: r.csrf_hash,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  idleExpiresAt: r.idle_expires_at,
  expiresAt: r.expires_at,
  userAgent: r.user_agent,
});

export const toFamily = (r: FamilyRow): FamilyRecord => ({
  id: r.id,
  userId: r.user_id,
  csrfHash: r.csrf_hash,
  currentHash: r.current_hash,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  expiresAt: r.expires_at,
  userAgent: r.user_agent,
  revokedAt: r.revoked_at,
  revokedReason: r.revoked_reason,
});

export const toEvent = (r: EventRow): StoredEvent => ({ id: String(r.id), event: JSON.parse(r.event) as RevocationEvent });

export const toKey = (r: KeyRow): KeyRecord => ({
  kid: r.kid,
  alg: r.alg,
  privateKey: r.private_key,
  publicJwk: r.public_jwk === null ? null : (JSON.parse(r.public_jwk) as Record<string, unknown>),
  createdAt: r.created_at,
  retiredAt: r.retired_at,
  publishUntil: r.publish_until,
});
