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
  PutPageBody,
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
        summary: 'Import units from CSV code,parent_code,level,type,name (admin of root). One transaction; idempotent.',
        security,
        consumes: ['text/csv'],
        body: z.string(),
        response: { 200: UnitImportResult, ...errorResponses },
      },
      handler: async (req) => {
        const p = principalOf(req);
        requireRole(p, ['admin'], 'import units');
        if (p.unitCode !== ROOT_CODE) throw new ForbiddenError('only an admin of root may import the unit tree');
        return deps.units.importCsv(req.body, p);
      },
    });

    app.post('/pages/import', {
      preValidation: allow(['admin'], 'import pages'),
      schema: {
        tags: ['pages'],
        summary: 'Link Pages from CSV unit_code,page_id,access_token (admin). Tokens are encrypted at rest and never returned.',
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
        summary: "Link or replace a unit's Page and token (admin)",
        security,
        params: UnitCodeParam,
        body: PutPageBody,
        response: { 200: z.object({ unitCode: z.string(), pageId: z.string(), tokenStatus: z.string() }), ...errorResponses },
      },
      handler: async (req) => {
        const p = principalOf(req);
        requireRole(p, ['admin'], 'link pages');
        await deps.pages.link(p, { unitCode: req.params.code, pageId: req.body.pageId, accessToken: req.body.accessToken });
        await requestTokenCheck(deps);
        return { unitCode: req.params.code, pageId: req.body.pageId, tokenStatus: 'unknown' };
      },
    });

    app.get('/units/:code', {
      schema: {
        tags: ['units'],
        summary: 'A unit with its Page link status',
        security,
        params: UnitCodeParam,
        response: { 200: UnitView, ...errorResponses },
      },
      handler: async (req) => {
        const p = principalOf(req);
        const unit = await deps.units.get(req.params.code);
        // Visible: the caller's subtree and the caller's ancestors (to navigate up).
        if (!(unit.path.startsWith(p.unitPath) || p.unitPath.startsWith(unit.path))) {
          throw new ForbiddenError(`unit ${unit.code} is outside your unit ${p.unitCode}`);
        }
        const page = await deps.store.db
          .selectFrom('pages')
          .select(['page_id', 'token_status', 'token_status_reason'])
          .where('unit_code', '=', unit.code)
          .executeTakeFirst();
        return {
          code: unit.code,
          name: unit.name,
          type: unit.type,
          level: unit.level,
          parentCode: unit.parent_code,
          childCount: await deps.units.childCount(unit.code),
          page:
            page && unit.path.startsWith(p.unitPath)
              ? { pageId: page.page_id, tokenStatus: page.token_status, tokenStatusReason: page.token_status_reason }
              : null,
        };
      },
    });
  };
}
