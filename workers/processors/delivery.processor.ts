import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { TokenCipher } from '../../src/security/token-cipher';
import { LeaseExpiredError, type DeliveryLedger, type Lease, type LedgerDelivery } from '../../src/services/delivery/delivery-ledger';
import type { Publisher } from '../../src/services/delivery/publisher';
import { JOB, parseJobData, type DeliveryJobData } from '../../src/queues/catalog';
import { delayUntil } from '../../src/services/delivery/spread-plan';
import { WITHDRAWN_POST_STATUSES, type PostStatus } from '../../src/services/posts/post-status';
import { awaitPageSlot, handlePageWriteFailure, later, observeUsage, type PageWriteDeps } from './page-write-policy';

export interface DeliveryDeps extends PageWriteDeps {
  ledger: DeliveryLedger;
  publisher: Publisher;
  cipher: TokenCipher;
  /** Minimum wait after an ambiguous attempt started before the Page is read back (its request timeout + listing lag). */
  readbackDelayMs: number;
  log: Logger;
}

/** Reasons after which the next attempt must first look for a post an earlier attempt may have created. */
const AMBIGUOUS_REASONS = new Set(['outcome_unknown']);

const contentOf = (d: LedgerDelivery) => ({ message: d.message, link: d.link, photos: d.photos });

/**
 * Sends one delivery. The store decides: a delivery already published, failed or cancelled is never
 * sent again, whatever BullMQ replays; and a row is acted on only under a fenced claim, so a worker
 * frozen past its lock never sends after another worker took the row over. Returns a short outcome
 * label (kept as the job's return value).
 */
export async function processDelivery(job: Job<DeliveryJobData>, token: string | undefined, deps: DeliveryDeps): Promise<string> {
  const { ledger } = deps;
  // A job whose data was lost (Redis lost keys mid-flight) must fail visibly, not "succeed": the
  // reconciler then gives the delivery a fresh job. Throws UnrecoverableError.
  parseJobData(JOB.publish, job);
  const d = await ledger.load(job.data.deliveryId);
  if (!d) return 'missing';
  if (d.status !== 'queued' && d.status !== 'publishing') return `noop:${d.status}`;

  // A row left `publishing` is another attempt's (maybe a dead or frozen worker's): wait until its lease
  // is over and its last request can no longer land unseen, then resolve it by reading the Page back.
  const ambiguous = d.status === 'publishing' || (d.reason !== null && AMBIGUOUS_REASONS.has(d.reason));
  const previousStart = d.attemptStartedAt ? new Date(d.attemptStartedAt) : new Date(0);
  if (ambiguous) {
    const readyAt = Math.max(ledger.takeoverAt(d), previousStart.getTime() + deps.readbackDelayMs);
    if (readyAt > Date.now()) return later(job, token, readyAt - Date.now());
  }
  if (WITHDRAWN_POST_STATUSES.includes(d.postStatus as PostStatus)) {
    // Cancelled or recalled: never send; an interrupted attempt that did publish is recorded (and recalled).
    return cancelDelivery(d, deps, ambiguous);
  }
  const unusable = unusablePage(d.page);
  if (unusable) {
    // No Page, an unlinked one, one without a token yet, or its token is known broken: fail without calling Graph
    // (one call per Page, not one per post).
    const lease = await ledger.claim(d, { kind: 'publish', countAttempt: false });
    if (!lease) return 'lost_claim';
    const { reason, message } = unusable;
    await ledger.markFailed(d, lease, reason, { code: null, subcode: null, message });
    rollUpLater(d, deps);
    return `failed:${reason}`;
  }
  const page = { ...d.page!, tokenCiphertext: d.page!.tokenCiphertext! };

  // A spread post's delivery waits for its slot, whichever path enqueued the job (fan-out, reconciler, manual
  // retry, a promoted job): the slot is in the store, and waiting costs no attempt.
  const untilSlot = delayUntil(d.notBefore);
  if (untilSlot > 0) return later(job, token, untilSlot);

  // Per-Page spacing and throttle blocks, shared by all workers; waiting costs no attempt.
  await awaitPageSlot(job, token, deps.pacer, page.pageId);
  const lease = await ledger.claim(d, { kind: 'publish', countAttempt: true });
  if (!lease) return 'lost_claim';
  // The delivery's child logger is made only when something is logged (most deliveries log nothing).
  const log = (): Logger => deps.log.child({ deliveryId: d.id, postId: d.postId, unit: d.unitCode, attempt: d.attempts + 1 });
  const accessToken = deps.cipher.decrypt(page.tokenCiphertext);
  // True until this attempt has looked for the post an earlier attempt may have created.
  let unresolved = ambiguous;
  // When this attempt last handed a write to the socket (the fence's last check). A write whose answer is lost can
  // reach Graph up to GRAPH_TIMEOUT_MS after that (the sockets' TCP_USER_TIMEOUT), which may be well after the
  // claim (a slow read-back or photo uploads came first): the next read-back waits from here, not from the claim.
  let lastWriteAt: number | null = null;
  const fence = (): void => {
    lease.check();
    lastWriteAt = Date.now();
  };

  let res: Awaited<ReturnType<Publisher['publish']>>;
  try {
    if (ambiguous) {
      // An earlier attempt may have created the post and lost the answer: look before creating again.
      const found = await deps.publisher.findExisting(page.pageId, accessToken, contentOf(d), previousStart);
      if (found) {
        await ledger.markPublished(d, lease, found.fbPostId, found.permalink, 'recovered_after_unknown_outcome');
        rollUpLater(d, deps);
        log().info({ fbPostId: found.fbPostId }, 'earlier attempt had published; recorded without re-posting');
        return 'published:recovered';
      }
      unresolved = false;
    }
    res = await deps.publisher.publish(page.pageId, accessToken, contentOf(d), fence);
  } catch (err) {
    if (err instanceof LeaseExpiredError) return leaseExpired(job, token, lease, deps, log());
    return handlePageWriteFailure(
      { job, token, pageId: page.pageId, unitCode: d.unitCode, unresolved, creates: true },
      err,
      {
        fail: async (reason, error) => {
          await ledger.markFailed(d, lease, reason, error);
          rollUpLater(d, deps);
        },
        retryLater: (reason, error, refund) =>
          ledger.requeue(
            d,
            lease,
            reason,
            error,
            refund,
            unresolved ? d.attemptStartedAt : lastWriteAt === null ? null : new Date(lastWriteAt).toISOString(),
          ),
        onGone: async (reason, error) => {
          await ledger.markFailed(d, lease, reason, error);
          rollUpLater(d, deps);
          throw new UnrecoverableError(`${reason}: ${error.message}`);
        },
        onAlreadyPosted: async (reason) => {
          // Facebook says the content is already there: record it (with its id when we can read it back), never post again.
          const found = await deps.publisher.findExisting(page.pageId, accessToken, contentOf(d), new Date(0)).catch(() => null);
          await ledger.markPublished(d, lease, found?.fbPostId ?? null, found?.permalink ?? null, reason);
          rollUpLater(d, deps);
          return `published:${reason}`;
        },
      },
      { ...deps, log: log() },
    );
  }
  // The post exists now. An error from here on (the store refusing a connection, Redis for the pacer) is
  // not a failed create: it goes to BullMQ as is, the row stays `publishing`, and the retry reads the Page
  // back and records this post. Through the failure policy it was requeued as a plain `internal_error` and
  // the retry posted a second copy (found by the reliability suite).
  try {
    await ledger.markPublished(d, lease, res.fbPostId, res.permalink);
  } catch (err) {
    // The row stays `publishing` (so the retry reads the Page back) but is free: no need to wait out the lease.
    await ledger.release(lease).catch(() => undefined);
    throw err;
  }
  rollUpLater(d, deps);
  await observeUsage(page.pageId, res.usage, deps);
  return 'published';
}

