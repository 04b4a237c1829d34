/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** The token was refused, or the operation could not be done (no such user, taken username…). */
  failed: 1,
  /** The command line or the configuration is wrong: nothing was attempted. */
  usage: 2,
} as const;

/** A wrong command line or configuration: exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The operation ran and failed: exit 1. `code` is API.md's when there is one. */
export class FailedError extends Error {
  override readonly name = 'FailedError';
  constructor(
    message: string,
    readonly code = 'failed',
  ) {
    super(message);
  }
}
