import type { IncomingMessage, ServerResponse } from 'node:http';
import { authenticate, type AdapterOptions } from './http.js';
import type { VerifiedClaims, Verifier } from './verifier.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Set by frontdesk's expressAuth: the verified access-token claims (null when optional and absent). */
      auth?: VerifiedClaims | null;
    }
  }
}

/** Any Node request: Express's, Connect's or plain node:http's. */
export type AuthRequest = IncomingMessage & { auth?: VerifiedClaims | null };

/**
 * Express (or Connect) middleware: verifies the Bearer token, sets `req.auth`,
 * or answers 401 JSON with `WWW-Authenticate: Bearer error="invalid_token"`.
 * Written against node:http's request and response, so it imports nothing from Express.
 *
 * @example
 * app.use('/orders', expressAuth(verifier));
 * app.get('/orders', (req, res) => res.json(listOrders(req.auth!.sub)));
 */
export function expressAuth(
  verifier: Verifier,
  opts: AdapterOptions = {},
): (req: AuthRequest, res: ServerResponse, next: (err?: unknown) => void) => void {
  return (req, res, next) => {
    authenticate(verifier, req.headers.authorization, opts).then(
      (r) => {
        if ('refusal' in r) {
          res.statusCode = r.refusal.status;
          for (const [k, v] of Object.entries(r.refusal.headers)) res.setHeader(k, v);
          res.setHeader('content-type', 'application/json; charset=utf-8');
          res.end(JSON.stringify(r.refusal.body));
          return;
        }
        req.auth = r.claims;
        next();
      },
      (e: unknown) => next(e),
    );
  };
}
