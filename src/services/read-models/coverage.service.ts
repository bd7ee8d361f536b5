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

  async coverage(p: Principal, code: string): Promise<{ unit: { code: string; name: string; level: number }; levels: CoverageLevel[] }> {
    const unit = await this.db
      .selectFrom('units')
      .select(['code', 'name', 'level', 'path'])
      .where('code', '=', code)
      .where('retired_at', 'is', null)
      .executeTakeFirst();
    if (!unit) throw new NotFoundError(`unit ${code}`);
    if (!unit.path.startsWith(p.unitPath)) throw new ForbiddenError(`unit ${code} is outside your unit ${p.unitCode}`);
    const rank = sql<number>`max(case g.token_status when 'valid' then 3 when 'needs_reauth' then 2 when 'expiring' then 1 else 0 end)`;
    const perUnit = this.db
      .selectFrom('units as u')
      .leftJoin('pages as g', (j) =>
        j.onRef('g.unit_id', '=', 'u.id').on('g.retired_at', 'is', null).on('g.token_ciphertext', 'is not', null),
      )
      .select(['u.id', 'u.level', rank.as('best')])
      .where('u.retired_at', 'is', null)
      .where('u.path', '>=', unit.path)
      .where('u.path', '<', subtreeEnd(unit.path))
      .groupBy(['u.id', 'u.level'])
      .as('pu');
    const rows = await this.db
      .selectFrom(perUnit)
      .select((eb) => ['pu.level', 'pu.best', eb.fn.countAll<number>().as('n')])
      .groupBy(['pu.level', 'pu.best'])
      .execute();
    const levels = new Map<number, CoverageLevel>();
    for (const r of rows) {
      const l = levels.get(r.level) ?? { level: r.level, units: 0, connected: 0, needsReauth: 0, expiring: 0, missing: 0 };
      const n = Number(r.n);
      l.units += n;
      const best = Number(r.best ?? 0);
      if (best === 3) l.connected += n;
      else if (best === 2) l.needsReauth += n;
      else if (best === 1) l.expiring += n;
      else l.missing += n;
      levels.set(r.level, l);
    }
    return {
      unit: { code: unit.code, name: unit.name, level: unit.level },
      levels: [...levels.values()].sort((a, b) => a.level - b.level),
    };
  }
}
