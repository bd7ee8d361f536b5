import type { Logger } from 'pino';
import type { DeliveryLedger } from './delivery-ledger';
import type { Db } from '../../db/create-db';
import { transact } from '../../db/transact';
import { ConflictError } from '../../errors/app-error';
import { JOB } from '../../queues/catalog';
import type { Queues } from '../../queues/queues';
import { requireRole, requireScope, type Principal } from '../auth/keys.service';
import { appendAudit } from '../governance/audit.service';
import type { PostsService } from '../posts/posts.service';
import type { PostStatus } from '../posts/post-status';
import { relinkedSince, retryActionOf } from './retry-policy';

/** Failed deliveries a retry left alone, and why: their Page must be linked again first, or Facebook refused the content. */
export interface RetrySkipped {
  needs_relink: number;
  permanent: number;
}

export interface RetryResult {
  id: string;
  /** `publishing` when something was requeued; otherwise the post's status, unchanged. */
  status: PostStatus;
  requeued: number;
  skipped: RetrySkipped;
}

const RETRYABLE_POST_STATUSES = ['publishing', 'partially_failed', 'failed'];
const CHUNK = 500;

/**
 * Manual retry of failed deliveries (e.g. after a Page's token was replaced). Each retried delivery
 * goes back to `queued` with a new job round, so it gets a fresh BullMQ job and a full set of attempts;
 * Pages already published are never touched.
 *
 * Only what a retry can fix is requeued (retry-policy.ts): a token or permission failure only once its
 * Page was linked again after the failure, a content refusal never. The answer counts what was left and why.
 */
export class RetryService {
  constructor(
    private readonly db: Db,
    private readonly ledger: DeliveryLedger,
    private readonly posts: PostsService,
    private readonly queues: Queues,
    private readonly log: Logger,
  ) {}

  async retry(p: Principal, postId: string, reasons?: string[]): Promise<RetryResult> {
    requireRole(p, ['editor', 'approver', 'admin'], 'retry deliveries');
    const post = await this.posts.load(p, postId);
    requireScope(p, post.target_path, post.target_unit_code);
    if (!RETRYABLE_POST_STATUSES.includes(post.status)) {
      throw new ConflictError(`post is ${post.status}; only posts with failed deliveries can be retried`, { status: post.status });
    }
    const now = new Date().toISOString();
    const skipped: RetrySkipped = { needs_relink: 0, permanent: 0 };
    const outcome = await transact(this.db, async (trx) => {
      let q = trx
        .selectFrom('deliveries as d')
        .leftJoin('pages as g', 'g.page_id', 'd.page_id')
        .select([
          'd.id',
          'd.reason',
          'd.updated_at',
          'g.updated_at as page_updated_at',
          'g.token_ciphertext',
          'g.token_status',
          'g.retired_at as page_retired_at',
        ])
        .where('d.post_id', '=', postId)
        .where('d.status', '=', 'failed');
      if (reasons?.length) q = q.where('d.reason', 'in', reasons);
      const failed = await q.execute();
      const fixable: number[] = [];
      for (const d of failed) {
        const action = retryActionOf(d.reason);
        if (action === 'none') skipped.permanent++;
        else if (
          action === 'relink' &&
          !relinkedSince(d.updated_at, {
            updatedAt: d.page_updated_at,
            hasToken: d.token_ciphertext !== null,
            tokenStatus: d.token_status,
            retired: d.page_retired_at !== null,
          })
        ) {
          skipped.needs_relink++;
        } else fixable.push(d.id);
      }
      const rows = await this.ledger.requeueFailed(trx, postId, reasons, now, fixable);
      if (rows.length > 0) {
        await trx
          .updateTable('posts')
          .set({ status: 'publishing', completed_at: null, updated_at: now })
          .where('id', '=', postId)
          .execute();
      }
      if (failed.length > 0) {
        await appendAudit(trx, {
          actor: p,
          action: 'post.retry',
          subject: { type: 'post', id: postId, path: post.target_path },
          details: { reasons: reasons ?? null, requeued: rows.length, skipped },
        });
      }
      return { failed: failed.length, ids: rows.map((r) => ({ deliveryId: r.id, postId, round: r.round })) };
    });
    const { ids } = outcome;
    if (outcome.failed === 0) {
      throw new ConflictError(reasons?.length ? `no failed delivery with reason ${reasons.join(', ')}` : 'no failed delivery to retry');
    }
    if (ids.length === 0) return { id: postId, status: post.status as PostStatus, requeued: 0, skipped };
    try {
      for (let i = 0; i < ids.length; i += CHUNK) await this.queues.addBulk(JOB.publish, ids.slice(i, i + CHUNK));
    } catch (err) {
      // The store already says queued: the reconciler enqueues them once Redis answers.
      this.log.warn({ postId, err: (err as Error).message }, 'retry not enqueued now; the reconciler will');
    }
    return { id: postId, status: 'publishing', requeued: ids.length, skipped };
  }
}
