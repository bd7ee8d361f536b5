import type { Logger } from 'pino';
import type { Db } from '../../db/create-db';
import { JOB } from '../../queues/catalog';
import type { Queues } from '../../queues/queues';
import { CountDeltas } from './delivery-counts';
import type { DeliveryLedger } from './delivery-ledger';
import type { EventBus } from '../shared/events';
import type { Target, TargetService } from '../tree/target.service';
import { delayUntil, planSlots, spreadWindow } from './spread-plan';

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
    /** Length of one minute of a post's spread, in ms (SPREAD_MINUTE_MS). */
    private readonly spreadMinuteMs = 60_000,
  ) {}

  async run(postId: string, checkpoint: { get(): number; set(id: number): Promise<void> }): Promise<FanoutOutcome> {
    const post = await this.db.selectFrom('posts').selectAll().where('id', '=', postId).executeTakeFirst();
    if (!post) return { kind: 'skipped', reason: 'post not found' };
    if (!['approved', 'scheduled', 'publishing'].includes(post.status)) return { kind: 'skipped', reason: `post is ${post.status}` };
    if (post.publish_at && new Date(post.publish_at).getTime() > Date.now() + 1_000) {
      return { kind: 'not_due', publishAt: new Date(post.publish_at) };
    }

    const started = Date.now();
    if (post.status !== 'publishing') await this.writeDeliveries(postId, JSON.parse(post.target) as Target, post.spread_minutes);

    let last = checkpoint.get();
    let queued = 0;
    for (;;) {
      const rows = await this.db
        .selectFrom('deliveries')
        .select(['id', 'job_round', 'not_before'])
        .where('post_id', '=', postId)
        .where('status', '=', 'queued')
        .where('id', '>', last)
        .orderBy('id')
        .limit(this.chunkSize)
        .execute();
      if (rows.length === 0) break;
      // With the row's job round: after a reconcile gave a row a new round, a re-run must not add the old id too.
      // A spread post's jobs wait for their slots (planned when the rows were written; see spread-plan.ts).
      const at = Date.now();
      await this.queues.addBulk(
        JOB.publish,
        rows.map((r) => ({ deliveryId: r.id, postId, round: r.job_round })),
        (_, i) => delayUntil(rows[i]!.not_before, at),
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

  /**
   * One transaction: the post becomes `publishing` together with all its delivery rows. A spread post's
   * window starts now: each row gets its slot and the post its planned end, once (a re-run finds the post
   * `publishing` and keeps the plan).
   */
  private async writeDeliveries(postId: string, target: Target, spreadMinutes: number | null): Promise<void> {
    const resolved = await this.targets.resolve(target);
    const startMs = Date.now();
    const now = new Date(startMs).toISOString();
    const window = spreadWindow(spreadMinutes, startMs, this.spreadMinuteMs);
    const slots = window ? planSlots(resolved, window) : null;
    const units = slots ? resolved.map((u, i) => ({ ...u, notBefore: slots[i] })) : resolved;
    const spreadEndsAt = window ? new Date(window.startMs + window.lengthMs).toISOString() : null;
    await this.db.transaction().execute(async (trx) => {
      const res = await trx
        .updateTable('posts')
        .set({ status: 'publishing', started_at: now, updated_at: now, total: units.length, spread_ends_at: spreadEndsAt })
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
