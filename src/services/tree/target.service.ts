import { z } from 'zod';
import { sql } from 'kysely';
import type { Db } from '../../db/create-db';
import { ValidationError } from '../../errors/app-error';
import { levelOf } from './level-names';
import { subtreeEnd, UNIT_CODE_RE } from './units.service';

const unitCode = z.string().regex(UNIT_CODE_RE, 'expected a unit code (letters, digits, _ or -)');

export const TargetSchema = z
  .object({
    unit: unitCode,
    scope: z.enum(['self', 'subtree']),
    /** Level numbers (0 = root) or the tree's level names: `provinces`, `communes` (and `districts` on the 2025-03 tree). */
    levels: z
      .array(
        z.union([z.number().int().min(0).max(64), z.string().trim().min(1).max(40)], {
          error: 'expected a level number (0 = root) or a level name (provinces, communes…)',
        }),
      )
      .min(1)
      .max(65)
      .optional(),
    exclude: z.array(unitCode).max(2000).optional(),
  })
  .strict();
export type Target = z.infer<typeof TargetSchema>;

/** A target checked against the tree: its unit, the subtrees it leaves out and the level numbers it keeps. */
export interface CheckedTarget {
  id: number;
  path: string;
  level: number;
  excludePaths: string[];
  levels?: number[];
}

/** One (unit, Page) the target reaches; a unit without an active Page appears once with `pageId` null. */
export interface TargetUnit {
  unitId: number;
  code: string;
  name: string;
  level: number;
  /** The unit's path: its delivery is counted under each of its ancestors (delivery_counts). */
  path: string;
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
  /** The first 10 units without a healthy Page, in tree order, so a preview can name them. */
  withoutHealthyPageUnits: Array<{ code: string; name: string; level: number }>;
  /** Units per level (root = 0), keyed by the level number. */
  byLevel: Record<string, number>;
  /** Active Pages per level. */
  pagesByLevel: Record<string, number>;
  /** Units without a healthy Page, per level. */
  withoutHealthyPageByLevel: Record<string, number>;
}

/**
 * Resolves a target to the active units and their active Pages. `subtree` is the unit and all its
 * descendants; `exclude` drops those units and their subtrees; `levels` keeps only units at those
 * depths (root = 0). Codes name active units; retired versions are never targeted.
 */
export class TargetService {
  constructor(private readonly db: Db) {}

  /**
   * The target with its level names as numbers of this tree (`provinces` → 1, `communes` → 2 or 3), so a
   * post stores what it was sent to. An unknown name is a 400 naming the field and the valid names.
   */
  async normalize<T extends Target>(target: T): Promise<T & { levels?: number[] }> {
    if (!target.levels) return target as T & { levels?: number[] };
    const levels = await this.levelNumbers(target.levels);
    return { ...target, levels };
  }

  private async levelNumbers(specs: ReadonlyArray<number | string>): Promise<number[]> {
    if (specs.every((l) => typeof l === 'number')) return specs as number[];
    const row = await this.db
      .selectFrom('units')
      .select((eb) => eb.fn.max('level').as('depth'))
      .where('retired_at', 'is', null)
      .executeTakeFirst();
    const depth = Number(row?.depth ?? 0);
    const out: number[] = [];
    for (const [i, spec] of specs.entries()) {
      const r = levelOf(spec, typeof spec === 'number' ? Number.MAX_SAFE_INTEGER : depth);
      if ('problem' in r) throw new ValidationError(`target.levels[${i}]: ${r.problem}`, { field: `target.levels[${i}]` });
      if (!out.includes(r.level)) out.push(r.level);
    }
    return out;
  }

  /** Validates the target against the tree; errors name the offending field. */
  async check(target: Target): Promise<CheckedTarget> {
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
    const levels = target.levels ? await this.levelNumbers(target.levels) : undefined;
    return { id: unit.id, path: unit.path, level: unit.level, excludePaths, ...(levels ? { levels } : {}) };
  }

