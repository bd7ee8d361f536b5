import type { Job } from 'bullmq';
import { JOB, parseJobData, type ChangeJobData } from '../../src/queues/catalog';
import type { EditsService } from '../../src/services/edits.service';
import { awaitPageSlot, handleChangeFailure } from './change-failure';
import type { ChangeDeps } from './recall.processor';

/**
 * Applies an approved edit to one Page (`POST /{post-id}` with the new message). Acts only while the
 * delivery's edit of this revision is pending; setting the same message twice is harmless.
 */
export async function processEdit(job: Job<ChangeJobData>, token: string | undefined, deps: ChangeDeps & { edits: EditsService }): Promise<string> {
  parseJobData(JOB.edit, job); // data that does not parse fails the job for good
  const { ledger, edits } = deps;
  const revision = job.data.revision;
  const d = await ledger.load(job.data.deliveryId);
  if (!d) return 'missing';
  if (d.editRevision !== revision || d.editStatus !== 'pending' || d.status !== 'published') return `noop:${d.status}/${d.editStatus ?? 'none'}@${d.editRevision}`;
  const done = (outcome: string) => {
    edits.requestRollUp(d.postId);
    return outcome;
  };
  const message = await edits.messageOf(d.postId, revision);
  if (!d.fbPostId || message === undefined) {
    await ledger.markEditFailed(d.id, revision, d.fbPostId ? 'edit_missing' : 'fb_post_id_unknown');
    return done('edit_failed');
  }
  if (!d.page || d.page.pageId !== d.pageId) {
    await ledger.markEditFailed(d.id, revision, 'page_unlinked');
    return done('edit_failed:page_unlinked');
  }
  const log = deps.log.child({ deliveryId: d.id, postId: d.postId, unit: d.unitCode, job: 'edit', revision, attempt: job.attemptsMade + 1 });
  await awaitPageSlot(job, token, deps.pacer, d.page.pageId);
  try {
    await deps.graph.updatePost(d.fbPostId, deps.cipher.decrypt(d.page.tokenCiphertext), { message });
    await ledger.markEditApplied(d.id, revision);
    return done('edited');
  } catch (err) {
    try {
      return await handleChangeFailure(
        job,
        token,
        err,
        {
          fail: (reason) => ledger.markEditFailed(d.id, revision, reason),
          onGone: async () => {
            await ledger.markEditFailed(d.id, revision, 'post_gone');
            return 'edit_failed:post_gone';
          },
          needsReauth: (reason) => deps.deliveries.markPageNeedsReauth(d.unitCode, reason),
          blockPage: (ms) => deps.pacer.blockPage(d.page!.pageId, ms),
        },
        log,
      );
    } finally {
      // Final or not, the roll-up decides; a retry or delay finds the recall still open.
      edits.requestRollUp(d.postId);
    }
  }
}
