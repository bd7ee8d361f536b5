import { DelayedError, RateLimitError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { classifyFailure } from '../../src/graph/classify';
import { GraphApiError, GraphHttpError } from '../../src/graph/graph-errors';
import type { GraphUsage } from '../../src/graph/usage';
import type { Deps } from '../../src/deps';
import type { Pacer } from '../../src/queues/pacer';
import type { DeliveryError } from '../../src/services/delivery/delivery-ledger';

/**
 * The one failure policy of every write to a Page (publish, recall, edit): how a Graph answer maps
 * onto the queue, the Page's pacing and the ledger. Publishing and changes differ only in what the
 * hooks record.
 */
export interface PageWriteDeps {
  pacer: Pacer;
  /** Pauses the whole deliveries queue (app-level throttle). */
  pauseQueue(ms: number): Promise<void>;
  /** The Page's token is broken: mark it so operators see it and other jobs skip the call. */
  markNeedsReauth(pageId: string, reason: string): Promise<void>;
  log: Logger;
}

export interface PageWrite {
  job: Job;
  /** BullMQ's lock token of the job (needed to delay it). */
  token: string | undefined;
  pageId: string;
  unitCode: string;
  /**
   * Publishing only: the attempt failed before its read-back finished, so an earlier attempt's post
   * may exist; reasons then say so, and the failing call was a read (its 100/33 or 500 is retryable).
   */
  unresolved?: boolean;
  /** Publishing only: an unknown outcome matters (a create may have gone through); changes are idempotent. */
  creates?: boolean;
}

export interface PageWriteHooks {
  /** The write is final for this Page: record why. */
  fail(reason: string, error: DeliveryError): Promise<unknown>;
  /** The job will run again (`refund`: the attempt did not count): put the row back for it. */
  retryLater(reason: string, error: DeliveryError, refund: boolean): Promise<unknown>;
  /** Facebook says the object is gone (100/33). */
  onGone(reason: string, error: DeliveryError): Promise<string>;
  /** Facebook says the content is already there (publishing). */
  onAlreadyPosted?(reason: string): Promise<string>;
}

/** What every Page write (publish, recall, edit) needs for the one failure policy. */
export function pageWriteDeps(deps: Deps): PageWriteDeps {
  return {
    pacer: deps.pacer,
    pauseQueue: (ms) => deps.queues.deliveries.rateLimit(ms),
    markNeedsReauth: (pageId, reason) => deps.ledger.markPageNeedsReauth(pageId, reason),
    log: deps.log,
  };
}

const errorOf = (err: unknown, explanation: string): DeliveryError =>
  err instanceof GraphApiError
    ? { code: err.code, subcode: err.subcode ?? null, message: err.message }
    : { code: null, subcode: null, message: explanation };

/** Waits without consuming an attempt (nothing was sent): the job is delayed and retried later. */
export async function later(job: Job, token: string | undefined, ms: number): Promise<never> {
  if (!token) throw new Error('cannot delay a job without its token');
  await job.moveToDelayed(Date.now() + ms + Math.floor(Math.random() * 250), token);
  throw new DelayedError();
}

/** Waits for the Page's pacing slot (spacing and throttle blocks shared by every worker; no attempt used). */
export async function awaitPageSlot(job: Job, token: string | undefined, pacer: Pacer, pageId: string): Promise<void> {
  const wait = await pacer.reserve(pageId);
  if (wait > 0) await later(job, token, wait);
}

/** After a successful write: the usage headers stretch the Page's spacing, or pause every Page when the app is near its limit. */
export async function observeUsage(pageId: string, usage: GraphUsage | null | undefined, deps: PageWriteDeps): Promise<void> {
  const verdict = await deps.pacer.observe(pageId, usage);
  if (verdict.kind === 'app_blocked') await deps.pauseQueue(verdict.ms);
}

/**
 * Maps a failed Page write onto the queue. Throttles never burn an attempt: a Page-level one holds
 * that Page (its other jobs see the block before calling Graph), an app-level one pauses the whole
 * queue and puts the job back unspent. Token and permission errors mark the Page and are final;
 * transient errors retry with backoff until the attempts run out.
 */
export async function handlePageWriteFailure(w: PageWrite, err: unknown, hooks: PageWriteHooks, deps: PageWriteDeps): Promise<string> {
  const c = classifyFailure(err, w.creates ? (w.unresolved ? 'read' : 'write') : 'delete');
  const error = errorOf(err, c.explanation);
  const unresolved = w.unresolved === true;
  const lastAttempt = w.job.attemptsMade + 1 >= (w.job.opts.attempts ?? 1);
  deps.log.warn(
    {
      kind: c.kind,
      reason: c.reason,
      code: error.code,
      subcode: error.subcode,
      fbtraceId: err instanceof GraphApiError ? err.fbtraceId : undefined,
      job: w.job.name,
      attempt: w.job.attemptsMade + 1,
    },
    'page write failed',
  );
  // Usage headers come with errors too: high usage stretches the spacing, app-level usage pauses all Pages.
  const usage = err instanceof GraphApiError || err instanceof GraphHttpError ? err.usage : null;
  const verdict = await deps.pacer.observe(w.pageId, usage).catch(() => ({ kind: 'ok' as const }));
  if (verdict.kind === 'app_blocked' && c.kind !== 'throttled_app') await deps.pauseQueue(verdict.ms);
  const retryReason = (reason: string) => (unresolved ? 'outcome_unknown' : reason);
  switch (c.kind) {
    case 'throttled_page': {
      const ms = c.retryAfterMs ?? 60_000;
      await deps.pacer.blockPage(w.pageId, ms);
      await hooks.retryLater(retryReason(c.reason), error, true);
      return later(w.job, w.token, ms);
    }
    case 'throttled_app':
      await hooks.retryLater(retryReason(c.reason), error, true);
      await deps.pauseQueue(c.retryAfterMs ?? 60_000);
      throw new RateLimitError();
    case 'reauth':
    case 'permission':
      await deps.markNeedsReauth(w.pageId, `${c.reason}: ${c.explanation}`);
      // If the read-back could not run, an earlier attempt's post may exist: say so in the reason.
      await hooks.fail(unresolved ? `${c.reason}_outcome_unknown` : c.reason, error);
      throw new UnrecoverableError(`${c.reason}: ${c.explanation}`);
    case 'already_posted':
      if (hooks.onAlreadyPosted) return hooks.onAlreadyPosted(c.reason);
      await hooks.fail(c.reason, error);
      throw new UnrecoverableError(`${c.reason}: ${c.explanation}`);
    case 'gone':
      return hooks.onGone(c.reason, error);
    case 'permanent':
      await hooks.fail(c.reason, error);
      throw new UnrecoverableError(`${c.reason}: ${c.explanation}`);
    case 'transient':
    case 'unknown_outcome': {
      const unknown = w.creates === true && (unresolved || c.kind === 'unknown_outcome');
      if (lastAttempt) await hooks.fail(unknown ? 'outcome_unknown_exhausted' : 'retries_exhausted', error);
      else await hooks.retryLater(unknown ? 'outcome_unknown' : c.reason, error, false);
      throw new Error(`${c.reason}: ${c.explanation}`);
    }
  }
}
