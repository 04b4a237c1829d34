/**
 * Where the verifier says what it does: connects, falls stale, catches up,
 * skips a key. pino's logger satisfies it. Never given a token or a secret.
 */
export interface VerifierLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

const line = (level: string) => (obj: object, msg: string) => {
  const extra = Object.keys(obj).length > 0 ? ` ${JSON.stringify(obj)}` : '';
  process.stderr.write(`frontdesk-verifier ${level}: ${msg}${extra}\n`);
};

/** The default: one line per event on stderr. */
export const stderrLogger: VerifierLogger = { info: line('info'), warn: line('warn'), error: line('error') };

/** For callers that collect stats instead. */
export const silentLogger: VerifierLogger = { info: () => {}, warn: () => {}, error: () => {} };
