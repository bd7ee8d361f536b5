import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { classifyFailure } from '../../src/graph/classify';
import { GraphApiError } from '../../src/graph/graph-errors';
import type { Pacer } from '../../src/queues/pacer';
import type { DeliveryError } from '../../src/services/deliveries.service';

export interface ChangeFailureHooks {
  /** The change is final for this Page: record why (`gone` is handled by the caller's `onGone`). */
  fail(reason: string, error: DeliveryError): Promise<unknown>;
  /** Facebook says the post no longer exists (100/33). */
  onGone(error: DeliveryError): Promise<string>;
  /** The Page's token is broken: mark it so operators see it. */
  needsReauth(reason: string): Promise<unknown>;
  /** The Page is throttled: hold every write to it for `ms`. */
  blockPage(ms: number): Promise<unknown>;
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
      if (c.kind === 'throttled_page') await hooks.blockPage(c.retryAfterMs ?? 60_000);
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

/** Waits for the Page's pacing slot (no attempt used): the job is delayed when the Page is busy or blocked. */
export async function awaitPageSlot(job: Job, token: string | undefined, pacer: Pacer, pageId: string): Promise<void> {
  const wait = await pacer.reserve(pageId);
  if (wait <= 0) return;
  if (!token) throw new Error('cannot delay a job without its token');
  await job.moveToDelayed(Date.now() + wait + Math.floor(Math.random() * 250), token);
  throw new DelayedError();
}
