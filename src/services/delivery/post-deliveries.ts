import { sql } from 'kysely';
import type { Db, Executor } from '../../db/create-db';
import { OPEN_DELIVERY_STATUSES, type DeliveryStatus } from '../posts/post-status';
import { applyCounts, COUNTED_COLUMNS, CountDeltas, inTransaction, repairCounts } from './delivery-counts';
import type { DeliveryError } from './lease';

/**
 * Part of the delivery ledger (with delivery-ledger.ts, the only writers of `deliveries`): the
 * transitions of all of a post's deliveries at once, called through DeliveryLedger.
 */
export type { Executor };
export const now = () => new Date().toISOString();
export const errorColumns = (error: DeliveryError | null) => ({
  error_code: error?.code ?? null,
  error_subcode: error?.subcode ?? null,
  error_message: error?.message ?? null,
});

// Whole-post transitions, inside the caller's transaction. They touch only rows no lease can
// hold (`queued`, `failed`, `published`, `recall_failed` are left with the lease released), so they
// need no claim.
//
// Each keeps the delivery counters (delivery-counts.ts): it collects its status changes (RETURNING)
// into `deltas` and, when the caller passed none, writes them itself right away. A caller running
// several of them in one transaction passes one CountDeltas and calls applyCounts after the last, so
// its counter rows are locked once, last, in key order.

/** Writes `deltas` now unless the caller collects them for later. */
async function settleCounts(trx: Executor, own: CountDeltas, shared: CountDeltas | undefined): Promise<void> {
  if (!shared) await applyCounts(trx, own);
}

/** The post's delivery rows, written with the post becoming `publishing` (fan-out); `notBefore`: a spread post's slot. */
export async function insertForPost(
  trx: Executor,
  postId: string,
  units: ReadonlyArray<{ unitId: number; code: string; path: string; level: number; pageId: string | null; notBefore?: string | null }>,
  at: string,
  deltas?: CountDeltas,
): Promise<void> {
  if (!units.length) return;
  const counts = deltas ?? new CountDeltas();
  const rows = await trx
    .insertInto('deliveries')
    .values(
      units.map((u) => ({
        post_id: postId,
        unit_id: u.unitId,
        unit_code: u.code,
        unit_path: u.path,
        unit_level: u.level,
        page_id: u.pageId,
        status: u.pageId ? 'queued' : 'skipped',
        reason: u.pageId ? null : 'no_page',
        attempts: 0,
        fb_post_id: null,
        permalink: null,
        error_code: null,
        error_subcode: null,
        error_message: null,
        attempt_started_at: null,
        job_round: 0,
        created_at: at,
        updated_at: at,
        published_at: null,
        not_before: u.notBefore ?? null,
      })),
    )
    .onConflict((oc) => oc.doNothing())
    .returning(['post_id', 'unit_path', 'unit_level', 'status'])
    .execute();
  // Only the rows inserted now are returned (a repeated fan-out inserts none).
  counts.inserted(rows);
  await settleCounts(trx, counts, deltas);
}

/** Not-yet-sent deliveries of a withdrawn post become `cancelled` (`post_cancelled`, `post_recalled`, or `unit_retired` by a forced reorganisation). */
export async function cancelQueued(
  trx: Executor,
  postId: string,
  reason: 'post_cancelled' | 'post_recalled' | 'unit_retired',
  at: string,
  deltas?: CountDeltas,
): Promise<number> {
  return inTransaction(trx, async (trx) => {
    const counts = deltas ?? new CountDeltas();
    const rows = await trx
      .updateTable('deliveries')
      .set({ status: 'cancelled', reason, prev_status: sql<string>`status`, updated_at: at })
      .where('post_id', '=', postId)
      .where('status', '=', 'queued')
      .returning(COUNTED_COLUMNS)
      .execute();
    counts.moved(rows);
    await settleCounts(trx, counts, deltas);
    return rows.length;
  });
}

/**
 * Recall: every copy with a known id (published, or a failed earlier recall) becomes `recalling`;
 * a copy Facebook confirmed without telling its id becomes `recall_failed` (nothing to delete by id).
 * Pending Page edits stop. Returns how many copies are to be deleted and how many have no id.
 */
