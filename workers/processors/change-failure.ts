import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { classifyFailure } from '../../src/graph/classify';
import { GraphApiError } from '../../src/graph/graph-errors';
import type { DeliveryError } from '../../src/services/deliveries.service';

export interface ChangeFailureHooks {
  /** The change is final for this Page: record why (`gone` is handled by the caller's `onGone`). */
  fail(reason: string, error: DeliveryError): Promise<unknown>;
  /** Facebook says the post no longer exists (100/33). */
  onGone(error: DeliveryError): Promise<string>;
  /** The Page's token is broken: mark it so operators see it. */
  needsReauth(reason: string): Promise<unknown>;
}

/**
 * Maps a failed DELETE or edit of a published post onto the queue, like publishing does:
 * throttles wait without burning an attempt, transient errors retry with backoff (both calls are
 * idempotent, so an unknown outcome is simply retried), token and permanent errors are final.
 */
export async function handleChangeFailure(job: Job, token: string | undefined, err: unknown, hooks: ChangeFailureHooks, log: Logger): Promise<string> {
  const c = classifyFailure(err, 'delete');
  const error: DeliveryError = err instanceof GraphApiError ? { code: err.code, subcode: err.subcode ?? null, message: err.message } : { code: null, subcode: null, message: c.explanation };
  log.warn({ kind: c.kind, reason: c.reason, code: error.code, subcode: error.subcode, fbtraceId: err instanceof GraphApiError ? err.fbtraceId : undefined }, 'change attempt failed');
  switch (c.kind) {
    case 'gone':
      return hooks.onGone(error);
    case 'throttled_page':
    case 'throttled_app':
      if (!token) throw new Error('throttled without a job token');
      await job.moveToDelayed(Date.now() + (c.retryAfterMs ?? 60_000), token);
      throw new DelayedError();
    case 'reauth':
    case 'permission':
      await hooks.needsReauth(`${c.reason}: ${c.explanation}`);
      await hooks.fail(c.reason, error);
      throw new UnrecoverableError(`${c.reason}: ${c.explanation}`);
    case 'permanent':
    case 'already_posted':
      await hooks.fail(c.reason, error);
      throw new UnrecoverableError(`${c.reason}: ${c.explanation}`);
    case 'transient':
    case 'unknown_outcome':
      if (job.attemptsMade + 1 >= (job.opts.attempts ?? 1)) await hooks.fail('retries_exhausted', error);
      throw new Error(`${c.reason}: ${c.explanation}`);
  }
}
