import type { Db } from '../../db/create-db';
import { NotFoundError } from '../../errors/app-error';
import { requireScope, type Principal } from '../auth/keys.service';
import type { DeliveryStatus } from '../posts/post-status';
import type { PostsService } from '../posts/posts.service';
import { ROOT_CODE, subtreeEnd, versionAt } from '../tree/units.service';
import { POST_SCOPE, scopeCounts } from '../delivery/delivery-counts';
import { retryActionOf, type RetryAction } from '../delivery/retry-policy';

export interface RollUp {
  published: number;
  failed: number;
  skipped: number;
  /** queued + publishing */
  pending: number;
  cancelled: number;
  /** A recall: deleting, deleted, could not delete (the copy is still on the Page). */
  recalling: number;
  recalled: number;
  recall_failed: number;
  total: number;
}

export interface TreeNode {
  code: string;
  name: string;
  type: string;
  level: number;
  counts: RollUp;
  /** The unit's own delivery (its first Page's, when it has several), or null. `permalink` is null once recalled. */
  delivery: { status: DeliveryStatus; permalink: string | null; reason: string | null } | null;
  /** One entry per Page of the unit the post went to. */
  pages: Array<{ pageId: string | null; status: DeliveryStatus; permalink: string | null; reason: string | null }>;
  hasChildren: boolean;
  /** The unit version the post went to was retired by a later reorganisation. */
  retired: boolean;
}

export interface FailureGroup {
  reason: string | null;
  code: number | null;
  subcode: number | null;
  count: number;
  sampleMessage: string | null;
  /** What can fix this group: a retry, relinking the Page first, or nothing (Facebook refused the content). */
  action: RetryAction;
}

const emptyRollUp = (): RollUp => ({
  published: 0,
  failed: 0,
  skipped: 0,
  pending: 0,
  cancelled: 0,
  recalling: 0,
  recalled: 0,
  recall_failed: 0,
  total: 0,
});

function add(r: RollUp, status: string, n: number): void {
  const key = status === 'queued' || status === 'publishing' ? 'pending' : (status as keyof RollUp);
  if (key in r) r[key] += n;
  r.total += n;
}

/** The Facebook link of a delivery, or null once its copy was deleted by a recall. */
export function livePermalink(status: string, permalink: string | null): string | null {
  return status === 'recalled' ? null : permalink;
}

/**
 * Where a post went, as a tree: each node carries the counts of its whole subtree, so a province
 * shows at a glance whether every commune under it got the post. Loaded one level at a time.
 */
export class PostTreeService {
  constructor(
    private readonly db: Db,
    private readonly posts: PostsService,
  ) {}