export async function startRecall(
  trx: Executor,
  postId: string,
  at: string,
  from: readonly DeliveryStatus[] = ['published', 'recall_failed'],
  deltas?: CountDeltas,
): Promise<{ toDelete: number; withoutPostId: number }> {
  return inTransaction(trx, async (trx) => {
    const counts = deltas ?? new CountDeltas();
    const deleting = await trx
      .updateTable('deliveries')
      .set({ status: 'recalling', reason: null, ...errorColumns(null), prev_status: sql<string>`status`, updated_at: at })
      .where('post_id', '=', postId)
      .where('status', 'in', from)
      .where('fb_post_id', 'is not', null)
      .returning(COUNTED_COLUMNS)
      .execute();
    const unknown = await trx
      .updateTable('deliveries')
      .set({ status: 'recall_failed', reason: 'fb_post_id_unknown', prev_status: sql<string>`status`, updated_at: at })
      .where('post_id', '=', postId)
      .where('status', '=', 'published')
      .where('fb_post_id', 'is', null)
      .returning(COUNTED_COLUMNS)
      .execute();
    await trx
      .updateTable('deliveries')
      .set({ edit_status: 'cancelled' })
      .where('post_id', '=', postId)
      .where('edit_status', '=', 'pending')
      .execute();
    counts.moved(deleting);
    counts.moved(unknown);
    await settleCounts(trx, counts, deltas);
    return { toDelete: deleting.length, withoutPostId: unknown.length };
  });
}

/** An approved edit: every published copy gets the revision, pending (or failed when its id is unknown). */
export async function startEdit(trx: Executor, postId: string, revision: number): Promise<void> {
  const base = trx.updateTable('deliveries').where('post_id', '=', postId).where('status', '=', 'published');
  await base.set({ edit_revision: revision, edit_status: 'pending', edit_error: null }).where('fb_post_id', 'is not', null).execute();
  await base
    .set({ edit_revision: revision, edit_status: 'failed', edit_error: 'fb_post_id_unknown' })
    .where('fb_post_id', 'is', null)
    .execute();
}

/**
 * Manual retry: the failed deliveries (optionally only some reasons, and only the given ids) go back to
 * `queued` with a new job round.
 */
export async function requeueFailed(
  trx: Executor,
  postId: string,
  reasons: readonly string[] | undefined,
  at: string,
  onlyIds?: readonly number[],
  deltas?: CountDeltas,
): Promise<Array<{ id: number; round: number }>> {
  if (onlyIds && onlyIds.length === 0) return [];
  let q = trx.selectFrom('deliveries').select(['id', 'job_round']).where('post_id', '=', postId).where('status', '=', 'failed');
  if (reasons?.length) q = q.where('reason', 'in', reasons);
  const CHUNK = 500;
  const only = onlyIds ? new Set(onlyIds) : undefined;
  const rows = (await q.execute()).filter((r) => !only || only.has(r.id));
  const counts = deltas ?? new CountDeltas();
  for (let i = 0; i < rows.length; i += CHUNK) {
    const changed = await trx
      .updateTable('deliveries')
      .set({
        status: 'queued',
        reason: 'manual_retry',
        job_round: sql<number>`job_round + 1`,
        prev_status: sql<string>`status`,
        updated_at: at,
      })
      .where(
        'id',
        'in',
        rows.slice(i, i + CHUNK).map((r) => r.id),
      )
      .where('status', '=', 'failed')
      .returning(COUNTED_COLUMNS)
      .execute();
    counts.moved(changed);
  }
  await settleCounts(trx, counts, deltas);
  return rows.map((r) => ({ id: r.id, round: r.job_round + 1 }));
}

/** Reconciler: open deliveries whose job id is held by a dead job get a new job round (a new id). */
export async function bumpJobRound(db: Db, ids: readonly number[]): Promise<void> {
  if (!ids.length) return;
  await db
    .updateTable('deliveries')
    .set({ job_round: sql<number>`job_round + 1`, updated_at: now() })
    .where('id', 'in', ids)
    .where('status', 'in', OPEN_DELIVERY_STATUSES)
    .execute();
}

/**
 * An in-place correction of the tree moved or re-levelled these units: their deliveries take the new
 * path and level, and the counters of the posts concerned are recounted (inside the caller's transaction).
 */
export async function syncUnitPaths(trx: Executor, unitIds: readonly number[]): Promise<number> {
  const posts = new Set<string>();
  const CHUNK = 500;
  for (let i = 0; i < unitIds.length; i += CHUNK) {
    const rows = await trx
      .updateTable('deliveries')
      .set({
        unit_path: (eb) => eb.selectFrom('units').select('units.path').whereRef('units.id', '=', 'deliveries.unit_id'),
        unit_level: (eb) => eb.selectFrom('units').select('units.level').whereRef('units.id', '=', 'deliveries.unit_id'),
      })
      .where('unit_id', 'in', unitIds.slice(i, i + CHUNK))
      .returning('post_id')
      .execute();
    for (const r of rows) posts.add(r.post_id);
  }
  for (const postId of [...posts].sort()) await repairCounts(trx, postId);
  return posts.size;
}
