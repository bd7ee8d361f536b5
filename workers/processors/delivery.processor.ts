import { DelayedError, RateLimitError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { classifyFailure } from '../../src/graph/classify';
import { GraphApiError, GraphHttpError } from '../../src/graph/graph-errors';
import type { Pacer } from '../../src/queues/pacer';
import type { TokenCipher } from '../../src/security/token-cipher';
import type { DeliveriesService, DeliveryError, DeliveryToSend } from '../../src/services/deliveries.service';
import type { Publisher } from '../../src/services/publisher';
import { JOB, parseJobData, type DeliveryJobData } from '../../src/queues/catalog';
import { WITHDRAWN_POST_STATUSES, type PostStatus } from '../../src/services/post-status';

export interface DeliveryDeps {
  deliveries: DeliveriesService;
  publisher: Publisher;
  cipher: TokenCipher;
  pacer: Pacer;
  /** Pauses the whole deliveries queue (app-level throttle). */
  pauseQueue(ms: number): Promise<void>;
  /** Minimum wait after an ambiguous attempt started before the Page is read back (its request timeout + listing lag). */
  readbackDelayMs: number;
  log: Logger;
}

/** Waits without consuming an attempt (nothing was sent): the job is delayed and retried later. */
async function later(job: Job<DeliveryJobData>, token: string | undefined, ms: number): Promise<never> {
  if (!token) throw new Error('cannot delay a job without its token');
  await job.moveToDelayed(Date.now() + ms + Math.floor(Math.random() * 250), token);
  throw new DelayedError();
}

/** Reasons after which the next attempt must first look for a post an earlier attempt may have created. */
const AMBIGUOUS_REASONS = new Set(['outcome_unknown']);

function errorOf(err: unknown, explanation: string): DeliveryError {
  if (err instanceof GraphApiError) return { code: err.code, subcode: err.subcode ?? null, message: err.message };
  return { code: null, subcode: null, message: explanation };
}

/**
 * Sends one delivery. The store decides: a delivery already published, failed or cancelled is never
 * sent again, whatever BullMQ replays. Returns a short outcome label (kept as the job's return value).
 */
export async function processDelivery(job: Job<DeliveryJobData>, token: string | undefined, deps: DeliveryDeps): Promise<string> {
  const { deliveries, publisher, cipher } = deps;
  // A job whose data was lost (Redis lost keys mid-flight) must fail visibly, not "succeed": the
  // reconciler then gives the delivery a fresh job. Throws UnrecoverableError.
  parseJobData(JOB.publish, job);
  const d = await deliveries.loadForSend(job.data.deliveryId);
  if (!d) return 'missing';
  if (d.status !== 'queued' && d.status !== 'publishing') return `noop:${d.status}`;
  if (WITHDRAWN_POST_STATUSES.includes(d.postStatus as PostStatus)) {
    // Cancelled or recalled: never send; an interrupted attempt that did publish is recorded (and recalled).
    return cancelDelivery(d, deps);
  }
  if (!d.page) {
    await deliveries.markFailed(d, 'no_page', { code: null, subcode: null, message: 'the unit has no linked Page any more' });
    rollUpLater(d, deps);
    return 'failed:no_page';
  }
  if (d.page.tokenStatus === 'needs_reauth') {
    // The token is known broken: fail without calling Graph (one call per Page, not one per post).
    await deliveries.markFailed(d, 'needs_reauth', { code: null, subcode: null, message: `Page token needs re-authorisation: ${d.page.tokenStatusReason ?? 'unknown reason'}` });
    rollUpLater(d, deps);
    return 'failed:needs_reauth';
  }

  const ambiguous = d.status === 'publishing' || (d.reason !== null && AMBIGUOUS_REASONS.has(d.reason));
  const previousStart = d.attemptStartedAt ? new Date(d.attemptStartedAt) : new Date(0);
  if (ambiguous) {
    // Graph may take a moment to list a just-created post: reading back too early would post it twice.
    const readyAt = previousStart.getTime() + deps.readbackDelayMs;
    if (readyAt > Date.now()) return later(job, token, readyAt - Date.now());
  }
  // Per-Page spacing and throttle blocks, shared by all workers; waiting costs no attempt.
  const wait = await deps.pacer.reserve(d.page.pageId);
  if (wait > 0) return later(job, token, wait);
  if (!(await deliveries.claim(d.id))) return 'lost_claim';
  const log = deps.log.child({ deliveryId: d.id, postId: d.postId, unit: d.unitCode, attempt: d.attempts + 1 });
  const accessToken = cipher.decrypt(d.page.tokenCiphertext);
  const content = { message: d.message, link: d.link, photos: d.photos };
  // True until this attempt has looked for the post an earlier attempt may have created.
  let unresolved = ambiguous;

  let res: Awaited<ReturnType<Publisher['publish']>>;
  try {
    if (ambiguous) {
      // An earlier attempt may have created the post and lost the answer: look before creating again.
      const found = await publisher.findExisting(d.page.pageId, accessToken, content, previousStart);
      if (found) {
        await deliveries.markPublished(d, found.fbPostId, found.permalink, 'recovered_after_unknown_outcome');
        rollUpLater(d, deps);
        log.info({ fbPostId: found.fbPostId }, 'earlier attempt had published; recorded without re-posting');
        return 'published:recovered';
      }
      unresolved = false;
    }
    res = await publisher.publish(d.page.pageId, accessToken, content);
  } catch (err) {
    return handleFailure(job, token, d, err, deps, log, unresolved);
  }
  // The post exists now. An error from here on (the store refusing a connection, Redis for the pacer) is
  // not a failed create: it goes to BullMQ as is, the row stays `publishing`, and the retry reads the Page
  // back and records this post. Through handleFailure it was requeued as a plain `internal_error` and the
  // retry posted a second copy (found by the reliability suite).
  await deliveries.markPublished(d, res.fbPostId, res.permalink);
  rollUpLater(d, deps);
  const verdict = await deps.pacer.observe(d.page.pageId, res.usage);
  if (verdict.kind === 'app_blocked') await deps.pauseQueue(verdict.ms);
  return 'published';
}

/**
 * The post was cancelled. A queued delivery simply becomes cancelled. One left `publishing` by a
 * dead worker may have reached its Page: look first, and record it as published if it did (so the
 * operator sees it and can recall it) rather than pretend nothing was sent.
 */
async function cancelDelivery(d: DeliveryToSend, deps: DeliveryDeps): Promise<string> {
  if (d.status === 'publishing' && d.page) {
    const found = await deps.publisher
      .findExisting(d.page.pageId, cipherToken(d, deps), { message: d.message, link: d.link, photos: d.photos }, d.attemptStartedAt ? new Date(d.attemptStartedAt) : new Date(0))
      .catch(() => undefined);
    if (found === undefined) throw new Error('cancelled post: could not check whether an interrupted attempt had published; will retry');
    if (found) {
      await deps.deliveries.markPublished(d, found.fbPostId, found.permalink, 'published_before_cancel');
      rollUpLater(d, deps);
      return 'published:before_cancel';
    }
  }
  await deps.deliveries.markCancelled(d);
  rollUpLater(d, deps);
  return 'cancelled';
}

/** The post's roll-up runs shortly after, coalesced with its neighbours; a failure is retried by the reconciler. */
function rollUpLater(d: DeliveryToSend, deps: DeliveryDeps): void {
  deps.deliveries.requestRollUp(d.postId).catch((err: Error) => deps.log.warn({ postId: d.postId, err: err.message }, 'roll-up failed; the reconciler will retry'));
}

function cipherToken(d: DeliveryToSend, deps: DeliveryDeps): string {
  return deps.cipher.decrypt(d.page!.tokenCiphertext);
}

/**
 * `unresolved`: the attempt failed before its read-back finished, so an earlier attempt's post may still
 * exist. The retry must look again, over a window that starts at that earlier attempt: the row keeps
 * `outcome_unknown` and the earlier `attempt_started_at`, whatever this failure was (a throttle included).
 */
async function handleFailure(
  job: Job<DeliveryJobData>,
  token: string | undefined,
  d: DeliveryToSend,
  err: unknown,
  deps: DeliveryDeps,
  log: Logger,
  unresolved: boolean,
): Promise<string> {
  const { deliveries } = deps;
  // While unresolved, the failing call was the read-back, not a create: a read's 100/33 or 500 is retryable.
  const c = classifyFailure(err, unresolved ? 'read' : 'write');
  const error = errorOf(err, c.explanation);
  const keepStart = unresolved ? d.attemptStartedAt : null;
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  log.warn({ kind: c.kind, reason: c.reason, code: error.code, subcode: error.subcode, fbtraceId: err instanceof GraphApiError ? err.fbtraceId : undefined }, 'delivery attempt failed');
  const usage = err instanceof GraphApiError || err instanceof GraphHttpError ? err.usage : null;
  const verdict = await deps.pacer.observe(d.page!.pageId, usage).catch(() => ({ kind: 'ok' as const }));
  if (verdict.kind === 'app_blocked' && c.kind !== 'throttled_app') await deps.pauseQueue(verdict.ms);
  switch (c.kind) {
    case 'throttled_page': {
      // Throttling never burns an attempt: back to queued, attempt refunded; the whole Page waits
      // (its other deliveries see the block before calling Graph), other Pages carry on.
      const ms = c.retryAfterMs ?? 60_000;
      await deps.pacer.blockPage(d.page!.pageId, ms);
      await deliveries.requeue(d, unresolved ? 'outcome_unknown' : c.reason, error, true, keepStart);
      return later(job, token, ms);
    }
    case 'throttled_app': {
      // An app-level limit (4, 17, 341) stops every Page: pause the queue, put the job back unspent.
      await deliveries.requeue(d, unresolved ? 'outcome_unknown' : c.reason, error, true, keepStart);
      await deps.pauseQueue(c.retryAfterMs ?? 60_000);
      throw new RateLimitError();
    }
    case 'reauth':
    case 'permission':
      await deliveries.markPageNeedsReauth(d.unitCode, `${c.reason}: ${c.explanation}`);
      // If the read-back could not run, an earlier attempt's post may exist: say so in the reason.
      await deliveries.markFailed(d, unresolved ? `${c.reason}_outcome_unknown` : c.reason, error);
      rollUpLater(d, deps);
      throw new UnrecoverableError(`${c.reason}: ${c.explanation}`);
    case 'already_posted': {
      // Facebook says the content is already there: record it (with its id when we can read it back), never post again.
      const found = await deps.publisher
        .findExisting(d.page!.pageId, cipherToken(d, deps), { message: d.message, link: d.link, photos: d.photos }, new Date(0))
        .catch(() => null);
      await deliveries.markPublished(d, found?.fbPostId ?? null, found?.permalink ?? null, c.reason);
      rollUpLater(d, deps);
      return `published:${c.reason}`;
    }
    case 'permanent':
    case 'gone':
      await deliveries.markFailed(d, c.reason, error);
      rollUpLater(d, deps);
      throw new UnrecoverableError(`${c.reason}: ${c.explanation}`);
    case 'transient':
    case 'unknown_outcome': {
      const unknown = unresolved || c.kind === 'unknown_outcome';
      if (lastAttempt) {
        await deliveries.markFailed(d, unknown ? 'outcome_unknown_exhausted' : 'retries_exhausted', error);
        rollUpLater(d, deps);
      } else {
        await deliveries.requeue(d, unknown ? 'outcome_unknown' : c.reason, error, false, keepStart);
      }
      throw new Error(`${c.reason}: ${c.explanation}`);
    }
  }
}
