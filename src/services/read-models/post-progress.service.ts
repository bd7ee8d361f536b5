import type { Principal } from '../auth/keys.service';
import type { DeliveryCounts, PostStatus } from '../posts/post-status';
import type { PostViewsService } from './post-views.service';

export interface ProgressView {
  id: string;
  status: PostStatus;
  total: number;
  counts: DeliveryCounts;
  updatedAt: string;
  completedAt: string | null;
}

/** Post statuses after which nothing changes any more: a live stream stops there (a recall or retry starts a new stream). */
export const FINAL_POST_STATUSES: ReadonlySet<PostStatus> = new Set<PostStatus>([
  'published',
  'partially_failed',
  'failed',
  'cancelled',
  'recalled',
  'rejected',
]);

/**
 * Progress of a post as the caller sees it (counts scoped to the caller's subtree). Live streams poll
 * this; many viewers of the same post within one scope share one read per `ttlMs`.
 */
export class PostProgressService {
  private readonly cache = new Map<string, { at: number; view: Promise<ProgressView> }>();

  constructor(
    private readonly postViews: PostViewsService,
    private readonly ttlMs = 400,
  ) {}

  view(p: Principal, postId: string): Promise<ProgressView> {
    const key = `${postId}|${p.unitPath}`;
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.view;
    const view = this.postViews
      .get(p, postId)
      .then((v) => ({ id: v.id, status: v.status, total: v.total, counts: v.counts, updatedAt: v.updatedAt, completedAt: v.completedAt }));
    // A failed read is not shared: the next caller tries again.
    view.catch(() => {
      if (this.cache.get(key)?.view === view) this.cache.delete(key);
    });
    this.cache.set(key, { at: now, view });
    if (this.cache.size > 1_000) for (const [k, v] of this.cache) if (now - v.at >= this.ttlMs) this.cache.delete(k);
    return view;
  }
}
