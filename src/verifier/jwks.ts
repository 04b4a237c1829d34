import { publicKeyFromJwk, signatureCheck, type Expected, type PublicAlg, type SignatureCheck } from './keys.js';
import type { VerifierLogger } from './logger.js';

export interface JwksCacheOptions {
  url: string;
  alg: PublicAlg;
  expected: Expected;
  fetch: typeof fetch;
  log: VerifierLogger;
  /** Monotonic milliseconds (performance.now): intervals, not dates. */
  now: () => number;
  /** Refetches for unknown kids start at most this often (default 5 s): a flood of bogus kids costs one fetch per window. */
  minIntervalMs: number;
  timeoutMs: number;
  /** Called when a key disappeared from the set, so cached verifications made with it are dropped. */
  onKeysRemoved: () => void;
}

/** A JWKS larger than this is refused: a key set is a few KiB. */
const MAX_JWKS_BYTES = 1 << 20;

/**
 * The issuer's public keys by kid, fetched from its JWKS URL and kept in memory.
 * `keyFor` never waits: an unknown kid answers `undefined` at once and asks for a
 * refetch, which is rate-limited (one per `minIntervalMs`, never two in flight),
 * so a flood of tokens with random kids costs the issuer a handful of requests.
 */
export class JwksCache {
  private keys = new Map<string, SignatureCheck>();
  private inflight: Promise<void> | undefined;
  private again = false;
  private lastStart = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  readonly stats = { fetches: 0, errors: 0, kids: 0, lastError: null as string | null };
  private loadedResolve!: () => void;
  /** Resolves after the first successful fetch. */
  readonly loaded: Promise<void> = new Promise((r) => (this.loadedResolve = r));
  isLoaded = false;

  constructor(private readonly o: JwksCacheOptions) {}

  /** The signature check for a published kid; an unknown kid triggers a rate-limited refetch. */
  keyFor(kid: string): SignatureCheck | undefined {
    const k = this.keys.get(kid);
    if (k === undefined) void this.requestRefresh();
    return k;
  }

  /**
   * Asks for a refetch on behalf of an unknown kid. Starts one now if the last began
   * more than `minIntervalMs` ago; joins the one in flight; otherwise schedules one
   * for the end of the window (so a genuinely new key is still found) and answers undefined.
   */
  requestRefresh(): Promise<void> | undefined {
    if (this.closed) return undefined;
    if (this.inflight) return this.inflight;
    const wait = this.lastStart + this.o.minIntervalMs - this.o.now();
    if (wait <= 0) {
      // Only refetches asked for by unknown kids count against the window: a key
      // rotated just after start-up or after a periodic refresh is still found at once.
      this.lastStart = this.o.now();
      return this.start();
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.requestRefresh();
      }, wait);
      this.timer.unref();
    }
    return undefined;
  }

  /**
   * Refetches regardless of the window: for a `key` event from the authenticated
   * revocation stream and for periodic refreshes. Coalesced: while a fetch is in
   * flight, one more follows it (the one in flight may predate the new key).
   */
  refreshNow(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.inflight) {
      this.again = true;
      return this.inflight;
    }
    return this.start();
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
  }

  private start(): Promise<void> {
    this.stats.fetches++;
    const p = this.load()
      .catch((e: unknown) => {
        this.stats.errors++;
        this.stats.lastError = e instanceof Error ? e.message : String(e);
        this.o.log.warn({ url: this.o.url, err: this.stats.lastError }, 'JWKS fetch failed; keeping the keys already known');
      })
      .finally(() => {
        this.inflight = undefined;
        if (this.again && !this.closed) {
          this.again = false;
          void this.start();
        }
      });
    this.inflight = p;
    return p;
  }

  private async load(): Promise<void> {
    const res = await this.o.fetch(this.o.url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(this.o.timeoutMs) });
    if (res.status !== 200) {
      await res.body?.cancel();
      throw new Error(`the JWKS URL answered ${res.status}`);
    }
    const text = await res.text();
    if (text.length > MAX_JWKS_BYTES) throw new Error('the JWKS is larger than 1 MiB');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error('the JWKS is not JSON');
    }
    const list = (body as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(list)) throw new Error('the JWKS has no "keys" array');

    const next = new Map<string, SignatureCheck>();
    for (const jwk of list as unknown[]) {
      if (typeof jwk !== 'object' || jwk === null) continue;
      const kid = (jwk as { kid?: unknown }).kid;
      if (typeof kid !== 'string' || kid === '') continue; // a token must name its key; a key without a kid can never be chosen
      const key = publicKeyFromJwk(jwk as Record<string, unknown>, this.o.alg);
      if (typeof key === 'string') {
        this.o.log.warn({ kid, reason: key }, 'JWKS key skipped');
        continue;
      }
      next.set(kid, this.keys.get(kid) ?? signatureCheck(this.o.alg, key, this.o.expected));
    }
    const removed = [...this.keys.keys()].some((kid) => !next.has(kid));
    this.keys = next;
    this.stats.kids = next.size;
    this.stats.lastError = null;
    if (removed) this.o.onKeysRemoved();
    if (!this.isLoaded) {
      this.isLoaded = true;
      this.loadedResolve();
    }
  }
}
