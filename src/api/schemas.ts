import { z } from 'zod';
import { DELIVERY_STATUSES, POST_STATUSES } from '../services/posts/post-status';
import { ROLES } from '../services/auth/keys.service';
import { UNIT_CODE_RE } from '../services/tree/units.service';
import { hasNoNul, NO_NUL_MESSAGE } from '../services/shared/text';

export const ErrorBody = z.object({ error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }) });
export const errorResponses = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  429: ErrorBody,
};

export const UnitCodeParam = z.object({ code: z.string().regex(UNIT_CODE_RE, 'expected a unit code') });
export const PostIdParam = z.object({ id: z.uuid({ error: 'expected a post id (UUID)' }) });
export const limit = z.coerce.number().int().min(1).max(500).default(50);

export const CreateKeyBody = z
  .object({
    name: z.string().trim().min(1).max(200).refine(hasNoNul, NO_NUL_MESSAGE),
    role: z.enum(ROLES),
    unit: z.string().regex(UNIT_CODE_RE, 'expected a unit code'),
  })
  .strict();
export const CreatedKey = z.object({ id: z.string(), key: z.string(), name: z.string(), role: z.enum(ROLES), unit: z.string() });

export const UnitImportResult = z.object({ created: z.number(), updated: z.number(), total: z.number() });
export const PageImportResult = z.object({ linked: z.number(), total: z.number() });
export const PutPageBody = z
  .object({
    pageId: z.string().regex(/^\d{1,32}$/, 'expected a numeric Page id'),
    accessToken: z.string().min(10).max(4096),
    label: z.string().trim().min(1).max(200).refine(hasNoNul, NO_NUL_MESSAGE).optional(),
  })
  .strict();
export const PageParams = UnitCodeParam.extend({ pageId: z.string().regex(/^\d{1,32}$/, 'expected a numeric Page id') });
export const UnitAtQuery = z.object({ at: z.iso.datetime({ offset: true, error: 'expected an ISO-8601 time' }).optional() }).strict();

const UnitPage = z.object({
  pageId: z.string(),
  label: z.string().nullable(),
  tokenStatus: z.string(),
  tokenStatusReason: z.string().nullable(),
});
export const UnitView = z.object({
  code: z.string(),
  name: z.string(),
  type: z.string(),
  level: z.number(),
  parentCode: z.string().nullable(),
  childCount: z.number(),
  /** The first Page (compatibility with one Page per unit), or null. */
  page: z.object({ pageId: z.string(), tokenStatus: z.string(), tokenStatusReason: z.string().nullable() }).nullable(),
  pages: z.array(UnitPage),
  /** When this version was created and, once a reorganisation retired it, when and into which units. */
  activeFrom: z.string(),
  retiredAt: z.string().nullable(),
  succeededBy: z.array(z.string()),
});

const csvText = z
  .string()
  .max(20 * 1024 * 1024)
  .refine(hasNoNul, NO_NUL_MESSAGE);
export const ReorganiseBody = z
  .object({
    units: csvText.describe('the new tree, CSV code,parent_code,level,type,name (as POST /v1/units/import)'),
    merges: csvText.describe('CSV new_code,old_code,kind (kind full or partial): which old units each new unit absorbed'),
    apply: z.boolean().optional().describe('false (default): a dry run that changes nothing'),
    pages: z.enum(['carry', 'none']).optional().describe('carry (default): Pages follow the merge rows; none: only kept units keep theirs'),
    force: z.boolean().optional().describe('apply even when posts are blocked, cancelling them (reason unit_retired)'),
  })
  .strict();
export const ReorganiseResult = z.object({
  applied: z.boolean(),
  units: z.object({ kept: z.number(), renamed: z.number(), created: z.number(), retired: z.number() }),
  pages: z.object({
    carried: z.number(),
    retired: z.number(),
    unassigned: z.array(z.object({ unitCode: z.string(), pageId: z.string() })),
  }),
  keys: z.object({ suspended: z.array(z.object({ id: z.string(), name: z.string(), unit: z.string() })) }),
  posts: z.object({ blocked: z.array(z.object({ id: z.string(), status: z.string(), targetUnit: z.string() })) }),
});
export const RescopeKeyBody = z.object({ unit: z.string().regex(UNIT_CODE_RE, 'expected a unit code') }).strict();

