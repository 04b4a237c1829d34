/**
 * JWT inspection for the dashboard and the debugger: decoding, explaining
 * claims, warnings, and signature checks with WebCrypto. Runs entirely in the
 * browser; nothing here sends a token anywhere.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface DecodedJwt {
  readonly header: JsonObject;
  readonly payload: JsonObject;
  /** `base64url(header) + "." + base64url(payload)`: the bytes the signature covers. */
  readonly signingInput: string;
  readonly signature: Uint8Array<ArrayBuffer>;
  /** Size of the compact token in bytes (UTF-8). */
  readonly bytes: number;
}

const utf8 = new TextEncoder();

export function base64UrlDecode(input: string): Uint8Array<ArrayBuffer> {
  if (!/^[A-Za-z0-9_-]*$/.test(input)) throw new Error('not base64url (only A–Z, a–z, 0–9, "-" and "_" are allowed)');
  const b64 = input.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (input.length % 4)) % 4);
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function base64Decode(input: string): Uint8Array<ArrayBuffer> {
  const bin = atob(input.replace(/\s+/g, ''));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function parseSegment(segment: string, what: string): JsonObject {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(base64UrlDecode(segment));
  } catch (e) {
    throw new Error(`The ${what} is not valid base64url: ${(e as Error).message}`, { cause: e });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new Error(`The ${what} is not JSON.`, { cause: e });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`The ${what} is JSON but not an object.`);
  }
  return value as JsonObject;
}

/**
 * Decodes a compact JWS without verifying it. Throws an Error whose message
 * says what is wrong, for display.
 *
 * @example
 * const { header, payload } = decodeJwt(token);
 */
export function decodeJwt(token: string): DecodedJwt {
  const compact = token.trim();
  const parts = compact.split('.');
  if (parts.length === 5) throw new Error('This is a JWE (five parts): it is encrypted and cannot be decoded here.');
  if (parts.length !== 3) throw new Error(`A JWT has three parts separated by dots; this has ${parts.length}.`);
  const [h, p, s] = parts as [string, string, string];
  const header = parseSegment(h, 'header');
  const payload = parseSegment(p, 'payload');
  let signature: Uint8Array<ArrayBuffer>;
  try {
    signature = base64UrlDecode(s);
  } catch (e) {
    throw new Error(`The signature is not valid base64url.`, { cause: e });
  }
  return { header, payload, signingInput: `${h}.${p}`, signature, bytes: utf8.encode(compact).length };
}

