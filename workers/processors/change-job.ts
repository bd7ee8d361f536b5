import type { Job } from 'bullmq';
import type { GraphResponse } from '../../src/graph/graph-client';
import type { ChangeJobData } from '../../src/queues/catalog';
import type { TokenCipher } from '../../src/security/token-cipher';
import {
  LeaseExpiredError,
  type ClaimFor,
  type DeliveryError,
  type DeliveryLedger,
  type Lease,
  type LedgerDelivery,
} from '../../src/services/delivery/delivery-ledger';
import type { GraphClient } from '../../src/graph/graph-client';
import { awaitPageSlot, handlePageWriteFailure, later, observeUsage, type PageWriteDeps } from './page-write-policy';

export interface ChangeDeps extends PageWriteDeps {
  ledger: DeliveryLedger;
  graph: GraphClient;
  cipher: TokenCipher;
}

/** What a recall or edit does with one Page's copy; the rest (claim, pacing, fence, failure policy) is shared. */
export interface ChangeSpec {
  claim: ClaimFor;
  /** The Graph write, fenced by `fence`. */
  send(fbPostId: string, token: string, fence: () => void): Promise<GraphResponse<unknown>>;
  done(lease: Lease): Promise<unknown>;
  fail(lease: Lease, reason: string, error: DeliveryError | null): Promise<unknown>;
  /** Facebook says the post no longer exists (100/33). */
  gone(lease: Lease): Promise<string>;
  /** Outcome labels (the job's return value). */
  doneLabel: string;
  failLabel: string;
  /** Set when the change cannot be sent at all (e.g. the edit's text is missing): fails with this reason. */
  unsendable?: string | null;
  /** Asks for the post's roll-up (coalesced); called after every outcome, final or not. */
  rollUp(postId: string): void;
}

/**
 * Runs one recall or edit of one Page's copy under a fenced claim: only the holder of a live lease
 * writes to the Page, and a change retried later releases its lease first. A change whose Page was
 * unlinked or replaced fails (there is no token for the Page holding the post).
 */
export async function runChange(
  job: Job<ChangeJobData>,
  token: string | undefined,
  d: LedgerDelivery,
  spec: ChangeSpec,
  deps: ChangeDeps,
): Promise<string> {
  const { ledger } = deps;
  const takeoverAt = ledger.takeoverAt(d);
  if (takeoverAt > Date.now()) return later(job, token, takeoverAt - Date.now());
  const page =
    d.page && d.page.pageId === d.publishedPageId && d.page.tokenCiphertext ? { ...d.page, tokenCiphertext: d.page.tokenCiphertext } : null;
  if (d.fbPostId && page) await awaitPageSlot(job, token, deps.pacer, page.pageId);
  const lease = await ledger.claim(d, spec.claim);
  if (!lease) return 'lost_claim';
  try {
    const unsendable = spec.unsendable ?? (d.fbPostId ? null : 'fb_post_id_unknown');
    if (unsendable) {
      await spec.fail(lease, unsendable, null);
      return `${spec.failLabel}:${unsendable}`;
    }
    if (!page || !d.fbPostId) {
      await spec.fail(lease, 'page_unlinked', {
        code: null,
        subcode: null,
        message: 'the unit is no longer linked to the Page the post was published on',
      });
      return `${spec.failLabel}:page_unlinked`;
    }
    const log = deps.log.child({ deliveryId: d.id, postId: d.postId, unit: d.unitCode, job: job.name, attempt: job.attemptsMade + 1 });
    const fbPostId = d.fbPostId;
    try {
      const res = await spec.send(fbPostId, deps.cipher.decrypt(page.tokenCiphertext), () => lease.check());
      await spec.done(lease);
      await observeUsage(page.pageId, res.usage, deps);
      return spec.doneLabel;
    } catch (err) {
      if (err instanceof LeaseExpiredError) {
        log.warn('lease ran out before sending; nothing sent, the job runs again after the take-over delay');
        await ledger.release(lease);
        return later(job, token, ledger.settings.takeoverMs);
      }
      return await handlePageWriteFailure(
        { job, token, pageId: page.pageId, unitCode: d.unitCode },
        err,
        {
          fail: (reason, error) => spec.fail(lease, reason, error),
          // The row stays recalling / edit pending: release the lease so the retry can claim it at once.
          retryLater: () => ledger.release(lease),
          onGone: () => spec.gone(lease),
        },
        { ...deps, log },
      );
    }
  } finally {
    // Final or not, the roll-up decides; a retry or delay finds the change still open.
    spec.rollUp(d.postId);
  }
}
