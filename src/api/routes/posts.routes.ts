import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps';
import { CreatePostSchema } from '../../services/posts/posts.service';
import { TargetSchema } from '../../services/tree/target.service';
import { toPostView } from '../../services/read-models/post-views.service';
import { requireScope } from '../../services/auth/keys.service';
import { allow, principalOf } from '../auth';
import { IdempotencyHeaders } from '../governance-schemas';
import { DeliveriesQuery, DeliveryList, errorResponses, PostIdParam, PostList, PostsQuery, PostView, StatusChange } from '../schemas';

const security = [{ bearer: [] }];

export function postsRoutes(deps: Deps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/targets/preview', {
      schema: {
        tags: ['posts'],
        summary: 'How many units and Pages a target reaches, by level (nothing is created)',
        security,
        body: z.object({ target: TargetSchema }).strict(),
        response: {
          200: z.object({
            unit: z.object({ code: z.string(), path: z.string(), level: z.number() }),
            units: z.number(),
            withPage: z.number(),
            withoutPage: z.number(),
            /** Active Pages of those units: what a post to this target is sent to (a unit may have several). */
            pages: z.number(),
            /** Units no post can reach now: no Page with a token that is not known broken. */
            withoutHealthyPage: z.number(),
            /** The first 10 of those units, in tree order, so a preview can name them. */
            withoutHealthyPageUnits: z.array(z.object({ code: z.string(), name: z.string(), level: z.number() })),
            byLevel: z.record(z.string(), z.number()),
          }),
          ...errorResponses,
        },
      },
      handler: async (req) => {
        const summary = await deps.targets.summarize(req.body.target);
        requireScope(principalOf(req), summary.unit.path, summary.unit.code); // reads are scoped too
        const withoutHealthyPageUnits = summary.withoutHealthyPage > 0 ? await deps.targets.unitsWithoutHealthyPage(req.body.target) : [];
        return { ...summary, withoutHealthyPageUnits };
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
        summary: 'Re-queue failed deliveries (all, or only those with the given reasons), e.g. after tokens were fixed',
        security,
        params: PostIdParam,
        body: z.object({ reasons: z.array(z.string().min(1).max(100)).min(1).max(50).optional() }).strict(),
        response: { 202: z.object({ id: z.string(), status: z.literal('publishing'), requeued: z.number() }), ...errorResponses },
      },
      handler: async (req, reply) => {
        const res = await deps.retries.retry(principalOf(req), req.params.id, req.body.reasons);
        reply.status(202);
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
        summary: 'BullMQ job counts per queue',
        security,
        response: {
          200: z.object({ fanout: z.record(z.string(), z.number()), deliveries: z.record(z.string(), z.number()) }),
          ...errorResponses,
        },
      },
      handler: async () => deps.queues.counts(),
    });
  };
}
