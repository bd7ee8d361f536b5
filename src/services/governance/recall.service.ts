import type { Logger } from 'pino';
import type { Db } from '../../db/create-db';
import { transact } from '../../db/transact';
import type { DeliveryLedger } from '../delivery/delivery-ledger';
import { CountDeltas } from '../delivery/delivery-counts';
import { ConflictError } from '../../errors/app-error';
import { JOB } from '../../queues/catalog';
import type { Queues } from '../../queues/queues';
import { appendAudit, systemActor } from './audit.service';
import { Debouncer } from '../shared/debounce';
import { requireRole, requireScope, type Principal } from '../auth/keys.service';
import type { PostStatus } from '../posts/post-status';
import type { PostsService } from '../posts/posts.service';

const CHUNK = 1_000;
/** Recalling deliveries untouched this long are re-enqueued (a no-op while their job still exists). */
const STALE_MS = 20_000;
/** Posts that never reached a Page cannot be recalled: they are cancelled instead. */
const RECALLABLE: readonly PostStatus[] = ['publishing', 'published', 'partially_failed', 'failed', 'cancelled', 'recalling', 'recalled'];

export interface RecallResult {
  id: string;
  status: 'recalling' | 'recalled';
  recall: { by: string; at: string; reason: string };
  /** Pages whose copy is being deleted by this request. */
  queued: number;
}

/**
 * Recall: delete a post from every Page it reached. The request is written to the store first
 * (post `recalling`, each published delivery `recalling`, not-yet-sent ones `cancelled`), then one
 * job per Page is queued; the store stays the ledger, so a lost job is re-queued by `reconcile`.
 */
export class RecallService {
  private readonly rollUps: Debouncer;

  constructor(
    private readonly db: Db,
    private readonly ledger: DeliveryLedger,
    private readonly posts: PostsService,
    private readonly jobs: Queues,
    private readonly log: Logger,
    rollUpDelayMs = 200,
  ) {
    this.rollUps = new Debouncer(rollUpDelayMs);
  }

  /**
   * Recalls a post (editor, approver or admin holding the whole target). Recalling a post that is
   * already recalled retries the Pages where deletion failed; who and why of each request is audited.
   */
  async recall(p: Principal, id: string, reason: string): Promise<RecallResult> {
    requireRole(p, ['editor', 'approver', 'admin'], 'recall posts');
    const post = await this.posts.load(p, id);
    requireScope(p, post.target_path, post.target_unit_code);
    if (!RECALLABLE.includes(post.status as PostStatus)) {
      throw new ConflictError(`post is ${post.status} and has reached no Page; cancel it instead`, { status: post.status });
    }
    const now = new Date().toISOString();
    const again = post.status === 'recalling' || post.status === 'recalled';
    const round = post.recall_round + 1;
    const counts = await transact(this.db, async (trx) => {
      const res = await trx
        .updateTable('posts')
        .set({
          status: 'recalling',
          recall_round: round,
          updated_at: now,
          ...(again ? {} : { recalled_by: p.keyId, recalled_at: now, recall_reason: reason }),
        })
        .where('id', '=', id)
        .where('status', '=', post.status)
        .where('recall_round', '=', post.recall_round)
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return undefined;
      const deltas = new CountDeltas();
      const cancelled = await this.ledger.cancelQueued(trx, id, 'post_recalled', now, deltas);
      // Facebook confirmed the content but we never learnt its id: nothing to delete by id; the ledger says so.
      const { toDelete, withoutPostId: unknown } = await this.ledger.startRecall(trx, id, now, undefined, deltas);
      await this.ledger.applyCounts(trx, deltas);
      // A pending or running edit stops: its remaining Page edits become no-ops.
      await trx
        .updateTable('post_edits')
        .set({ status: 'cancelled', completed_at: now })
        .where('post_id', '=', id)
        .where('status', 'in', ['pending_approval', 'applying'])
        .execute();
      await appendAudit(trx, {
        actor: p,
        action: 'post.recall',
        subject: { type: 'post', id, path: post.target_path },
        details: { reason, previousStatus: post.status, round, toDelete, cancelled, withoutPostId: unknown },
      });
      return { toDelete };
    });
    if (!counts) throw new ConflictError('post changed while recalling; reload it');
    await this.enqueue(id, round).catch((err: Error) =>
      this.log.warn({ postId: id, err: err.message }, 'recall jobs not enqueued (Redis unavailable?); the reconciler will enqueue them'),
    );
    this.requestRollUp(id);
    const row = await this.db
      .selectFrom('posts')
      .select(['status', 'recalled_by', 'recalled_at', 'recall_reason'])
      .where('id', '=', id)
      .executeTakeFirstOrThrow();
    return {
      id,
      status: row.status === 'recalled' ? 'recalled' : 'recalling',
      recall: { by: row.recalled_by ?? p.keyId, at: row.recalled_at ?? now, reason: row.recall_reason ?? reason },
      queued: counts.toDelete,
    };
  }

