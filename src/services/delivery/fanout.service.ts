import type { Logger } from 'pino';
import type { Db } from '../../db/create-db';
import { JOB } from '../../queues/catalog';
import type { Queues } from '../../queues/queues';
import { CountDeltas } from './delivery-counts';
import type { DeliveryLedger } from './delivery-ledger';
import type { EventBus } from '../shared/events';
import type { Target, TargetService } from '../tree/target.service';

const INSERT_CHUNK = 500;

export type FanoutOutcome =
  | { kind: 'not_due'; publishAt: Date }
  | { kind: 'skipped'; reason: string }
  | { kind: 'done'; total: number; queued: number; skipped: number };

/**
 * Resolves a post's target to Pages, writes every delivery row (one transaction, idempotent), then
 * enqueues one delivery job per open row in chunks. Never one 10k-child flow: a single MULTI that
 * size stalls Redis for ~1 s (see docs on BullMQ); chunked addBulk with deterministic ids is safe to repeat.
 */
export class FanoutService {
  constructor(
    private readonly db: Db,
    private readonly targets: TargetService,
    private readonly ledger: DeliveryLedger,
    private readonly queues: Queues,
    private readonly chunkSize: number,
    private readonly log: Logger,
    private readonly events: EventBus,
  ) {}

  async run(postId: string, checkpoint: { get(): number; set(id: number): Promise<void> }): Promise<FanoutOutcome> {
    const post = await this.db.selectFrom('posts').selectAll().where('id', '=', postId).executeTakeFirst();
    if (!post) return { kind: 'skipped', reason: 'post not found' };
    if (!['approved', 'scheduled', 'publishing'].includes(post.status)) return { kind: 'skipped', reason: `post is ${post.status}` };
    if (post.publish_at && new Date(post.publish_at).getTime() > Date.now() + 1_000) {
      return { kind: 'not_due', publishAt: new Date(post.publish_at) };
    }

    const started = Date.now();
    if (post.status !== 'publishing') await this.writeDeliveries(postId, JSON.parse(post.target) as Target);

    let last = checkpoint.get();
    let queued = 0;
    for (;;) {
      const rows = await this.db
        .selectFrom('deliveries')
        .select(['id', 'job_round'])
        .where('post_id', '=', postId)
        .where('status', '=', 'queued')
        .where('id', '>', last)
        .orderBy('id')
        .limit(this.chunkSize)
        .execute();
      if (rows.length === 0) break;
      // With the row's job round: after a reconcile gave a row a new round, a re-run must not add the old id too.
      await this.queues.addBulk(
        JOB.publish,
        rows.map((r) => ({ deliveryId: r.id, postId, round: r.job_round })),
      );
      queued += rows.length;
      last = rows[rows.length - 1]!.id;
      await checkpoint.set(last);
    }
    const counts = await this.db.selectFrom('posts').select(['total']).where('id', '=', postId).executeTakeFirstOrThrow();
    // All skipped (no Page anywhere) or everything already final: finish now.
    await this.ledger.rollUp(postId);
    this.log.info({ postId, total: counts.total, queued }, 'fan-out enqueued');
    this.events.emit({ type: 'fanout.done', postId, total: counts.total, queued, durationMs: Date.now() - started });
    return { kind: 'done', total: counts.total, queued, skipped: counts.total - queued };
  }

  /** One transaction: the post becomes `publishing` together with all its delivery rows. */
  private async writeDeliveries(postId: string, target: Target): Promise<void> {
    const units = await this.targets.resolve(target);
    const now = new Date().toISOString();
    await this.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('posts')
        .set({ status: 'publishing', started_at: now, updated_at: now, total: units.length })
        .where('id', '=', postId)
        .where('status', 'in', ['approved', 'scheduled'])
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) !== 1) return; // cancelled meanwhile, or another fan-out won
      const counts = new CountDeltas();
      for (let i = 0; i < units.length; i += INSERT_CHUNK) {
        await this.ledger.insertForPost(trx, postId, units.slice(i, i + INSERT_CHUNK), now, counts);
      }
      await this.ledger.applyCounts(trx, counts);
    });
  }
}
