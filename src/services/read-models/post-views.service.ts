import type { Db } from '../../db/create-db';
import type { PostRow } from '../../db/types';
import { decodeCursor, encodeCursor } from '../shared/cursor';
import type { Principal } from '../auth/keys.service';
import { emptyCounts, type DeliveryCounts, type DeliveryStatus, type PostStatus } from '../posts/post-status';
import type { PostsService } from '../posts/posts.service';
import { subtreeEnd, versionAt } from '../tree/units.service';
import { livePermalink } from './post-tree.service';
import { countsIn } from '../delivery/delivery-counts';

export interface PostView {
  id: string;
  status: PostStatus;
  message: string;
  link: string | null;
  photos: string[];
  target: unknown;
  publishAt: string | null;
  total: number;
  counts: DeliveryCounts;
  createdBy: string;
  approvedBy: string | null;
  cancelledBy: string | null;
  createdAt: string;
  updatedAt: string;
  approvedAt: string | null;
  startedAt: string | null;
  completedAt: string | null;
  /** Who recalled the post, when and why (null unless recalled). */
  recall: { by: string; at: string; reason: string } | null;
  /** Which approver rejected the post, when and why (null unless rejected). */
  rejection: { by: string; at: string; reason: string } | null;
  /** The rejected post this one resubmits, and the post that resubmitted this one. */
  resubmitOf: string | null;
  resubmittedAs: string | null;
  /** The spread the post asked for and the end of its window (null when it goes out as fast as possible). */
  spread: { minutes: number; plannedEndAt: string | null } | null;
}

export interface DeliveryView {
  unitCode: string;
  /** The unit's name when the post went out. */
  unitName: string;
  /** That unit version has since been retired by a reorganisation. */
  unitRetired: boolean;
  pageId: string | null;
  status: DeliveryStatus;
  attempts: number;
  fbPostId: string | null;
  /** Null once the copy was deleted from Facebook by a recall (`recalled`): there is nothing to link to. */
  permalink: string | null;
  reason: string | null;
  error: { code: number | null; subcode: number | null; message: string | null } | null;
  /** The latest edit of this Page's copy: revision, `pending` / `applied` / `failed` / `cancelled`, and why it failed. */
  edit: { revision: number; status: string; error: string | null } | null;
  updatedAt: string;
}

export function toPostView(row: PostRow, counts: DeliveryCounts = emptyCounts(), resubmittedAs: string | null = null): PostView {
  return {
    id: row.id,
    status: row.status as PostStatus,
    message: row.message,
    link: row.link,
    photos: JSON.parse(row.photos) as string[],
    target: JSON.parse(row.target),
    publishAt: row.publish_at,
    total: row.total,
    counts,
    createdBy: row.created_by,
    approvedBy: row.approved_by,
    cancelledBy: row.cancelled_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    approvedAt: row.approved_at,
    startedAt: row.started_at,
    completedAt: row.completed_at,
    recall: row.recalled_by && row.recalled_at ? { by: row.recalled_by, at: row.recalled_at, reason: row.recall_reason ?? '' } : null,
    rejection: row.rejected_by && row.rejected_at ? { by: row.rejected_by, at: row.rejected_at, reason: row.rejection_reason ?? '' } : null,
    resubmitOf: row.resubmit_of,
    resubmittedAs,
    spread: row.spread_minutes === null ? null : { minutes: row.spread_minutes, plannedEndAt: row.spread_ends_at },
  };
}

const isPostCursor = (v: unknown): v is { c: string; i: string } =>
  typeof v === 'object' && v !== null && typeof (v as { c: unknown }).c === 'string' && typeof (v as { i: unknown }).i === 'string';
const isIdCursor = (v: unknown): v is { i: number } => typeof v === 'object' && v !== null && Number.isSafeInteger((v as { i: unknown }).i);

/** Read side of posts: status, per-status counts and per-Page deliveries, scoped to the caller's subtree. */
export class PostViewsService {
  constructor(
    private readonly db: Db,
    private readonly posts: PostsService,
  ) {}

  /** Delivery counts of a post, limited to the units inside the caller's subtree (maintained counters, no count per read). */
  async counts(p: Principal, postId: string): Promise<DeliveryCounts> {
    return (await countsIn(this.db, [postId], p.unitPath)).get(postId)!;
  }

  async get(p: Principal, id: string): Promise<PostView> {
    const post = await this.posts.load(p, id);
    const [counts, next] = await Promise.all([this.counts(p, id), this.resubmissions([post])]);
    return toPostView(post, counts, next.get(id) ?? null);
  }

  /** Rejected post id → the id of the post that resubmitted it. */
  async resubmissions(rows: readonly PostRow[]): Promise<Map<string, string>> {
    const rejected = rows.filter((r) => r.status === 'rejected').map((r) => r.id);
    if (rejected.length === 0) return new Map();
    const next = await this.db.selectFrom('posts').select(['id', 'resubmit_of']).where('resubmit_of', 'in', rejected).execute();
    return new Map(next.map((n) => [n.resubmit_of!, n.id]));
  }

