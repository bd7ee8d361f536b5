import type { Logger } from 'pino';
import type { Db } from '../../db/create-db';
import { deliveryJobId, JOB } from '../../queues/catalog';
import type { Queues } from '../../queues/queues';
import type { DeliveryLedger } from './delivery-ledger';
import { ACTIVE_POST_STATUSES, OPEN_DELIVERY_STATUSES } from '../posts/post-status';
import { delayUntil } from './spread-plan';

const CHUNK = 500;
/** Job states in which a delivery's job will still run by itself. */
const LIVE_STATES = new Set<string>(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);
/** Deliveries untouched for this long are re-enqueued (a no-op when their job still exists). */
const STALE_MS = 10_000;
/**
 * A spread post's deliveries due later than this are not checked yet (10k job-state reads every run for a
 * day-long spread): a lost job among them is re-added once its slot is this close, three runs before it is due.
 */
const SLOT_HORIZON_MS = 60_000;
/**
 * Job states a run reads before it may stop, when none of them was dead. A backlog is not a loss: five
 * national posts queue 54,035 deliveries, most of them waiting longer than STALE_MS, and reading every
 * one's job state on each run (every 20 s) took the process's time away from the deliveries themselves
 * (throughput fell from ~500/s to ~50/s, and the reads timed out on Redis). A run that meets dead jobs
 * goes on (after Redis lost its data every job is dead, and all are re-added in one run); one that meets
 * only live jobs stops after this many and the next run goes on from there, so a lost job in a backlog
 * is found within a few runs.
 */
export const RECONCILE_READ_BUDGET = 2_000;

/**
 * The store is the ledger; Redis is a dispatcher that can forget (restart without persistence,
 * failover, an approval made while Redis was down). This re-enqueues, with the same deterministic
 * job ids, every fan-out and delivery the store says is unfinished. Safe to run any time, anywhere.
 */
export class ReconcilerService {
  constructor(
    private readonly db: Db,
    private readonly queues: Queues,
    private readonly ledger: DeliveryLedger,
    private readonly log: Logger,
    private readonly readBudget = RECONCILE_READ_BUDGET,
    private readonly chunk = CHUNK,
  ) {}

  /** Where the next run's scan of open deliveries starts (the id after the last one read); 0 = from the start. */
  private cursor = 0;

  /**
   * Re-enqueues stale open deliveries whose job is not live. A job id may be held by a dead job
   * (completed, failed, or a partial hash left when Redis lost keys mid-flight): re-adding that id
   * would be ignored, so such a delivery gets a new job round (a new id) instead.
   */
  private async requeue(rows: Array<{ id: number; post_id: string; job_round: number; not_before: string | null }>): Promise<number> {
    const states = await Promise.all(rows.map((r) => this.queues.deliveries.getJobState(deliveryJobId(r.id, r.job_round))));
    const dead = rows.filter((_, i) => !LIVE_STATES.has(states[i]!));
    if (dead.length === 0) return 0;
    await this.ledger.bumpJobRound(dead.map((r) => r.id));
    // A spread post's delivery is re-added delayed to its stored slot, never earlier (the worker checks it too).
    const at = Date.now();
    await this.queues.addBulk(
      JOB.publish,
      dead.map((r) => ({ deliveryId: r.id, postId: r.post_id, round: r.job_round + 1 })),
      (_, i) => delayUntil(dead[i]!.not_before, at),
    );
    return dead.length;
  }

  async run(): Promise<{ fanouts: number; deliveries: number }> {
    const posts = await this.db
      .selectFrom('posts')
      .select(['id', 'status', 'publish_at'])
      .where('status', 'in', ACTIVE_POST_STATUSES)
      .execute();
    for (const p of posts) {
      await this.queues.scheduleFanout(p.id, p.publish_at ? new Date(p.publish_at) : null);
      // A post whose last delivery finished just before its process stopped is rolled up here.
      if (p.status === 'publishing') await this.ledger.rollUp(p.id);
    }
    const staleBefore = new Date(Date.now() - STALE_MS).toISOString();
    const dueBefore = new Date(Date.now() + SLOT_HORIZON_MS).toISOString();
    let last = this.cursor;
    let deliveries = 0;
    let read = 0;
    let wrapped = false;
    for (;;) {
      const rows = await this.db
        .selectFrom('deliveries')
        .innerJoin('posts', 'posts.id', 'deliveries.post_id')
        .select(['deliveries.id', 'deliveries.post_id', 'deliveries.job_round', 'deliveries.not_before'])
        .where('posts.status', '=', 'publishing')
        .where('deliveries.status', 'in', OPEN_DELIVERY_STATUSES)
        .where('deliveries.updated_at', '<', staleBefore)
        .where((eb) => eb.or([eb('deliveries.not_before', 'is', null), eb('deliveries.not_before', '<', dueBefore)]))
        .where('deliveries.id', '>', last)
        .orderBy('deliveries.id')
        .limit(this.chunk)
        .execute();
      if (rows.length === 0) {
        // The end of the open deliveries. A run that started part-way goes round once to the first ones.
        const goRound = !wrapped && last > 0 && this.cursor > 0;
        last = 0;
        if (!goRound) break;
        wrapped = true;
        continue;
      }
      // After going round, stop where this run started.
      const todo = wrapped ? rows.filter((r) => r.id <= this.cursor) : rows;
      const dead = todo.length ? await this.requeue(todo) : 0;
      deliveries += dead;
      read += todo.length;
      last = rows[rows.length - 1]!.id;
      if (todo.length < rows.length) {
        last = 0;
        break;
      }
      // Only live jobs in this chunk, and the budget is spent: a backlog, not a loss. The next run goes on from here.
      if (dead === 0 && read >= this.readBudget) break;
    }
    this.cursor = last;
    if (posts.length || deliveries) {
      this.log.info({ fanouts: posts.length, deliveries }, 'reconciler re-enqueued unfinished work (existing jobs are left as they are)');
    }
    return { fanouts: posts.length, deliveries };
  }
}
