/**
 * What other services import (`frontdesk/verifier`): verify Frontdesk access
 * tokens with no call to the auth server per request, and honour revocations.
 * Framework adapters live in `frontdesk/verifier/fastify`, `…/express` and
 * `…/hono`, so importing this entry loads no framework.
 */
export { createVerifier, type Verifier, type VerifierOptions, type VerifierStats, type VerifiedClaims } from './verifier.js';
export { VerifierError, VerifierConfigError, type VerifierErrorCode } from './errors.js';
export { authenticate, type AdapterOptions, type Refusal } from './http.js';
export { stderrLogger, silentLogger, type VerifierLogger } from './logger.js';
export { SseParser, type SseMessage } from './sse.js';
export type { PublicAlg } from './keys.js';
