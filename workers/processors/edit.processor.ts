import type { Job } from 'bullmq';
import { JOB, parseJobData, type ChangeJobData } from '../../src/queues/catalog';
import type { EditsService } from '../../src/services/governance/edits.service';
import { runChange, type ChangeDeps } from './change-job';

/**
 * Applies an approved edit to one Page (`POST /{post-id}` with the new message). Acts only while the
 * delivery's edit of this revision is pending; setting the same message twice is harmless, and the
 * fence keeps an older revision from landing after a newer one.
 */
export async function processEdit(
  job: Job<ChangeJobData>,
  token: string | undefined,
  deps: ChangeDeps & { edits: EditsService },
): Promise<string> {
  parseJobData(JOB.edit, job); // data that does not parse fails the job for good
  const { ledger, edits } = deps;
  const revision = job.data.revision;
  const d = await ledger.load(job.data.deliveryId);
  if (!d) return 'missing';
  if (d.editRevision !== revision || d.editStatus !== 'pending' || d.status !== 'published') {
    return `noop:${d.status}/${d.editStatus ?? 'none'}@${d.editRevision}`;
  }
  const message = await edits.messageOf(d.postId, revision);
  return runChange(
    job,
    token,
    d,
    {
      claim: { kind: 'edit', revision },
      send: (fbPostId, accessToken, fence) => deps.graph.updatePost(fbPostId, accessToken, { message: message! }, { fence }),
      done: (lease) => ledger.markEditApplied(lease, revision),
      fail: (lease, reason) => ledger.markEditFailed(lease, revision, reason),
      gone: async (lease) => {
        await ledger.markEditFailed(lease, revision, 'post_gone');
        return 'edit_failed:post_gone';
      },
      doneLabel: 'edited',
      failLabel: 'edit_failed',
      unsendable: message === undefined ? 'edit_missing' : null,
      rollUp: (postId) => edits.requestRollUp(postId),
    },
    deps,
  );
}