/**
 * The lease ran out before the create was sent (a long read-back, or this process was paused): nothing
 * went out for it. The row stays `publishing` under this claim; whoever runs the job next (this job,
 * delayed, or another worker's copy) takes it over once the lease and the read-back delay are over,
 * and reads the Page back first (a photo staged by this attempt is left unpublished).
 */
function leaseExpired(
  job: Job<DeliveryJobData>,
  token: string | undefined,
  lease: Lease,
  deps: DeliveryDeps,
  log: Logger,
): Promise<string> {
  log.warn(
    { overMs: Math.round(-lease.remainingMs()) },
    'lease ran out before sending; nothing sent, the row will be taken over after the read-back delay',
  );
  return later(job, token, deps.ledger.settings.takeoverMs);
}

/**
 * The post was cancelled. A queued delivery simply becomes cancelled. One left `publishing` (or with an
 * unknown outcome) may have reached its Page: look first, and record it as published if it did (so the
 * operator sees it and can recall it) rather than pretend nothing was sent.
 */
async function cancelDelivery(d: LedgerDelivery, deps: DeliveryDeps, ambiguous: boolean): Promise<string> {
  const lease = await deps.ledger.claim(d, { kind: 'publish', countAttempt: false });
  if (!lease) return 'lost_claim';
  if (ambiguous && d.page?.tokenCiphertext) {
    const found = await deps.publisher
      .findExisting(
        d.page.pageId,
        deps.cipher.decrypt(d.page.tokenCiphertext),
        contentOf(d),
        d.attemptStartedAt ? new Date(d.attemptStartedAt) : new Date(0),
      )
      .catch(() => undefined);
    if (found === undefined) {
      // Back as it was (still ambiguous, same read-back window); the retry looks again.
      await deps.ledger.requeue(d, lease, 'outcome_unknown', null, false, d.attemptStartedAt);
      throw new Error('cancelled post: could not check whether an interrupted attempt had published; will retry');
    }
    if (found) {
      await deps.ledger.markPublished(d, lease, found.fbPostId, found.permalink, 'published_before_cancel');
      rollUpLater(d, deps);
      return 'published:before_cancel';
    }
  }
  await deps.ledger.markCancelled(d, lease);
  rollUpLater(d, deps);
  return 'cancelled';
}

/** The post's roll-up runs shortly after, coalesced with its neighbours; a failure is retried by the reconciler. */
function rollUpLater(d: LedgerDelivery, deps: DeliveryDeps): void {
  deps.ledger
    .requestRollUp(d.postId)
    .catch((err: Error) => deps.log.warn({ postId: d.postId, err: err.message }, 'roll-up failed; the reconciler will retry'));
}

/** Why a delivery's Page cannot be published to without calling Graph, or null when it can. */
function unusablePage(page: LedgerDelivery['page']): { reason: string; message: string } | null {
  if (!page) return { reason: 'no_page', message: 'the unit has no linked Page any more' };
  if (page.retired) return { reason: 'page_unlinked', message: 'the Page was unlinked from its unit after the post was sent out' };
  if (!page.tokenCiphertext) {
    return {
      reason: 'no_token',
      message: 'the Page is mapped to its unit but has no token yet: run the Business Manager sync or send the unit a connect link',
    };
  }
  if (page.tokenStatus === 'needs_reauth') {
    return { reason: 'needs_reauth', message: `Page token needs re-authorisation: ${page.tokenStatusReason ?? 'unknown reason'}` };
  }
  return null;
}
