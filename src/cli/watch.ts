import cliProgress from 'cli-progress';
import type { LevelProgress } from '../services/read-models/post-levels.service';
import type { PostView } from '../services/read-models/post-views.service';
import type { ApiClient } from './api-client';

const FINAL = new Set(['published', 'partially_failed', 'failed', 'cancelled', 'recalling', 'recalled', 'rejected']);

/** Names of the tree levels: root 0, provinces 1, then communes 2 (the tree since 2025-07), or districts 2 and communes 3 (before). */
const LEVEL_NAMES: Record<number, string> = { 0: 'central', 1: 'provinces', 2: 'districts', 3: 'communes' };
const TWO_LEVEL_NAMES: Record<number, string> = { 0: 'central', 1: 'provinces', 2: 'communes' };
/** `deepest`: the deepest level the post reached; a post that reached no level 3 is on the two-level tree. */
export const levelName = (level: number, deepest = 3) => (deepest <= 2 ? TWO_LEVEL_NAMES : LEVEL_NAMES)[level] ?? `level ${level}`;

/** The per-level counts are a GROUP BY over every delivery: polled less often than the post itself. */
const LEVELS_EVERY_MS = 1_000;

/** `provinces 63/63 done (published 62 · failed 1 · skipped 0)`, one line per level. */
export function levelSummary(levels: LevelProgress[]): string[] {
  const width = Math.max(...levels.map((l) => levelName(l.level).length), 0);
  return levels.map(
    (l) =>
      `${levelName(l.level).padEnd(width)} ${l.done}/${l.total} done (published ${l.counts.published} · failed ${l.counts.failed} · skipped ${l.counts.skipped}${l.counts.cancelled ? ` · cancelled ${l.counts.cancelled}` : ''})`,
  );
}

export interface WatchResult {
  view: PostView;
  levels: LevelProgress[];
}

export interface WatchOptions {
  intervalMs?: number;
  stream?: NodeJS.WritableStream;
  /** Labels of the level bars, instead of central / provinces / (districts /) communes. */
  levelNames?: Record<number, string>;
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
      format:
        ' {label} {bar} {percentage}% | {done}/{total} Pages | published {published} · failed {failed} · skipped {skipped} | {status} | {rate}/s',
      hideCursor: true,
      stream,
      noTTYOutput: true,
      notTTYSchedule: 2_000,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const levelFormat = ' {label} {bar} {percentage}% | {done}/{total} done | published {published} · failed {failed} · skipped {skipped}';
  const started = Date.now();
  let view = await api.getPost(postId);
  let levels: LevelProgress[] = [];
  let levelsAt = 0;
  const label = (level: number) => opts.levelNames?.[level] ?? levelName(level, Math.max(...levels.map((l) => l.level)));
  const labelWidth = Math.max('all Pages'.length, ...Object.values({ ...LEVEL_NAMES, ...opts.levelNames }).map((n) => n.length));
  const main = bars.create(Math.max(view.total, 1), 0, {
    label: 'all Pages'.padEnd(labelWidth),
    published: 0,
    failed: 0,
    skipped: 0,
    status: view.status,
    rate: 0,
    done: 0,
  });
  const levelBars = new Map<number, cliProgress.SingleBar>();

  for (;;) {
    const c = view.counts;
    const done = c.published + c.failed + c.skipped + c.cancelled;
    const final = FINAL.has(view.status);
    if (final || Date.now() - levelsAt >= LEVELS_EVERY_MS) {
      levels = (await api.postLevels(postId)).levels;
      levelsAt = Date.now();
    }
    main.setTotal(Math.max(view.total, 1));
    main.update(done, {
      ...c,
      status: view.status,
      done,
      rate: Math.round((c.published + c.failed) / Math.max((Date.now() - started) / 1000, 0.001)),
    });
    for (const l of levels) {
      let bar = levelBars.get(l.level);
      if (!bar) {
        bar = bars.create(
          Math.max(l.total, 1),
          0,
          { label: label(l.level).padEnd(labelWidth), done: 0, published: 0, failed: 0, skipped: 0 },
          { format: levelFormat },
        );
        levelBars.set(l.level, bar);
      }
      bar.setTotal(Math.max(l.total, 1));
      bar.update(l.done, { ...l.counts, done: l.done });
    }
    if (final) break;
    await new Promise((r) => setTimeout(r, interval));
    view = await api.getPost(postId);
  }
  bars.stop();
  return { view, levels };
}
