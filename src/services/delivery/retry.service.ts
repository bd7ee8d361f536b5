import type { Logger } from 'pino';
import type { DeliveryLedger } from './delivery-ledger';
import type { Db } from '../../db/create-db';
import { ConflictError } from '../../errors/app-error';
import { JOB } from '../../queues/catalog';
import type { Queues } from '../../queues/queues';
import { requireRole, requireScope, type Principal } from '../auth/keys.service';
import { appendAudit } from '../governance/audit.service';
import type { PostsService } from '../posts/posts.service';

const RETRYABLE_POST_STATUSES = ['publishing', 'partially_failed', 'failed'];
const CHUNK = 500;

/**
 * Manual retry of failed deliveries (e.g. after a Page's token was replaced). Each retried delivery
 * goes back to `queued` with a new job round, so it gets a fresh BullMQ job and a full set of attempts;
 * Pages already published are never touched.
 */
export class RetryService {
  constructor(
    private readonly db: Db,
    private readonly ledger: DeliveryLedger,
    private readonly posts: PostsService,
    private readonly queues: Queues,
    private readonly log: Logger,
  ) {}

  async retry(p: Principal, postId: string, reasons?: string[]): Promise<{ id: string; status: 'publishing'; requeued: number }> {
    requireRole(p, ['editor', 'approver', 'admin'], 'retry deliveries');
    const post = await this.posts.load(p, postId);
    requireScope(p, post.target_path, post.target_unit_code);
    if (!RETRYABLE_POST_STATUSES.includes(post.status)) {
      throw new ConflictError(`post is ${post.status}; only posts with failed deliveries can be retried`, { status: post.status });
    }
    const now = new Date().toISOString();
    const ids = await this.db.transaction().execute(async (trx) => {
      const rows = await this.ledger.requeueFailed(trx, postId, reasons, now);
      if (rows.length === 0) return [];
      await trx.updateTable('posts').set({ status: 'publishing', completed_at: null, updated_at: now }).where('id', '=', postId).execute();
      await appendAudit(trx, {
        actor: p,
        action: 'post.retry',
        subject: { type: 'post', id: postId, path: post.target_path },
        details: { reasons: reasons ?? null, requeued: rows.length },
      });
      return rows.map((r) => ({ deliveryId: r.id, postId, round: r.round }));
    });
    if (ids.length === 0) {
      throw new ConflictError(reasons?.length ? `no failed delivery with reason ${reasons.join(', ')}` : 'no failed delivery to retry');
    }
    try {
      for (let i = 0; i < ids.length; i += CHUNK) await this.queues.addBulk(JOB.publish, ids.slice(i, i + CHUNK));
    } catch (err) {
      // The store already says queued: the reconciler enqueues them once Redis answers.
      this.log.warn({ postId, err: (err as Error).message }, 'retry not enqueued now; the reconciler will');
    }
    return { id: postId, status: 'publishing', requeued: ids.length };
  }
}
