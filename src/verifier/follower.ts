import type { RevocationEvent } from '../core/ports.js';
import type { RevocationState } from '../core/revocation.js';
import type { VerifierLogger } from './logger.js';
import { SseParser, type SseMessage } from './sse.js';

export interface FollowerOptions {
  /** The issuer's `GET /auth/revocations` URL. */
  url: string;
  /** FRONTDESK_VERIFIER_SECRET, sent as a Bearer token. */
  secret: string;
  state: RevocationState;
  fetch: typeof fetch;
  log: VerifierLogger;
  /** Monotonic milliseconds (performance.now). */
  now: () => number;
  staleAfterMs: number;
  /** Reconnect delays after a failure: exponential from minMs, capped at maxMs, with jitter. */
  reconnect: { minMs: number; maxMs: number };
  /** A `key` event: the issuer rotated its signing key. */
  onKeyEvent: (kid: string) => void;
}

export type FeedPhase = 'connecting' | 'replaying' | 'live' | 'closed';

/**
 * Follows the issuer's revocation stream (API.md, "For other services") into a
 * RevocationState, so a token check stays a few map look-ups with no I/O.
 *
 * Freshness is what makes it safe: the feed counts as fresh while the last
 * moment it was known to be caught up (the `: live` comment after a replay,
 * then every event or `: ping` on a live stream) is at most `staleAfterMs` ago.
 * Past that, `isFresh()` is false and the verifier refuses every token (fails
 * closed) until a reconnect has replayed what it missed.
 *
 * The server pings every 15 s; when the stream has been silent for 60 % of
 * `staleAfterMs` the follower reconnects on its own (resuming from its cursor
 * with Last-Event-ID), which proves the path is alive before the bound runs out,
 * whatever the ping interval. After a failure it retries with exponential backoff.
 */
export class RevocationFollower {
  phase: FeedPhase = 'connecting';
  /** Monotonic time we were last known to be caught up; -Infinity before the first replay. */
  private confirmedAt = Number.NEGATIVE_INFINITY;
  private attemptStartedAt = 0;
  private everLive = false;
  private staleSince: number | undefined;
  private abort: AbortController | undefined;
  private probing = false;
  private closed = false;
  private readonly watchdog: NodeJS.Timeout;
  private wake: (() => void) | undefined;
  private readyResolve!: () => void;
  private readyReject!: (e: Error) => void;
  /** Resolves when the first replay has completed. */
  readonly ready: Promise<void> = new Promise((resolve, reject) => {
    this.readyResolve = resolve;
    this.readyReject = reject;
  });
  readonly stats = {
    connects: 0,
    disconnects: 0,
    probes: 0,
    events: 0,
    staleEpisodes: 0,
    lastError: null as string | null,
  };

  constructor(private readonly o: FollowerOptions) {
    this.ready.catch(() => {}); // a closed follower that nobody awaited is not an unhandled rejection
    this.watchdog = setInterval(() => this.tick(), Math.min(5000, Math.max(25, Math.floor(o.staleAfterMs / 10))));
    this.watchdog.unref();
    void this.loop();
  }

  /** True while the denylist is known to be at most `staleAfterMs` behind the issuer. Hot path: no allocation. */
  isFresh(): boolean {
    return this.o.now() - this.confirmedAt <= this.o.staleAfterMs;
  }

  /** Whether the feed was ever caught up (a stale feed, as opposed to one still starting). */
  get wasLive(): boolean {
    return this.everLive;
  }

  /** Milliseconds since the feed was last known caught up (Infinity before the first time). */
  silentMs(): number {
    return this.o.now() - this.confirmedAt;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.phase = 'closed';
    clearInterval(this.watchdog);
    this.abort?.abort();
    this.wake?.();
    this.readyReject(new Error('the verifier was closed before the revocation feed caught up'));
  }

