import { z } from 'zod';
import { sql } from 'kysely';
import type { Db } from '../../db/create-db';
import { ValidationError } from '../../errors/app-error';
import { subtreeEnd, UNIT_CODE_RE } from './units.service';

const unitCode = z.string().regex(UNIT_CODE_RE, 'expected a unit code (letters, digits, _ or -)');

export const TargetSchema = z
  .object({
    unit: unitCode,
    scope: z.enum(['self', 'subtree']),
    levels: z.array(z.number().int().min(0).max(64)).min(1).max(65).optional(),
    exclude: z.array(unitCode).max(2000).optional(),
  })
  .strict();
export type Target = z.infer<typeof TargetSchema>;

/** One (unit, Page) the target reaches; a unit without an active Page appears once with `pageId` null. */
export interface TargetUnit {
  unitId: number;
  code: string;
  name: string;
  level: number;
  pageId: string | null;
}

export interface TargetSummary {
  unit: { code: string; path: string; level: number };
  units: number;
  withPage: number;
  withoutPage: number;
  /** Active Pages of those units (a unit may have several). */
  pages: number;
  /** Units with no healthy Page: none with a token whose status is not `needs_reauth` (a post cannot reach them). */
  withoutHealthyPage: number;
  byLevel: Record<string, number>;
}

/**
 * Resolves a target to the active units and their active Pages. `subtree` is the unit and all its
 * descendants; `exclude` drops those units and their subtrees; `levels` keeps only units at those
 * depths (root = 0). Codes name active units; retired versions are never targeted.
 */
export class TargetService {
  constructor(private readonly db: Db) {}

  /** Validates the target against the tree; errors name the offending field. */
  async check(target: Target): Promise<{ id: number; path: string; level: number; excludePaths: string[] }> {
    const unit = await this.db
      .selectFrom('units')
      .select(['id', 'path', 'level'])
      .where('code', '=', target.unit)
      .where('retired_at', 'is', null)
      .executeTakeFirst();
    if (!unit) throw new ValidationError(`target.unit: unknown unit ${target.unit}`, { field: 'target.unit' });
    const excludePaths: string[] = [];
    if (target.exclude?.length) {
      if (target.scope === 'self') {
        throw new ValidationError('target.exclude: only applies to scope "subtree"', { field: 'target.exclude' });
      }
      const found = await this.db
        .selectFrom('units')
        .select(['code', 'path'])
        .where('code', 'in', [...new Set(target.exclude)])
        .where('retired_at', 'is', null)
        .execute();
      const byCode = new Map(found.map((u) => [u.code, u.path]));
      for (const [i, code] of target.exclude.entries()) {
        const p = byCode.get(code);
        if (!p) throw new ValidationError(`target.exclude[${i}]: unknown unit ${code}`, { field: `target.exclude[${i}]` });
        if (!p.startsWith(unit.path)) {
          throw new ValidationError(`target.exclude[${i}]: ${code} is not inside ${target.unit}`, { field: `target.exclude[${i}]` });
        }
        excludePaths.push(p);
      }
    }
    return { id: unit.id, path: unit.path, level: unit.level, excludePaths };
  }

  private query(target: Target, path: string, excludePaths: string[]) {
    let q = this.db
      .selectFrom('units')
      .leftJoin('pages', (j) => j.onRef('pages.unit_id', '=', 'units.id').on('pages.retired_at', 'is', null))
      .where('units.retired_at', 'is', null);
    q =
      target.scope === 'self'
        ? q.where('units.path', '=', path)
        : q.where('units.path', '>=', path).where('units.path', '<', subtreeEnd(path));
    if (target.levels) q = q.where('units.level', 'in', target.levels);
    for (const ex of excludePaths) {
      q = q.where((eb) => eb.or([eb('units.path', '<', ex), eb('units.path', '>=', subtreeEnd(ex))]));
    }
    return q;
  }

  /** Every (unit, Page) the target reaches, in tree order, a unit's Pages in their order. */
  async resolve(target: Target): Promise<TargetUnit[]> {
    const { path, excludePaths } = await this.check(target);
    const rows = await this.query(target, path, excludePaths)
      .select(['units.id', 'units.code', 'units.name', 'units.level', 'pages.page_id'])
      .orderBy('units.path')
      .orderBy('pages.position')
      .orderBy('pages.page_id')
      .execute();
    return rows.map((r) => ({ unitId: r.id, code: r.code, name: r.name, level: r.level, pageId: r.page_id ?? null }));
  }

  /** The first `limit` units of the target without a healthy Page (see `withoutHealthyPage`), in tree order: a preview names them. */
  async unitsWithoutHealthyPage(target: Target, limit = 10): Promise<Array<{ code: string; name: string; level: number }>> {
    const { path, excludePaths } = await this.check(target);
    const healthy = sql<number>`max(case when pages.token_ciphertext is not null and pages.token_status <> 'needs_reauth' then 1 else 0 end)`;
    const rows = await this.query(target, path, excludePaths)
      .select(['units.code', 'units.name', 'units.level', 'units.path'])
      .groupBy(['units.id', 'units.code', 'units.name', 'units.level', 'units.path'])
      .having(healthy, '=', 0)
      .orderBy('units.path')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ code: r.code, name: r.name, level: r.level }));
  }

  /** Counts for a preview, without listing the units. */
  async summarize(target: Target): Promise<TargetSummary> {
    const { path, level, excludePaths } = await this.check(target);
    const rows = await this.query(target, path, excludePaths)
      .select((eb) => [
        'units.level',
        eb.fn.count<number>('units.id').distinct().as('n'),
        eb.fn.count<number>('pages.page_id').as('p'),
        eb.fn
          .count<number>(eb.case().when('pages.page_id', 'is not', null).then(eb.ref('units.id')).end())
          .distinct()
          .as('w'),
        eb.fn
          .count<number>(
            eb
              .case()
              .when(eb.and([eb('pages.token_ciphertext', 'is not', null), eb('pages.token_status', '!=', 'needs_reauth')]))
              .then(eb.ref('units.id'))
              .end(),
          )
          .distinct()
          .as('h'),
      ])
      .groupBy('units.level')
      .execute();
    const byLevel: Record<string, number> = {};
    let units = 0;
    let withPage = 0;
    let pages = 0;
    let healthy = 0;
    for (const r of rows) {
      byLevel[String(r.level)] = Number(r.n);
      units += Number(r.n);
      withPage += Number(r.w);
      pages += Number(r.p);
      healthy += Number(r.h);
    }
    return {
      unit: { code: target.unit, path, level },
      units,
      withPage,
      withoutPage: units - withPage,
      pages,
      withoutHealthyPage: units - healthy,
      byLevel,
    };
  }
}
