import type { ApiClient } from './api-client';

/** `lantoa posts reject <postId> --reason TEXT`: refuse a pending post; its author sees the reason and may resubmit. */
export async function rejectCommand(api: ApiClient, postId: string | undefined, reason: string | undefined): Promise<number> {
  if (!postId || !reason?.trim()) {
    console.error('usage: lantoa posts reject <postId> --reason TEXT (the reason is shown to the author)');
    return 2;
  }
  const res = await api.reject(postId, reason);
  console.log(JSON.stringify(res, null, 2));
  return 0;
}
