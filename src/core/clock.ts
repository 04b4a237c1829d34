import { randomBytes } from 'node:crypto';

/** Wall-clock time in milliseconds since the epoch. Injected so tests control time. */
export interface Clock {
  now(): number;
}

/** A source of cryptographically secure random bytes. Injected so tests can be deterministic. */
export interface Random {
  bytes(n: number): Buffer;
}

export const systemClock: Clock = { now: () => Date.now() };
export const cryptoRandom: Random = { bytes: (n) => randomBytes(n) };

/** A clock for tests: time moves only when told to. */
export class ManualClock implements Clock {
  constructor(private t = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(ms: number): void {
    this.t = ms;
  }
}
