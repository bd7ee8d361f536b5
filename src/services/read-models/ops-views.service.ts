import { sql } from 'kysely';
import type { Db } from '../../db/create-db';
import { decodeCursor, encodeCursor } from '../shared/cursor';
import { BOOTSTRAP_ADMIN_ID, BOOTSTRAP_ADMIN_NAME, type Principal } from '../auth/keys.service';
import { ROOT_CODE } from '../tree/unit-paths';
import { TOKEN_STATUSES } from '../tree/pages.service';
import { ACTIVE_POST_STATUSES, type PostStatus } from '../posts/post-status';
import { subtreeEnd } from '../tree/units.service';
import { ancestorPaths } from './post-views.service';

export type TokenStatus = (typeof TOKEN_STATUSES)[number];

export interface PageStatusView {
  unitCode: string;
  unitName: string;
  unitType: string;
  level: number;
  pageId: string;
  label: string | null;
  tokenStatus: TokenStatus;
  tokenStatusReason: string | null;
  checkedAt: string | null;
  /** The unit's ancestors, top first, the root left out (a key may see the units above it): province › district. */
  ancestors: Array<{ code: string; name: string; level: number }>;
}

export interface ThroughputWindow {
  seconds: number;
  published: number;
  failed: number;
  skipped: number;
  cancelled: number;
  total: number;
  perSecond: number;
}

const FINISHED = ['published', 'failed', 'skipped', 'cancelled'] as const;
/** Posts whose failed deliveries a retry can still requeue (as RetryService accepts them). */
const RETRYABLE_POST_STATUSES: readonly PostStatus[] = ['publishing', 'partially_failed', 'failed'];
const isPathCursor = (v: unknown): v is { p: string; g?: string } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { p: unknown }).p === 'string' &&
  ['undefined', 'string'].includes(typeof (v as { g: unknown }).g);

/** Read models for operators: who am I, key names, Pages needing attention, delivery throughput. Never tokens. */
export class OpsViewsService {
  constructor(private readonly db: Db) {}

  /**
   * The caller, and the deepest level of the active tree, so that clients name levels by the tree:
   * level 2 is the districts in a three-level tree (before 2025-07) and the communes in a two-level one.
   */
  async me(p: Principal): Promise<{
    keyId: string;
    name: string;
    role: Principal['role'];
    unit: { code: string; name: string };
    deepestLevel: number;
  }> {
    const [unit, deepest] = await Promise.all([
      this.db.selectFrom('units').select(['code', 'name']).where('id', '=', p.unitId).executeTakeFirst(),
      this.db
        .selectFrom('units')
        .select((eb) => eb.fn.max('level').as('level'))
        .where('retired_at', 'is', null)
        .executeTakeFirst(),
    ]);
    return {
      keyId: p.keyId,
      name: p.name,
      role: p.role,
      unit: { code: p.unitCode, name: unit?.name ?? p.unitCode },
      deepestLevel: Number(deepest?.level ?? 0),
    };
  }

  /**
   * Display names of keys (a post's author and approver are key ids). Only keys whose unit lies in the
   * caller's subtree or on the path above it are named, like units; the others are left out.
   */
  async keyNames(p: Principal, ids: string[]): Promise<Array<{ id: string; name: string; role: string; unitCode: string }>> {
    const unique = [...new Set(ids)].slice(0, 100);
    const out: Array<{ id: string; name: string; role: string; unitCode: string }> = [];
    if (unique.includes(BOOTSTRAP_ADMIN_ID)) {
      out.push({ id: BOOTSTRAP_ADMIN_ID, name: BOOTSTRAP_ADMIN_NAME, role: 'admin', unitCode: ROOT_CODE });
    }
    const rest = unique.filter((i) => i !== BOOTSTRAP_ADMIN_ID);
    if (!rest.length) return out;
    const ancestors = ancestorPaths(p.unitPath);
    const rows = await this.db
      .selectFrom('api_keys as k')
      .innerJoin('units as u', 'u.id', 'k.unit_id')
      .select(['k.id', 'k.name', 'k.role', 'k.unit_code', 'u.path'])
      .where('k.id', 'in', rest)
      .execute();
    for (const r of rows) {
      if (r.path.startsWith(p.unitPath) || ancestors.includes(r.path)) {
        out.push({ id: r.id, name: r.name, role: r.role, unitCode: r.unit_code });
      }
    }
    return out;
  }

