import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps';
import { DEFAULT_APPROVALS_LIMIT, MAX_APPROVALS_LIMIT } from '../../services/read-models/approvals.service';
import { allow, principalOf } from '../auth';
import { errorResponses, PostView, TargetPreview } from '../schemas';

const security = [{ bearer: [] }];

const ApprovalItem = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('post'), post: PostView, preview: TargetPreview.nullable() }),
  z.object({
    kind: z.literal('edit'),
    postId: z.string(),
    revision: z.number(),
    message: z.string(),
    previousMessage: z.string(),
    requestedBy: z.string(),
    requestedAt: z.string(),
    post: PostView,
  }),
]);

/** The approvals inbox. */
export function approvalsRoutes(deps: Deps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/approvals', {
      preValidation: allow(['approver', 'admin'], 'see the approvals inbox'),
      schema: {
        tags: ['posts'],
        summary:
          "What awaits the caller's approval (approver, admin): pending posts, each with its target preview, and pending edits whose target lies in the caller's subtree, minus what the caller wrote. Newest first.",
        security,
        querystring: z.object({ limit: z.coerce.number().int().min(1).max(MAX_APPROVALS_LIMIT).default(DEFAULT_APPROVALS_LIMIT) }),
        response: { 200: z.object({ items: z.array(ApprovalItem), total: z.number() }), ...errorResponses },
      },
      handler: async (req) => deps.approvals.inbox(principalOf(req), { limit: req.query.limit }),
    });
  };
}
