import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps';
import { CreatePostSchema, RejectSchema } from '../../services/posts/posts.service';
import { POST_STATUSES } from '../../services/posts/post-status';
import { TargetSchema } from '../../services/tree/target.service';
import { toPostView } from '../../services/read-models/post-views.service';
import { requireScope } from '../../services/auth/keys.service';
import { allow, principalOf } from '../auth';
import { IdempotencyHeaders } from '../governance-schemas';
import {
  DeliveriesQuery,
  DeliveryList,
  errorResponses,
  PostIdParam,
  PostList,
  PostsQuery,
  PostView,
  Rejection,
  StatusChange,
  TargetPreview,
} from '../schemas';
import { QueueCounts } from '../ops-schemas';
import { OpsViewsService } from '../../services/read-models/ops-views.service';

const security = [{ bearer: [] }];

const RetryResult = z.object({
  id: z.string(),
  /** `publishing` when something was requeued; otherwise the post's status, unchanged. */
  status: z.enum(POST_STATUSES),
  requeued: z.number(),
  /** Failed deliveries left alone: their Page needs relinking first, or Facebook refused the content for good. */
  skipped: z.object({ needs_relink: z.number(), permanent: z.number() }),
});

export function postsRoutes(deps: Deps): FastifyPluginAsyncZod {
  const opsViews = new OpsViewsService(deps.store.db);
  return async (app) => {
    app.post('/targets/preview', {
      schema: {
        tags: ['posts'],
        summary: 'How many units and Pages a target reaches, by level (nothing is created)',
        security,
        body: z.object({ target: TargetSchema }).strict(),
        response: { 200: TargetPreview, ...errorResponses },
      },
      handler: async (req) => {
        const summary = await deps.targets.summarize(req.body.target);
        requireScope(principalOf(req), summary.unit.path, summary.unit.code); // reads are scoped too
        return summary;
      },
    });

    app.post('/posts', {
      preValidation: allow(['editor', 'admin'], 'create posts'),
      schema: {
        tags: ['posts'],
        summary:
          'Submit a post for approval (editor, admin). With Idempotency-Key: the same key and body return the same post (Idempotent-Replayed: true); another body is a 409.',
        security,
        headers: IdempotencyHeaders,
        body: CreatePostSchema,
        response: { 201: PostView, ...errorResponses },
      },
      handler: async (req, reply) => {
        const p = principalOf(req);
        // Level names become this tree's numbers before anything is stored (the post keeps what it was sent to).
        const body = { ...req.body, target: await deps.targets.normalize(req.body.target) };
        const { post, replayed } = await deps.posts.createOnce(p, body, req.headers['idempotency-key']);
        reply.status(201);
        if (!replayed) return toPostView(post);
        reply.header('idempotent-replayed', 'true');
        return deps.postViews.get(p, post.id);
      },
    });

    app.post('/posts/:id/approve', {
      preValidation: allow(['approver', 'admin'], 'approve posts'),
      schema: {
        tags: ['posts'],
        summary: 'Approve a post (approver, admin; never its author). Queues the fan-out and returns at once.',
        security,
        params: PostIdParam,
        response: { 202: StatusChange, ...errorResponses },
      },
      handler: async (req, reply) => {
        const res = await deps.posts.approve(principalOf(req), req.params.id);
        reply.status(202);
        return res;
      },
    });

    app.post('/posts/:id/reject', {
      preValidation: allow(['approver', 'admin'], 'reject posts'),
      bodyLimit: 16 * 1024,
      schema: {
        tags: ['posts'],
        summary:
          'Reject a pending post with a reason its author sees (approver, admin holding the target; never its author). Final: the author may resubmit it as a new post (resubmitOf).',
        security,
        params: PostIdParam,
        body: RejectSchema,
        response: { 200: z.object({ id: z.string(), status: z.literal('rejected'), rejection: Rejection }), ...errorResponses },
      },
      handler: async (req) => deps.posts.reject(principalOf(req), req.params.id, req.body.reason),
    });

    app.post('/posts/:id/cancel', {
      preValidation: allow(['editor', 'approver', 'admin'], 'cancel posts'),
      schema: {
        tags: ['posts'],
        summary: 'Cancel an unfinished post; deliveries not yet sent become cancelled',
        security,
        params: PostIdParam,
        response: { 200: StatusChange, ...errorResponses },
      },
      handler: async (req) => deps.posts.cancel(principalOf(req), req.params.id),
    });

    app.post('/posts/:id/retry', {
      preValidation: allow(['editor', 'approver', 'admin'], 'retry deliveries'),
      schema: {
        tags: ['posts'],
        summary:
          'Re-queue the failed deliveries a retry can fix (all, or only those with the given reasons): token and permission failures only once their Page was linked again after the failure, content refusals never. 202 when something was requeued; 200 with requeued 0 when everything failed needs a relink or was refused for good (skipped says how many of each).',
        security,
        params: PostIdParam,
        body: z.object({ reasons: z.array(z.string().min(1).max(100)).min(1).max(50).optional() }).strict(),
        response: { 200: RetryResult, 202: RetryResult, ...errorResponses },
      },
      handler: async (req, reply) => {
        const res = await deps.retries.retry(principalOf(req), req.params.id, req.body.reasons);
        reply.status(res.requeued > 0 ? 202 : 200);
        return res;
      },
    });

    app.get('/posts/:id', {
      schema: {
        tags: ['posts'],
        summary: 'A post with delivery counts by status',
        security,
        params: PostIdParam,
        response: { 200: PostView, ...errorResponses },
      },
      handler: async (req) => deps.postViews.get(principalOf(req), req.params.id),
    });

    app.get('/posts', {
      schema: {
        tags: ['posts'],
        summary: 'Posts visible to the caller, newest first',
        security,
        querystring: PostsQuery,
        response: { 200: PostList, ...errorResponses },
      },
      handler: async (req) => deps.postViews.list(principalOf(req), req.query),
    });

    app.get('/posts/:id/deliveries', {
      schema: {
        tags: ['posts'],
        summary: 'Per-Page delivery status (filter by status, or by unit = that unit and its subtree)',
        security,
        params: PostIdParam,
        querystring: DeliveriesQuery,
        response: { 200: DeliveryList, ...errorResponses },
      },
      handler: async (req) => deps.postViews.deliveries(principalOf(req), req.params.id, req.query),
    });

    app.get('/queues', {
      schema: {
        tags: ['ops'],
        summary:
          "Queue counts: BullMQ waiting, active, delayed per queue; deliveries.failed is the ledger's failed deliveries of your subtree",
        security,
        response: { 200: QueueCounts, ...errorResponses },
      },
      handler: async (req) => {
        const p = principalOf(req);
        const [counts, failed] = await Promise.all([deps.queues.counts(), opsViews.failedDeliveries(p)]);
        return { fanout: counts.fanout, deliveries: { ...counts.deliveries, failed }, scope: { unit: p.unitCode } };
      },
    });
  };
}
