import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Deps } from '../src/deps';
import { assertNever, dispatchName, JOB, QUEUE, QUEUES } from '../src/queues/catalog';
import { WebhookDispatcher } from '../src/services/webhooks/webhook-dispatcher';
import { processWebhook, type WebhookDeps } from './processors/webhook.processor';

/** Webhook POSTs in flight per worker process (receivers are few and internal; no need for more). */
const WEBHOOK_CONCURRENCY = 10;

export interface WebhookWorker {
  worker: Worker;
  /** Stops listening to events, waits for pending enqueues, then closes the worker (`force` drops in-flight POSTs; they are retried). */
  close(force?: boolean): Promise<void>;
}

/** The webhooks queue's jobs, by catalog name. */
async function dispatchWebhook(job: Job, deps: WebhookDeps): Promise<string> {
  const name = dispatchName(QUEUE.webhooks, job);
  switch (name) {
    case JOB.webhook:
      return processWebhook(job, deps);
    default:
      return assertNever(name);
  }
}

/** Subscribes the webhook dispatcher to this process's events and starts the `webhooks` worker. */
export function startWebhookWorker(deps: Deps, connection: Redis): WebhookWorker {
  const { config, log } = deps;
  const dispatcher = new WebhookDispatcher(deps.store.db, deps.webhooks, deps.queues, log.child({ component: 'webhooks' }));
  const unsubscribe = dispatcher.start(deps.events);
  const webhookDeps: WebhookDeps = { webhooks: deps.webhooks, metrics: deps.metrics, timeoutMs: config.env.WEBHOOK_TIMEOUT_MS };
  const worker = new Worker(QUEUE.webhooks, (job) => dispatchWebhook(job, webhookDeps), {
    connection,
    prefix: config.queue.prefix,
    concurrency: WEBHOOK_CONCURRENCY,
    ...QUEUES.webhooks.retention,
  });
  worker.on('error', (err) => log.error({ err: err.message, queue: QUEUE.webhooks }, 'worker error'));
  worker.on('failed', (job, err) => {
    if (job && (job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError)) {
      log.warn(
        {
          queue: QUEUE.webhooks,
          jobName: job.name,
          jobId: job.id,
          webhookId: job.data?.webhookId,
          event: job.data?.event?.type,
          err: err.message,
        },
        'webhook delivery failed for good',
      );
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
