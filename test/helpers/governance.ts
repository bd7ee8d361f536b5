import type { ApiClient } from '../../src/cli/api-client';
import type { PostView } from '../../src/services/read-models/post-views.service';
import { waitFor, type TestStack } from './stack';

export { subtreeCodes } from '../../dev/stack';

export const FINAL_POST = ['published', 'partially_failed', 'failed', 'cancelled', 'recalled'];

/** Polls the post until its status is one of `statuses`. */
export function waitForStatus(api: ApiClient, id: string, statuses: string[] = FINAL_POST, timeoutMs = 60_000): Promise<PostView> {
  return waitFor(async () => {
    const p = await api.getPost(id);
    return statuses.includes(p.status) ? p : null;
  }, timeoutMs);
}

/** Copies of a message still visible on a Page, in the simulator's own view. */
export function visibleCopies(s: TestStack, pageId: string, message: string): number {
  return s.sim.postsOf(pageId).filter((p) => p.message === message && p.isPublished && !p.isDeleted && !p.isHidden).length;
}

/** Every delivery of a post (all pages of the listing). */
export async function allDeliveries(api: ApiClient, postId: string): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  let cursor: string | undefined;
  do {
    const page = await api.deliveries(postId, { limit: 500, ...(cursor ? { cursor } : {}) });
    out.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return out;
}
