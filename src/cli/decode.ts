import { hasDuplicateMembers } from '../core/json.js';
import { FailedError } from './errors.js';
import { relative } from './io.js';

export interface Decoded {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  /** Bytes of the signature (0 for an unsigned token). */
  signatureBytes: number;
  /** Members named twice in the header or payload text (JSON.parse silently keeps the last). */
  duplicates: ('header' | 'payload')[];
}

function part(segment: string, what: 'header' | 'payload'): { value: Record<string, unknown>; dup: boolean } {
  if (!/^[A-Za-z0-9_-]*$/.test(segment)) throw new FailedError(`the ${what} is not base64url`, 'invalid_token');
  const text = Buffer.from(segment, 'base64url').toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new FailedError(`the ${what} is not JSON`, 'invalid_token');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new FailedError(`the ${what} is not a JSON object`, 'invalid_token');
  return { value: value as Record<string, unknown>, dup: hasDuplicateMembers(text) };
}

/** Splits and decodes a compact JWS without checking anything: for reading, never for trusting. */
export function decodeToken(token: string): Decoded {
  const parts = token.trim().split('.');
  if (parts.length === 5) throw new FailedError('this is an encrypted JWE; it cannot be read without the key', 'invalid_token');
  if (parts.length !== 3) throw new FailedError(`a JWT has 3 dot-separated parts; this has ${parts.length}`, 'invalid_token');
  const h = part(parts[0]!, 'header');
  const p = part(parts[1]!, 'payload');
  const duplicates: Decoded['duplicates'] = [];
  if (h.dup) duplicates.push('header');
  if (p.dup) duplicates.push('payload');
  return { header: h.value, payload: p.value, signatureBytes: Buffer.from(parts[2]!, 'base64url').length, duplicates };
}

export const TIME_CLAIMS = ['iat', 'nbf', 'exp', 'auth_time'] as const;

const SECRET_NAME = /pass(word)?|passwd|pwd|secret|api[-_]?key|private|credential|token|otp|pin\b|ssn|credit|card|cvv|iban/i;
const SECRET_VALUE = /-----BEGIN [A-Z ]*PRIVATE KEY-----|^eyJ[\w-]+\.[\w-]+\.|^(sk|pk|ghp|xox[abp])[-_][\w-]{10,}|^[A-Fa-f0-9]{32,}$/;

function span(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}

/** What usually bites, as sentences (the same list as the web debugger's). Empty: nothing stood out. */
export function warnings(d: Decoded, nowMs: number): string[] {
  const out: string[] = [];
  const { header, payload } = d;
  const alg = header.alg;
  if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
    out.push('alg is "none": the token carries no signature, so anyone can forge it. A verifier must reject it.');
  } else if (typeof alg !== 'string') {
    out.push('No alg in the header: a verifier must reject the token.');
  }
  for (const h of ['jku', 'jwk', 'x5u', 'x5c'] as const) {
    if (h in header) out.push(`The header carries "${h}": a verifier that uses it lets the token choose the key that verifies it. Ignore it and use your own key set.`);
  }
  if ('crit' in header) out.push('The header lists "crit" extensions: a verifier that does not understand them must reject the token.');
  for (const where of d.duplicates) out.push(`The ${where} names a member twice: verifiers may read different values; Frontdesk rejects it.`);
  const { exp, iat, nbf } = payload;
  if (exp === undefined) {
    out.push('No exp claim: the token never expires. A stolen copy works forever.');
  } else if (typeof exp !== 'number') {
    out.push('exp is not a number (it must be seconds since 1970).');
  } else {
    if (exp * 1000 <= nowMs) out.push(`The token expired ${relative(exp * 1000, nowMs)}.`);
    const start = typeof iat === 'number' ? iat : typeof nbf === 'number' ? nbf : null;
    if (start !== null && exp - start > 3600) {
      out.push(`Its lifetime is ${span(exp - start)} (more than an hour): a stolen token stays useful that long. Keep access tokens short-lived and refresh them.`);
    } else if (start === null && exp * 1000 - nowMs > 3_600_000) {
      out.push(`It is valid for another ${span(Math.round((exp * 1000 - nowMs) / 1000))} (more than an hour).`);
    }
  }
  if (typeof nbf === 'number' && nbf * 1000 > nowMs + 30_000) out.push(`Not valid yet: nbf is ${relative(nbf * 1000, nowMs)}.`);
  if (typeof iat === 'number' && iat * 1000 > nowMs + 30_000) out.push(`iat is in the future (${relative(iat * 1000, nowMs)}): check the issuer's clock.`);
  for (const [name, value] of Object.entries(payload)) {
    if (SECRET_NAME.test(name) || (typeof value === 'string' && SECRET_VALUE.test(value))) {
      out.push(`The claim "${name}" looks secret. The payload is only base64url-encoded, not encrypted: anyone who holds the token can read it.`);
    }
  }
  return out;
}

/** The time claims as ISO dates. */
export function times(payload: Record<string, unknown>): Record<string, string> {
  const t: Record<string, string> = {};
  for (const name of TIME_CLAIMS) {
    const v = payload[name];
    if (typeof v === 'number' && Number.isFinite(v) && Math.abs(v) < 1e11) t[name] = new Date(v * 1000).toISOString();
  }
  return t;
}
