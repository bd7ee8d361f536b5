import type { Db } from '../../db/create-db';
import type { Principal } from '../auth/keys.service';
import { emptyCounts, type DeliveryCounts, type DeliveryStatus, type PostStatus } from '../posts/post-status';
import type { PostsService } from '../posts/posts.service';
import { subtreeEnd } from '../tree/units.service';

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
    const rows = await this.db
      .selectFrom('deliveries')
      .innerJoin('units', 'units.id', 'deliveries.unit_id')
      .select((eb) => ['units.level', 'deliveries.status', eb.fn.countAll<number>().as('n')])
      .where('deliveries.post_id', '=', postId)
      .where('units.path', '>=', p.unitPath)
      .where('units.path', '<', subtreeEnd(p.unitPath))
      .groupBy(['units.level', 'deliveries.status'])
      .execute();
    const byLevel = new Map<number, LevelProgress>();
    for (const r of rows) {
      const level = Number(r.level);
      const entry = byLevel.get(level) ?? { level, total: 0, done: 0, counts: emptyCounts() };
      const n = Number(r.n);
      entry.counts[r.status as DeliveryStatus] += n;
      entry.total += n;
      if (r.status !== 'queued' && r.status !== 'publishing' && r.status !== 'recalling') entry.done += n;
      byLevel.set(level, entry);
    }
    return { postId, status: post.status as PostStatus, levels: [...byLevel.values()].sort((a, b) => a.level - b.level) };
  }
}
