import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';

/** Queue names (keys are `<QUEUE_PREFIX>:<name>:…`). */
export const QUEUE = { fanout: 'fanout', deliveries: 'deliveries' } as const;

/** Job names: dotted, verb last, stable across deploys. */
export const JOB = { fanout: 'post.fanout', deliver: 'delivery.publish' } as const;

export interface FanoutJobData {
  postId: string;
  /** Checkpoint: the last delivery id already enqueued (fan-out resumes after it). */
  enqueuedUpTo?: number;
}

export interface DeliveryJobData {
  deliveryId: number;
  postId: string;
}

/** Deterministic job ids: re-adding an existing job is a no-op, so every enqueue can be retried. */
export const fanoutJobId = (postId: string) => `fanout-${postId}`;
export const deliveryJobId = (deliveryId: number) => `dlv-${deliveryId}`;

export interface QueueSettings {
  prefix: string;
  attempts: number;
  backoffMs: number;
}

export class Queues {
  readonly fanout: Queue<FanoutJobData>;
  readonly deliveries: Queue<DeliveryJobData>;

  constructor(connection: Redis, private readonly settings: QueueSettings) {
    const common = { connection, prefix: settings.prefix, streams: { events: { maxLen: 2_000 } } };
    this.fanout = new Queue<FanoutJobData>(QUEUE.fanout, common);
    this.deliveries = new Queue<DeliveryJobData>(QUEUE.deliveries, common);
  }

  /**
   * Enqueues the post's fan-out, delayed until `publishAt` when that is in the future. Callers only ask
   * for posts the store says still need their fan-out; a job of that id that BullMQ already failed (e.g.
   * "stalled more than allowable limit" after its workers died twice) would make the add a silent no-op,
   * so it is removed first.
   */
  async scheduleFanout(postId: string, publishAt: Date | null): Promise<void> {
    const delay = publishAt ? Math.max(0, publishAt.getTime() - Date.now()) : 0;
    if ((await this.fanout.getJobState(fanoutJobId(postId))) === 'failed') await this.fanout.remove(fanoutJobId(postId));
    await this.fanout.add(JOB.fanout, { postId }, { jobId: fanoutJobId(postId), delay, attempts: 5, backoff: { type: 'exponential', delay: 2_000 } });
  }

  /** Removes a not-yet-started fan-out; returns false if it is running (the worker then sees the cancel in the store). */
  async removeFanout(postId: string): Promise<boolean> {
    return (await this.fanout.remove(fanoutJobId(postId))) === 1;
  }

  deliveryJob(d: DeliveryJobData): { name: string; data: DeliveryJobData; opts: JobsOptions } {
    return {
      name: JOB.deliver,
      data: d,
      opts: {
        jobId: deliveryJobId(d.deliveryId),
        attempts: this.settings.attempts,
        backoff: { type: 'exponential', delay: this.settings.backoffMs, jitter: 0.5 },
      },
    };
  }

  async addDeliveries(items: DeliveryJobData[]): Promise<void> {
    if (items.length) await this.deliveries.addBulk(items.map((d) => this.deliveryJob(d)));
  }

  /**
   * Re-enqueues deliveries the store says are unfinished (the reconciler). A job that still waits, sleeps or
   * runs is left alone. A *finished* job (failed or completed) with an open row is removed and added again:
   * otherwise the add is a no-op and the delivery never runs again. BullMQ finishes jobs the ledger has not,
   * e.g. it fails a job that stalled twice (two workers killed while holding it) without calling the
   * processor. Re-running is safe: the processor consults the row (and reads the Page back if it was `publishing`).
   * Returns how many finished jobs were revived.
   */
  async reEnqueueDeliveries(items: DeliveryJobData[]): Promise<number> {
    const states = await Promise.all(items.map((d) => this.deliveries.getJobState(deliveryJobId(d.deliveryId))));
    const finished = items.filter((_, i) => states[i] === 'failed' || states[i] === 'completed');
    await Promise.all(finished.map((d) => this.deliveries.remove(deliveryJobId(d.deliveryId))));
    await this.addDeliveries(items);
    return finished.length;
  }

  async counts() {
    const states = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children'] as const;
    const [fanout, deliveries] = await Promise.all([this.fanout.getJobCounts(...states), this.deliveries.getJobCounts(...states)]);
    return { fanout, deliveries };
  }

  async close(): Promise<void> {
    await Promise.all([this.fanout.close(), this.deliveries.close()]);
  }
}