  /**
   * The node and its direct children, each rolled up over its subtree; children whose subtree holds
   * no delivery of the post are left out.
   *
   * The roll-ups are the ledger's counters (delivery-counts.ts): a unit's counters hold the deliveries
   * strictly below it, so a node's subtree is its counter rows plus its own deliveries (a unit has a
   * few Pages), read together with the children's by index. No count over the subtree's deliveries.
   */
  async tree(p: Principal, postId: string, unitCode?: string): Promise<{ postId: string; node: TreeNode; children: TreeNode[] }> {
    const post = await this.posts.load(p, postId);
    const code = unitCode ?? (post.target_path.startsWith(p.unitPath) ? post.target_unit_code : p.unitCode);
    // The tree of the post's own time: the versions that were active when it was sent out.
    const at = post.started_at ?? new Date().toISOString();
    const unit =
      !unitCode && code === post.target_unit_code && post.target_unit_id !== null
        ? await this.db.selectFrom('units').selectAll().where('id', '=', post.target_unit_id).executeTakeFirst()
        : await versionAt(this.db, code, at);
    if (!unit) throw new NotFoundError(`unit ${code}`);
    requireScope(p, unit.path, unit.code);

    const kids = await this.db
      .selectFrom('units')
      .selectAll()
      .where('parent_id', '=', unit.id)
      .where('created_at', '<=', at)
      .where((eb) => eb.or([eb('retired_at', 'is', null), eb('retired_at', '>', at)]))
      .orderBy('path')
      .execute();
    const isRoot = unit.path === `/${ROOT_CODE}/`;
    const paths = [unit.path, ...kids.map((k) => k.path)];
    const scopes = await scopeCounts(
      this.db,
      postId,
      paths.map((path) => (path === unit.path && isRoot ? POST_SCOPE : path)),
    );

    const toNode = (u: (typeof kids)[number]): TreeNode => ({
      code: u.code,
      name: u.name,
      type: u.type,
      level: u.level,
      counts: emptyRollUp(),
      delivery: null,
      pages: [],
      hasChildren: false,
      retired: u.retired_at !== null,
    });
    const node = toNode(unit);
    const children = kids.map((k) => ({ path: k.path, id: k.id, node: toNode(k) }));
    const byPath = new Map([[unit.path, node], ...children.map((c) => [c.path, c.node] as const)]);
    for (const [scope, statuses] of scopes) {
      const n = byPath.get(scope === POST_SCOPE ? unit.path : scope);
      if (n) for (const [status, count] of statuses) add(n.counts, status, count);
    }
    // The units' own deliveries (by the versions at these paths): counted into their subtrees (the root's are in its counters already).
    const own: Array<{
      id: number;
      unit_id: number | null;
      path: string;
      page_id: string | null;
      status: string;
      permalink: string | null;
      reason: string | null;
    }> = [];
    for (let i = 0; i < paths.length; i += 500) {
      own.push(
        ...(await this.db
          .selectFrom('deliveries as d')
          .innerJoin('units as u', 'u.id', 'd.unit_id')
          .select(['d.id', 'd.unit_id', 'u.path', 'd.page_id', 'd.status', 'd.permalink', 'd.reason'])
          .where('d.post_id', '=', postId)
          .where('d.unit_id', 'in', (eb) =>
            eb
              .selectFrom('units')
              .select('id')
              .where('path', 'in', paths.slice(i, i + 500)),
          )
          .execute()),
      );
    }
    // In delivery order, sorted here: an ORDER BY d.id would lead the planner to walk every delivery of the post
    // along (post_id, id) instead of looking up these few units' rows by (post_id, unit_id).
    own.sort((a, b) => a.id - b.id);
    for (const d of own) {
      const n = byPath.get(d.path);
      if (n && !(isRoot && n === node)) add(n.counts, d.status, 1);
    }
    const shownKids = children.filter((c) => c.node.counts.total > 0);
    const byId = new Map([[unit.id, node], ...shownKids.map((c) => [c.id, c.node] as const)]);
    for (const d of own) {
      const n = byId.get(d.unit_id!);
      if (!n) continue;
      // A recalled copy was deleted from Facebook: no link to it.
      const entry = { status: d.status as DeliveryStatus, permalink: livePermalink(d.status, d.permalink), reason: d.reason };
      n.pages.push({ pageId: d.page_id, ...entry });
      n.delivery ??= entry;
    }
    const shown = [node, ...shownKids.map((c) => c.node)];
    for (const n of shown) n.hasChildren = n.counts.total > n.pages.length;
    return { postId, node, children: shown.slice(1) };
  }

  /** Failed deliveries of the post in the caller's subtree, grouped by reason and Graph error code, largest group first. */
  async failures(p: Principal, postId: string): Promise<{ postId: string; total: number; items: FailureGroup[] }> {
    await this.posts.load(p, postId);
    const rows = await this.db
      .selectFrom('deliveries as d')
      .innerJoin('units as u', 'u.id', 'd.unit_id')
      .select((eb) => [
        'd.reason',
        'd.error_code',
        'd.error_subcode',
        eb.fn.countAll<number>().as('n'),
        eb.fn.min('d.error_message').as('sample'),
      ])
      .where('d.post_id', '=', postId)
      .where('d.status', '=', 'failed')
      .where('u.path', '>=', p.unitPath)
      .where('u.path', '<', subtreeEnd(p.unitPath))
      .groupBy(['d.reason', 'd.error_code', 'd.error_subcode'])
      .execute();
    const items = rows
      .map((r) => ({
        reason: r.reason,
        code: r.error_code,
        subcode: r.error_subcode,
        count: Number(r.n),
        sampleMessage: (r.sample as string | null) ?? null,
        action: retryActionOf(r.reason),
      }))
      .sort((a, b) => b.count - a.count || String(a.reason).localeCompare(String(b.reason)));
    return { postId, total: items.reduce((s, i) => s + i.count, 0), items };
  }
}
