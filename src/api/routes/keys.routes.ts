import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps';
import { allow, principalOf } from '../auth';
import { KeyIdParam, KeysQuery, KeyView, RevokedKey } from '../governance-schemas';
import { errorResponses, RescopeKeyBody } from '../schemas';
import { z } from 'zod';

const security = [{ bearer: [] }];

/** Listing and revoking keys (creating them is `POST /v1/keys` in the admin routes). */
export function keysRoutes(deps: Deps): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/keys', {
      preValidation: allow(['admin'], 'list keys'),
      schema: {
        tags: ['keys'],
        summary: "Keys of the caller's subtree, newest first (admin). Never the key itself.",
        security,
        querystring: KeysQuery,
        response: { 200: z.object({ items: z.array(KeyView) }), ...errorResponses },
      },
      handler: async (req) => ({
        items: await deps.keys.list(principalOf(req), {
          ...(req.query.unit ? { unit: req.query.unit } : {}),
          includeRevoked: req.query.includeRevoked === 'true',
        }),
      }),
    });

    app.delete('/keys/:id', {
      preValidation: allow(['admin'], 'revoke keys'),
      schema: {
        tags: ['keys'],
        summary: "Revoke a key of the caller's subtree (admin). It stops working with the next request.",
        security,
        params: KeyIdParam,
        response: { 200: RevokedKey, ...errorResponses },
      },
      handler: async (req) => deps.keys.revoke(principalOf(req), req.params.id),
    });

    app.patch('/keys/:id', {
      preValidation: allow(['admin'], 're-scope keys'),
      schema: {
        tags: ['keys'],
        summary:
          "Re-scope a key of the caller's subtree to another active unit (admin): how a key suspended by a reorganisation (403 unit_retired) gets back to work. Audited.",
        security,
        params: KeyIdParam,
        body: RescopeKeyBody,
        response: { 200: KeyView, ...errorResponses },
      },
      handler: async (req) => deps.keys.rescope(principalOf(req), req.params.id, req.body.unit),
    });
  };
}
