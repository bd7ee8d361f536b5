/**
 * Post lifecycle: pending_approval → approved → scheduled → publishing → published | partially_failed | failed,
 * or cancelled. A post that reached Pages can be recalled: recalling → recalled (deleted everywhere it could be).
 * An approver may instead reject a pending post (final: `rejected`); its author resubmits it as a new post.
 */
export const POST_STATUSES = [
  'pending_approval',
  'approved',
  'scheduled',
  'publishing',
  'published',
  'partially_failed',
  'failed',
  'cancelled',
  'recalling',
  'recalled',
  'rejected',
] as const;
export type PostStatus = (typeof POST_STATUSES)[number];

/** Statuses in which a post still has work to do (the reconciler looks at these). */
export const ACTIVE_POST_STATUSES: readonly PostStatus[] = ['approved', 'scheduled', 'publishing'];
export const CANCELLABLE_POST_STATUSES: readonly PostStatus[] = ['pending_approval', 'approved', 'scheduled', 'publishing'];
/** A recall was requested: nothing of this post may be sent any more (like a cancel). */
export const WITHDRAWN_POST_STATUSES: readonly PostStatus[] = ['cancelled', 'recalling', 'recalled'];

/**
 * queued → publishing → published | failed, or skipped / cancelled.
 * A recall takes published deliveries through recalling → recalled (or recall_failed, which a new recall retries).
 */
export const DELIVERY_STATUSES = [
  'queued',
  'publishing',
  'published',
  'failed',
  'skipped',
  'cancelled',
  'recalling',
  'recalled',
  'recall_failed',
] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];
/** A delivery in one of these may still be sent. */
export const OPEN_DELIVERY_STATUSES: readonly DeliveryStatus[] = ['queued', 'publishing'];

export type DeliveryCounts = Record<DeliveryStatus, number>;

export function emptyCounts(): DeliveryCounts {
  return { queued: 0, publishing: 0, published: 0, failed: 0, skipped: 0, cancelled: 0, recalling: 0, recalled: 0, recall_failed: 0 };
}

/** The final status of a post once none of its deliveries is open. */
export function finalStatus(c: DeliveryCounts): 'published' | 'partially_failed' | 'failed' {
  if (c.published > 0 && c.failed === 0) return 'published';
  if (c.published > 0) return 'partially_failed';
  return 'failed';
}
