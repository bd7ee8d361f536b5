import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../../deps';
import { ForbiddenError } from '../../errors/app-error';
import { JOB } from '../../queues/catalog';
import { requireRole } from '../../services/auth/keys.service';
import { ROOT_CODE } from '../../services/tree/units.service';
import { allow, principalOf } from '../auth';
import {
  CreatedKey,
  CreateKeyBody,
  errorResponses,
  PageImportResult,
  PageParams,
  PutPageBody,
  ReorganiseBody,
  ReorganiseResult,
  UnitAtQuery,
  UnitCodeParam,
  UnitImportResult,
  UnitView,
} from '../schemas';

const security = [{ bearer: [] }];

/** New tokens get a debug_token check soon (when token health is configured); never fails the link. */
async function requestTokenCheck(deps: Deps): Promise<void> {
  if (!deps.tokenHealth.enabled) return;
  await deps.queues
    .add(JOB.checkNewTokens, {})
    .catch((err: Error) => deps.log.warn({ err: err.message }, 'could not queue a token check; the next sweep will do it'));
}

/** Keys, the unit tree and Page links. */
export function adminRoutes(deps: Deps): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/keys', {
      preValidation: allow(['admin'], 'create keys'),
      schema: {
        tags: ['keys'],
        summary: 'Create an API key (admin). The key is shown once.',
        security,
        body: CreateKeyBody,
        response: { 201: CreatedKey, ...errorResponses },
      },
      handler: async (req, reply) => {
        const p = principalOf(req);
        requireRole(p, ['admin'], 'create keys');
        reply.status(201);
        return deps.keys.create(p, req.body);
      },
    });

    app.post('/units/import', {
      preValidation: allow(['admin'], 'import units'),
      schema: {
        tags: ['units'],
        summary:
          'Import units from CSV code,parent_code,level,type,name into the active tree (admin of root). One transaction; idempotent. ' +
          'Renaming or moving a unit that posts went to is a 409 unless ?inPlace=true; a merger is POST /v1/units/reorganise.',
        security,
        consumes: ['text/csv'],
        querystring: z.object({ inPlace: z.enum(['true', 'false']).optional() }).strict(),
        body: z.string(),
        response: { 200: UnitImportResult, ...errorResponses },
      },
      handler: async (req) => {
        const p = principalOf(req);
        requireRole(p, ['admin'], 'import units');
        if (p.unitCode !== ROOT_CODE) throw new ForbiddenError('only an admin of root may import the unit tree');
        return deps.units.importCsv(req.body, p, { inPlace: req.query.inPlace === 'true' });
      },
    });

    app.post('/units/reorganise', {
      preValidation: allow(['admin'], 'reorganise the unit tree'),
      bodyLimit: 48 * 1024 * 1024,
      schema: {
        tags: ['units'],
        summary:
          'Move the organisation to a new tree (admin of root): a dry run by default, or one audited transaction with apply: true. ' +
          'Retired units keep their names and history; Pages follow the merge rows.',
        security,
        body: ReorganiseBody,
        response: { 200: ReorganiseResult, ...errorResponses },
      },
      handler: async (req) => {
        const p = principalOf(req);
        requireRole(p, ['admin'], 'reorganise the unit tree');
        return deps.reorganise.run(p, req.body);
      },
    });

    app.post('/pages/import', {
      preValidation: allow(['admin'], 'import pages'),
      schema: {
        tags: ['pages'],
        summary:
          'Link Pages from CSV unit_code,page_id,access_token[,label] (admin); a unit listed on several lines gets several Pages. Tokens are encrypted at rest and never returned.',
        security,
        consumes: ['text/csv'],
        body: z.string(),
        response: { 200: PageImportResult, ...errorResponses },
      },
      handler: async (req) => {
        const p = principalOf(req);
        requireRole(p, ['admin'], 'import pages');
        const res = await deps.pages.importCsv(p, req.body);
        await requestTokenCheck(deps);
        return res;
      },
    });

    app.put('/units/:code/page', {
      preValidation: allow(['admin'], 'link pages'),
      schema: {
        tags: ['pages'],
        summary: 'Link a Page to a unit, or replace the token of one of its Pages (admin); a unit may have several Pages',
        security,
        params: UnitCodeParam,
        body: PutPageBody,
        response: { 200: z.object({ unitCode: z.string(), pageId: z.string(), tokenStatus: z.string() }), ...errorResponses },
      },
      handler: async (req) => {
        const p = principalOf(req);
        requireRole(p, ['admin'], 'link pages');
        await deps.pages.link(p, {
          unitCode: req.params.code,
          pageId: req.body.pageId,
          accessToken: req.body.accessToken,
          label: req.body.label,
        });
        await requestTokenCheck(deps);
        return { unitCode: req.params.code, pageId: req.body.pageId, tokenStatus: 'unknown' };
      },
    });

    app.delete('/units/:code/pages/:pageId', {
      preValidation: allow(['admin'], 'unlink pages'),
      schema: {
        tags: ['pages'],
        summary: "Unlink one of a unit's Pages (admin). New posts no longer reach it; its token stays for recalls and edits.",
        security,
        params: PageParams,
        response: { 200: z.object({ unitCode: z.string(), pageId: z.string(), retiredAt: z.string() }), ...errorResponses },
      },
      handler: async (req) => {
        const p = principalOf(req);
        requireRole(p, ['admin'], 'unlink pages');
        return deps.pages.unlink(p, req.params.code, req.params.pageId);
      },
    });

    app.get('/units/:code', {
      schema: {
        tags: ['units'],
        summary: 'A unit with its Pages; `?at=` answers the version that was active at that time (a reorganisation keeps old versions)',
        security,
        params: UnitCodeParam,
        querystring: UnitAtQuery,
        response: { 200: UnitView, ...errorResponses },
      },
      handler: async (req) => {
        const p = principalOf(req);
        const unit = req.query.at
          ? await deps.units.getAt(req.params.code, new Date(req.query.at).toISOString())
          : await deps.units.get(req.params.code);
        // Visible: the caller's subtree and the caller's ancestors (to navigate up).
        if (!(unit.path.startsWith(p.unitPath) || p.unitPath.startsWith(unit.path))) {
          throw new ForbiddenError(`unit ${unit.code} is outside your unit ${p.unitCode}`);
        }
        // Pages (and their token status) only inside the caller's own subtree.
        const pages = unit.path.startsWith(p.unitPath) ? await deps.units.pagesOf(unit.id) : [];
        // An active unit lists its active Pages; a retired one the Pages it had when it retired.
        const shown = pages
          .filter((g) => (unit.retired_at ? true : g.retired_at === null))
          .map((g) => ({ pageId: g.page_id, label: g.label, tokenStatus: g.token_status, tokenStatusReason: g.token_status_reason }));
        const first = shown[0];
        return {
          code: unit.code,
          name: unit.name,
          type: unit.type,
          level: unit.level,
          parentCode: unit.parent_code,
          childCount: await deps.units.childCount(unit.id),
          page: first ? { pageId: first.pageId, tokenStatus: first.tokenStatus, tokenStatusReason: first.tokenStatusReason } : null,
          pages: shown,
          activeFrom: unit.created_at,
          retiredAt: unit.retired_at,
          succeededBy: JSON.parse(unit.succeeded_by ?? '[]') as string[],
        };
      },
    });
  };
}
