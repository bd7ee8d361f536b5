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

  /** Enqueues the post's fan-out, delayed until `publishAt` when that is in the future. */
  async scheduleFanout(postId: string, publishAt: Date | null): Promise<void> {
    const delay = publishAt ? Math.max(0, publishAt.getTime() - Date.now()) : 0;
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

  async counts() {
    const states = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children'] as const;
    const [fanout, deliveries] = await Promise.all([this.fanout.getJobCounts(...states), this.deliveries.getJobCounts(...states)]);
    return { fanout, deliveries };
  }

  async close(): Promise<void> {
    await Promise.all([this.fanout.close(), this.deliveries.close()]);
  }
}
