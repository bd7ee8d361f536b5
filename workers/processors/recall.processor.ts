import type { Job } from 'bullmq';
import type { Pacer } from '../../src/queues/pacer';
import type { Logger } from 'pino';
import type { GraphClient } from '../../src/graph/graph-client';
import { JOB, parseJobData, type ChangeJobData } from '../../src/queues/catalog';
import type { TokenCipher } from '../../src/security/token-cipher';
import type { ChangeLedger } from '../../src/services/change-ledger';
import type { DeliveriesService } from '../../src/services/deliveries.service';
import type { RecallService } from '../../src/services/recall.service';
import { awaitPageSlot, handleChangeFailure } from './change-failure';

export interface ChangeDeps {
  ledger: ChangeLedger;
  deliveries: DeliveriesService;
  graph: GraphClient;
  cipher: TokenCipher;
  /** The same per-Page spacing and throttle blocks as publishing. */
  pacer: Pacer;
  log: Logger;
}

/**
 * Deletes one Page's copy of a recalled post. The store decides: only a `recalling` delivery is
 * acted on, so a replayed job is a no-op. Already deleted on Facebook (100/33) counts as recalled.
 */
export async function processRecall(job: Job<ChangeJobData>, token: string | undefined, deps: ChangeDeps & { recalls: RecallService }): Promise<string> {
  parseJobData(JOB.recall, job); // data that does not parse fails the job for good
  const { ledger, recalls } = deps;
  const d = await ledger.load(job.data.deliveryId);
  if (!d) return 'missing';
  if (d.status !== 'recalling') return `noop:${d.status}`;
  const done = (outcome: string) => {
    recalls.requestRollUp(d.postId);
    return outcome;
  };
  if (!d.fbPostId) {
    await ledger.markRecallFailed(d.id, 'fb_post_id_unknown', null);
    return done('recall_failed:fb_post_id_unknown');
  }
  if (!d.page || d.page.pageId !== d.pageId) {
    // The unit's Page was unlinked or replaced: there is no token for the Page holding the post.
    await ledger.markRecallFailed(d.id, 'page_unlinked', { code: null, subcode: null, message: 'the unit is no longer linked to the Page the post was published on' });
    return done('recall_failed:page_unlinked');
  }
  const log = deps.log.child({ deliveryId: d.id, postId: d.postId, unit: d.unitCode, job: 'recall', attempt: job.attemptsMade + 1 });
  await awaitPageSlot(job, token, deps.pacer, d.page.pageId);
  try {
    await deps.graph.deletePost(d.fbPostId, deps.cipher.decrypt(d.page.tokenCiphertext));
    await ledger.markRecalled(d.id, 'recalled');
    return done('recalled');
  } catch (err) {
    try {
      return await handleChangeFailure(
        job,
        token,
        err,
        {
          fail: (reason, error) => ledger.markRecallFailed(d.id, reason, error),
          onGone: async () => {
            await ledger.markRecalled(d.id, 'already_deleted');
            return 'recalled:already_deleted';
          },
          needsReauth: (reason) => deps.deliveries.markPageNeedsReauth(d.unitCode, reason),
          blockPage: (ms) => deps.pacer.blockPage(d.page!.pageId, ms),
        },
        log,
      );
    } finally {
      // Final or not, the roll-up decides; a retry or delay finds the recall still open.
      recalls.requestRollUp(d.postId);
    }
  }
}
