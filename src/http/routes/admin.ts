import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requirePrincipal, type HttpContext } from '../context.js';
import * as s from '../schemas.js';

/** Administration endpoints of API.md; every one requires role admin. */
export function adminRoutes(app: FastifyInstance, { auth }: HttpContext): void {
  const admin = async (req: FastifyRequest) => auth.requireAdmin(await requirePrincipal(auth, req));

  app.get<{ Querystring: s.UsersQuery }>('/admin/users', { schema: { querystring: s.usersQuery } }, async (req) => {
    await admin(req);
    return auth.listUsers({ q: req.query.q, limit: req.query.limit ? Number(req.query.limit) : 50, cursor: req.query.cursor });
  });

  app.patch<{ Params: s.IdParams; Body: s.PatchUserBody }>(
    '/admin/users/:id',
    { schema: { params: s.idParams, body: s.patchUserBody } },
    async (req) => {
      await admin(req);
      return { user: await auth.patchUser(req.params.id, req.body) };
    },
  );

  app.post<{ Params: s.IdParams }>('/admin/users/:id/revoke', { schema: { params: s.idParams } }, async (req, reply) => {
    await admin(req);
    await auth.revokeUserByAdmin(req.params.id);
    return reply.code(204).send();
  });

  app.post('/admin/sessions/wipe', async (req, reply) => {
    await admin(req);
    await auth.wipeAll();
    return reply.code(204).send();
  });

  app.post('/admin/keys/rotate', async (req) => {
    await admin(req);
    return { kid: await auth.rotateKeys() };
  });
}