  /** Pages of the caller's subtree in tree order, optionally of some token statuses, with counts by status. */
  async pages(
    p: Principal,
    q: { status?: TokenStatus[]; limit: number; cursor?: string },
  ): Promise<{ items: PageStatusView[]; nextCursor: string | null; counts: Record<TokenStatus, number> }> {
    const after = decodeCursor(q.cursor, isPathCursor);
    const scoped = () =>
      this.db
        .selectFrom('pages as g')
        .innerJoin('units as u', 'u.id', 'g.unit_id')
        .where('g.retired_at', 'is', null)
        .where('u.retired_at', 'is', null)
        .where('u.path', '>=', p.unitPath)
        .where('u.path', '<', subtreeEnd(p.unitPath));
    let query = scoped().select([
      'g.unit_code',
      'u.name',
      'u.type',
      'u.level',
      'u.path',
      'g.page_id',
      'g.label',
      'g.token_status',
      'g.token_status_reason',
      'g.token_checked_at',
    ]);
    if (q.status?.length) query = query.where('g.token_status', 'in', q.status);
    if (after) {
      const { p: path, g: pageId = '' } = after;
      query = query.where((eb) => eb.or([eb('u.path', '>', path), eb.and([eb('u.path', '=', path), eb('g.page_id', '>', pageId)])]));
    }
    const [rows, byStatus] = await Promise.all([
      query
        .orderBy('u.path')
        .orderBy('g.page_id')
        .limit(q.limit + 1)
        .execute(),
      scoped()
        .select((eb) => ['g.token_status', eb.fn.countAll<number>().as('n')])
        .groupBy('g.token_status')
        .execute(),
    ]);
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    const counts = Object.fromEntries(TOKEN_STATUSES.map((s) => [s, 0])) as Record<TokenStatus, number>;
    for (const r of byStatus) if (r.token_status in counts) counts[r.token_status as TokenStatus] = Number(r.n);
    const above = await this.ancestorsOf(page.map((r) => r.path));
    return {
      items: page.map((r) => ({
        unitCode: r.unit_code,
        unitName: r.name,
        unitType: r.type,
        level: r.level,
        pageId: r.page_id,
        label: r.label,
        tokenStatus: r.token_status as TokenStatus,
        tokenStatusReason: r.token_status_reason,
        checkedAt: r.token_checked_at,
        ancestors: ancestorPaths(r.path)
          .map((a) => above.get(a))
          .filter((a): a is { code: string; name: string; level: number } => a !== undefined && a.level > 0),
      })),
      nextCursor: rows.length > q.limit && last ? encodeCursor({ p: last.path, g: last.page_id }) : null,
      counts,
    };
  }

  /** The active units at the given units' ancestor paths (one query for a page of rows), by path. */
  private async ancestorsOf(paths: string[]): Promise<Map<string, { code: string; name: string; level: number }>> {
    const wanted = [...new Set(paths.flatMap((p) => ancestorPaths(p)))];
    const out = new Map<string, { code: string; name: string; level: number }>();
    if (!wanted.length) return out;
    const rows = await this.db
      .selectFrom('units')
      .select(['path', 'code', 'name', 'level'])
      .where('path', 'in', wanted)
      .where('retired_at', 'is', null)
      .execute();
    for (const r of rows) out.set(r.path, { code: r.code, name: r.name, level: r.level });
    return out;
  }

  /**
   * Failed deliveries in the caller's subtree, from the ledger: rows whose status is `failed` now, of
   * posts a retry can still act on (publishing, partially_failed, failed). A delivery that failed and
   * then succeeded on a retry is `published` and not counted, whatever BullMQ still keeps in its failed
   * set (those jobs age out with the queue's retention; Bull Board, for admins, shows them raw).
   */
  async failedDeliveries(p: Principal): Promise<number> {
    const retryable = this.db.selectFrom('posts').select('id').where('status', 'in', RETRYABLE_POST_STATUSES);
    const row = await this.db
      .selectFrom('deliveries as d')
      .innerJoin('units as u', 'u.id', 'd.unit_id')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('d.post_id', 'in', retryable)
      .where('d.status', '=', 'failed')
      .where('u.path', '>=', p.unitPath)
      .where('u.path', '<', subtreeEnd(p.unitPath))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  /**
   * Deliveries of the caller's subtree that reached a final status in the last minute and five
   * minutes. Only posts that are running or finished within the window are looked at, so the scan
   * uses the (post_id, status) index instead of the whole ledger.
   */
  async throughput(p: Principal, now = new Date()): Promise<{ at: string; lastMinute: ThroughputWindow; last5Minutes: ThroughputWindow }> {
    const since5 = new Date(now.getTime() - 300_000).toISOString();
    const since1 = new Date(now.getTime() - 60_000).toISOString();
    const recentPosts = this.db
      .selectFrom('posts')
      .select('id')
      .where((eb) => eb.or([eb('status', 'in', ACTIVE_POST_STATUSES), eb('completed_at', '>=', since5)]));
    const rows = await this.db
      .selectFrom('deliveries as d')
      .innerJoin('units as u', 'u.id', 'd.unit_id')
      .select((eb) => [
        'd.status',
        eb.fn.countAll<number>().as('n5'),
        sql<number>`sum(case when d.updated_at >= ${since1} then 1 else 0 end)`.as('n1'),
      ])
      .where('d.post_id', 'in', recentPosts)
      .where('d.status', 'in', FINISHED)
      .where('d.updated_at', '>=', since5)
      .where('u.path', '>=', p.unitPath)
      .where('u.path', '<', subtreeEnd(p.unitPath))
      .groupBy('d.status')
      .execute();
    const window = (seconds: number, pick: (r: (typeof rows)[number]) => number): ThroughputWindow => {
      const w: ThroughputWindow = { seconds, published: 0, failed: 0, skipped: 0, cancelled: 0, total: 0, perSecond: 0 };
      for (const r of rows) {
        const n = Number(pick(r));
        if ((FINISHED as readonly string[]).includes(r.status)) w[r.status as (typeof FINISHED)[number]] += n;
        w.total += n;
      }
      w.perSecond = Math.round(((w.published + w.failed) / seconds) * 10) / 10;
      return w;
    };
    return { at: now.toISOString(), lastMinute: window(60, (r) => r.n1), last5Minutes: window(300, (r) => r.n5) };
  }
}
