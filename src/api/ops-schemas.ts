import { z } from 'zod';
import { ROLES } from '../services/auth/keys.service';
import { TOKEN_STATUSES } from '../services/tree/pages.service';
import { DELIVERY_STATUSES, POST_STATUSES } from '../services/posts/post-status';
import { UNIT_CODE_RE } from '../services/tree/units.service';
import { Counts, limit } from './schemas';

/*
 * Schemas of the read models behind the dashboard (tree, failures, live progress, Pages, throughput).
 * Kept apart from schemas.ts so the routes of other features grow there without colliding with these.
 */

const unitCode = z.string().regex(UNIT_CODE_RE, 'expected a unit code');
const uuidList = /^[0-9a-fA-F-]{36}(,[0-9a-fA-F-]{36}){0,49}$/;

export const Me = z.object({
  keyId: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  unit: z.object({ code: z.string(), name: z.string() }),
  /** The deepest level of the active tree (2 since the 2025-07 reform: provinces, communes; 3 before). */
  deepestLevel: z.number(),
});

export const KeyNamesQuery = z.object({ ids: z.string().min(1).max(2000).describe('comma-separated key ids (at most 100)') });
export const KeyNames = z.object({
  items: z.array(z.object({ id: z.string(), name: z.string(), role: z.string(), unitCode: z.string() })),
});

/** Counts of a subtree, with `queued` and `publishing` folded into `pending`, and the recall's statuses. */
export const RollUp = z.object({
  published: z.number(),
  failed: z.number(),
  skipped: z.number(),
  pending: z.number(),
  cancelled: z.number(),
  recalling: z.number(),
  recalled: z.number(),
  recall_failed: z.number(),
  total: z.number(),
});

export const TreeNode = z.object({
  code: z.string(),
  name: z.string(),
  type: z.string(),
  level: z.number(),
  counts: RollUp,
  /** The node's own delivery, when the unit itself is in the target (permalink null once its copy was recalled). */
  delivery: z.object({ status: z.enum(DELIVERY_STATUSES), permalink: z.string().nullable(), reason: z.string().nullable() }).nullable(),
  /** One entry per Page of the unit (a unit may have several after a merger). */
  pages: z.array(
    z.object({
      pageId: z.string().nullable(),
      status: z.enum(DELIVERY_STATUSES),
      permalink: z.string().nullable(),
      reason: z.string().nullable(),
    }),
  ),
  hasChildren: z.boolean(),
  /** The unit version the post went to has since been retired by a reorganisation. */
  retired: z.boolean(),
});
export const TreeQuery = z.object({
  unit: unitCode.optional().describe('the node to expand; default: the target unit, or your unit when it lies inside the target'),
});
export const PostTree = z.object({ postId: z.string(), node: TreeNode, children: z.array(TreeNode) });

export const FailureGroup = z.object({
  reason: z.string().nullable(),
  code: z.number().nullable(),
  subcode: z.number().nullable(),
  count: z.number(),
  sampleMessage: z.string().nullable(),
  /** What can fix this group: \`retry\`, \`relink\` (link the Page again with a working token first) or \`none\` (Facebook refused the content). */
  action: z.enum(['retry', 'relink', 'none']),
});
export const PostFailures = z.object({ postId: z.string(), total: z.number(), items: z.array(FailureGroup) });

export const ProgressEvent = z.object({
  id: z.string(),
  status: z.enum(POST_STATUSES),
  total: z.number(),
  counts: Counts,
  updatedAt: z.string(),
  completedAt: z.string().nullable(),
});
export const PostEventsQuery = z.object({ ids: z.string().regex(uuidList, 'expected 1 to 50 comma-separated post ids') });
export const EVENT_STREAM_DESCRIPTION =
  'text/event-stream. `event: progress` carries {id, status, total, counts, updatedAt, completedAt} whenever they change ' +
  '(the store is polled every 500 ms); `: ping` comments keep the connection alive; `event: end` is sent when every post is final, then the stream closes.';

const statusParam = z.enum(TOKEN_STATUSES);
export const PagesQuery = z.object({
  status: z
    .union([statusParam, z.array(statusParam).max(TOKEN_STATUSES.length)])
    .optional()
    .describe('repeat to combine, e.g. status=needs_reauth&status=expiring'),
  limit,
  cursor: z.string().max(500).optional(),
});
export const PageStatusView = z.object({
  unitCode: z.string(),
  unitName: z.string(),
  unitType: z.string(),
  level: z.number(),
  pageId: z.string(),
  label: z.string().nullable(),
  tokenStatus: z.enum(TOKEN_STATUSES),
  tokenStatusReason: z.string().nullable(),
  checkedAt: z.string().nullable(),
  /** The unit's parents, top first (the root left out), e.g. the province of a commune. */
  ancestors: z.array(z.object({ code: z.string(), name: z.string(), level: z.number() })),
});
export const PageStatusList = z.object({
  items: z.array(PageStatusView),
  nextCursor: z.string().nullable(),
  /** Pages by token status in the caller's subtree (whatever the filter). */
  counts: z.object(Object.fromEntries(TOKEN_STATUSES.map((s) => [s, z.number()])) as Record<(typeof TOKEN_STATUSES)[number], z.ZodNumber>),
});

const Window = z.object({
  seconds: z.number(),
  published: z.number(),
  failed: z.number(),
  skipped: z.number(),
  cancelled: z.number(),
  total: z.number(),
  perSecond: z.number(),
});
export const Throughput = z.object({ at: z.string(), lastMinute: Window, last5Minutes: Window });

const JobCounts = z.record(z.string(), z.number());
export const QueueCounts = z.object({
  fanout: JobCounts.describe('BullMQ job counts of the fan-out queue, by state (every unit: a fan-out job is one post)'),
  deliveries: JobCounts.describe(
    'BullMQ counts of the deliveries queue (waiting, active, delayed…, every unit) except `failed`: the failed deliveries of ' +
      'your subtree from the ledger, of posts a retry can still act on. A delivery that failed and later succeeded is not counted; ' +
      "BullMQ's own failed set (stale jobs included) is on Bull Board for admins.",
  ),
  scope: z.object({ unit: z.string().describe("the unit whose subtree `deliveries.failed` counts (your key's unit)") }),
});
