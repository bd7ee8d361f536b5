import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps';
import { allow, principalOf } from '../auth';
import { EditParams, EditPostSchema, EditView, RecallBody, RecallResult } from '../governance-schemas';
import { errorResponses, PostIdParam } from '../schemas';
import { RejectSchema } from '../../services/posts/posts.service';

const security = [{ bearer: [] }];

/** Recall and edit of posts that reached Pages. */
export function changesRoutes(deps: Deps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/posts/:id/recall', {
      preValidation: allow(['editor', 'approver', 'admin'], 'recall posts'),
      bodyLimit: 16 * 1024,
      schema: {
        tags: ['posts'],
        summary:
          'Recall a post: delete it from every Page it reached (through the queue; already deleted counts as done). Deliveries end recalled. Editor, approver or admin holding the whole target; again on a recalled post retries the Pages that failed.',
        security,
        params: PostIdParam,
        body: RecallBody,
        response: { 202: RecallResult, ...errorResponses },
      },
      handler: async (req, reply) => {
        const res = await deps.recalls.recall(principalOf(req), req.params.id, req.body.reason);
        reply.status(202);
        return res;
      },
    });

    app.patch('/posts/:id', {
      preValidation: allow(['editor', 'admin'], 'edit posts'),
      bodyLimit: 512 * 1024,
      schema: {
        tags: ['posts'],
        summary:
          'Edit the message of a published post on every Page. Creates an edit pending approval by a different key (replacing an unapproved one).',
        security,
        params: PostIdParam,
        body: EditPostSchema,
        response: { 202: EditView, ...errorResponses },
      },
      handler: async (req, reply) => {
        const res = await deps.edits.request(principalOf(req), req.params.id, req.body.message);
        reply.status(202);
        return res;
      },
    });

    app.post('/posts/:id/edits/:revision/approve', {
      preValidation: allow(['approver', 'admin'], 'approve edits'),
      schema: {
        tags: ['posts'],
        summary: 'Approve an edit (approver, admin; never the key that asked for it). Queues one update per Page and returns at once.',
        security,
        params: EditParams,
        response: { 202: EditView, ...errorResponses },
      },
      handler: async (req, reply) => {
        const res = await deps.edits.approve(principalOf(req), req.params.id, req.params.revision);
        reply.status(202);
        return res;
      },
    });

    app.post('/posts/:id/edits/:revision/reject', {
      preValidation: allow(['approver', 'admin'], 'reject edits'),
      bodyLimit: 16 * 1024,
      schema: {
        tags: ['posts'],
        summary:
          'Reject a pending edit with a reason (approver, admin holding the target; never the key that asked for it). The Pages keep the current message.',
        security,
        params: EditParams,
        body: RejectSchema,
        response: { 200: EditView, ...errorResponses },
      },
      handler: async (req) => deps.edits.reject(principalOf(req), req.params.id, req.params.revision, req.body.reason),
    });

    app.get('/posts/:id/edits', {
      schema: {
        tags: ['posts'],
        summary: 'Edits of a post, newest first, with per-Page progress of the one being applied',
        security,
        params: PostIdParam,
        response: { 200: z.object({ items: z.array(EditView) }), ...errorResponses },
      },
      handler: async (req) => ({ items: await deps.edits.list(principalOf(req), req.params.id) }),
    });
  };
}
