import { sql } from 'kysely';
import type { Db } from '../../db/create-db';
import { NotFoundError } from '../../errors/app-error';
import { requireScope, type Principal } from '../auth/keys.service';
import type { DeliveryStatus } from '../posts/post-status';
import type { PostsService } from '../posts/posts.service';
import { subtreeEnd } from '../tree/units.service';

export interface RollUp {
  published: number;
  failed: number;
  skipped: number;
  /** queued + publishing */
  pending: number;
  cancelled: number;
  total: number;
}

export interface TreeNode {
  code: string;
  name: string;
  type: string;
  level: number;
  counts: RollUp;
  delivery: { status: DeliveryStatus; permalink: string | null; reason: string | null } | null;
  hasChildren: boolean;
}

export interface FailureGroup {
  reason: string | null;
  code: number | null;
  subcode: number | null;
  count: number;
  sampleMessage: string | null;
}

const emptyRollUp = (): RollUp => ({ published: 0, failed: 0, skipped: 0, pending: 0, cancelled: 0, total: 0 });

function add(r: RollUp, status: string, n: number): void {
  const key = status === 'queued' || status === 'publishing' ? 'pending' : (status as keyof RollUp);
  if (key in r) r[key] += n;
  r.total += n;
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
   * One grouped query does the roll-up: the deliveries of the post inside the node's path range
   * (an index range scan), grouped by the first `L + K` characters of the unit path, where L is the
   * node path's length and K the longest child code + 1. Each group key then starts with exactly one
   * child's path (paths of siblings are prefix-free), so a few dozen groups map onto the children.
   * A range join per child would compare every delivery with every child instead.
   */
  async tree(p: Principal, postId: string, unitCode?: string): Promise<{ postId: string; node: TreeNode; children: TreeNode[] }> {
    const post = await this.posts.load(p, postId);
    const code = unitCode ?? (post.target_path.startsWith(p.unitPath) ? post.target_unit_code : p.unitCode);
    const unit = await this.db
      .selectFrom('units')
      .select(['code', 'name', 'type', 'level', 'path'])
      .where('code', '=', code)
      .executeTakeFirst();
    if (!unit) throw new NotFoundError(`unit ${code}`);
    requireScope(p, unit.path, unit.code);

    const kids = await this.db
      .selectFrom('units')
      .select(['code', 'name', 'type', 'level', 'path'])
      .where('parent_code', '=', unit.code)
      .orderBy('path')
      .execute();
    const prefixLength = unit.path.length + Math.max(0, ...kids.map((k) => k.code.length + 1));
    const groups = await this.db
      .selectFrom('deliveries as d')
      .innerJoin('units as u', 'u.code', 'd.unit_code')
      .select((eb) => [sql<string>`substr(u.path, 1, ${sql.lit(prefixLength)})`.as('prefix'), 'd.status', eb.fn.countAll<number>().as('n')])
      .where('d.post_id', '=', postId)
      .where('u.path', '>=', unit.path)
      .where('u.path', '<', subtreeEnd(unit.path))
      .groupBy([sql`substr(u.path, 1, ${sql.lit(prefixLength)})`, 'd.status'])
      .execute();

    const node: TreeNode = {
      code: unit.code,
      name: unit.name,
      type: unit.type,
      level: unit.level,
      counts: emptyRollUp(),
      delivery: null,
      hasChildren: false,
    };
    const children = kids.map((k) => ({
      path: k.path,
      node: {
        code: k.code,
        name: k.name,
        type: k.type,
        level: k.level,
        counts: emptyRollUp(),
        delivery: null,
        hasChildren: false,
      } as TreeNode,
    }));
    for (const g of groups) {
      const n = Number(g.n);
      add(node.counts, g.status, n);
      const child = children.find((c) => g.prefix.startsWith(c.path));
      if (child) add(child.node.counts, g.status, n);
    }
    const shown = [node, ...children.filter((c) => c.node.counts.total > 0).map((c) => c.node)];
    const own = await this.db
      .selectFrom('deliveries')
      .select(['unit_code', 'status', 'permalink', 'reason'])
      .where('post_id', '=', postId)
      .where(
        'unit_code',
        'in',
        shown.map((n) => n.code),
      )
      .execute();
    const byCode = new Map(shown.map((n) => [n.code, n]));
    for (const d of own) {
      const n = byCode.get(d.unit_code);
      if (n) n.delivery = { status: d.status as DeliveryStatus, permalink: d.permalink, reason: d.reason };
    }
    for (const n of shown) n.hasChildren = n.counts.total > (n.delivery ? 1 : 0);
    return { postId, node, children: shown.slice(1) };
  }

  /** Failed deliveries of the post in the caller's subtree, grouped by reason and Graph error code, largest group first. */
  async failures(p: Principal, postId: string): Promise<{ postId: string; total: number; items: FailureGroup[] }> {
    await this.posts.load(p, postId);
    const rows = await this.db
      .selectFrom('deliveries as d')
      .innerJoin('units as u', 'u.code', 'd.unit_code')
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
      }))
      .sort((a, b) => b.count - a.count || String(a.reason).localeCompare(String(b.reason)));
    return { postId, total: items.reduce((s, i) => s + i.count, 0), items };
  }
}