  private query(target: Target, path: string, excludePaths: string[], levels: number[] | undefined) {
    let q = this.db
      .selectFrom('units')
      .leftJoin('pages', (j) => j.onRef('pages.unit_id', '=', 'units.id').on('pages.retired_at', 'is', null))
      .where('units.retired_at', 'is', null);
    q =
      target.scope === 'self'
        ? q.where('units.path', '=', path)
        : q.where('units.path', '>=', path).where('units.path', '<', subtreeEnd(path));
    if (levels) q = q.where('units.level', 'in', levels);
    for (const ex of excludePaths) {
      q = q.where((eb) => eb.or([eb('units.path', '<', ex), eb('units.path', '>=', subtreeEnd(ex))]));
    }
    return q;
  }

  /**
   * Whether the target reaches at least one unit. A submission needs only that, not the counts: the first
   * row of an indexed range, where `summarize` aggregates every unit and Page of the subtree (10,807 for `root`).
   */
  async reachesAnyUnit(target: Target, checked?: CheckedTarget): Promise<boolean> {
    const { path, excludePaths, levels } = checked ?? (await this.check(target));
    const row = await this.query(target, path, excludePaths, levels).select('units.id').limit(1).executeTakeFirst();
    return row !== undefined;
  }

  /** Every (unit, Page) the target reaches, in tree order, a unit's Pages in their order. */
  async resolve(target: Target): Promise<TargetUnit[]> {
    const { path, excludePaths, levels } = await this.check(target);
    const rows = await this.query(target, path, excludePaths, levels)
      .select(['units.id', 'units.code', 'units.name', 'units.level', 'units.path', 'pages.page_id'])
      .orderBy('units.path')
      .orderBy('pages.position')
      .orderBy('pages.page_id')
      .execute();
    return rows.map((r) => ({ unitId: r.id, code: r.code, name: r.name, level: r.level, path: r.path, pageId: r.page_id ?? null }));
  }

  /** The first `limit` units of the target without a healthy Page (see `withoutHealthyPage`), in tree order: a preview names them. */
  async unitsWithoutHealthyPage(target: Target, limit = 10): Promise<Array<{ code: string; name: string; level: number }>> {
    const { path, excludePaths, levels } = await this.check(target);
    const healthy = sql<number>`max(case when pages.token_ciphertext is not null and pages.token_status <> 'needs_reauth' then 1 else 0 end)`;
    const rows = await this.query(target, path, excludePaths, levels)
      .select(['units.code', 'units.name', 'units.level', 'units.path'])
      .groupBy(['units.id', 'units.code', 'units.name', 'units.level', 'units.path'])
      .having(healthy, '=', 0)
      .orderBy('units.path')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ code: r.code, name: r.name, level: r.level }));
  }

  /** Counts for a preview, naming only the first units without a healthy Page (`nameUnits: false` skips that query). */
  async summarize(target: Target, { nameUnits = true }: { nameUnits?: boolean } = {}): Promise<TargetSummary> {
    const { path, level, excludePaths, levels } = await this.check(target);
    const rows = await this.query(target, path, excludePaths, levels)
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
    const pagesByLevel: Record<string, number> = {};
    const withoutHealthyPageByLevel: Record<string, number> = {};
    let units = 0;
    let withPage = 0;
    let pages = 0;
    let healthy = 0;
    for (const r of rows) {
      byLevel[String(r.level)] = Number(r.n);
      pagesByLevel[String(r.level)] = Number(r.p);
      withoutHealthyPageByLevel[String(r.level)] = Number(r.n) - Number(r.h);
      units += Number(r.n);
      withPage += Number(r.w);
      pages += Number(r.p);
      healthy += Number(r.h);
    }
    const withoutHealthyPageUnits = nameUnits && units - healthy > 0 ? await this.unitsWithoutHealthyPage(target) : [];
    return {
      unit: { code: target.unit, path, level },
      units,
      withPage,
      withoutPage: units - withPage,
      pages,
      withoutHealthyPage: units - healthy,
      withoutHealthyPageUnits,
      byLevel,
      pagesByLevel,
      withoutHealthyPageByLevel,
    };
  }
}
