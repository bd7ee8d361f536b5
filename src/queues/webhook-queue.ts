import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';

export const WEBHOOK_QUEUE = 'webhooks';
export const WEBHOOK_JOB = 'webhook.send';

/** The body a receiver gets (signed as sent). Carries ids and counts, never a token or a secret. */
export interface WebhookEventBody {
  /** Stable per event: the same across retries, so receivers can deduplicate. */
  id: string;
  type: string;
  createdAt: string;
  data: Record<string, unknown>;
}

export interface WebhookJobData {
  webhookId: string;
  event: WebhookEventBody;
}

/** Deterministic: one job per (webhook, event), so an event raised twice is sent once while the job exists. */
export const webhookJobId = (webhookId: string, eventId: string) => `wh-${webhookId}-${eventId}`;

/** The `webhooks` BullMQ queue: one job per (webhook, event), retried with exponential backoff. */
export class WebhookQueue {
  readonly queue: Queue<WebhookJobData>;

  constructor(connection: Redis, private readonly settings: { prefix: string; attempts: number; backoffMs: number }) {
    this.queue = new Queue<WebhookJobData>(WEBHOOK_QUEUE, { connection, prefix: settings.prefix, streams: { events: { maxLen: 2_000 } } });
  }

  async add(jobs: WebhookJobData[]): Promise<void> {
    if (jobs.length === 0) return;
    await this.queue.addBulk(
      jobs.map((data) => ({
        name: WEBHOOK_JOB,
        data,
        opts: {
          jobId: webhookJobId(data.webhookId, data.event.id),
          attempts: this.settings.attempts,
          backoff: { type: 'exponential', delay: this.settings.backoffMs, jitter: 0.3 },
          removeOnComplete: { age: 24 * 3600, count: 10_000 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      })),
    );
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}
