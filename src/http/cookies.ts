import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Cookie names and attributes of API.md. The `__Host-` prefix (RFC 6265bis §4.1.3.2)
 * makes the browser refuse the cookie unless it is Secure, Path=/ and has no
 * Domain; `__Secure-` requires Secure. The types below make those rules part of
 * each definition, and `setCookie` re-checks them at run time.
 */
interface CookieOptions {
  httpOnly: boolean;
  secure: true;
  sameSite: 'lax' | 'strict';
  path: string;
}
/** No cookie here has a Domain attribute: each is host-only (with `__Host-`, required). */
type HostCookie = { name: `__Host-${string}`; options: CookieOptions & { path: '/' } };
type SecureCookie = { name: `__Secure-${string}`; options: CookieOptions };
type CookieDef = HostCookie | SecureCookie;

export const SESSION: HostCookie = { name: '__Host-session', options: { httpOnly: true, secure: true, sameSite: 'lax', path: '/' } };
/** Readable by the page: it echoes the value in X-CSRF-Token (double submit, bound server-side to the session or family). */
export const CSRF: HostCookie = { name: '__Host-csrf', options: { httpOnly: false, secure: true, sameSite: 'strict', path: '/' } };
/** Scoped to /auth so the refresh token travels only to the endpoints that need it. */
export const REFRESH: SecureCookie = { name: '__Secure-refresh', options: { httpOnly: true, secure: true, sameSite: 'strict', path: '/auth' } };

function assertPrefixRules(def: CookieDef): void {
  if (!def.options.secure) throw new Error(`${def.name} must be Secure`);
  if (def.name.startsWith('__Host-') && def.options.path !== '/') {
    throw new Error(`${def.name} must have Path=/ and no Domain`);
  }
}

export function setCookie(reply: FastifyReply, def: CookieDef, value: string, maxAgeSeconds: number): void {
  void reply.header('set-cookie', serializeCookie(def, value, maxAgeSeconds));
}

export function clearCookie(reply: FastifyReply, def: CookieDef): void {
  void reply.header('set-cookie', serializeCookie(def, '', 0, EPOCH));
}

const EPOCH = new Date(0).toUTCString();
const SAME_SITE = { lax: 'Lax', strict: 'Strict' } as const;

/**
 * One Set-Cookie value (RFC 6265bis §4.1), attributes in the order the `cookie`
 * package writes them. Written here rather than through @fastify/cookie: that
 * plugin adds an onSend hook that every response pays for, and the handful of
 * responses that set a cookie only need this string. Fastify appends repeated
 * `set-cookie` headers instead of replacing them.
 */
export function serializeCookie(def: CookieDef, value: string, maxAgeSeconds: number, expires?: string): string {
  assertPrefixRules(def);
  if (!Number.isSafeInteger(maxAgeSeconds)) throw new Error(`${def.name}: Max-Age must be an integer`);
  const o = def.options;
  // Our values are base64url, which encodes to itself; encoding keeps a stray byte from splitting the header.
  let str = `${def.name}=${encodeURIComponent(value)}; Max-Age=${maxAgeSeconds}`;
  str += `; Path=${o.path}`;
  if (expires !== undefined) str += `; Expires=${expires}`;
  if (o.httpOnly) str += '; HttpOnly';
  str += `; Secure; SameSite=${SAME_SITE[o.sameSite]}`;
  return str;
}

/**
 * Reads one cookie from the request, without parsing the others: the session
 * look-up is a hot path and names here are fixed, values base64url (nothing to
 * unquote or decode). The first occurrence wins, as in browsers' ordering.
 */
export function readCookie(req: FastifyRequest, def: CookieDef): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  const name = def.name;
  let from = 0;
  for (;;) {
    const at = header.indexOf(name, from);
    if (at < 0) return undefined;
    const end = at + name.length;
    // A match must start a pair (the header's start, or after ";" and optional spaces) and be followed by "=".
    let i = at - 1;
    while (i >= 0 && header.charCodeAt(i) === 0x20) i--;
    if ((i < 0 || header.charCodeAt(i) === 0x3b) && header.charCodeAt(end) === 0x3d) {
      const stop = header.indexOf(';', end + 1);
      const value = (stop < 0 ? header.slice(end + 1) : header.slice(end + 1, stop)).trim();
      return value === '' ? undefined : value;
    }
    from = end;
  }
}
