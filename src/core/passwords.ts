import { AuthError } from './errors.js';

/**
 * Password hashing port. The shipped adapter (src/adapters/argon2.ts) runs
 * Argon2id on libuv's thread pool, so a burst of logins never blocks the event loop.
 */
export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(hash: string, password: string): Promise<boolean>;
  /** True when `hash` was made with weaker parameters than the current ones: rehash at next login. */
  needsRehash(hash: string): boolean;
}

/** Usernames are NFKC-normalised and compared case-insensitively (API.md, Limits). */
export function normalizeUsername(raw: string): { username: string; key: string } {
  const username = raw.normalize('NFKC').trim();
  const chars = [...username].length;
  if (chars < 3 || chars > 64) throw new AuthError('invalid_request', 'Username must be 3 to 64 characters.');
  // Control, format (zero-width) and line/paragraph separators make look-alike or log-breaking names.
  if (/[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(username)) {
    throw new AuthError('invalid_request', 'Username must not contain control or invisible characters.');
  }
  return { username, key: username.toLowerCase() };
}

/** The lookup key of a login attempt; never throws, so a malformed name costs the same as a wrong one. */
export function usernameKey(raw: string): string {
  return raw.normalize('NFKC').trim().toLowerCase();
}

/** NIST SP 800-63B §5.1.1.2: normalise Unicode so the same password typed on two keyboards matches. */
export function normalizePassword(raw: string): string {
  const pw = raw.normalize('NFKC');
  const chars = [...pw].length;
  if (chars < 8 || chars > 256) throw new AuthError('invalid_request', 'Password must be 8 to 256 characters.');
  return pw;
}
