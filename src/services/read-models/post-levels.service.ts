import type { Db } from '../../db/create-db';
import type { Principal } from '../auth/keys.service';
import { levelsIn } from '../delivery/delivery-counts';
import type { DeliveryCounts, DeliveryStatus, PostStatus } from '../posts/post-status';
import type { PostsService } from '../posts/posts.service';

export interface LevelProgress {
  /** Depth in the tree: 0 root, 1 provinces, 2 districts, 3 communes. */
  level: number;
  total: number;
  /** Deliveries in a final status (published, failed, skipped, cancelled). */
  done: number;
  counts: DeliveryCounts;
}

/** A post's deliveries counted by the level of their unit (what `lantoa watch` prints under its bar). */
export class PostLevelsService {
  constructor(
    private readonly db: Db,
    private readonly posts: PostsService,
  ) {}

  /** Scoped like the post's counts: only the units inside the caller's subtree are counted. */
  async byLevel(p: Principal, postId: string): Promise<{ postId: string; status: PostStatus; levels: LevelProgress[] }> {
    const post = await this.posts.load(p, postId);
    const levels: LevelProgress[] = [];
    for (const [level, counts] of await levelsIn(this.db, postId, p.unitPath)) {
      let total = 0;
      let done = 0;
      for (const [status, n] of Object.entries(counts) as Array<[DeliveryStatus, number]>) {
        total += n;
        if (status !== 'queued' && status !== 'publishing' && status !== 'recalling') done += n;
      }
      if (total > 0 && level >= 0) levels.push({ level, total, done, counts });
    }
    return { postId, status: post.status as PostStatus, levels: levels.sort((a, b) => a.level - b.level) };
  }
}
