import { sql } from 'kysely';
import type { Db, Executor } from '../../db/create-db';
import { OPEN_DELIVERY_STATUSES, type DeliveryStatus } from '../posts/post-status';
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

/** The post's delivery rows, written with the post becoming `publishing` (fan-out). */
export async function insertForPost(
  trx: Executor,
  postId: string,
  units: ReadonlyArray<{ unitId: number; code: string; pageId: string | null }>,
  at: string,
): Promise<void> {
  if (!units.length) return;
  await trx
    .insertInto('deliveries')
    .values(
      units.map((u) => ({
        post_id: postId,
        unit_id: u.unitId,
        unit_code: u.code,
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
      })),
    )
    .onConflict((oc) => oc.doNothing())
    .execute();
}

/** Not-yet-sent deliveries of a withdrawn post become `cancelled` (`post_cancelled`, `post_recalled`, or `unit_retired` by a forced reorganisation). */
export async function cancelQueued(
  trx: Executor,
  postId: string,
  reason: 'post_cancelled' | 'post_recalled' | 'unit_retired',
  at: string,
): Promise<number> {
  const res = await trx
    .updateTable('deliveries')
    .set({ status: 'cancelled', reason, updated_at: at })
    .where('post_id', '=', postId)
    .where('status', '=', 'queued')
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
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
): Promise<{ toDelete: number; withoutPostId: number }> {
  const n = (r: { numUpdatedRows: bigint }) => Number(r.numUpdatedRows);
  const toDelete = n(
    await trx
      .updateTable('deliveries')
      .set({ status: 'recalling', reason: null, ...errorColumns(null), updated_at: at })
      .where('post_id', '=', postId)
      .where('status', 'in', from)
      .where('fb_post_id', 'is not', null)
      .executeTakeFirst(),
  );
  const withoutPostId = n(
    await trx
      .updateTable('deliveries')
      .set({ status: 'recall_failed', reason: 'fb_post_id_unknown', updated_at: at })
      .where('post_id', '=', postId)
      .where('status', '=', 'published')
      .where('fb_post_id', 'is', null)
      .executeTakeFirst(),
  );
  await trx
    .updateTable('deliveries')
    .set({ edit_status: 'cancelled' })
    .where('post_id', '=', postId)
    .where('edit_status', '=', 'pending')
    .execute();
  return { toDelete, withoutPostId };
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
): Promise<Array<{ id: number; round: number }>> {
  if (onlyIds && onlyIds.length === 0) return [];
  let q = trx.selectFrom('deliveries').select(['id', 'job_round']).where('post_id', '=', postId).where('status', '=', 'failed');
  if (reasons?.length) q = q.where('reason', 'in', reasons);
  const CHUNK = 500;
  const only = onlyIds ? new Set(onlyIds) : undefined;
  const rows = (await q.execute()).filter((r) => !only || only.has(r.id));
  for (let i = 0; i < rows.length; i += CHUNK) {
    await trx
      .updateTable('deliveries')
      .set({ status: 'queued', reason: 'manual_retry', job_round: sql<number>`job_round + 1`, updated_at: at })
      .where(
        'id',
        'in',
        rows.slice(i, i + CHUNK).map((r) => r.id),
      )
      .where('status', '=', 'failed')
      .execute();
  }
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
