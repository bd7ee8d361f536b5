import { sql } from 'kysely';
import type { Executor } from '../../db/create-db';
import { countScopes, POST_SCOPE } from '../../db/count-scopes';
import type { BatchHook } from '../../db/write-batcher';
import { emptyCounts, type DeliveryCounts, type DeliveryStatus } from '../posts/post-status';

export { POST_SCOPE };

/**
 * Delivery counts maintained by the ledger (table `delivery_counts`, migration 0010). Every write of
 * `deliveries` collects its status changes here and applies them in the same transaction, so a status
 * read is a handful of counter rows instead of a count over all of a post's deliveries.
 *
 * Lock order (PostgreSQL): a transaction applies its deltas once, after its last write of `deliveries`,
 * in key order. A transaction holding counter rows then waits for nothing else, so two writers can never
 * wait on each other in a cycle (a batch holding delivery rows waits for counters; a cancel holding
 * counters would otherwise wait for those delivery rows).
 */

/** What a counted write returns of each row it changed. */
export const COUNTED_COLUMNS = ['post_id', 'unit_path', 'unit_level', 'prev_status', 'status'] as const;
export type CountedRow = {
  post_id: string;
  unit_path: string | null;
  unit_level: number | null;
  prev_status: string | null;
  status: string;
};

interface CounterRow {
  post_id: string;
  scope: string;
  level: number;
  status: string;
  n: number;
}

const CHUNK = 500;

/** Status changes of deliveries, folded per counter row. */
export class CountDeltas {
  private readonly rows = new Map<string, CounterRow>();

  add(postId: string, path: string | null, level: number | null, status: string, n: number): void {
    if (n === 0) return;
    const lv = level ?? -1;
    for (const scope of countScopes(path)) {
      const key = `${postId}\u0000${scope}\u0000${lv}\u0000${status}`;
      const row = this.rows.get(key);
      if (row) row.n += n;
      else this.rows.set(key, { post_id: postId, scope, level: lv, status, n });
    }
  }

  move(postId: string, path: string | null, level: number | null, from: string | null, to: string): void {
    if (from === to) return;
    if (from !== null) this.add(postId, path, level, from, -1);
    this.add(postId, path, level, to, 1);
  }

  /** Rows a counted UPDATE returned: each moved from `prev_status` to `status`. */
  moved(rows: readonly CountedRow[]): void {
    for (const r of rows) this.move(r.post_id, r.unit_path, r.unit_level, r.prev_status, r.status);
  }

  /** Rows inserted (`prev_status` is ignored: a new row moves from nothing). */
  inserted(rows: ReadonlyArray<Omit<CountedRow, 'prev_status'>>): void {
    for (const r of rows) this.add(r.post_id, r.unit_path, r.unit_level, r.status, 1);
  }

  /** The non-zero deltas in key order (the lock order). */
  sorted(): CounterRow[] {
    return [...this.rows.entries()]
      .filter(([, r]) => r.n !== 0)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, r]) => r);
  }
}

/** Adds the deltas to the counters, inside the caller's transaction (after its last write of `deliveries`). */
export async function applyCounts(trx: Executor, deltas: CountDeltas): Promise<void> {
  const rows = deltas.sorted();
  for (let i = 0; i < rows.length; i += CHUNK) await upsert(trx, rows.slice(i, i + CHUNK));
}

/** The ledger's write batches: each op adds its changes, the batch writes them once, before its commit. */
export const countingBatch: BatchHook<CountDeltas> = { open: () => new CountDeltas(), close: (trx, deltas) => applyCounts(trx, deltas) };

function upsert(trx: Executor, rows: CounterRow[]) {
  return trx
    .insertInto('delivery_counts')
    .values(rows)
    .onConflict((oc) => oc.columns(['post_id', 'scope', 'level', 'status']).doUpdateSet({ n: sql<number>`delivery_counts.n + excluded.n` }))
    .execute();
}

/** Runs `fn` in a transaction of its own unless `db` already is one (a counted write must commit with its counters). */
export function inTransaction<T>(db: Executor, fn: (trx: Executor) => Promise<T>): Promise<T> {
  return db.isTransaction ? fn(db) : db.transaction().execute(fn);
}

const isRoot = (unitPath: string) => unitPath.indexOf('/', 1) === unitPath.length - 1;

/**
 * Counts of posts as seen from the subtree at `unitPath`: the counters of that scope (the whole post
 * for the root) plus, below the root, the few deliveries of the unit itself (read by index).
 */
export async function countsIn(db: Executor, postIds: readonly string[], unitPath: string): Promise<Map<string, DeliveryCounts>> {
  const out = new Map(postIds.map((id) => [id, emptyCounts()] as const));
  if (!postIds.length) return out;
  const root = isRoot(unitPath);
  const rows = await db
    .selectFrom('delivery_counts')
    .select((eb) => ['post_id', 'status', eb.fn.sum<number>('n').as('n')])
    .where('post_id', 'in', postIds)
    .where('scope', '=', root ? POST_SCOPE : unitPath)
    .groupBy(['post_id', 'status'])
    .execute();
  const own = root ? [] : await ownRows(db, postIds, [unitPath]);
  for (const r of [...rows, ...own]) {
    const c = out.get(r.post_id);
    if (c && r.status in c) c[r.status as DeliveryStatus] += Number(r.n);
  }
  return out;
}

/** Counts of the whole post (scope `''`). */
export async function postCounts(db: Executor, postId: string): Promise<DeliveryCounts> {
  const rows = await db
    .selectFrom('delivery_counts')
    .select((eb) => ['status', eb.fn.sum<number>('n').as('n')])
    .where('post_id', '=', postId)
    .where('scope', '=', POST_SCOPE)
    .groupBy('status')
    .execute();
  const c = emptyCounts();
  for (const r of rows) if (r.status in c) c[r.status as DeliveryStatus] += Number(r.n);
  return c;
}

