import type { Logger } from 'pino';
import type { Db } from '../db/create-db';
import type { Queues } from '../queues/queues';
import type { DeliveriesService } from './deliveries.service';
import { ACTIVE_POST_STATUSES, OPEN_DELIVERY_STATUSES } from './post-status';

const CHUNK = 1_000;
/** Deliveries untouched for this long are re-enqueued (a no-op when their job still exists). */
const STALE_MS = 20_000;

/**
 * The store is the ledger; Redis is a dispatcher that can forget (restart without persistence,
 * failover, an approval made while Redis was down). This re-enqueues, with the same deterministic
 * job ids, every fan-out and delivery the store says is unfinished. Safe to run any time, anywhere.
 */
export class ReconcilerService {
  constructor(
    private readonly db: Db,
    private readonly queues: Queues,
    private readonly deliveries: DeliveriesService,
    private readonly log: Logger,
  ) {}

  async run(): Promise<{ fanouts: number; deliveries: number }> {
    const posts = await this.db.selectFrom('posts').select(['id', 'status', 'publish_at']).where('status', 'in', ACTIVE_POST_STATUSES).execute();
    for (const p of posts) {
      await this.queues.scheduleFanout(p.id, p.publish_at ? new Date(p.publish_at) : null);
      // A post whose last delivery finished just before its process stopped is rolled up here.
      if (p.status === 'publishing') await this.deliveries.rollUp(p.id);
    }
    const staleBefore = new Date(Date.now() - STALE_MS).toISOString();
    let last = 0;
    let deliveries = 0;
    let revived = 0;
    for (;;) {
      const rows = await this.db
        .selectFrom('deliveries')
        .innerJoin('posts', 'posts.id', 'deliveries.post_id')
        .select(['deliveries.id', 'deliveries.post_id'])
        .where('posts.status', '=', 'publishing')
        .where('deliveries.status', 'in', OPEN_DELIVERY_STATUSES)
        .where('deliveries.updated_at', '<', staleBefore)
        .where('deliveries.id', '>', last)
        .orderBy('deliveries.id')
        .limit(CHUNK)
        .execute();
      if (rows.length === 0) break;
      revived += await this.queues.reEnqueueDeliveries(rows.map((r) => ({ deliveryId: r.id, postId: r.post_id })));
      deliveries += rows.length;
      last = rows[rows.length - 1]!.id;
    }
    if (posts.length || deliveries) this.log.info({ fanouts: posts.length, deliveries, revived }, 'reconciler re-enqueued unfinished work (existing jobs are left as they are, finished ones are revived)');
    return { fanouts: posts.length, deliveries };
  }
}
