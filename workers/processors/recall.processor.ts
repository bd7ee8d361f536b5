import type { Job } from 'bullmq';
import { JOB, parseJobData, type ChangeJobData } from '../../src/queues/catalog';
import type { RecallService } from '../../src/services/governance/recall.service';
import { runChange, type ChangeDeps } from './change-job';

/**
 * Deletes one Page's copy of a recalled post. The store decides: only a `recalling` delivery is
 * acted on, so a replayed job is a no-op. Already deleted on Facebook (100/33) counts as recalled.
 */
export async function processRecall(
  job: Job<ChangeJobData>,
  token: string | undefined,
  deps: ChangeDeps & { recalls: RecallService },
): Promise<string> {
  parseJobData(JOB.recall, job); // data that does not parse fails the job for good
  const { ledger } = deps;
  const d = await ledger.load(job.data.deliveryId);
  if (!d) return 'missing';
  if (d.status !== 'recalling') return `noop:${d.status}`;
  return runChange(
    job,
    token,
    d,
    {
      claim: { kind: 'recall' },
      send: (fbPostId, accessToken, fence) => deps.graph.deletePost(fbPostId, accessToken, { fence }),
      done: (lease) => ledger.markRecalled(lease, 'recalled'),
      fail: (lease, reason, error) => ledger.markRecallFailed(lease, reason, error),
      gone: async (lease) => {
        await ledger.markRecalled(lease, 'already_deleted');
        return 'recalled:already_deleted';
      },
      doneLabel: 'recalled',
      failLabel: 'recall_failed',
      rollUp: (postId) => deps.recalls.requestRollUp(postId),
    },
    deps,
  );
}
