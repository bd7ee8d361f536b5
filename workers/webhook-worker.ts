import { Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Deps } from '../src/deps';
import { WEBHOOK_QUEUE, type WebhookJobData } from '../src/queues/webhook-queue';
import { WebhookDispatcher } from '../src/services/webhook-dispatcher';
import { processWebhook } from './processors/webhook.processor';

/** Webhook POSTs in flight per worker process (receivers are few and internal; no need for more). */
const WEBHOOK_CONCURRENCY = 10;

export interface WebhookWorker {
  worker: Worker<WebhookJobData>;
  /** Stops listening to events, waits for pending enqueues, then closes the worker (`force` drops in-flight POSTs; they are retried). */
  close(force?: boolean): Promise<void>;
}

/** Subscribes the webhook dispatcher to this process's events and starts the `webhooks` worker. */
export function startWebhookWorker(deps: Deps, connection: Redis): WebhookWorker {
  const { config, log } = deps;
  const dispatcher = new WebhookDispatcher(deps.store.db, deps.webhooks, deps.webhookQueue, log.child({ component: 'webhooks' }));
  const unsubscribe = dispatcher.start(deps.events);
  const worker = new Worker<WebhookJobData>(WEBHOOK_QUEUE, (job) => processWebhook(job, { webhooks: deps.webhooks, metrics: deps.metrics, timeoutMs: config.env.WEBHOOK_TIMEOUT_MS }), {
    connection,
    prefix: config.queue.prefix,
    concurrency: WEBHOOK_CONCURRENCY,
  });
  worker.on('error', (err) => log.error({ err: err.message, queue: WEBHOOK_QUEUE }, 'worker error'));
  worker.on('failed', (job, err) => {
    if (job && (job.attemptsMade >= (job.opts.attempts ?? 1) || err.name === 'UnrecoverableError')) {
      log.warn({ queue: WEBHOOK_QUEUE, jobId: job.id, webhookId: job.data.webhookId, event: job.data.event.type, err: err.message }, 'webhook delivery failed for good');
    }
  });
  return {
    worker,
    async close(force = false) {
      unsubscribe();
      await dispatcher.drain();
      await worker.close(force);
    },
  };
}
