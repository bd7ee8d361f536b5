import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps';
import { COVERAGE_STATES, CoverageService } from '../../services/read-models/coverage.service';
import { allow, principalOf } from '../auth';
import { errorResponses, UnitCodeParam } from '../schemas';
import { UNIT_CODE_RE } from '../../services/tree/units.service';
import { MAX_TTL_DAYS } from '../../services/onboarding/connect-link-issuer';

const security = [{ bearer: [] }];

const ConnectionView = z.object({
  connected: z.boolean(),
  status: z.enum(['valid', 'invalid']).nullable(),
  statusReason: z.string().nullable(),
  tokenType: z.string().nullable(),
  systemUserId: z.string().nullable(),
  scopes: z.array(z.string()),
  expiresAt: z.string().nullable(),
  checkedAt: z.string().nullable(),
  lastSyncAt: z.string().nullable(),
  lastSync: z.record(z.string(), z.unknown()).nullable(),
});
const Suggestion = z.object({ unitCode: z.string(), unitName: z.string(), match: z.enum(['exact', 'ambiguous']) });
const SyncResult = z.object({
  pages: z.object({
    seen: z.number(),
    matched: z.number(),
    tokensUpdated: z.number(),
    missingCreateContent: z.number(),
    mappedNotSeen: z.number(),
    unmapped: z.array(z.object({ pageId: z.string(), name: z.string().nullable(), suggestions: z.array(Suggestion).optional() })),
  }),
  units: z.object({ withoutPage: z.number() }),
  requests: z.number(),
});
const Totals = z.object({ units: z.number(), connected: z.number(), needsReauth: z.number(), expiring: z.number(), missing: z.number() });
const UnitRef = z.object({ code: z.string(), name: z.string(), level: z.number() });
const Coverage = z.object({
  unit: UnitRef,
  levels: z.array(Totals.extend({ level: z.number() })),
  children: z.array(UnitRef.extend({ totals: Totals })).optional(),
  units: z.object({ state: z.enum(COVERAGE_STATES), items: z.array(UnitRef), truncated: z.boolean() }).optional(),
});

/** Connecting Pages: the Business Manager connection, the Page sync, coverage per node. */
export function onboardingRoutes(deps: Deps): FastifyPluginAsyncZod {
  return async (app) => {
    const coverage = new CoverageService(deps.store.db);

    app.put('/business/connection', {
      preValidation: allow(['admin'], 'connect the Business Manager'),
      schema: {
        tags: ['pages'],
        summary:
          "Store the Business Manager system user's token (admin of root). Checked with debug_token: a SYSTEM_USER token with " +
          'pages_show_list, pages_manage_posts and business_management. Encrypted at rest, never returned.',
        security,
        body: z.object({ systemUserToken: z.string().trim().min(10).max(4096).regex(/^\S+$/, 'must not contain spaces') }).strict(),
        response: { 200: ConnectionView, ...errorResponses },
      },
      handler: async (req) => deps.business.connect(principalOf(req), req.body.systemUserToken),
    });

    app.get('/business/connection', {
      preValidation: allow(['admin'], 'read the Business Manager connection'),
      schema: {
        tags: ['pages'],
        summary: 'The Business Manager connection: status, scopes, last sync (admin of root). Never the token.',
        security,
        response: { 200: ConnectionView, ...errorResponses },
      },
      handler: async (req) => deps.business.status(principalOf(req)),
    });

    app.post('/pages/sync', {
      preValidation: allow(['admin'], 'sync the Pages'),
      schema: {
        tags: ['pages'],
        summary:
          "Derive every mapped Page's token from the system user (/me/accounts, all pages) and store it encrypted with its tasks (admin of root). " +
          'Pages mapped to no unit are listed; ?suggest=true proposes units by name.',
        security,
        querystring: z.object({ suggest: z.enum(['true', 'false']).optional() }).strict(),
        response: { 200: SyncResult, ...errorResponses },
      },
      handler: async (req) => deps.business.sync(principalOf(req), { suggest: req.query.suggest === 'true' }),
    });

    app.get('/units/:code/coverage', {
      schema: {
        tags: ['units'],
        summary:
          'Per level of the subtree: units, connected (a Page with a valid token), needs re-auth, expiring, missing; ' +
          '?children=true adds each child subtree, ?list=<state> the units in that state (tree order, at most 1,000)',
        security,
        params: UnitCodeParam,
        querystring: z.object({ children: z.enum(['true', 'false']).optional(), list: z.enum(COVERAGE_STATES).optional() }).strict(),
        response: { 200: Coverage, ...errorResponses },
      },
      handler: async (req) =>
        coverage.coverage(principalOf(req), req.params.code, {
          children: req.query.children === 'true',
          ...(req.query.list ? { list: req.query.list } : {}),
        }),
    });

    const TtlDays = z.number().positive().max(MAX_TTL_DAYS).optional();
    app.post('/units/:code/connect-links', {
      preValidation: allow(['admin'], 'create a connect link'),
      schema: {
        tags: ['pages'],
        summary:
          "A one-time link (7 days by default) with which the unit's Page admin logs in with Facebook and connects the Page " +
          '(admin of the unit or an ancestor). Stored hashed: the URL is shown only here.',
        security,
        params: UnitCodeParam,
        body: z.object({ ttlDays: TtlDays }).strict().optional(),
        response: { 201: z.object({ url: z.string(), expiresAt: z.string() }), ...errorResponses },
      },
      handler: async (req, reply) => {
        const made = await deps.connectLinkIssuer.create(principalOf(req), req.params.code, { ttlDays: req.body?.ttlDays });
        return reply.status(201).send(made);
      },
    });

    app.post('/connect-links', {
      preValidation: allow(['admin'], 'create connect links'),
      schema: {
        tags: ['pages'],
        summary:
          'A CSV (unit_code,unit_name,url,expires_at) of new connect links for every active unit of a subtree; with onlyMissing, ' +
          'only the units with no Page holding a valid token. For mailing to the units.',
        security,
        produces: ['text/csv'],
        body: z
          .object({ unit: z.string().regex(UNIT_CODE_RE, 'expected a unit code'), onlyMissing: z.boolean().optional(), ttlDays: TtlDays })
          .strict(),
        response: { 200: z.string(), ...errorResponses },
      },
      handler: async (req, reply) => {
        const r = await deps.connectLinkIssuer.createForSubtree(principalOf(req), req.body.unit, {
          onlyMissing: req.body.onlyMissing,
          ttlDays: req.body.ttlDays,
        });
        return reply
          .type('text/csv; charset=utf-8')
          .header('cache-control', 'no-store')
          .header('content-disposition', `attachment; filename="connect-links-${req.body.unit}.csv"`)
          .send(r.csv);
      },
    });
  };
}
