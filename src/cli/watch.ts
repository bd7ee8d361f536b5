import cliProgress from 'cli-progress';
import type { LevelProgress } from '../services/read-models/post-levels.service';
import type { DeliveryCounts } from '../services/posts/post-status';
import type { PostView } from '../services/read-models/post-views.service';
import type { ApiClient } from './api-client';
import { failureLines, formatTime, progressSummary } from './format';

/**
 * Statuses after which nothing changes by itself. `recalling` is not one: the watch follows the recall to
 * its end. `rejected` is final too (an approver turned the post down).
 */
const FINAL = new Set(['published', 'partially_failed', 'failed', 'cancelled', 'recalled', 'rejected']);
/** Nothing moves until a person acts (approval) or the time comes (schedule): said once, then waited on quietly. */
const WAITING = new Set(['pending_approval', 'approved', 'scheduled']);
const isRecall = (status: string) => status === 'recalling' || status === 'recalled';

/** Names of the tree levels: root 0, provinces 1, then communes 2 (the tree since 2025-07), or districts 2 and communes 3 (before). */
const LEVEL_NAMES: Record<number, string> = { 0: 'central', 1: 'provinces', 2: 'districts', 3: 'communes' };
const TWO_LEVEL_NAMES: Record<number, string> = { 0: 'central', 1: 'provinces', 2: 'communes' };
/** `deepest`: the deepest level the post reached; a post that reached no level 3 is on the two-level tree. */
export const levelName = (level: number, deepest = 3) => (deepest <= 2 ? TWO_LEVEL_NAMES : LEVEL_NAMES)[level] ?? `level ${level}`;

/** The per-level counts are a GROUP BY over every delivery: polled less often than the post itself. */
const LEVELS_EVERY_MS = 1_000;

/** `provinces 63/63 done (published 62 · failed 1 · skipped 0)`, one line per level. */
export function levelSummary(levels: LevelProgress[]): string[] {
  const deepest = Math.max(...levels.map((l) => l.level), 0);
  const name = (level: number) => levelName(level, deepest);
  const width = Math.max(...levels.map((l) => name(l.level).length), 0);
  return levels.map((l) => {
    const c = l.counts;
    if (isRecallCounts(c)) {
      const r = recallProgress(c);
      return `${name(l.level).padEnd(width)} ${r.done}/${r.total} recalled (recalling ${c.recalling} · recall failed ${c.recall_failed})`;
    }
    return `${name(l.level).padEnd(width)} ${l.done}/${l.total} done (published ${c.published} · failed ${c.failed} · skipped ${c.skipped}${c.cancelled ? ` · cancelled ${c.cancelled}` : ''})`;
  });
}

const isRecallCounts = (c: DeliveryCounts) => c.recalling + c.recalled + c.recall_failed > 0;
/** A recall: the Pages the post reached, and how many of them it is gone from (or could not be deleted from). */
const recallProgress = (c: DeliveryCounts) => ({
  total: c.recalling + c.recalled + c.recall_failed + c.published,
  done: c.recalled + c.recall_failed,
  summary: `recalled ${c.recalled} · recalling ${c.recalling} · recall failed ${c.recall_failed}`,
});

export interface WatchResult {
  view: PostView;
  levels: LevelProgress[];
}

export interface WatchOptions {
  intervalMs?: number;
  stream?: NodeJS.WritableStream;
  /** Labels of the level bars, instead of central / provinces / (districts /) communes. */
  levelNames?: Record<number, string>;
  /** Where the one-line notices go (waiting for approval, scheduled); default: the stream. */
  notice?: (line: string) => void;
}

/** Said once while a post waits for a person or a time, so the watch never sits there silently. */
function waitingNotice(view: PostView): string {
  if (view.status === 'pending_approval') {
    return `post ${view.id} is waiting for approval: an approver runs \`lantoa posts approve ${view.id}\` (or rejects it). Watching until then; Ctrl-C to stop.`;
  }
  if (view.status === 'scheduled') return `post ${view.id} is scheduled for ${formatTime(view.publishAt)}; watching until it goes out.`;
  return `post ${view.id} is approved; waiting for the fan-out to start.`;
}

/** Draws the progress (see watchPostLevels) until the post is final; returns the final view. */
export async function watchPost(api: ApiClient, postId: string, opts: WatchOptions = {}): Promise<PostView> {
  return (await watchPostLevels(api, postId, opts)).view;
}

/**
 * Polls a post and draws its progress bar with one bar per tree level underneath (provinces /
 * districts / communes done) until the post is final; returns the final view and level counts.
 */