/** Counts by level of a post as seen from the subtree at `unitPath` (levels without deliveries are left out). */
export async function levelsIn(db: Executor, postId: string, unitPath: string): Promise<Map<number, DeliveryCounts>> {
  const root = isRoot(unitPath);
  const rows = await db
    .selectFrom('delivery_counts')
    .select(['level', 'status', 'n'])
    .where('post_id', '=', postId)
    .where('scope', '=', root ? POST_SCOPE : unitPath)
    .where('n', '!=', 0)
    .execute();
  const own = root ? [] : await ownRows(db, [postId], [unitPath]);
  const out = new Map<number, DeliveryCounts>();
  for (const r of [...rows, ...own]) {
    const c = out.get(Number(r.level)) ?? emptyCounts();
    if (r.status in c) c[r.status as DeliveryStatus] += Number(r.n);
    out.set(Number(r.level), c);
  }
  return out;
}

/** Counter rows of a post in the given scopes, summed over levels: scope → status → n. */
export async function scopeCounts(db: Executor, postId: string, scopes: readonly string[]): Promise<Map<string, Map<string, number>>> {
  const out = new Map<string, Map<string, number>>();
  for (let i = 0; i < scopes.length; i += CHUNK) {
    const rows = await db
      .selectFrom('delivery_counts')
      .select((eb) => ['scope', 'status', eb.fn.sum<number>('n').as('n')])
      .where('post_id', '=', postId)
      .where('scope', 'in', scopes.slice(i, i + CHUNK))
      .groupBy(['scope', 'status'])
      .execute();
    for (const r of rows) {
      const m = out.get(r.scope) ?? new Map<string, number>();
      m.set(r.status, (m.get(r.status) ?? 0) + Number(r.n));
      out.set(r.scope, m);
    }
  }
  return out;
}

/** The deliveries of the units at exactly these paths (a unit has a few Pages), counted by post, level and status. */
async function ownRows(db: Executor, postIds: readonly string[], paths: readonly string[]) {
  return db
    .selectFrom('deliveries')
    .select((eb) => ['post_id', 'unit_level as level', 'status', eb.fn.countAll<number>().as('n')])
    .where('post_id', 'in', postIds)
    .where('unit_id', 'in', (eb) => eb.selectFrom('units').select('id').where('path', 'in', paths))
    .groupBy(['post_id', 'unit_level', 'status'])
    .execute();
}

export interface CountDrift {
  postId: string;
  scope: string;
  level: number;
  status: string;
  /** From a full count of the rows (with their units' paths and levels as they are now). */
  expected: number;
  /** As maintained. */
  actual: number;
}

/**
 * Compares the maintained counters with a full count, both read in one snapshot (a transaction of its
 * own, repeatable read on PostgreSQL, or the caller's). `repair` adds each difference to its counter:
 * a delta, so it commutes with writers that commit meanwhile.
 */
async function compare(db: Executor, postId: string | undefined, repair: boolean): Promise<CountDrift[]> {
  const run = async (trx: Executor): Promise<CountDrift[]> => {
    let full = trx
      .selectFrom('deliveries as d')
      .leftJoin('units as u', 'u.id', 'd.unit_id')
      .select((eb) => ['d.post_id', 'u.path', 'u.level', 'd.status', eb.fn.countAll<number>().as('n')])
      .groupBy(['d.post_id', 'u.path', 'u.level', 'd.status']);
    let kept = trx.selectFrom('delivery_counts').selectAll();
    if (postId) {
      full = full.where('d.post_id', '=', postId);
      kept = kept.where('post_id', '=', postId);
    }
    const expected = new CountDeltas();
    for (const g of await full.execute()) expected.add(g.post_id, g.path, g.level, g.status, Number(g.n));
    const drift = new Map<string, CountDrift>();
    const key = (r: { post_id: string; scope: string; level: number; status: string }) =>
      JSON.stringify([r.post_id, r.scope, r.level, r.status]);
    for (const e of expected.sorted()) {
      drift.set(key(e), { postId: e.post_id, scope: e.scope, level: e.level, status: e.status, expected: e.n, actual: 0 });
    }
    for (const k of await kept.execute()) {
      const d = drift.get(key(k)) ?? { postId: k.post_id, scope: k.scope, level: k.level, status: k.status, expected: 0, actual: 0 };
      d.actual += Number(k.n);
      drift.set(key(k), d);
    }
    const out = [...drift.values()].filter((d) => d.expected !== d.actual);
    if (repair && out.length) {
      const rows = out
        .map((d) => ({ post_id: d.postId, scope: d.scope, level: d.level, status: d.status, n: d.expected - d.actual }))
        .sort((a, b) => (key(a) < key(b) ? -1 : 1));
      for (let i = 0; i < rows.length; i += CHUNK) await upsert(trx, rows.slice(i, i + CHUNK));
    }
    return out;
  };
  return db.isTransaction ? run(db) : db.transaction().setIsolationLevel('repeatable read').execute(run);
}

/** The counters that differ from a full count (of one post, or all): empty when the ledger kept them right. */
export function verifyCounts(db: Executor, postId?: string): Promise<CountDrift[]> {
  return compare(db, postId, false);
}

/** Like verifyCounts, and sets every drifted counter to the full count. Returns what it corrected. */
export function repairCounts(db: Executor, postId?: string): Promise<CountDrift[]> {
  return compare(db, postId, true);
}
