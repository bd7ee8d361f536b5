import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps';
import { WEBHOOK_EVENTS } from '../../services/webhooks/webhooks.service';
import { principalOf } from '../auth';
import { errorResponses, limit } from '../schemas';

const security = [{ bearer: [] }];

const WebhookIdParam = z.object({ id: z.string().regex(/^wh_[A-Za-z0-9_-]{1,64}$/, 'expected a webhook id (wh_…)') });
const CreateWebhookBody = z
  .object({
    url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).max(2048),
    events: z
      .array(z.enum(WEBHOOK_EVENTS))
      .min(1, 'expected at least one event')
      .max(WEBHOOK_EVENTS.length * 2),
  })
  .strict();
const WebhookView = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(z.enum(WEBHOOK_EVENTS)),
  unit: z.string(),
  createdAt: z.string(),
});
const CreatedWebhook = WebhookView.extend({ secret: z.string().describe('HMAC-SHA256 signing secret; shown once') });
const AttemptView = z.object({
  id: z.number(),
  eventId: z.string(),
  event: z.string(),
  attempt: z.number(),
  statusCode: z.number().nullable(),
  outcome: z.enum(['delivered', 'retrying', 'failed']),
  error: z.string().nullable(),
  durationMs: z.number(),
  createdAt: z.string(),
});

/**
 * Webhooks: any key may register URLs for events of its own unit subtree. Bodies are signed (see the
 * README, "Webhooks"); the signing secret is returned once, at creation.
 */
export function webhooksRoutes(deps: Deps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/webhooks', {
      schema: {
        tags: ['webhooks'],
        summary: `Register a URL for events (${WEBHOOK_EVENTS.join(', ')}) of the caller's subtree. The signing secret is shown once.`,
        security,
        body: CreateWebhookBody,
        response: { 201: CreatedWebhook, ...errorResponses },
      },
      handler: async (req, reply) => {
        const created = await deps.webhooks.create(principalOf(req), req.body);
        reply.status(201);
        return created;
      },
    });

    app.get('/webhooks', {
      schema: {
        tags: ['webhooks'],
        summary: "The caller's webhooks (never their secrets)",
        security,
        response: { 200: z.object({ items: z.array(WebhookView) }), ...errorResponses },
      },
      handler: async (req) => ({ items: await deps.webhooks.list(principalOf(req)) }),
    });

    app.delete('/webhooks/:id', {
      schema: {
        tags: ['webhooks'],
        summary: "Delete one of the caller's webhooks; pending deliveries stop, the log is kept",
        security,
        params: WebhookIdParam,
        response: { 204: z.null().describe('deleted'), ...errorResponses },
      },
      handler: async (req, reply) => {
        await deps.webhooks.remove(principalOf(req), req.params.id);
        return reply.status(204).send(null);
      },
    });

    app.get('/webhooks/:id/deliveries', {
      schema: {
        tags: ['webhooks'],
        summary: 'Delivery log of a webhook, newest first: one row per POST attempt (status code, attempt, outcome, error, time)',
        security,
        params: WebhookIdParam,
        querystring: z.object({ limit, cursor: z.string().max(500).optional() }),
        response: { 200: z.object({ items: z.array(AttemptView), nextCursor: z.string().nullable() }), ...errorResponses },
      },
      handler: async (req) => deps.webhooks.attempts(principalOf(req), req.params.id, req.query),
    });
  };
}
