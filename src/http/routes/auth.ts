import type { FastifyInstance, FastifyReply } from 'fastify';
import type { AccessClaims } from '../../core/access-tokens.js';
import type { Principal } from '../../core/auth.js';
import { isPromise } from '../../core/ports.js';
import { AuthError } from '../../core/errors.js';
import { clearCookie, CSRF, readCookie, REFRESH, SESSION, setCookie } from '../cookies.js';
import { BodyCache } from '../body-cache.js';
import { bearerToken, csrfHeader, requirePrincipal, userAgent, type HttpContext } from '../context.js';
import * as s from '../schemas.js';

/** The account and sign-in endpoints of API.md under /auth. */
export function authRoutes(app: FastifyInstance, { auth, config }: HttpContext): void {
  const clearFor = (reply: FastifyReply, p: Principal) => {
    if (p.mode === 'session') clearCookie(reply, SESSION);
    if (p.mode === 'hybrid') clearCookie(reply, REFRESH);
    if (p.mode !== 'jwt') clearCookie(reply, CSRF);
  };

  app.post<{ Body: s.RegisterBody }>('/auth/register', { schema: { body: s.registerBody } }, async (req, reply) => {
    const user = await auth.register(req.body);
    return reply.code(201).send({ user });
  });

  app.post<{ Body: s.LoginBody }>('/auth/login', { schema: { body: s.loginBody } }, async (req, reply) => {
    const r = await auth.login({
      username: req.body.username,
      password: req.body.password,
      mode: req.body.mode,
      address: req.ip,
      userAgent: userAgent(req),
      previousSessionId: readCookie(req, SESSION),
    });
    switch (r.mode) {
      case 'session':
        setCookie(reply, SESSION, r.sessionId, config.sessionAbsoluteTtl);
        setCookie(reply, CSRF, r.csrf, config.sessionAbsoluteTtl);
        return { user: r.user, mode: r.mode, expires_at: new Date(r.expiresAt).toISOString() };
      case 'jwt':
        return { user: r.user, mode: r.mode, access_token: r.accessToken, token_type: 'Bearer', expires_in: r.expiresIn };
      case 'hybrid': {
        const body = { user: r.user, mode: r.mode, access_token: r.accessToken, token_type: 'Bearer', expires_in: r.expiresIn };
        if (req.body.refresh_in_body === true) return { ...body, refresh_token: r.refreshToken };
        setCookie(reply, REFRESH, r.refreshToken, config.refreshTtl);
        setCookie(reply, CSRF, r.csrf, config.refreshTtl);
        return body;
      }
    }
  });

  app.post<{ Body: s.RefreshBody }>('/auth/refresh', { schema: { body: s.refreshBody } }, async (req, reply) => {
    const fromBody = req.body?.refresh_token;
    const fromCookie = readCookie(req, REFRESH);
    const token = fromBody ?? fromCookie;
    if (!token) throw new AuthError('unauthenticated', 'No refresh token: sign in first.');
    try {
      const r = await auth.refresh(
        fromBody !== undefined ? { token } : { token, csrf: { header: csrfHeader(req), cookie: readCookie(req, CSRF) } },
      );
      const body = { access_token: r.accessToken, token_type: 'Bearer', expires_in: r.expiresIn };
      if (fromBody !== undefined) return { ...body, refresh_token: r.refreshToken };
      setCookie(reply, REFRESH, r.refreshToken, config.refreshTtl);
      return body;
    } catch (e) {
      // A dead refresh cookie is useless to the browser: clear it with the error.
      if (fromBody === undefined && e instanceof AuthError && e.code !== 'csrf' && e.code !== 'unavailable') clearCookie(reply, REFRESH);
      throw e;
    }
  });

  app.post('/auth/logout', async (req, reply) => {
    const refresh = readCookie(req, REFRESH);
    if (req.headers.authorization === undefined && !readCookie(req, SESSION) && refresh) {
      await auth.logoutByRefresh(refresh, { header: csrfHeader(req), cookie: readCookie(req, CSRF) });
      clearCookie(reply, REFRESH);
      clearCookie(reply, CSRF);
      return reply.code(204).send();
    }
    const p = await requirePrincipal(auth, req);
    await auth.logout(p);
    clearFor(reply, p);
    return reply.code(204).send();
  });

  app.post('/auth/logout-all', async (req, reply) => {
    const p = await requirePrincipal(auth, req);
    await auth.logoutAll(p);
    clearFor(reply, p);
    return reply.code(204).send();
  });

  // The hot path of every mode, synchronous when it can be: a Bearer caller whose user
  // is cached, or a session on a synchronous store, awaits nothing. Bodies are reused
  // per credential while their claims, user record and deadline are unchanged.
  // Keyed by the verified claims object, which the token checker hands out for exactly one
  // token string until it expires: no hash of the whole token on this path, and a body
  // lives no longer than the checker keeps its claims.
  const tokenBodies = new WeakMap<AccessClaims, string>();
  const sessionBodies = new BodyCache<string>();
  const JSON_TYPE = 'application/json; charset=utf-8';
  const sendMe = (reply: FastifyReply, p: Principal): FastifyReply | Promise<FastifyReply> => {
    if (p.kind === 'token') return auth.me(p).then((body) => reply.type(JSON_TYPE).send(JSON.stringify(body)));
    const deadline = Math.min(p.session.idleExpiresAt, p.session.expiresAt);
    const json =
      sessionBodies.get(p.session.idHash, p.user, deadline) ??
      sessionBodies.set(p.session.idHash, p.user, deadline, JSON.stringify(auth.meFromSession(p)));
    return reply.type(JSON_TYPE).send(json);
  };
  app.get('/auth/me', (req, reply) => {
    const header = req.headers.authorization;
    if (header !== undefined) {
      const token = bearerToken(header);
      const p = auth.authenticateBearer(token);
      let json = tokenBodies.get(p.claims);
      if (json === undefined) {
        const body = auth.meFromToken(p);
        if (body === null) return sendMe(reply, p); // user not cached on this node yet
        json = JSON.stringify(body);
        tokenBodies.set(p.claims, json);
      }
      return reply.type(JSON_TYPE).send(json);
    }
    const p = requirePrincipal(auth, req);
    return isPromise(p) ? p.then((x) => sendMe(reply, x)) : sendMe(reply, p);
  });

  app.get('/auth/sessions', async (req) => ({ sessions: await auth.listSessions(await requirePrincipal(auth, req)) }));

  app.delete<{ Params: s.IdParams }>('/auth/sessions/:id', { schema: { params: s.idParams } }, async (req, reply) => {
    await auth.revokeSession(await requirePrincipal(auth, req), req.params.id);
    return reply.code(204).send();
  });

  app.post<{ Body: s.PasswordBody }>('/auth/password', { schema: { body: s.passwordBody } }, async (req, reply) => {
    const p = await requirePrincipal(auth, req);
    await auth.changePassword(p, req.body.current_password, req.body.new_password, req.ip);
    return reply.code(204).send();
  });
}
