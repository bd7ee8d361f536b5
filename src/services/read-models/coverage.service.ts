import { sql } from 'kysely';
import type { Db } from '../../db/create-db';
import { ForbiddenError, NotFoundError } from '../../errors/app-error';
import type { Principal } from '../auth/keys.service';
import { subtreeEnd } from '../tree/unit-paths';

export interface CoverageLevel {
  level: number;
  units: number;
  /** Units with at least one active Page whose token is valid. */
  connected: number;
  /** Not connected, and at least one Page needs re-authorisation. */
  needsReauth: number;
  /** Not connected nor needing re-auth, and at least one Page's token expires soon. */
  expiring: number;
  /** Every other unit: no Page, Pages without a token, or tokens not checked yet. */
  missing: number;
}

/**
 * How much of a subtree can be posted to: per level, how many active units have a Page with a valid
 * token, and why the others do not. Each unit counts once, in the best state among its Pages:
 * connected > needs re-auth > expiring > missing.
 */
export class CoverageService {
  constructor(private readonly db: Db) {}

  /**
   * Coverage of the unit's subtree per level; with `children`, the same totals for each direct child's
   * subtree (for a tree view); with `list`, the units of the subtree in that state (tree order, at most
   * `LIST_MAX`).
   */
  async coverage(
    p: Principal,
    code: string,
    opts: { children?: boolean; list?: CoverageState } = {},
  ): Promise<{
    unit: { code: string; name: string; level: number };
    levels: CoverageLevel[];
    children?: Array<{ code: string; name: string; level: number; totals: Omit<CoverageLevel, 'level'> }>;
    units?: { state: CoverageState; items: Array<{ code: string; name: string; level: number }>; truncated: boolean };
  }> {
    const unit = await this.db
      .selectFrom('units')
      .select(['id', 'code', 'name', 'level', 'path'])
      .where('code', '=', code)
      .where('retired_at', 'is', null)
      .executeTakeFirst();
    if (!unit) throw new NotFoundError(`unit ${code}`);
    if (!unit.path.startsWith(p.unitPath)) throw new ForbiddenError(`unit ${code} is outside your unit ${p.unitCode}`);
    const rank = sql<number>`max(case g.token_status when 'valid' then 3 when 'needs_reauth' then 2 when 'expiring' then 1 else 0 end)`;
    // One row per active unit of the subtree with the best state among its Pages.
    const perUnit = await this.db
      .selectFrom('units as u')
      .leftJoin('pages as g', (j) =>
        j.onRef('g.unit_id', '=', 'u.id').on('g.retired_at', 'is', null).on('g.token_ciphertext', 'is not', null),
      )
      .select(['u.code', 'u.name', 'u.level', 'u.path', rank.as('best')])
      .where('u.retired_at', 'is', null)
      .where('u.path', '>=', unit.path)
      .where('u.path', '<', subtreeEnd(unit.path))
      .groupBy(['u.id', 'u.code', 'u.name', 'u.level', 'u.path'])
      .orderBy('u.path')
      .execute();
    const stateOf = (best: unknown): CoverageState => STATES[Number(best ?? 0)]!;
    const levels = new Map<number, CoverageLevel>();
    for (const r of perUnit) {
      const l = levels.get(r.level) ?? { level: r.level, ...emptyTotals() };
      count(l, stateOf(r.best));
      levels.set(r.level, l);
    }
    const out: Awaited<ReturnType<CoverageService['coverage']>> = {
      unit: { code: unit.code, name: unit.name, level: unit.level },
      levels: [...levels.values()].sort((a, b) => a.level - b.level),
    };
    if (opts.children) {
      const kids = perUnit.filter((r) => r.level === unit.level + 1 && r.path.slice(unit.path.length).split('/').length === 2);
      const totals = new Map(kids.map((k) => [k.path, emptyTotals()]));
      for (const r of perUnit) {
        if (r.path === unit.path) continue;
        const childPath = unit.path + r.path.slice(unit.path.length).split('/')[0]! + '/';
        const t = totals.get(childPath);
        if (t) count(t, stateOf(r.best));
      }
      out.children = kids.map((k) => ({ code: k.code, name: k.name, level: k.level, totals: totals.get(k.path)! }));
    }
    if (opts.list) {
      const items = perUnit.filter((r) => stateOf(r.best) === opts.list).map((r) => ({ code: r.code, name: r.name, level: r.level }));
      out.units = { state: opts.list, items: items.slice(0, LIST_MAX), truncated: items.length > LIST_MAX };
    }
    return out;
  }
}

export const COVERAGE_STATES = ['missing', 'expiring', 'needs_reauth', 'connected'] as const;
export type CoverageState = (typeof COVERAGE_STATES)[number];
/** By rank (the best token status among a unit's Pages): 0 missing … 3 connected. */
const STATES: readonly CoverageState[] = COVERAGE_STATES;
const LIST_MAX = 1_000;

function emptyTotals(): Omit<CoverageLevel, 'level'> {
  return { units: 0, connected: 0, needsReauth: 0, expiring: 0, missing: 0 };
}

function count(t: Omit<CoverageLevel, 'level'>, state: CoverageState): void {
  t.units++;
  if (state === 'connected') t.connected++;
  else if (state === 'needs_reauth') t.needsReauth++;
  else if (state === 'expiring') t.expiring++;
  else t.missing++;
}
