/** The codes a verifier answers with: API.md, "Errors" (both are 401 on the wire). */
export type VerifierErrorCode = 'invalid_token' | 'token_expired';

/**
 * Why a token was refused. `code` is stable (API.md); `message` is for people
 * and never contains the token.
 *
 * @example
 * try { verifier.verify(token) } catch (e) { if (e instanceof VerifierError) reply(401, e.code) }
 */
export class VerifierError extends Error {
  override readonly name = 'VerifierError';
  /** Always 401: a refused token is the caller's problem, never the service's. */
  readonly status = 401;
  constructor(
    readonly code: VerifierErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Bad options given to createVerifier: thrown at once, never a silent fallback. */
export class VerifierConfigError extends Error {
  override readonly name = 'VerifierConfigError';
}
