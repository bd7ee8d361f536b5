import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps';
import { UnauthenticatedError } from '../../errors/app-error';
import { metricsAuthorized } from '../../metrics/metrics-server';
import { ErrorBody } from '../schemas';

/** `GET /metrics`: Prometheus text exposition. Open on the bind address unless METRICS_TOKEN is set. */
export function metricsRoutes(deps: Deps): FastifyPluginAsyncZod {
  const token = deps.config.env.METRICS_TOKEN;
  return async (app) => {
    app.get('/metrics', {
      schema: {
        tags: ['ops'],
        summary: 'Prometheus metrics of this process (text exposition). Needs `Authorization: Bearer <METRICS_TOKEN>` when that is set.',
        produces: ['text/plain'],
        ...(token ? { security: [{ bearer: [] }] } : {}),
        response: { 200: z.string().describe('Prometheus text format 0.0.4'), 401: ErrorBody },
      },
      handler: async (req, reply) => {
        if (!metricsAuthorized(req.headers.authorization, token)) {
          throw new UnauthenticatedError('metrics need Authorization: Bearer <METRICS_TOKEN>');
        }
        const { contentType, body } = await deps.metrics.expose();
        reply.type(contentType);
        return body;
      },
    });
  };
}
