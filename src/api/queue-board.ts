import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Deps } from '../deps';
import { UnauthenticatedError } from '../errors/app-error';
import { AdminSessionService, ADMIN_SESSION_COOKIE, readCookie } from '../services/auth/admin-session.service';
import type { Principal } from '../services/auth/keys.service';
import { adminSessionRoutes, loginPage, QUEUE_BOARD_PATH } from './routes/admin-session.routes';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function deny(reply: FastifyReply, status: 401 | 403, message: string) {
  return reply
    .status(status)
    .header('cache-control', 'no-store')
    .send({ error: { code: status === 401 ? 'UNAUTHENTICATED' : 'FORBIDDEN', message } });
}

/** A cookie-authenticated change must come from our own origin (on top of SameSite=Strict). */
function sameOrigin(req: FastifyRequest): boolean {
  const origin = req.headers.origin;
  if (!origin) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}

/**
 * Admins only, by `Authorization: Bearer <key>` or the session cookie of `POST /admin/session`:
 * 401 without either (a browser asking for a page gets the sign-in form), 403 for other roles.
 */
function adminGuard(deps: Deps, sessions: AdminSessionService) {
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    let principal: Principal | null;
    try {
      principal = bearer
        ? await deps.keys.authenticate(bearer)
        : await sessions.resolve(readCookie(req.headers.cookie, ADMIN_SESSION_COOKIE));
    } catch (err) {
      if (!(err instanceof UnauthenticatedError)) throw err;
      principal = null;
    }
    if (!principal) {
      if (req.method === 'GET' && (req.headers.accept ?? '').includes('text/html')) {
        return reply.status(401).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(loginPage());
      }
      return deny(reply, 401, 'the queue UI needs an admin key: Authorization: Bearer <key>, or a session from POST /admin/session');
    }
    if (principal.role !== 'admin') return deny(reply, 403, `role ${principal.role} may not open the queue UI (needs admin)`);
    if (!bearer && !SAFE_METHODS.has(req.method) && !sameOrigin(req)) return deny(reply, 403, 'cross-origin request refused');
  };
}

/**
 * Bull Board at /admin/queues over every queue of this deployment, plus the admin session routes.
 * Its actions (retry, remove, clean…) are safe: the store decides what is sent, never the queue.
 */
export async function registerQueueBoard(app: FastifyInstance, deps: Deps): Promise<void> {
  const sessions = new AdminSessionService(deps.store.db, deps.keys, {
    ttlMs: deps.config.env.ADMIN_SESSION_TTL_MS,
    secret: deps.config.tokenEncryptionKey,
    bootstrapAdmin: deps.config.adminApiKey !== undefined,
  });
  await app.register(adminSessionRoutes(sessions));

  const serverAdapter = new FastifyAdapter().setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: deps.queues.all().map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: 'Lan Tỏa' } },
  });
  await app.register(async (scope) => {
    scope.addHook('onRequest', adminGuard(deps, sessions));
    await scope.register(serverAdapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
  });
}
