import type { FastifyReply } from 'fastify';
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
