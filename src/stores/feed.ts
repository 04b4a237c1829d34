import type { FeedState, StoredEvent } from '../core/ports.js';

/*
 * Fan-out of a shared backend's revocation feed (Redis stream, PostgreSQL
 * LISTEN) to this process's subscribers, with the feed's health. The backend
 * owns the connection that hears other nodes; it calls `deliver` for every event
 * in cursor order and `setLive` as that connection comes and goes. Subscribers
 * are Auth (its in-memory denylist) and each open `GET /auth/revocations` stream.
 */

interface Subscription {
  listener: (event: StoredEvent) => void;
  onFeed: ((state: FeedState) => void) | undefined;
}

/**
 * @example
 * const hub = new FeedHub();
 * const off = hub.subscribe((e) => deny(e), (state) => log(state));
 * hub.setLive(false); // → 'down'
 * hub.deliver({ id: '1-0', event: { type: 'all', not_before: 1 } });
 * hub.setLive(true); // → 'live'
 * off();
 */
export class FeedHub {
  private readonly subs = new Set<Subscription>();
  private live = true;

  /** True while the feed is connected and caught up. */
  get isLive(): boolean {
    return this.live;
  }

  subscribe(listener: (event: StoredEvent) => void, onFeed?: (state: FeedState) => void): () => void {
    // A fresh object per call, so the same function subscribed twice is two subscriptions.
    const sub: Subscription = { listener, onFeed };
    this.subs.add(sub);
    if (!this.live) this.call(() => onFeed?.('down'));
    return () => {
      this.subs.delete(sub);
    };
  }

  /** Hands one event to every subscriber; one that throws does not stop the others. */
  deliver(event: StoredEvent): void {
    for (const sub of [...this.subs]) this.call(() => sub.listener(structuredClone(event)));
  }

  /** Records the feed's health, telling subscribers only when it changes. */
  setLive(live: boolean): void {
    if (live === this.live) return;
    this.live = live;
    const state: FeedState = live ? 'live' : 'down';
    for (const sub of [...this.subs]) this.call(() => sub.onFeed?.(state));
  }

  clear(): void {
    this.subs.clear();
  }

  private call(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      // The event is stored either way; a failing listener is reported, not allowed to stall the feed.
      process.emitWarning(error instanceof Error ? error : new Error(String(error)), 'RevocationListenerWarning');
    }
  }
}

/** Waits `ms`, or less if `signal` aborts first; never rejects. */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Capped exponential back-off with jitter: 50, 100, 200 … `capMs` ms, ± 25 %. */
export function backoff(attempt: number, capMs = 1000): number {
  const base = Math.min(capMs, 50 * 2 ** Math.min(attempt, 10));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

/** A connection URL with its password replaced, safe for error messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z+]+:\/\/)([^@/]*)@/i, (_m, scheme: string, userinfo: string) => {
    const colon = userinfo.indexOf(':');
    return `${scheme}${colon < 0 ? userinfo : `${userinfo.slice(0, colon)}:***`}@`;
  });
}
