import type { Db } from '../../db/create-db';
import type { PostRow } from '../../db/types';
import { AppError } from '../../errors/app-error';
import { requireRole, type Principal } from '../auth/keys.service';
import type { EditsService } from '../governance/edits.service';
import type { Target, TargetService, TargetSummary } from '../tree/target.service';
import { subtreeEnd } from '../tree/unit-paths';
import type { PostView, PostViewsService } from './post-views.service';

export type ApprovalItem =
  | {
      kind: 'post';
      post: PostView;
      /** What `POST /v1/targets/preview` answers for the post's target now; null when the tree no longer has it. */
      preview: TargetSummary | null;
    }
  | {
      kind: 'edit';
      postId: string;
      revision: number;
      message: string;
      previousMessage: string;
      requestedBy: string;
      requestedAt: string;
      post: PostView;
    };

export const DEFAULT_APPROVALS_LIMIT = 50;
export const MAX_APPROVALS_LIMIT = 200;

/**
 * The approvals inbox: what awaits this approver — pending posts and pending edits whose target lies in
 * the approver's subtree, minus what the approver wrote (four eyes: they could not approve it anyway).
 */
export class ApprovalsService {
  constructor(
    private readonly db: Db,
    private readonly views: PostViewsService,
    private readonly edits: EditsService,
    private readonly targets: TargetService,
  ) {}

  async inbox(p: Principal, q: { limit: number }): Promise<{ items: ApprovalItem[]; total: number }> {
    requireRole(p, ['approver', 'admin'], 'see the approvals inbox');
    const posts = await this.db
      .selectFrom('posts')
      .innerJoin('units', 'units.id', 'posts.target_unit_id')
      .selectAll('posts')
      .where('posts.status', '=', 'pending_approval')
      .where('posts.created_by', '!=', p.keyId)
      .where('units.path', '>=', p.unitPath)
      .where('units.path', '<', subtreeEnd(p.unitPath))
      .orderBy('posts.created_at', 'desc')
      .orderBy('posts.id', 'desc')
      .execute();
    const edits = await this.edits.pendingIn(p.unitPath, p.keyId);
    type Entry = { at: string; key: string; post?: PostRow; edit?: (typeof edits)[number] };
    const all: Entry[] = [
      ...posts.map((r) => ({ at: r.created_at, key: r.id, post: r })),
      ...edits.map((e) => ({ at: e.requested_at, key: `${e.post_id}/${e.revision}`, edit: e })),
    ].sort((a, b) => (a.at === b.at ? b.key.localeCompare(a.key) : b.at.localeCompare(a.at)));
    // Posts to the same target share one preview (a national inbox often holds several posts to the same units).
    const previews = new Map<string, Promise<TargetSummary | null>>();
    const previewOf = (post: PostRow) => {
      let hit = previews.get(post.target);
      if (!hit) previews.set(post.target, (hit = this.preview(post)));
      return hit;
    };
    const items = await Promise.all(
      all.slice(0, q.limit).map(async (e): Promise<ApprovalItem> => {
        if (e.post) {
          return { kind: 'post', post: await this.views.get(p, e.post.id), preview: await previewOf(e.post) };
        }
        const edit = e.edit!;
        return {
          kind: 'edit',
          postId: edit.post_id,
          revision: edit.revision,
          message: edit.message,
          previousMessage: edit.previous_message,
          requestedBy: edit.requested_by,
          requestedAt: edit.requested_at,
          post: await this.views.get(p, edit.post_id),
        };
      }),
    );
    return { items, total: all.length };
  }

  /** A target whose unit a reorganisation retired has no preview (approving it would answer the same 400). */
  private async preview(post: PostRow): Promise<TargetSummary | null> {
    try {
      return await this.targets.summarize(JSON.parse(post.target) as Target);
    } catch (err) {
      if (err instanceof AppError && err.statusCode === 400) return null;
      throw err;
    }
  }
}
