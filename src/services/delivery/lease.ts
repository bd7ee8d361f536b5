import { performance } from 'node:perf_hooks';
import type { DeliveryStatus } from '../posts/post-status';

/** One delivery with what publish, recall and edit jobs need (the unit's current Page token included, encrypted). */
export interface LedgerDelivery {
  id: number;
  postId: string;
  unitCode: string;
  status: DeliveryStatus;
  attempts: number;
  reason: string | null;
  attemptStartedAt: string | null;
  /** The fence of the latest claim, and when its lease ends (null once released). */
  claimToken: string | null;
  leaseUntil: string | null;
  /** The Page the post was published on (the unit may have been relinked since). */
  publishedPageId: string | null;
  fbPostId: string | null;
  editRevision: number;
  editStatus: string | null;
  /** A spread post's planned slot for this delivery: never sent before it (null without a spread). */
  notBefore: string | null;
  postStatus: string;
  message: string;
  link: string | null;
  photos: string[];
  /** The unit's Page now. */
  /** The delivery's Page with its token; `retired` once unlinked (recalls and edits still use it). */
  /** `tokenCiphertext` null: the Page is mapped to its unit but has no token yet. */
  page: { pageId: string; tokenCiphertext: string | null; tokenStatus: string; tokenStatusReason: string | null; retired: boolean } | null;
}

/** What events need to know about a delivery to report it. */
export type DeliveryRef = Pick<LedgerDelivery, 'id' | 'postId' | 'unitCode'> & { page?: { pageId: string } | null };

export interface DeliveryError {
  code: number | null;
  subcode: number | null;
  message: string;
}

/** What a claim is for: each kind has its own precondition on the row. */
export type ClaimFor = { kind: 'publish'; countAttempt: boolean } | { kind: 'recall' } | { kind: 'edit'; revision: number };

/** Thrown (before anything is sent) by a write whose lease ran out: the row may belong to another worker by now. */
export class LeaseExpiredError extends Error {
  override name = 'LeaseExpiredError';
  constructor(readonly deliveryId: number) {
    super(`lease of delivery ${deliveryId} ran out before the request was sent; nothing was sent`);
  }
}

/**
 * A fenced claim of one delivery row. The holder may write to the Page only while `valid()` by its
 * own monotonic clock (measured from before the claim was written, so it ends no later than the
 * `lease_until` others see), and records outcomes only while the row still carries its token.
 */
export class Lease {
  /** The monotonic deadline of a lease of `leaseMs` that starts now. */
  static deadlineFor(leaseMs: number): number {
    return performance.now() + leaseMs;
  }

  constructor(
    readonly deliveryId: number,
    readonly token: string,
    /** performance.now() after which this holder must not send. */
    private readonly deadline: number,
  ) {}

  valid(): boolean {
    return performance.now() < this.deadline;
  }

  /** Call in the same tick that hands the request to the socket. */
  check(): void {
    if (!this.valid()) throw new LeaseExpiredError(this.deliveryId);
  }

  remainingMs(): number {
    return this.deadline - performance.now();
  }
}

export interface LedgerSettings {
  /** How long a claim lets its holder send (ms). */
  leaseMs: number;
  /**
   * How long after a lease ended another worker may take the row over (ms): the holder's last
   * request may still be in flight until its timeout, and Graph may list its post a moment later.
   */
  takeoverMs: number;
}
