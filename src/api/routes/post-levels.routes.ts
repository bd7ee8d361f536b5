import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps';
import { POST_STATUSES } from '../../services/posts/post-status';
import { PostLevelsService } from '../../services/read-models/post-levels.service';
import { principalOf } from '../auth';
import { Counts, errorResponses, PostIdParam } from '../schemas';

/** `GET /v1/posts/{id}/levels`: progress per tree level (provinces / districts / communes done). */
export function postLevelsRoutes(deps: Deps): FastifyPluginAsyncZod {
  const levels = new PostLevelsService(deps.store.db, deps.posts);
  return async (app) => {
    app.get('/posts/:id/levels', {
      schema: {
        tags: ['posts'],
        summary: "A post's deliveries counted by unit level (0 root, 1 provinces, 2 districts, 3 communes), inside the caller's subtree",
        security: [{ bearer: [] }],
        params: PostIdParam,
        response: {
          200: z.object({
            postId: z.string(),
            status: z.enum(POST_STATUSES),
            levels: z.array(z.object({ level: z.number(), total: z.number(), done: z.number(), counts: Counts })),
          }),
          ...errorResponses,
        },
      },
      handler: async (req) => levels.byLevel(principalOf(req), req.params.id),
    });
  };
}
