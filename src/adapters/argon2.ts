import argon2 from 'argon2';
import type { PasswordHasher } from '../core/passwords.js';

/** OWASP Password Storage Cheat Sheet minimum for Argon2id: m=19 MiB, t=2, p=1. */
export const ARGON2_PARAMS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

/**
 * Argon2id through the maintained `argon2` binding; hashing runs on the libuv
 * thread pool, off the event loop.
 *
 * @example
 * const hasher = createArgon2Hasher();
 * const h = await hasher.hash('correct horse battery staple');
 */
export function createArgon2Hasher(params: Partial<{ memoryCost: number; timeCost: number; parallelism: number }> = {}): PasswordHasher {
  const p = { ...ARGON2_PARAMS, ...params };
  return {
    hash: (password) => argon2.hash(password, p),
    verify: async (hash, password) => {
      try {
        return await argon2.verify(hash, password);
      } catch (e) {
        // A malformed stored hash is a data problem, not a wrong password: surface it.
        throw new Error('stored password hash is unreadable', { cause: e });
      }
    },
    needsRehash: (hash) => argon2.needsRehash(hash, p),
  };
}
