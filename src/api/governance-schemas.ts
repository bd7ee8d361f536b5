import { z } from 'zod';
import { AUDIT_ACTIONS } from '../services/governance/audit.service';
import { EDIT_STATUSES, EditPostSchema } from '../services/governance/edits.service';
import { ROLES } from '../services/auth/keys.service';
import { UNIT_CODE_RE } from '../services/tree/units.service';
import { hasNoNul, NO_NUL_MESSAGE } from '../services/shared/text';
import { limit } from './schemas';

export { EditPostSchema };

export const KeyIdParam = z.object({ id: z.string().regex(/^key_[A-Za-z0-9_-]{1,64}$/, 'expected a key id (key_…)') });
export const KeyView = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  unit: z.string(),
  /** Its unit was retired by a reorganisation: every call answers 403 unit_retired until it is re-scoped. */
  suspended: z.boolean(),
  createdBy: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});
export const KeysQuery = z.object({
  unit: z.string().regex(UNIT_CODE_RE, 'expected a unit code').optional(),
  includeRevoked: z.enum(['true', 'false']).optional(),
});
export const RevokedKey = z.object({ id: z.string(), revokedAt: z.string() });

export const RecallBody = z
  .object({ reason: z.string().trim().min(3, 'say why (at least 3 characters)').max(1000).refine(hasNoNul, NO_NUL_MESSAGE) })
  .strict();
export const RecallResult = z.object({
  id: z.string(),
  status: z.enum(['recalling', 'recalled']),
  recall: z.object({ by: z.string(), at: z.string(), reason: z.string() }),
  queued: z.number(),
});

export const EditParams = z.object({
  id: z.uuid({ error: 'expected a post id (UUID)' }),
  revision: z.coerce.number().int().min(1).max(1_000_000),
});
export const EditView = z.object({
  postId: z.string(),
  revision: z.number(),
  status: z.enum(EDIT_STATUSES),
  message: z.string(),
  previousMessage: z.string(),
  requestedBy: z.string(),
  requestedAt: z.string(),
  approvedBy: z.string().nullable(),
  approvedAt: z.string().nullable(),
  completedAt: z.string().nullable(),
  counts: z.object({ pending: z.number(), applied: z.number(), failed: z.number() }),
  rejection: z.object({ by: z.string(), at: z.string(), reason: z.string() }).nullable(),
});

export const AuditQuery = z.object({
  subject: z.string().min(1).max(200).refine(hasNoNul, NO_NUL_MESSAGE).optional(),
  actor: z.string().min(1).max(200).refine(hasNoNul, NO_NUL_MESSAGE).optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  since: z.iso.datetime({ offset: true, error: 'expected an ISO-8601 date-time' }).optional(),
  limit,
  cursor: z.string().max(500).optional(),
});
export const AuditList = z.object({
  items: z.array(
    z.object({
      id: z.number(),
      at: z.string(),
      actor: z.object({ keyId: z.string(), name: z.string() }),
      action: z.string(),
      subject: z.object({ type: z.string(), id: z.string() }),
      details: z.record(z.string(), z.unknown()),
    }),
  ),
  nextCursor: z.string().nullable(),
});

/** `Idempotency-Key` (optional): printable ASCII, at most 255 characters. Other headers pass through. */
export const IdempotencyHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7E]{1,255}$/, 'expected 1-255 printable ASCII characters')
    .optional(),
});
