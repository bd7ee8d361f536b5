import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps';
import { principalOf } from '../auth';
import { AuditList, AuditQuery } from '../governance-schemas';
import { errorResponses } from '../schemas';

/** The audit log (read only: nothing in the API changes or deletes entries). */
export function auditRoutes(deps: Deps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/audit', {
      schema: {
        tags: ['audit'],
        summary:
          "Audit entries about the caller's subtree (and posts reaching the caller's unit), oldest first; filter by subject, actor, action, since",
        security: [{ bearer: [] }],
        querystring: AuditQuery,
        response: { 200: AuditList, ...errorResponses },
      },
      handler: async (req) => deps.audit.list(principalOf(req), req.query),
    });
  };
}