export async function watchPostLevels(api: ApiClient, postId: string, opts: WatchOptions = {}): Promise<WatchResult> {
  const stream = (opts.stream ?? process.stdout) as NodeJS.WriteStream;
  const interval = opts.intervalMs ?? 250;
  const bars = new cliProgress.MultiBar(
    {
      format: ' {label} {bar} {percentage}% | {done}/{total} Pages | {summary} | {status} | {rate}/s',
      hideCursor: true,
      stream,
      noTTYOutput: true,
      notTTYSchedule: 2_000,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const levelFormat = ' {label} {bar} {percentage}% | {done}/{total} done | {summary}';
  const notice = opts.notice ?? ((line: string) => stream.write(`${line}\n`));
  let view = await api.getPost(postId);
  // Before the first Page is sent there is nothing to draw: say why once per status, and wait.
  let said = '';
  while (WAITING.has(view.status)) {
    if (said !== view.status) notice(waitingNotice(view));
    said = view.status;
    await new Promise((r) => setTimeout(r, interval));
    view = await api.getPost(postId);
  }
  const started = Date.now();
  let levels: LevelProgress[] = [];
  let levelsAt = 0;
  const label = (level: number) => opts.levelNames?.[level] ?? levelName(level, Math.max(...levels.map((l) => l.level)));
  const labelWidth = Math.max('all Pages'.length, ...Object.values({ ...LEVEL_NAMES, ...opts.levelNames }).map((n) => n.length));
  const main = bars.create(Math.max(view.total, 1), 0, {
    label: 'all Pages'.padEnd(labelWidth),
    summary: '',
    status: view.status,
    rate: 0,
    done: 0,
  });
  const levelBars = new Map<number, cliProgress.SingleBar>();

  for (;;) {
    const c = view.counts;
    // A recall counts the Pages the post reached and how many it is gone from; otherwise every delivery that ended.
    const recall = isRecall(view.status);
    const total = recall ? recallProgress(c).total : view.total;
    const done = recall ? recallProgress(c).done : c.published + c.failed + c.skipped + c.cancelled;
    const summary = recall ? recallProgress(c).summary : `published ${c.published} · failed ${c.failed} · skipped ${c.skipped}`;
    const final = FINAL.has(view.status);
    if (final || Date.now() - levelsAt >= LEVELS_EVERY_MS) {
      levels = (await api.postLevels(postId)).levels;
      levelsAt = Date.now();
    }
    main.setTotal(Math.max(total, 1));
    main.update(done, {
      summary,
      status: view.status,
      done,
      rate: Math.round((recall ? done : c.published + c.failed) / Math.max((Date.now() - started) / 1000, 0.001)),
    });
    for (const l of levels) {
      let bar = levelBars.get(l.level);
      if (!bar) {
        bar = bars.create(
          Math.max(l.total, 1),
          0,
          { label: label(l.level).padEnd(labelWidth), done: 0, summary: '' },
          { format: levelFormat },
        );
        levelBars.set(l.level, bar);
      }
      const lc = l.counts;
      const r = recall && isRecallCounts(lc) ? recallProgress(lc) : undefined;
      const levelTotal = r ? r.total : l.total;
      const levelDone = r ? r.done : l.done;
      bar.setTotal(Math.max(levelTotal, 1));
      bar.update(levelDone, {
        done: levelDone,
        summary: r ? r.summary : `published ${lc.published} · failed ${lc.failed} · skipped ${lc.skipped}`,
      });
    }
    if (final) break;
    await new Promise((r) => setTimeout(r, interval));
    view = await api.getPost(postId);
  }
  bars.stop();
  return { view, levels };
}

/**
 * `lantoa watch <id>`: the live bars, then the outcome in words: `published: published 62 · failed 1 of 63`,
 * `recalled: recalled 44 of 44 Pages`, the per-level lines and, when Pages failed, the largest failure groups
 * with what to do about each. A post waiting for approval is said so once, and watched until it moves.
 * Exit 0 only when the post is published (or, for a recall, recalled from every Page).
 */
export async function watchCommand(api: ApiClient, postId: string, out: (line: string) => void, opts: WatchOptions = {}): Promise<number> {
  const { view, levels } = await watchPostLevels(api, postId, { notice: out, ...opts });
  out('');
  out(`${view.status}: ${progressSummary(view.status, view.counts, view.total)}`);
  for (const line of levelSummary(levels)) out(`  ${line}`);
  if (view.recall) out(`recalled ${formatTime(view.recall.at)}: ${view.recall.reason}`);
  const rejection = (view as PostView & { rejection?: { reason: string } | null }).rejection;
  if ((view.status as string) === 'rejected' && rejection) out(`rejected: ${rejection.reason}`);
  if (view.counts.failed > 0 && !isRecall(view.status)) {
    const failures = await api.failures(postId);
    out(`why ${failures.total} Pages failed:`);
    for (const line of failureLines(failures, postId)) out(line);
  }
  if (view.counts.recall_failed > 0) {
    out(`${view.counts.recall_failed} Pages kept the post: a new recall retries them (lantoa posts recall ${postId} --reason …)`);
  }
  if (view.status === 'published') return 0;
  if (view.status === 'recalled' && view.counts.recall_failed === 0) return 0;
  return 1;
}
