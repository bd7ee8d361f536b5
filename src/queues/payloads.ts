import { z } from 'zod';

/**
 * Part of the job catalog (catalog.ts, which re-exports all of it): the deterministic job ids and the
 * payload schema of every job, with their types.
 */

/** Deterministic job ids: re-adding an existing job is a no-op, so every enqueue can be retried. */
export const fanoutJobId = (postId: string) => `fanout-${postId}`;
export const deliveryJobId = (deliveryId: number, round = 0) => (round ? `dlv-${deliveryId}-r${round}` : `dlv-${deliveryId}`);
/** One recall job per delivery and recall round (a retried recall gets new jobs: the old ones may sit in `failed`). */
export const recallJobId = (deliveryId: number, round: number) => `rcl-${deliveryId}-r${round}`;
export const editJobId = (deliveryId: number, revision: number) => `edt-${deliveryId}-v${revision}`;
/** One job per (webhook, event), so an event raised twice is sent once while the job exists. */
export const webhookJobId = (webhookId: string, eventId: string) => `wh-${webhookId}-${eventId}`;

const postId = z.string().min(1);
const deliveryId = z.number().int().positive();

export const FanoutPayload = z.object({
  postId,
  /** Checkpoint: the last delivery id already enqueued (fan-out resumes after it). */
  enqueuedUpTo: z.number().int().nonnegative().optional(),
});
export const DeliveryPayload = z.object({
  deliveryId,
  postId,
  /** Job round: 0 for the first fan-out, +1 per manual retry or reconciler re-enqueue of a dead job. */
  round: z.number().int().nonnegative().optional(),
});
export const ChangePayload = z.object({
  deliveryId,
  postId,
  /** Edit jobs: the post revision to apply. Recall jobs: the recall round. */
  revision: z.number().int().nonnegative(),
});
/** The body a receiver gets (signed as sent). Carries ids and counts, never a token or a secret. */
export const WebhookEventBody = z.object({
  /** Stable per event: the same across retries, so receivers can deduplicate. */
  id: z.string().min(1),
  type: z.string().min(1),
  createdAt: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export const WebhookPayload = z.object({ webhookId: z.string().min(1), event: WebhookEventBody });
/** Scheduled maintenance runs carry nothing: they read the store. */
export const EmptyPayload = z.object({});
export const TokenSweepPayload = z.object({
  /** Checkpoint: the last unit code checked (a restarted sweep resumes after it). */
  after: z.string().optional(),
});

export type FanoutJobData = z.output<typeof FanoutPayload>;
export type DeliveryJobData = z.output<typeof DeliveryPayload>;
export type ChangeJobData = z.output<typeof ChangePayload>;
export type WebhookEventBody = z.output<typeof WebhookEventBody>;
export type WebhookJobData = z.output<typeof WebhookPayload>;
export type TokenSweepJobData = z.output<typeof TokenSweepPayload>;
