import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { UnavailableError } from '../errors/app-error';

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
  /** Manual retry round (0 for the first fan-out). */
  round?: number;
}

/** Deterministic job ids: re-adding an existing job is a no-op, so every enqueue can be retried. */
export const fanoutJobId = (postId: string) => `fanout-${postId}`;
export const deliveryJobId = (deliveryId: number, round = 0) => (round ? `dlv-${deliveryId}-r${round}` : `dlv-${deliveryId}`);

export interface QueueSettings {
  prefix: string;
  attempts: number;
  backoffMs: number;
}

export class Queues {
  readonly fanout: Queue<FanoutJobData>;
  readonly deliveries: Queue<DeliveryJobData>;

  constructor(private readonly connection: Redis, private readonly settings: QueueSettings) {
    const common = { connection, prefix: settings.prefix, streams: { events: { maxLen: 2_000 } } };
    this.fanout = new Queue<FanoutJobData>(QUEUE.fanout, common);
    this.deliveries = new Queue<DeliveryJobData>(QUEUE.deliveries, common);
  }

  /**
   * Fails fast while Redis is not connected: BullMQ would otherwise wait for the connection, and an
   * API request would hang instead of answering (the store keeps the intent; the reconciler enqueues later).
   */
  private async available<T>(op: () => Promise<T>, timeoutMs = 5_000): Promise<T> {
    if (this.connection.status !== 'ready') await this.waitReady(Math.min(timeoutMs, 2_000));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new UnavailableError('queue backend (Redis) did not answer in time')), timeoutMs);
    });
    try {
      return await Promise.race([op(), timeout]);
    } catch (err) {
      if (err instanceof UnavailableError) throw err;
      throw new UnavailableError(`queue backend (Redis) unavailable: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private waitReady(ms: number): Promise<void> {
    if (this.connection.status === 'end' || this.connection.status === 'close') {
      return Promise.reject(new UnavailableError(`queue backend (Redis) unavailable: connection ${this.connection.status}`));
    }
    return new Promise((resolve, reject) => {
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.connection.off('ready', onReady);
        reject(new UnavailableError(`queue backend (Redis) unavailable: connection ${this.connection.status}`));
      }, ms);
      this.connection.once('ready', onReady);
    });
  }

  /**
   * Enqueues the post's fan-out, delayed until `publishAt` when that is in the future. Callers (approve,
   * reconciler) only ask for posts the store says still need it, so a job of that id that BullMQ already
   * failed ("job stalled more than allowable limit" after two workers died holding it, or 5 failed
   * attempts) is replaced: re-adding its id would be a silent no-op and the post would stay `approved`.
   */
  async scheduleFanout(postId: string, publishAt: Date | null): Promise<void> {
    const delay = publishAt ? Math.max(0, publishAt.getTime() - Date.now()) : 0;
    await this.available(async () => {
      if ((await this.fanout.getJobState(fanoutJobId(postId))) === 'failed') await this.fanout.remove(fanoutJobId(postId));
      return this.fanout.add(JOB.fanout, { postId }, { jobId: fanoutJobId(postId), delay, attempts: 5, backoff: { type: 'exponential', delay: 2_000 } });
    });
  }

  /** Removes a not-yet-started fan-out; returns false if it is running (the worker then sees the cancel in the store). */
  async removeFanout(postId: string): Promise<boolean> {
    return (await this.available(() => this.fanout.remove(fanoutJobId(postId)))) === 1;
  }

  deliveryJob(d: DeliveryJobData): { name: string; data: DeliveryJobData; opts: JobsOptions } {
    return {
      name: JOB.deliver,
      data: d,
      opts: {
        jobId: deliveryJobId(d.deliveryId, d.round),
        attempts: this.settings.attempts,
        backoff: { type: 'exponential', delay: this.settings.backoffMs, jitter: 0.5 },
      },
    };
  }

  async addDeliveries(items: DeliveryJobData[]): Promise<void> {
    if (items.length) await this.available(() => this.deliveries.addBulk(items.map((d) => this.deliveryJob(d))), 30_000);
  }

  async counts() {
    const states = ['waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized', 'waiting-children'] as const;
    // Redis down is a passing condition for the caller to retry (503), not a server bug.
    const [fanout, deliveries] = await this.available(() => Promise.all([this.fanout.getJobCounts(...states), this.deliveries.getJobCounts(...states)]));
    return { fanout, deliveries };
  }

  async close(): Promise<void> {
    await Promise.all([this.fanout.close(), this.deliveries.close()]);
  }
}
