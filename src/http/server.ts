import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest, type onRequestHookHandler } from 'fastify';
import { pino, type Logger } from 'pino';
import type { Auth } from '../core/auth.js';
import type { Config } from '../core/config.js';
import { isAuthError } from '../core/errors.js';
import type { Stores } from '../core/ports.js';
import type { HttpContext } from './context.js';
import { challenge, errorBody, fastifyCodeToOurs, STATUS } from './errors.js';
import { adminRoutes } from './routes/admin.js';
import { authRoutes } from './routes/auth.js';
import { opsRoutes } from './routes/ops.js';
import { webRoutes } from './routes/web.js';

/** API.md, Limits: bodies over 16 KiB are refused with 413. */
export const BODY_LIMIT = 16 * 1024;

/**
 * Sent on every response. They are the ones that matter for JSON (OWASP REST
 * Security: nosniff, no-store); the headers that only mean something for a
 * document (CSP, frame-ancestors, referrer policy, COOP) go on the HTML pages in
 * routes/web.ts. Each header costs a validation and bytes on every API call.
 */
const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  // Auth responses carry credentials: no cache may keep them (OWASP Session Management).
  'cache-control': 'no-store',
} as const;

/** Every other method changes state and must come from an allowed Origin (API.md, CSRF). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const REDACT = ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-csrf-token"]', 'res.headers["set-cookie"]'];

/**
 * The server's logger: errors and security events, never an access log. It is
 * ours, not Fastify's: given a logger, Fastify builds (and, with a custom
 * factory, validates) a child logger for every request and hangs `finish` and
 * `error` listeners on every response to time it — about 6k instructions a
 * request for log lines we have turned off. So Fastify gets none, and the
 * request id is added where a request is logged.
 *
 * @example
 * const log = createLogger(config.logLevel);
 * log.info({ url }, 'listening');
 */
export function createLogger(level: Config['logLevel'], stream?: NodeJS.WritableStream): Logger {
  const options = { level, redact: { paths: REDACT, censor: '[redacted]' } };
  return stream ? pino(options, stream) : pino(options);
}

export interface ServerDeps {
  auth: Auth;
  config: Config;
  stores: Stores;
  log: Logger;
}

/**
 * Builds the Fastify app: hooks, the error table, and every route of API.md.
 * The only module that knows about Fastify besides the route files.
 *
 * @example
 * const app = await buildServer({ auth, config, stores, log: createLogger(config.logLevel) });
 * await app.listen({ port: config.port, host: config.host });
 */
export async function buildServer({ auth, config, stores, log }: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({
    // No Fastify logger (see createLogger): `log` is used directly.
    logger: false,
    bodyLimit: BODY_LIMIT,
    trustProxy: false,
    return503OnClosing: true,
    // Errors below HTTP parsing (oversized or malformed headers) answer in our JSON shape too.
    clientErrorHandler: (err, socket) => {
      const body = JSON.stringify(errorBody('invalid_request', 'The request headers are malformed or larger than the server accepts.'));
      if (socket.writable) {
        socket.end(`HTTP/1.1 400 Bad Request\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      } else {
        socket.destroy(err);
      }
    },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });

  const allowed = new Set(config.allowedOrigins);
  /** API.md, CSRF: a state-changing request from a foreign Origin is refused, login included. */
  const foreignOrigin = (req: FastifyRequest): boolean => {
    const origin = req.headers.origin;
    return origin !== undefined && !allowed.has(origin);
  };
  const refuseForeign = (reply: FastifyReply): FastifyReply =>
    reply.headers(SECURITY_HEADERS).code(403).send(errorBody('csrf', 'Requests from this origin are not allowed.'));
  const refuseOrigin: onRequestHookHandler = (req, reply, done) => {
    if (foreignOrigin(req)) {
      void refuseForeign(reply);
      return;
    }
    done();
  };
  // No global hook: each one costs every request a hook runner (three closures) even
  // where it has nothing to do (callgrind: ~5k instructions a GET). The headers are set
  // by a wrapper around each handler, and by the error and not-found handlers for
  // requests that never reach one; the Origin check is a hook of the state-changing
  // routes only, still before their body is parsed. Registered first, so it sees every
  // route, the plugins' included.
  app.addHook('onRoute', (route) => {
    const handler = route.handler;
    route.handler = function (this: FastifyInstance, req, reply) {
      void reply.headers(SECURITY_HEADERS);
      return handler.call(this, req, reply);
    };
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.some((m) => !SAFE_METHODS.has(m))) {
      const own = route.onRequest;
      route.onRequest = own === undefined ? [refuseOrigin] : [refuseOrigin, ...(Array.isArray(own) ? own : [own])];
    }
  });

  // Graceful shutdown: in-flight requests finish; their keep-alive sockets then close
  // as soon as they go idle, so `close()` need not wait out the keep-alive timeout.
  // (Done here rather than in an onSend hook so requests pay nothing for it.)
  app.addHook('preClose', async () => {
    app.server.keepAliveTimeout = 1;
  });

  app.setErrorHandler((err: FastifyError, req, reply) => {
    void reply.headers(SECURITY_HEADERS);
    const sentBearer = req.headers.authorization !== undefined;
    if (isAuthError(err)) {
      const status = STATUS[err.code];
      if (err.code === 'unavailable') log.warn({ reqId: req.id, err: err.cause ?? err }, 'store unavailable');
      if (err.retryAfter !== undefined) void reply.header('retry-after', String(err.retryAfter));
      const www = challenge(status, sentBearer);
      if (www) void reply.header('www-authenticate', www);
      return reply.code(status).send(errorBody(err.code, err.message));
    }
    const code = fastifyCodeToOurs(err.code, err.statusCode);
    if (code) {
      const message = code === 'payload_too_large' ? 'The request body is larger than 16 KiB.' : requestMessage(err);
      return reply.code(STATUS[code]).send(errorBody(code, message));
    }
    log.error({ reqId: req.id, method: req.method, url: req.routeOptions.url, err }, 'unhandled error');
    return reply.code(500).send(errorBody('internal', 'Something went wrong on our side.'));
  });

  app.setNotFoundHandler((req, reply) => {
    void reply.headers(SECURITY_HEADERS);
    if (!SAFE_METHODS.has(req.method) && foreignOrigin(req)) return refuseForeign(reply);
    return reply.code(404).send(errorBody('not_found', `No route ${req.method} ${req.url.split('?')[0]}.`));
  });

  const ctx: HttpContext = { auth, config, stores, log };
  authRoutes(app, ctx);
  adminRoutes(app, ctx);
  opsRoutes(app, ctx);
  await webRoutes(app, ctx);
  return app;
}

/** A short, safe description of a malformed request (Ajv's message names the field; no input is echoed). */
function requestMessage(err: FastifyError): string {
  if (err.code === 'FST_ERR_VALIDATION') return `Invalid request: ${err.message}.`;
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return 'Send JSON with Content-Type: application/json.';
  if (err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return 'The body is not valid JSON.';
  return 'The request is malformed.';
}
