import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type { Deps } from '../../deps';
import { OpsViewsService } from '../../services/read-models/ops-views.service';
import { principalOf } from '../auth';
import { KeyNames, KeyNamesQuery, Me, PagesQuery, PageStatusList, Throughput } from '../ops-schemas';
import { errorResponses } from '../schemas';

const security = [{ bearer: [] }];

/** Operator read models: the caller, key names, Pages by token status, delivery throughput. */
export function opsRoutes(deps: Deps): FastifyPluginAsyncZod {
  return async (app) => {
    const views = new OpsViewsService(deps.store.db);

    app.get('/me', {
      schema: {
        tags: ['keys'],
        summary: 'The calling key: name, role and unit (never the key itself)',
        security,
        response: { 200: Me, ...errorResponses },
      },
      handler: async (req) => views.me(principalOf(req)),
    });

    app.get('/keys/names', {
      schema: {
        tags: ['keys'],
        summary: "Display names of keys (e.g. a post's author and approver); keys outside your branch and the path above it are left out",
        security,
        querystring: KeyNamesQuery,
        response: { 200: KeyNames, ...errorResponses },
      },
      handler: async (req) => ({ items: await views.keyNames(principalOf(req), req.query.ids.split(',').filter(Boolean)) }),
    });

    app.get('/pages', {
      schema: {
        tags: ['pages'],
        summary: 'Pages of your subtree with their token status and reason, in tree order (tokens are never returned)',
        security,
        querystring: PagesQuery,
        response: { 200: PageStatusList, ...errorResponses },
      },
      handler: async (req) => {
        const { status, ...rest } = req.query;
        return views.pages(principalOf(req), { ...rest, ...(status ? { status: Array.isArray(status) ? status : [status] } : {}) });
      },
    });

    app.get('/queues/throughput', {
      schema: {
        tags: ['ops'],
        summary: 'Deliveries of your subtree that finished in the last minute and 5 minutes (perSecond counts published + failed)',
        security,
        response: { 200: Throughput, ...errorResponses },
      },
      handler: async (req) => views.throughput(principalOf(req)),
    });
  };
}
