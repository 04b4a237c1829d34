import { performance } from 'node:perf_hooks';
import { createTokenChecker, type AccessClaims } from '../core/access-tokens.js';
import { systemClock, type Clock } from '../core/clock.js';
import { AuthError } from '../core/errors.js';
import { Metrics } from '../core/metrics.js';
import { RevocationState } from '../core/revocation.js';
import { VerifierConfigError, VerifierError } from './errors.js';
import { RevocationFollower, type FeedPhase } from './follower.js';
import { JwksCache } from './jwks.js';
import { PUBLIC_ALGS, type PublicAlg } from './keys.js';
import { stderrLogger, type VerifierLogger } from './logger.js';

/** The claims of a verified Frontdesk access token (API.md, "Access tokens"). */
export type VerifiedClaims = AccessClaims;

export interface VerifierOptions {
  /** Must equal the token's `iss` (the server's FRONTDESK_ISSUER). */
  issuer: string;
  /** Must be in the token's `aud` (the server's FRONTDESK_AUDIENCE). */
  audience: string;
  /** e.g. `https://auth.example.com/.well-known/jwks.json`. */
  jwksUrl: string;
  /** The one algorithm accepted (the server's FRONTDESK_JWT_ALG); default EdDSA. HS256 needs the secret and is not for other services. */
  alg?: PublicAlg;
  /**
   * Where revocations come from: the issuer's `GET /auth/revocations` stream and
   * FRONTDESK_VERIFIER_SECRET. Without it, a logged-out token stays valid here
   * until it expires (a warning is logged at start).
   * (Redis pub/sub following lands when the Redis store publishes its channel format.)
   */
  revocations?: { url: string; secret: string };
  /** Fail closed when the revocation feed has not been confirmed caught up for this long; default 30 000 ms. */
  staleAfterMs?: number;
  /** Clock-skew leeway for exp/nbf/iat in seconds, at most 30 (API.md); default 30. */
  leeway?: number;
  /** Time for token claims; tests pass a ManualClock. Feed liveness uses a monotonic clock. */
  clock?: Clock;
  /** For proxies, custom agents, or counting requests; defaults to the global fetch. */
  fetch?: typeof fetch;
  logger?: VerifierLogger;
  jwks?: {
    /** Unknown-kid refetches at most this often; default 5000 ms. */
    minIntervalMs?: number;
    /** Refetch the key set this often anyway, to drop retired keys; default 10 min. */
    refreshEveryMs?: number;
    timeoutMs?: number;
  };
  /** Revocation-stream reconnect backoff; default 100 ms doubling to 5000 ms. */
  reconnect?: { minMs?: number; maxMs?: number };
}

export interface VerifierStats {
  feed: {
    state: FeedPhase | 'off';
    fresh: boolean;
    /** Milliseconds since the feed was last known caught up (null when off or never). */
    silentMs: number | null;
    connects: number;
    disconnects: number;
    probes: number;
    events: number;
    staleEpisodes: number;
    cursor: string | null;
    lastError: string | null;
  };
  jwks: { fetches: number; errors: number; kids: number; lastError: string | null };
  tokens: { verified: number; refused: number; refusedStale: number; cacheHits: number; cacheMisses: number };
  denylist: { jtis: number; users: number };
}

export interface Verifier {
  /**
   * Verifies a Bearer access token in memory: no I/O, synchronous. Throws
   * VerifierError `invalid_token` or `token_expired`. A token whose kid is not
   * (yet) in the cached JWKS is refused at once and triggers a rate-limited
   * background refetch; use `verifyAsync` to wait for that refetch instead.
   */
  verify(token: string): VerifiedClaims;
  /**
   * As `verify`, except that a token signed by a key we have not seen waits for
   * the JWKS refetch it triggers (when one may start now or is in flight) and is
   * checked again. Bogus kids inside the rate-limit window are refused at once.
   */
  verifyAsync(token: string): Promise<VerifiedClaims>;
  /** Resolves once the key set is loaded and the revocation feed has replayed and caught up. */
  ready(): Promise<void>;
  /** Stops following and refetching. */
  close(): void;
  readonly stats: VerifierStats;
  /** The stats in Prometheus text format, for a service's /metrics. */
  metrics(): string;
}

