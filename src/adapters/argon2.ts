import { availableParallelism } from 'node:os';
import argon2 from 'argon2';
import type { PasswordHasher } from '../core/passwords.js';

/** OWASP Password Storage Cheat Sheet minimum for Argon2id: m=19 MiB, t=2, p=1. */
export const ARGON2_PARAMS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export interface Argon2Options {
  memoryCost?: number;
  timeCost?: number;
  parallelism?: number;
  /**
   * Hashes computed at once. Argon2 runs on libuv's thread pool (4 threads), which on a
   * 2-core machine would take both cores during a burst of logins and starve the event
   * loop that serves every other request. Default: one core fewer than the machine has.
   */
  concurrency?: number;
}

/**
 * Argon2id through the maintained `argon2` binding; hashing runs on the libuv
 * thread pool, off the event loop, at most `concurrency` at a time.
 *
 * @example
 * const hasher = createArgon2Hasher();
 * const h = await hasher.hash('correct horse battery staple');
 */
export function createArgon2Hasher(options: Argon2Options = {}): PasswordHasher {
  const { concurrency = Math.max(1, availableParallelism() - 1), ...params } = options;
  const p = { ...ARGON2_PARAMS, ...params };
  const limit = limitConcurrency(concurrency);
  return {
    hash: (password) => limit(() => argon2.hash(password, p)),
    verify: (hash, password) =>
      limit(async () => {
        try {
          return await argon2.verify(hash, password);
        } catch (e) {
          // A malformed stored hash is a data problem, not a wrong password: surface it.
          throw new Error('stored password hash is unreadable', { cause: e });
        }
      }),
    needsRehash: (hash) => argon2.needsRehash(hash, p),
  };
}

/** Runs at most `n` of the given tasks at once, the others waiting in order. */
export function limitConcurrency(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await task();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}
