import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps';
import { AppError } from '../../errors/app-error';
import type { Principal } from '../../services/auth/keys.service';
import { FINAL_POST_STATUSES, PostProgressService, type ProgressView } from '../../services/read-models/post-progress.service';
import { PostTreeService } from '../../services/read-models/post-tree.service';
import { principalOf } from '../auth';
import { EVENT_STREAM_DESCRIPTION, PostEventsQuery, PostFailures, PostTree, TreeQuery } from '../ops-schemas';
import { errorResponses, PostIdParam } from '../schemas';
import { openSse, pause, SseRegistry } from '../sse';

const security = [{ bearer: [] }];
const eventStream = { description: EVENT_STREAM_DESCRIPTION, content: { 'text/event-stream': { schema: z.string() } } };

export interface ProgressRouteOptions {
  /** How often a stream re-reads the store. @defaultValue 500 */
  pollMs?: number;
  /** Comment lines that keep idle connections open. @defaultValue 15000 */
  heartbeatMs?: number;
  /** A stream ends after this long (the client reconnects, and is authenticated again). @defaultValue 600000 */
  maxStreamMs?: number;
}

/** Where a post went: the rolled-up target tree, failures by reason, and live progress (SSE). */
export function progressRoutes(deps: Deps, opts: ProgressRouteOptions = {}): FastifyPluginAsyncZod {
  const pollMs = opts.pollMs ?? 500;
  const maxStreamMs = opts.maxStreamMs ?? 600_000;
  return async (app) => {
    const tree = new PostTreeService(deps.store.db, deps.posts);
    const progress = new PostProgressService(deps.postViews);
    const streams = new SseRegistry();
    app.addHook('preClose', async () => streams.closeAll());

    /**
     * Streams progress events for the posts until all are final. The first read happens before the
     * stream opens, so an unknown or invisible post is a plain 404.
     */
    async function stream(req: FastifyRequest, reply: FastifyReply, p: Principal, ids: string[]): Promise<void> {
      const first = await Promise.all(ids.map((id) => progress.view(p, id)));
      const sse = openSse(reply, streams, { heartbeatMs: opts.heartbeatMs });
      const sent = new Map<string, string>();
      const open = new Set(ids);
      const emit = (v: ProgressView) => {
        const json = JSON.stringify(v);
        if (sent.get(v.id) !== json) {
          sent.set(v.id, json);
          sse.send('progress', v);
        }
        if (FINAL_POST_STATUSES.has(v.status)) open.delete(v.id);
      };
      first.forEach(emit);
      const deadline = Date.now() + maxStreamMs;
      while (!sse.closed && open.size && Date.now() < deadline) {
        await pause(pollMs, sse.signal);
        if (sse.closed) break;
        try {
          (await Promise.all([...open].map((id) => progress.view(p, id)))).forEach(emit);
        } catch (err) {
          if (err instanceof AppError && err.statusCode < 500) {
            sse.send('error', { code: err.code, message: err.message });
            break;
          }
          req.log.warn({ err: (err as Error).message }, 'progress stream read failed; retrying');
        }
      }
      if (!open.size) sse.send('end', {});
      sse.close();
    }

    app.get('/posts/:id/events', {
      schema: {
        tags: ['posts'],
        summary: 'Live progress of a post (server-sent events) until it is final',
        description: EVENT_STREAM_DESCRIPTION,
        security,
        params: PostIdParam,
        response: { 200: eventStream, ...errorResponses },
      },
      handler: async (req, reply) => stream(req, reply, principalOf(req), [req.params.id]),
    });

    app.get('/posts/events', {
      schema: {
        tags: ['posts'],
        summary: 'Live progress of several posts (server-sent events) until all are final',
        description: EVENT_STREAM_DESCRIPTION,
        security,
        querystring: PostEventsQuery,
        response: { 200: eventStream, ...errorResponses },
      },
      handler: async (req, reply) => stream(req, reply, principalOf(req), [...new Set(req.query.ids.toLowerCase().split(','))]),
    });

    app.get('/posts/:id/tree', {
      schema: {
        tags: ['posts'],
        summary: 'A node of the target tree and its children, each with the counts of its whole subtree',
        security,
        params: PostIdParam,
        querystring: TreeQuery,
        response: { 200: PostTree, ...errorResponses },
      },
      handler: async (req) => tree.tree(principalOf(req), req.params.id, req.query.unit),
    });

    app.get('/posts/:id/failures', {
      schema: {
        tags: ['posts'],
        summary: 'Failed deliveries of a post grouped by reason and Graph error code (largest first)',
        security,
        params: PostIdParam,
        response: { 200: PostFailures, ...errorResponses },
      },
      handler: async (req) => tree.failures(principalOf(req), req.params.id),
    });
  };
}
