import { DelayedError, type Job } from 'bullmq';
import type { FanoutService } from '../../src/services/delivery/fanout.service';
import { JOB, parseJobData, type FanoutJobData } from '../../src/queues/catalog';

/** Thin: checkpoints through job data so a crashed fan-out resumes after the last enqueued chunk. */
export async function processFanout(job: Job<FanoutJobData>, token: string | undefined, fanout: FanoutService): Promise<string> {
  parseJobData(JOB.fanout, job); // data that does not parse fails the job for good
  let upTo = job.data.enqueuedUpTo ?? 0;
  const outcome = await fanout.run(job.data.postId, {
    get: () => upTo,
    set: async (id) => {
      upTo = id;
      await job.updateData({ ...job.data, enqueuedUpTo: id });
    },
  });
  if (outcome.kind === 'not_due') {
    // publishAt moved later (or the job was promoted early): wait again without using an attempt.
    if (!token) throw new Error('fan-out not due and no job token');
    await job.moveToDelayed(outcome.publishAt.getTime(), token);
    throw new DelayedError();
  }
  return outcome.kind === 'done' ? `queued ${outcome.queued} of ${outcome.total}` : `skipped: ${outcome.reason}`;
}
