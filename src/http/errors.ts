import type { ErrorCode } from '../core/errors.js';

/** The one table that turns an error code into an HTTP status (API.md, "Errors"). */
export const STATUS: Record<ErrorCode, number> = {
  invalid_request: 400,
  invalid_credentials: 401,
  unauthenticated: 401,
  invalid_token: 401,
  token_expired: 401,
  refresh_reused: 401,
  csrf: 403,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
};

export interface ErrorBody {
  error: { code: ErrorCode | 'internal'; message: string };
}

export const errorBody = (code: ErrorCode | 'internal', message: string): ErrorBody => ({ error: { code, message } });

/**
 * RFC 6750 §3: a 401 answers with a Bearer challenge. A request that sent a
 * Bearer token learns the token was the problem; others are told how to authenticate.
 */
export function challenge(status: number, sentBearer: boolean): string | undefined {
  if (status !== 401) return undefined;
  return sentBearer ? 'Bearer error="invalid_token"' : 'Bearer realm="frontdesk"';
}

/** Fastify's own error codes for malformed requests, mapped to ours. */
export function fastifyCodeToOurs(code: string | undefined, statusCode: number | undefined): ErrorCode | undefined {
  switch (code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'payload_too_large';
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
    case 'FST_ERR_VALIDATION':
      return 'invalid_request';
  }
  if (statusCode === 413) return 'payload_too_large';
  if (statusCode !== undefined && statusCode >= 400 && statusCode < 500) return 'invalid_request';
  return undefined;
}