/** "in 4 min", "12 s ago", "in 3 h", "2 days ago". */
export function relativeTime(targetMs: number, nowMs: number): string {
  const diff = Math.round((targetMs - nowMs) / 1000);
  const abs = Math.abs(diff);
  let text: string;
  if (abs < 60) text = `${abs} s`;
  else if (abs < 3600) text = `${Math.round(abs / 60)} min`;
  else if (abs < 86400 * 2) text = `${Math.round(abs / 3600)} h`;
  else text = `${Math.round(abs / 86400)} days`;
  if (diff === 0) return 'now';
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

/** "9:05" from 545 seconds; "1:02:03" past an hour. */
export function clock(totalSeconds: number): string {
  const s = Math.max(0, Math.floor(totalSeconds));
  const hh = Math.floor(s / 3600);
  const mm = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return hh > 0 ? `${hh}:${String(mm).padStart(2, '0')}:${ss}` : `${mm}:${ss}`;
}

export function duration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400 * 2) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86400)} days`;
}

const CLAIM_MEANING: Record<string, string> = {
  iss: 'Issuer: who minted the token. Verifiers must check it.',
  sub: 'Subject: the user this token is about (a stable ID).',
  aud: 'Audience: who the token is meant for. A service must reject tokens not addressed to it.',
  exp: 'Expires at: after this moment the token must be refused.',
  nbf: 'Not before: the token must be refused before this moment.',
  iat: 'Issued at: when the token was minted.',
  jti: 'Token ID: unique per token; lets the server revoke exactly this token (denylist).',
  sid: 'Session (family) ID: ties a hybrid access token to its refresh-token family.',
  name: 'Display name of the user. Readable by anyone holding the token.',
  role: 'Role used for authorization decisions (e.g. admin). Readable, but tamper-proof if the signature is checked.',
  scope: 'Scopes granted to the token.',
  email: 'E-mail address: personal data, readable by anyone holding the token.',
};

const HEADER_MEANING: Record<string, string> = {
  alg: 'Signature algorithm. A verifier must pin it, never take it from the token.',
  kid: 'Key ID: which published key signed it (looked up in the JWKS).',
  typ: 'Token type; at+jwt marks an OAuth access token (RFC 9068).',
  cty: 'Content type of the payload.',
  jku: 'URL of a key set — never fetch it: it lets the token pick its own key.',
  jwk: 'An embedded public key — never trust it: anyone can sign with their own key.',
  x5u: 'URL of a certificate chain — never fetch it.',
  x5c: 'Embedded certificate chain — only meaningful with proper PKI validation.',
  crit: 'Extensions the verifier must understand, or reject the token.',
};

export interface ClaimRow {
  readonly name: string;
  readonly value: string;
  readonly meaning: string;
}

const TIME_CLAIMS = new Set(['exp', 'nbf', 'iat', 'auth_time']);

function show(value: Json): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** One row per claim, with times as dates and "in 4 min". */
export function explainClaims(payload: JsonObject, nowMs: number): ClaimRow[] {
  return Object.entries(payload).map(([name, value]) => {
    let shown = show(value);
    if (TIME_CLAIMS.has(name) && typeof value === 'number') {
      const ms = value * 1000;
      shown = `${value} — ${new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })} (${relativeTime(ms, nowMs)})`;
    }
    return { name, value: shown, meaning: CLAIM_MEANING[name] ?? (name === 'auth_time' ? 'When the user last authenticated.' : 'A custom claim.') };
  });
}

export function explainHeader(header: JsonObject): ClaimRow[] {
  return Object.entries(header).map(([name, value]) => ({
    name,
    value: show(value),
    meaning: HEADER_MEANING[name] ?? 'A custom header parameter.',
  }));
}

const SECRET_NAME = /pass(word)?|passwd|pwd|secret|api[-_]?key|private|credential|token|otp|pin\b|ssn|credit|card|cvv|iban/i;
const SECRET_VALUE = /-----BEGIN [A-Z ]*PRIVATE KEY-----|^eyJ[\w-]+\.[\w-]+\.|^(sk|pk|ghp|xox[abp])[-_][\w-]{10,}|^[A-Fa-f0-9]{32,}$/;

/** The things that bite, as sentences. An empty list means nothing stood out. */
export function warnings(decoded: DecodedJwt, nowMs: number): string[] {
  const out: string[] = [];
  const { header, payload } = decoded;
  const alg = header.alg;
  if (typeof alg === 'string' && alg.toLowerCase() === 'none') {
    out.push('alg is "none": the token carries no signature, so anyone can forge it. A verifier must reject it.');
  } else if (typeof alg !== 'string') {
    out.push('No alg in the header: a verifier must reject the token.');
  }
  for (const h of ['jku', 'jwk', 'x5u', 'x5c'] as const) {
    if (h in header) {
      out.push(
        `The header carries "${h}": a verifier that uses it lets the token choose the key that verifies it. Ignore it and use your own key set.`,
      );
    }
  }
  const exp = payload.exp;
  const iat = payload.iat;
  const nbf = payload.nbf;
  if (exp === undefined) {
    out.push('No exp claim: the token never expires. A stolen copy works forever.');
  } else if (typeof exp !== 'number') {
    out.push('exp is not a number (it must be seconds since 1970).');
  } else {
    if (exp * 1000 <= nowMs) out.push(`The token expired ${relativeTime(exp * 1000, nowMs)}.`);
    const start = typeof iat === 'number' ? iat : typeof nbf === 'number' ? nbf : null;
    if (start !== null && exp - start > 3600) {
      out.push(
        `Its lifetime is ${duration(exp - start)} (more than an hour): a stolen token stays useful that long. Keep access tokens short-lived and refresh them.`,
      );
    } else if (start === null && exp * 1000 - nowMs > 3600_000) {
      out.push(`It is valid for another ${duration(Math.round((exp * 1000 - nowMs) / 1000))} (more than an hour).`);
    }
  }
  if (typeof nbf === 'number' && nbf * 1000 > nowMs + 30_000) out.push(`Not valid yet: nbf is ${relativeTime(nbf * 1000, nowMs)}.`);
  if (typeof iat === 'number' && iat * 1000 > nowMs + 30_000) out.push(`iat is in the future (${relativeTime(iat * 1000, nowMs)}): check the issuer’s clock.`);
  for (const [name, value] of Object.entries(payload)) {
    if (SECRET_NAME.test(name) || (typeof value === 'string' && SECRET_VALUE.test(value))) {
      out.push(
        `The claim "${name}" looks secret. The payload is only base64url-encoded, not encrypted: anyone who holds the token can read it.`,
      );
    }
  }
  return out;
}

// ---------------------------------------------------------------- verification

export type KeySource = { readonly kind: 'jwks'; readonly url: string } | { readonly kind: 'pasted'; readonly text: string };

export interface Verdict {
  readonly ok: boolean;
  /** The sentence to show: starts with "Verified" or "Invalid". */
  readonly text: string;
}

interface AlgSpec {
  readonly import: AlgorithmIdentifier | RsaHashedImportParams | EcKeyImportParams | HmacImportParams;
  readonly verify: AlgorithmIdentifier | EcdsaParams | RsaPssParams;
  readonly kty: 'OKP' | 'EC' | 'RSA' | 'oct';
}

function algSpec(alg: string): AlgSpec | null {
  const sha = (bits: string) => `SHA-${bits}`;
  const m = /^(HS|RS|PS|ES)(256|384|512)$/.exec(alg);
  if (alg === 'EdDSA' || alg === 'Ed25519') return { import: { name: 'Ed25519' }, verify: { name: 'Ed25519' }, kty: 'OKP' };
  if (!m) return null;
  const [, family, bits] = m as unknown as [string, string, string];
  switch (family) {
    case 'HS':
      return { import: { name: 'HMAC', hash: sha(bits) }, verify: { name: 'HMAC' }, kty: 'oct' };
    case 'RS':
      return { import: { name: 'RSASSA-PKCS1-v1_5', hash: sha(bits) }, verify: { name: 'RSASSA-PKCS1-v1_5' }, kty: 'RSA' };
    case 'PS':
      return { import: { name: 'RSA-PSS', hash: sha(bits) }, verify: { name: 'RSA-PSS', saltLength: Number(bits) / 8 }, kty: 'RSA' };
    case 'ES': {
      if (bits === '512') return { import: { name: 'ECDSA', namedCurve: 'P-521' }, verify: { name: 'ECDSA', hash: 'SHA-512' }, kty: 'EC' };
      return { import: { name: 'ECDSA', namedCurve: `P-${bits}` }, verify: { name: 'ECDSA', hash: sha(bits) }, kty: 'EC' };
    }
    default:
      return null;
  }
}

interface Candidate {
  readonly label: string;
  readonly key: CryptoKey;
}

/** Only the key material: `alg`/`use`/`key_ops` in a JWK must not veto the import. */
function cleanJwk(jwk: JsonObject): JsonWebKey {
  const out: JsonWebKey = { ext: true };
  for (const k of ['kty', 'crv', 'x', 'y', 'n', 'e', 'k'] as const) {
    const v = jwk[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

function jwkLabel(jwk: JsonObject, origin: string): string {
  const kid = typeof jwk.kid === 'string' ? `kid "${jwk.kid}"` : 'the key without kid';
  const type = [jwk.kty, jwk.crv].filter((x) => typeof x === 'string').join(' ');
  return `${kid}${type ? ` (${type})` : ''} ${origin}`;
}

async function importJwks(keys: JsonObject[], kid: string | null, spec: AlgSpec, origin: string): Promise<Candidate[] | string> {
  const withKid = kid === null ? keys : keys.filter((k) => k.kid === kid);
  if (withKid.length === 0) return `no key ${origin} has kid "${kid ?? ''}"`;
  const usable = withKid.filter((k) => k.kty === spec.kty);
  if (usable.length === 0) return `the key ${origin} is of type ${JSON.stringify(withKid[0]?.kty ?? null)}, which cannot verify this alg`;
  const out: Candidate[] = [];
  for (const jwk of usable) {
    try {
      out.push({ label: jwkLabel(jwk, origin), key: await crypto.subtle.importKey('jwk', cleanJwk(jwk), spec.import, false, ['verify']) });
    } catch {
      // A key that does not fit this alg (say a P-384 key for ES256) is simply not a candidate.
    }
  }
  return out.length > 0 ? out : `the key ${origin} does not fit this alg`;
}

async function pastedCandidates(text: string, alg: string, kid: string | null, spec: AlgSpec): Promise<Candidate[] | string> {
  const trimmed = text.trim();
  if (trimmed === '') return 'no key was pasted';
  if (trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      return 'the pasted key looks like JSON but does not parse';
    }
    const obj = parsed as JsonObject;
    const keys = Array.isArray(obj.keys) ? (obj.keys as JsonObject[]) : [obj];
    // A pasted single JWK is trusted whatever its kid: the user chose it.
    return importJwks(keys, Array.isArray(obj.keys) ? kid : null, spec, 'that you pasted');
  }
  const pem = /-----BEGIN ([A-Z ]+)-----([\s\S]+?)-----END \1-----/.exec(trimmed);
  if (pem) {
    const [, label, body] = pem as unknown as [string, string, string];
    if (label !== 'PUBLIC KEY') return `a PEM "${label}" cannot be used here; paste the PUBLIC KEY (SPKI) block`;
    if (spec.kty === 'oct') return `the token says ${alg} (a shared secret), but a public key was pasted — refusing the alg-confusion trick`;
    try {
      const key = await crypto.subtle.importKey('spki', base64Decode(body), spec.import, false, ['verify']);
      return [{ label: `the PEM public key that you pasted`, key }];
    } catch {
      return `the pasted PEM public key does not fit ${alg}`;
    }
  }
  if (spec.kty !== 'oct') return `the token says ${alg}, which needs a public key (JWK or PEM), not a secret`;
  const key = await crypto.subtle.importKey('raw', utf8.encode(trimmed), spec.import, false, ['verify']);
  return [{ label: 'the secret that you pasted', key }];
}

/**
 * Checks the signature. The alg comes from the token only to pick the WebCrypto
 * algorithm here; a real verifier pins it instead.
 *
 * @example
 * const v = await verifySignature(decodeJwt(t), { kind: 'jwks', url: '/.well-known/jwks.json' });
 * v.text // 'Verified: signed by kid "k1" (OKP Ed25519) from this server’s JWKS.'
 */
export async function verifySignature(decoded: DecodedJwt, source: KeySource, fetchJson = fetchJwks): Promise<Verdict> {
  const alg = typeof decoded.header.alg === 'string' ? decoded.header.alg : '';
  if (alg.toLowerCase() === 'none') return { ok: false, text: 'Invalid: alg is "none", so there is no signature to check.' };
  const spec = algSpec(alg);
  if (!spec) return { ok: false, text: `Invalid: the alg "${alg}" is not one this page can check.` };
  const kid = typeof decoded.header.kid === 'string' ? decoded.header.kid : null;
  let candidates: Candidate[] | string;
  if (source.kind === 'jwks') {
    if (spec.kty === 'oct') {
      return { ok: false, text: `Invalid against this server’s JWKS: ${alg} uses a shared secret, and a JWKS publishes no secrets. Paste the secret to check it.` };
    }
    let keys: JsonObject[];
    try {
      keys = await fetchJson(source.url);
    } catch (e) {
      return { ok: false, text: `Invalid: could not load this server’s JWKS (${(e as Error).message}).` };
    }
    candidates = await importJwks(keys, kid, spec, 'in this server’s JWKS');
  } else {
    candidates = await pastedCandidates(source.text, alg, kid, spec);
  }
  if (typeof candidates === 'string') return { ok: false, text: `Invalid: ${candidates}.` };
  const data = utf8.encode(decoded.signingInput);
  for (const c of candidates) {
    if (await crypto.subtle.verify(spec.verify, c.key, decoded.signature, data)) {
      return { ok: true, text: `Verified: the signature matches ${c.label}.` };
    }
  }
  const which = candidates.map((c) => c.label).join('; ');
  return { ok: false, text: `Invalid: the signature does not match ${which}.` };
}

export async function fetchJwks(url: string): Promise<JsonObject[]> {
  const res = await fetch(url, { credentials: 'omit' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  const body = (await res.json()) as { keys?: unknown };
  if (!Array.isArray(body.keys)) throw new Error('no "keys" array');
  return body.keys as JsonObject[];
}

export function prettyJson(value: Json): string {
  return JSON.stringify(value, null, 2);
}