export const Counts = z.object(
  Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, z.number()])) as Record<(typeof DELIVERY_STATUSES)[number], z.ZodNumber>,
);

/** What `POST /v1/targets/preview` answers: the units and Pages a target reaches, by level. */
export const TargetPreview = z.object({
  unit: z.object({ code: z.string(), path: z.string(), level: z.number() }),
  units: z.number(),
  withPage: z.number(),
  withoutPage: z.number(),
  /** Active Pages of those units: what a post to this target is sent to (a unit may have several). */
  pages: z.number(),
  /** Units no post can reach now: no Page with a token that is not known broken. */
  withoutHealthyPage: z.number(),
  /** The first 10 of those units, in tree order, so a preview can name them. */
  withoutHealthyPageUnits: z.array(z.object({ code: z.string(), name: z.string(), level: z.number() })),
  /** Units per level (root = 0). */
  byLevel: z.record(z.string(), z.number()),
  /** Active Pages per level. */
  pagesByLevel: z.record(z.string(), z.number()),
  /** Units without a healthy Page, per level. */
  withoutHealthyPageByLevel: z.record(z.string(), z.number()),
});

/** Who rejected a post or an edit (the key id), when and why. */
export const Rejection = z.object({ by: z.string(), at: z.string(), reason: z.string() });

export const PostView = z.object({
  id: z.string(),
  status: z.enum(POST_STATUSES),
  message: z.string(),
  link: z.string().nullable(),
  photos: z.array(z.string()),
  target: z.unknown(),
  publishAt: z.string().nullable(),
  total: z.number(),
  counts: Counts,
  createdBy: z.string(),
  approvedBy: z.string().nullable(),
  cancelledBy: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
  approvedAt: z.string().nullable(),
  startedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
  recall: z.object({ by: z.string(), at: z.string(), reason: z.string() }).nullable(),
  rejection: Rejection.nullable(),
  resubmitOf: z.string().nullable(),
  resubmittedAs: z.string().nullable(),
  /**
   * The spread the post asked for: its deliveries go out evenly over `minutes` (root, then provinces, then
   * communes). `plannedEndAt` is the end of that window: set when the fan-out starts (a scheduled post has
   * it from the start: `publishAt` + the spread); null until then for a post published on approval. Null without a spread.
   */
  spread: z.object({ minutes: z.number(), plannedEndAt: z.string().nullable() }).nullable(),
});

export const PostList = z.object({ items: z.array(PostView), nextCursor: z.string().nullable() });
export const PostsQuery = z.object({ status: z.enum(POST_STATUSES).optional(), limit, cursor: z.string().max(500).optional() });

export const DeliveryView = z.object({
  unitCode: z.string(),
  /** The unit's name when the post went out. */
  unitName: z.string(),
  /** That unit version has since been retired by a reorganisation. */
  unitRetired: z.boolean(),
  pageId: z.string().nullable(),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number(),
  fbPostId: z.string().nullable(),
  permalink: z.string().nullable(),
  reason: z.string().nullable(),
  error: z.object({ code: z.number().nullable(), subcode: z.number().nullable(), message: z.string().nullable() }).nullable(),
  edit: z.object({ revision: z.number(), status: z.string(), error: z.string().nullable() }).nullable(),
  updatedAt: z.string(),
});
export const DeliveryList = z.object({ items: z.array(DeliveryView), nextCursor: z.string().nullable() });
export const DeliveriesQuery = z.object({
  status: z.enum(DELIVERY_STATUSES).optional(),
  unit: z.string().regex(UNIT_CODE_RE, 'expected a unit code').optional(),
  limit,
  cursor: z.string().max(500).optional(),
});

export const StatusChange = z.object({ id: z.string(), status: z.enum(POST_STATUSES), publishAt: z.string().nullable().optional() });