  async list(
    p: Principal,
    q: { status?: PostStatus; limit: number; cursor?: string },
  ): Promise<{ items: PostView[]; nextCursor: string | null }> {
    const after = decodeCursor(q.cursor, isPostCursor);
    const ancestors = ancestorPaths(p.unitPath);
    let query = this.db
      .selectFrom('posts')
      .innerJoin('units', 'units.id', 'posts.target_unit_id')
      .selectAll('posts')
      .where((eb) => {
        const inside = eb.and([eb('units.path', '>=', p.unitPath), eb('units.path', '<', subtreeEnd(p.unitPath))]);
        return ancestors.length ? eb.or([inside, eb('units.path', 'in', ancestors)]) : inside;
      });
    if (q.status) query = query.where('posts.status', '=', q.status);
    if (after) {
      query = query.where((eb) =>
        eb.or([eb('posts.created_at', '<', after.c), eb.and([eb('posts.created_at', '=', after.c), eb('posts.id', '<', after.i)])]),
      );
    }
    const rows = await query
      .orderBy('posts.created_at', 'desc')
      .orderBy('posts.id', 'desc')
      .limit(q.limit + 1)
      .execute();
    const page = rows.slice(0, q.limit);
    const [next, counts] = await Promise.all([
      this.resubmissions(page),
      countsIn(
        this.db,
        page.map((r) => r.id),
        p.unitPath,
      ),
    ]);
    const items = page.map((r) => toPostView(r, counts.get(r.id), next.get(r.id) ?? null));
    const last = page[page.length - 1];
    return { items, nextCursor: rows.length > q.limit && last ? encodeCursor({ c: last.created_at, i: last.id }) : null };
  }

  async deliveries(
    p: Principal,
    postId: string,
    q: { status?: DeliveryStatus; unit?: string; limit: number; cursor?: string },
  ): Promise<{ items: DeliveryView[]; nextCursor: string | null }> {
    const post = await this.posts.load(p, postId);
    const after = decodeCursor(q.cursor, isIdCursor);
    let query = this.db
      .selectFrom('deliveries')
      .innerJoin('units', 'units.id', 'deliveries.unit_id')
      .select([
        'deliveries.id',
        'deliveries.unit_code',
        'units.name',
        'units.retired_at as unit_retired_at',
        'deliveries.page_id',
        'deliveries.status',
        'deliveries.attempts',
        'deliveries.fb_post_id',
        'deliveries.permalink',
        'deliveries.reason',
        'deliveries.error_code',
        'deliveries.error_subcode',
        'deliveries.error_message',
        'deliveries.edit_revision',
        'deliveries.edit_status',
        'deliveries.edit_error',
        'deliveries.updated_at',
      ])
      .where('deliveries.post_id', '=', postId)
      .where('units.path', '>=', p.unitPath)
      .where('units.path', '<', subtreeEnd(p.unitPath));
    if (q.status) query = query.where('deliveries.status', '=', q.status);
    if (q.unit) {
      // `unit` narrows to that unit's subtree (a province shows its districts and communes), as the tree was when the post went out.
      const u = await versionAt(this.db, q.unit, post.started_at ?? new Date().toISOString());
      // An unknown unit matches nothing ('//' sorts before every real path; PostgreSQL text cannot hold NUL).
      const path = u?.path ?? '//';
      query = query.where('units.path', '>=', path).where('units.path', '<', subtreeEnd(path));
    }
    if (after) query = query.where('deliveries.id', '>', after.i);
    const rows = await query
      .orderBy('deliveries.id')
      .limit(q.limit + 1)
      .execute();
    const page = rows.slice(0, q.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({
        unitCode: r.unit_code,
        unitName: r.name,
        unitRetired: r.unit_retired_at !== null,
        pageId: r.page_id,
        status: r.status as DeliveryStatus,
        attempts: r.attempts,
        fbPostId: r.fb_post_id,
        permalink: livePermalink(r.status, r.permalink),
        reason: r.reason,
        error:
          r.error_code !== null || r.error_message !== null
            ? { code: r.error_code, subcode: r.error_subcode, message: r.error_message }
            : null,
        edit: r.edit_status ? { revision: r.edit_revision, status: r.edit_status, error: r.edit_error } : null,
        updatedAt: r.updated_at,
      })),
      nextCursor: rows.length > q.limit && last ? encodeCursor({ i: last.id }) : null,
    };
  }
}

/** `/root/01/001/` → ['/root/', '/root/01/'] (strict ancestors). */
export function ancestorPaths(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts.slice(0, -1).map((_, i) => `/${parts.slice(0, i + 1).join('/')}/`);
}