  /** Queues one delete job per `recalling` delivery (optionally only those untouched since `staleBefore`). */
  async enqueue(postId: string, round: number, staleBefore?: string): Promise<number> {
    let last = 0;
    let queued = 0;
    for (;;) {
      let q = this.db
        .selectFrom('deliveries')
        .select('id')
        .where('post_id', '=', postId)
        .where('status', '=', 'recalling')
        .where('id', '>', last);
      if (staleBefore) q = q.where('updated_at', '<', staleBefore);
      const rows = await q.orderBy('id').limit(CHUNK).execute();
      if (!rows.length) return queued;
      await this.jobs.addBulk(
        JOB.recall,
        rows.map((r) => ({ deliveryId: r.id, postId, revision: round })),
      );
      queued += rows.length;
      last = rows[rows.length - 1]!.id;
    }
  }

  requestRollUp(postId: string): void {
    this.rollUps
      .request(postId, () => this.rollUp(postId))
      .catch((err: Error) => this.log.warn({ postId, err: err.message }, 'recall roll-up failed; the reconciler will retry'));
  }

  /**
   * Finishes a recall once no delivery is left to delete. A delivery that was mid-publish when the
   * recall came and published afterwards is adopted here (its copy is deleted too).
   */
  async rollUp(postId: string): Promise<PostStatus | null> {
    const post = await this.db
      .selectFrom('posts')
      .select(['status', 'recall_round', 'target_unit_id'])
      .where('id', '=', postId)
      .executeTakeFirst();
    if (!post || post.status !== 'recalling') return null;
    const now = new Date().toISOString();
    const adopted = await this.ledger.startRecall(this.db, postId, now, ['published']);
    if (adopted.toDelete > 0) {
      await this.enqueue(postId, post.recall_round);
      return null;
    }
    const counts = await this.ledger.countByStatus(postId);
    if (counts.queued + counts.publishing + counts.recalling + counts.published > 0) return null;
    const path = (await this.db.selectFrom('units').select('path').where('id', '=', post.target_unit_id!).executeTakeFirstOrThrow()).path;
    const done = await transact(this.db, async (trx) => {
      const res = await trx
        .updateTable('posts')
        .set({ status: 'recalled', updated_at: now })
        .where('id', '=', postId)
        .where('status', '=', 'recalling')
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return false;
      await appendAudit(trx, {
        actor: systemActor('recall'),
        action: 'post.recall_finished',
        subject: { type: 'post', id: postId, path },
        details: { round: post.recall_round, recalled: counts.recalled, recallFailed: counts.recall_failed },
      });
      return true;
    });
    if (done) this.log.info({ postId, recalled: counts.recalled, recallFailed: counts.recall_failed }, 'recall finished');
    return done ? 'recalled' : null;
  }

  /** Safety net (scheduled): re-queues stale recall work and finishes recalls whose last job was lost. */
  async reconcile(): Promise<{ posts: number; requeued: number }> {
    const posts = await this.db.selectFrom('posts').select(['id', 'recall_round']).where('status', '=', 'recalling').execute();
    const staleBefore = new Date(Date.now() - STALE_MS).toISOString();
    let requeued = 0;
    for (const p of posts) {
      requeued += await this.enqueue(p.id, p.recall_round, staleBefore);
      await this.rollUp(p.id);
    }
    return { posts: posts.length, requeued };
  }
}
