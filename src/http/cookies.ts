import type { FastifyReply, FastifyRequest } from 'fastify';
import type { CookieSerializeOptions } from '@fastify/cookie';

/**
 * Cookie names and attributes of API.md. The `__Host-` prefix (RFC 6265bis §4.1.3.2)
 * makes the browser refuse the cookie unless it is Secure, Path=/ and has no
 * Domain; `__Secure-` requires Secure. The types below make those rules part of
 * each definition, and `setCookie` re-checks them at run time.
 */
type HostCookie = { name: `__Host-${string}`; options: CookieSerializeOptions & { secure: true; path: '/'; domain?: never } };
type SecureCookie = { name: `__Secure-${string}`; options: CookieSerializeOptions & { secure: true } };
type CookieDef = HostCookie | SecureCookie;

export const SESSION: HostCookie = { name: '__Host-session', options: { httpOnly: true, secure: true, sameSite: 'lax', path: '/' } };
/** Readable by the page: it echoes the value in X-CSRF-Token (double submit, bound server-side to the session or family). */
export const CSRF: HostCookie = { name: '__Host-csrf', options: { httpOnly: false, secure: true, sameSite: 'strict', path: '/' } };
/** Scoped to /auth so the refresh token travels only to the endpoints that need it. */
export const REFRESH: SecureCookie = { name: '__Secure-refresh', options: { httpOnly: true, secure: true, sameSite: 'strict', path: '/auth' } };

function assertPrefixRules(def: CookieDef): void {
  if (!def.options.secure) throw new Error(`${def.name} must be Secure`);
  if (def.name.startsWith('__Host-') && (def.options.path !== '/' || def.options.domain !== undefined)) {
    throw new Error(`${def.name} must have Path=/ and no Domain`);
  }
}

export function setCookie(reply: FastifyReply, def: CookieDef, value: string, maxAgeSeconds: number): void {
  assertPrefixRules(def);
  void reply.setCookie(def.name, value, { ...def.options, maxAge: maxAgeSeconds });
}

export function clearCookie(reply: FastifyReply, def: CookieDef): void {
  assertPrefixRules(def);
  void reply.setCookie(def.name, '', { ...def.options, maxAge: 0, expires: new Date(0) });
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
