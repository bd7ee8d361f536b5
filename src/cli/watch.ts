import cliProgress from 'cli-progress';
import type { PostView } from '../services/post-views.service';
import type { ApiClient } from './api-client';

const FINAL = new Set(['published', 'partially_failed', 'failed', 'cancelled', 'recalling', 'recalled']);

/** Polls a post and draws a progress bar until it is final; returns the final view. */
export async function watchPost(api: ApiClient, postId: string, opts: { intervalMs?: number; stream?: NodeJS.WriteStream } = {}): Promise<PostView> {
  const stream = opts.stream ?? process.stdout;
  const bar = new cliProgress.SingleBar(
    {
      format: ' {bar} {percentage}% | {done}/{total} Pages | published {published} · failed {failed} · skipped {skipped} | {status} | {rate}/s',
      hideCursor: true,
      stream,
      noTTYOutput: true,
      notTTYSchedule: 2_000,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  let view = await api.getPost(postId);
  bar.start(Math.max(view.total, 1), 0, { published: 0, failed: 0, skipped: 0, status: view.status, rate: 0, done: 0 });
  for (;;) {
    const c = view.counts;
    const done = c.published + c.failed + c.skipped + c.cancelled;
    bar.setTotal(Math.max(view.total, 1));
    bar.update(done, { ...c, status: view.status, done, rate: Math.round((c.published + c.failed) / Math.max((Date.now() - started) / 1000, 0.001)) });
    if (FINAL.has(view.status)) break;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250));
    view = await api.getPost(postId);
  }
  bar.stop();
  return view;
}