const MAX_TOKEN_LIFETIME_MS = (86_400 + 30) * 1000; // FRONTDESK_ACCESS_TTL's upper bound plus leeway

function url(name: string, value: unknown): string {
  if (typeof value !== 'string') throw new VerifierConfigError(`${name} must be a URL`);
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error();
  } catch {
    throw new VerifierConfigError(`${name} must be an http(s) URL (got ${JSON.stringify(value)})`);
  }
  return value;
}

/**
 * A verifier for Frontdesk access tokens in another service: the acceptance
 * rules of API.md (the very token checker the server runs), keys from the
 * issuer's JWKS, and revocations followed from its event stream — no call to
 * the auth server per request.
 *
 * @example
 * const verifier = createVerifier({
 *   issuer: 'https://auth.example.com',
 *   audience: 'frontdesk',
 *   jwksUrl: 'https://auth.example.com/.well-known/jwks.json',
 *   revocations: { url: 'https://auth.example.com/auth/revocations', secret: process.env.FRONTDESK_VERIFIER_SECRET! },
 * });
 * await verifier.ready();
 * const claims = verifier.verify(bearerToken); // throws VerifierError
 */
export function createVerifier(o: VerifierOptions): Verifier {
  if (typeof o.issuer !== 'string' || o.issuer === '') throw new VerifierConfigError('issuer is required');
  if (typeof o.audience !== 'string' || o.audience === '') throw new VerifierConfigError('audience is required');
  const jwksUrl = url('jwksUrl', o.jwksUrl);
  const alg = o.alg ?? 'EdDSA';
  if (!PUBLIC_ALGS.includes(alg)) {
    throw new VerifierConfigError(
      `alg must be one of ${PUBLIC_ALGS.join(', ')} (got ${JSON.stringify(alg)}); HS256 tokens can only be checked with the server's secret`,
    );
  }
  const staleAfterMs = o.staleAfterMs ?? 30_000;
  if (!Number.isFinite(staleAfterMs) || staleAfterMs < 100) throw new VerifierConfigError('staleAfterMs must be at least 100');
  const leeway = o.leeway ?? 30;
  if (!(leeway >= 0 && leeway <= 30)) throw new VerifierConfigError('leeway must be between 0 and 30 seconds (API.md)');
  const minIntervalMs = o.jwks?.minIntervalMs ?? 5000;
  const refreshEveryMs = o.jwks?.refreshEveryMs ?? 600_000;
  if (o.revocations !== undefined) {
    url('revocations.url', o.revocations.url);
    if (typeof o.revocations.secret !== 'string' || o.revocations.secret.length < 32) {
      throw new VerifierConfigError('revocations.secret must be the server\'s FRONTDESK_VERIFIER_SECRET (at least 32 characters)');
    }
  }

  const log = o.logger ?? stderrLogger;
  const doFetch = o.fetch ?? globalThis.fetch;
  const clock = o.clock ?? systemClock;
  const now = () => performance.now();
  const state = new RevocationState();
  const counts = { verified: 0, refused: 0, refusedStale: 0 };

  let missedKid = false;
  const jwks = new JwksCache({
    url: jwksUrl,
    alg,
    expected: { issuer: o.issuer, audience: o.audience },
    fetch: doFetch,
    log,
    now,
    minIntervalMs,
    timeoutMs: o.jwks?.timeoutMs ?? 5000,
    onKeysRemoved: () => checker.clear(),
  });
  const checker = createTokenChecker({
    alg,
    clock,
    leeway,
    keyFor: (kid) => {
      const k = jwks.keyFor(kid);
      if (k === undefined) missedKid = true;
      return k;
    },
    isRevoked: (claims) => state.isRevoked(claims),
  });

  const follower =
    o.revocations === undefined
      ? undefined
      : new RevocationFollower({
          url: o.revocations.url,
          secret: o.revocations.secret,
          state,
          fetch: doFetch,
          log,
          now,
          staleAfterMs,
          reconnect: { minMs: o.reconnect?.minMs ?? 100, maxMs: o.reconnect?.maxMs ?? 5000 },
          onKeyEvent: () => void jwks.refreshNow(),
        });
  if (follower === undefined) {
    log.warn({ issuer: o.issuer }, 'revocations are not followed: a logged-out token stays valid here until it expires');
  }

  // First key set, retried with backoff until it loads; then a periodic refresh drops retired keys.
  let closed = false;
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, f: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, ms);
    t.unref();
    timers.add(t);
  };
  const firstLoad = (attempt: number) => {
    void jwks.refreshNow().then(() => {
      if (closed) return;
      if (!jwks.isLoaded) later(Math.min(30_000, 250 * 2 ** attempt), () => firstLoad(attempt + 1));
      else later(refreshEveryMs, periodic);
    });
  };
  const periodic = () => {
    void jwks.refreshNow().then(() => !closed && later(refreshEveryMs, periodic));
  };
  firstLoad(0);
  const prune = setInterval(() => state.prune(clock.now(), MAX_TOKEN_LIFETIME_MS), 60_000);
  prune.unref();

  let readyPromise: Promise<void> | undefined;

  function verify(token: string): VerifiedClaims {
    missedKid = false;
    if (follower !== undefined && !follower.isFresh()) {
      counts.refused++;
      counts.refusedStale++;
      throw new VerifierError(
        'invalid_token',
        follower.wasLive
          ? 'The revocation feed is stale; every token is refused until it catches up.'
          : 'The revocation feed has not caught up yet; tokens are refused until it has.',
      );
    }
    try {
      const claims = checker.verify(token);
      counts.verified++;
      return claims;
    } catch (e) {
      counts.refused++;
      if (e instanceof AuthError) throw new VerifierError(e.code === 'token_expired' ? 'token_expired' : 'invalid_token', e.message);
      throw e;
    }
  }

  const stats = (): VerifierStats => ({
    feed: {
      state: follower?.phase ?? 'off',
      fresh: follower?.isFresh() ?? true,
      silentMs: follower === undefined || !follower.wasLive ? null : Math.round(follower.silentMs()),
      connects: follower?.stats.connects ?? 0,
      disconnects: follower?.stats.disconnects ?? 0,
      probes: follower?.stats.probes ?? 0,
      events: follower?.stats.events ?? 0,
      staleEpisodes: follower?.stats.staleEpisodes ?? 0,
      cursor: state.cursor,
      lastError: follower?.stats.lastError ?? null,
    },
    jwks: { ...jwks.stats },
    tokens: { ...counts, cacheHits: checker.stats.hits, cacheMisses: checker.stats.misses },
    denylist: state.size,
  });

  return {
    verify,
    async verifyAsync(token: string): Promise<VerifiedClaims> {
      try {
        return verify(token);
      } catch (e) {
        if (!missedKid) throw e;
        const refetch = jwks.requestRefresh();
        if (refetch === undefined) throw e;
        await refetch;
        return verify(token);
      }
    },
    ready: () =>
      (readyPromise ??= Promise.all([
        closed ? Promise.reject(new Error('the verifier is closed')) : jwks.loaded,
        follower?.ready,
      ]).then(() => undefined)),
    close() {
      closed = true;
      for (const t of timers) clearTimeout(t);
      clearInterval(prune);
      jwks.close();
      follower?.close();
    },
    get stats() {
      return stats();
    },
    metrics() {
      const s = stats();
      return new Metrics().render({
        frontdesk_verifier_feed_fresh: s.feed.fresh ? 1 : 0,
        frontdesk_verifier_feed_silent_ms: s.feed.silentMs ?? -1,
        frontdesk_verifier_feed_connects_total: s.feed.connects,
        frontdesk_verifier_feed_events_total: s.feed.events,
        frontdesk_verifier_feed_stale_episodes_total: s.feed.staleEpisodes,
        frontdesk_verifier_jwks_fetches_total: s.jwks.fetches,
        frontdesk_verifier_jwks_errors_total: s.jwks.errors,
        frontdesk_verifier_jwks_keys: s.jwks.kids,
        frontdesk_verifier_tokens_verified_total: s.tokens.verified,
        frontdesk_verifier_tokens_refused_total: s.tokens.refused,
        frontdesk_verifier_tokens_refused_stale_total: s.tokens.refusedStale,
        frontdesk_verifier_denylist_entries: s.denylist.jtis,
        frontdesk_verifier_user_epochs: s.denylist.users,
      });
    },
  };
}
