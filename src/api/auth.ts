import type { FastifyInstance, FastifyRequest } from 'fastify';
import { requireRole, type KeysService, type Principal, type Role } from '../services/auth/keys.service';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** `Authorization: Bearer <key>` on every route of the plugin it is installed in; 401 otherwise. */
export function installAuth(app: FastifyInstance, keys: KeysService): void {
  app.addHook('onRequest', async (req) => {
    const header = req.headers.authorization;
    const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
    req.principal = await keys.authenticate(m?.[1]);
  });
}

export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new Error('route without authentication');
  return req.principal;
}

/** Route hook: 403 before the body is even validated when the caller's role may not use the route. */
export function allow(roles: readonly Role[], action: string) {
  return async (req: FastifyRequest) => {
    requireRole(principalOf(req), roles, action);
  };
}
