/**
 * The one error type of the core. Throw sites pick a code; only the HTTP error
 * table (src/http/errors.ts) turns a code into a status, a body and headers.
 *
 * @example
 * throw new AuthError('invalid_credentials', 'Wrong username or password.');
 */
export type ErrorCode =
  | 'invalid_request'
  | 'invalid_credentials'
  | 'unauthenticated'
  | 'invalid_token'
  | 'token_expired'
  | 'refresh_reused'
  | 'csrf'
  | 'forbidden'
  | 'not_found'
  | 'conflict'
  | 'payload_too_large'
  | 'rate_limited'
  | 'unavailable';

export class AuthError extends Error {
  override readonly name = 'AuthError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Seconds until the caller may retry (rate_limited only). */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

/**
 * Thrown by a store adapter when its backend cannot be reached. Mapped to
 * `503 unavailable`; the cause is kept for the log, never sent on the wire.
 */
export class StoreUnavailableError extends AuthError {
  constructor(readonly store: string, options?: { cause?: unknown }) {
    super('unavailable', `The ${store} store is unavailable; try again shortly.`);
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

export const isAuthError = (e: unknown): e is AuthError => e instanceof AuthError;
