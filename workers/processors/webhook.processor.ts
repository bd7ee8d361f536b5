import { UnrecoverableError, type Job } from 'bullmq';
import type { Metrics } from '../../src/metrics/metrics';
import { JOB, parseJobData, type WebhookJobData } from '../../src/queues/catalog';
import { describePostError, postOnce } from '../../src/services/webhooks/webhook-http';
import { signWebhook, WEBHOOK_HEADERS } from '../../src/services/webhooks/webhook-signature';
import type { WebhooksService } from '../../src/services/webhooks/webhooks.service';

export interface WebhookDeps {
  webhooks: WebhooksService;
  metrics: Metrics;
  timeoutMs: number;
}

/** Answers worth another attempt; any other non-2xx is the receiver saying no (redirects are not followed). */
const RETRYABLE_STATUS = (s: number) => s >= 500 || s === 408 || s === 425 || s === 429;

/**
 * POSTs one event to one webhook, signed afresh on every attempt (a new timestamp each time), and logs
 * the attempt. Throws so BullMQ retries with backoff; UnrecoverableError for answers not worth retrying.
 * The receiver's body is never read or stored: the log only says what came back.
 */
export async function processWebhook(job: Job<WebhookJobData>, deps: WebhookDeps): Promise<string> {
  const { webhookId, event } = parseJobData(JOB.webhook, job);
  const hook = await deps.webhooks.loadForSend(webhookId);
  if (!hook) return 'gone';
  const attempt = job.attemptsMade + 1;
  const body = JSON.stringify(event);
  const timestamp = Math.floor(Date.now() / 1000);
  const started = performance.now();
  let status: number | null = null;
  let error: string | null = null;
  try {
    status = await postOnce(
      hook.url,
      body,
      {
        'content-type': 'application/json',
        'user-agent': 'lantoa-webhooks/1',
        [WEBHOOK_HEADERS.timestamp]: String(timestamp),
        [WEBHOOK_HEADERS.signature]: signWebhook(hook.secret, timestamp, body),
        [WEBHOOK_HEADERS.event]: event.type,
        [WEBHOOK_HEADERS.eventId]: event.id,
      },
      deps.timeoutMs,
    );
  } catch (err) {
    error = describePostError(err);
  }
  const ok = status !== null && status >= 200 && status < 300;
  const retryable = !ok && (status === null || RETRYABLE_STATUS(status));
  const last = attempt >= (job.opts.attempts ?? 1);
  const outcome = ok ? 'delivered' : retryable && !last ? 'retrying' : 'failed';
  if (!ok && error === null) {
    error = status !== null && status >= 300 && status < 400 ? `HTTP ${status} (redirects are not followed)` : `HTTP ${status}`;
  }
  await deps.webhooks.recordAttempt({
    webhookId,
    eventId: event.id,
    eventType: event.type,
    attempt,
    statusCode: status,
    outcome,
    error,
    durationMs: performance.now() - started,
  });
  deps.metrics.webhookDeliveries.inc({ event: event.type, outcome });
  if (ok) return 'delivered';
  if (!retryable) throw new UnrecoverableError(error ?? 'rejected');
  throw new Error(error ?? 'failed');
}