  private tick(): void {
    if (this.closed) return;
    const now = this.o.now();
    const silent = now - this.confirmedAt;
    if (this.phase === 'live' && silent > this.o.staleAfterMs * 0.6) {
      // Probe: a fresh connection replays from our cursor and ends with ": live".
      this.stats.probes++;
      this.probing = true;
      this.abort?.abort();
    } else if (this.phase !== 'live' && this.abort && now - this.attemptStartedAt > Math.max(this.o.staleAfterMs, 1000)) {
      this.abort.abort(); // a connect or replay that hangs is a failure like any other
    }
    if (this.everLive && silent > this.o.staleAfterMs && this.staleSince === undefined) {
      this.staleSince = now;
      this.stats.staleEpisodes++;
      this.o.log.warn(
        { silentMs: Math.round(silent), staleAfterMs: this.o.staleAfterMs, lastError: this.stats.lastError },
        'revocation feed stale: refusing every token until it catches up',
      );
    }
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const ac = new AbortController();
      this.abort = ac;
      this.attemptStartedAt = this.o.now();
      this.phase = 'connecting';
      let reachedLive = false;
      try {
        reachedLive = await this.connectOnce(ac.signal);
        if (!this.closed && !this.probing) this.stats.lastError = 'the revocation stream ended';
      } catch (e) {
        if (this.closed) break;
        reachedLive = this.isLive();
        if (!this.probing) this.stats.lastError = describe(e);
      } finally {
        this.abort = undefined;
      }
      if (this.closed) break;
      this.stats.disconnects++;
      this.phase = 'connecting';
      if (this.probing) {
        this.probing = false;
        failures = 0;
        continue; // the stream was fine, just quiet: reconnect at once
      }
      if (reachedLive) failures = 0;
      const base = Math.min(this.o.reconnect.maxMs, this.o.reconnect.minMs * 2 ** failures);
      failures++;
      if (failures === 1 || failures % 10 === 0) {
        this.o.log.warn({ err: this.stats.lastError, retryInMs: Math.round(base) }, 'revocation stream disconnected; reconnecting');
      }
      await this.sleep(base / 2 + (Math.random() * base) / 2);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** One connection: resolves when the stream ends; answers whether it got to `: live`. */
  private async connectOnce(signal: AbortSignal): Promise<boolean> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.o.secret}`, accept: 'text/event-stream' };
    // Resume: the server replays every unexpired event after this cursor, so nothing is lost while we were away.
    if (this.o.state.cursor !== null) headers['last-event-id'] = this.o.state.cursor;
    this.stats.connects++;
    const res = await this.o.fetch(this.o.url, { headers, signal });
    if (res.status !== 200) {
      const code = await errorCode(res);
      throw new Error(`the revocation stream answered ${res.status}${code ? ` ${code}` : ''}`);
    }
    if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      await res.body?.cancel();
      throw new Error('the revocation stream is not text/event-stream');
    }
    if (res.body === null) throw new Error('the revocation stream has no body');
    this.phase = 'replaying';
    const parser = new SseParser(
      (m) => this.onMessage(m),
      (c) => this.onComment(c),
    );
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.push(value);
      }
    } finally {
      reader.releaseLock();
    }
    return this.isLive();
  }

  /** Not a plain comparison: callbacks move the phase while TypeScript's narrowing thinks it cannot change. */
  private isLive(): boolean {
    return this.phase === 'live';
  }

  private onComment(text: string): void {
    if (text === 'live') {
      this.phase = 'live';
      this.confirmedAt = this.o.now();
      if (!this.everLive) {
        this.everLive = true;
        this.o.log.info({ cursor: this.o.state.cursor }, 'revocation feed caught up');
        this.readyResolve();
      } else if (this.staleSince !== undefined) {
        this.o.log.info({ staleForMs: Math.round(this.o.now() - this.staleSince) }, 'revocation feed caught up again; accepting tokens');
      }
      this.staleSince = undefined;
    } else if (this.phase === 'live') {
      this.confirmedAt = this.o.now(); // ": ping"
    }
  }

  private onMessage(m: SseMessage): void {
    if (m.event !== 'revocation') return;
    const event = parseEvent(m.data);
    // An event we cannot read may be a revocation we would miss: drop the connection without
    // moving the cursor, so the feed stays behind (and, past the bound, fails closed) rather than wrong.
    if (typeof event === 'string') throw new Error(`unreadable revocation event: ${event}`);
    this.o.state.apply(event, m.id);
    this.stats.events++;
    if (event.type === 'key') this.o.onKeyEvent(event.kid);
    if (this.phase === 'live') this.confirmedAt = this.o.now();
  }
}

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isStr = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

/** API.md's four event shapes, checked field by field; a string says what is wrong. */
export function parseEvent(data: string): RevocationEvent | string {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return 'not JSON';
  }
  if (typeof v !== 'object' || v === null) return 'not an object';
  const e = v as Record<string, unknown>;
  switch (e.type) {
    case 'jti':
      return isStr(e.jti) && isNum(e.exp) ? { type: 'jti', jti: e.jti, exp: e.exp } : 'a jti event needs jti and exp';
    case 'user': {
      if (!isStr(e.sub) || !isNum(e.not_before)) return 'a user event needs sub and not_before';
      if (e.except !== undefined && !isStr(e.except)) return 'except must be a string';
      const ev: RevocationEvent = { type: 'user', sub: e.sub, not_before: e.not_before };
      if (e.except !== undefined) ev.except = e.except;
      return ev;
    }
    case 'all':
      return isNum(e.not_before) ? { type: 'all', not_before: e.not_before } : 'an all event needs not_before';
    case 'key':
      return isStr(e.kid) ? { type: 'key', kid: e.kid } : 'a key event needs kid';
    default:
      return `unknown type ${JSON.stringify(e.type)}`;
  }
}

async function errorCode(res: Response): Promise<string | undefined> {
  try {
    const body = (await res.json()) as { error?: { code?: unknown } };
    return typeof body.error?.code === 'string' ? body.error.code : undefined;
  } catch {
    return undefined;
  }
}

function describe(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  const c = cause instanceof Error ? ((cause as { code?: string }).code ?? cause.message) : undefined;
  return c ? `${e.message} (${c})` : e.message;
}
