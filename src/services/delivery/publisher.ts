import type { Fence, GraphClient } from '../../graph/graph-client';
import type { GraphUsage } from '../../graph/usage';

export interface PostContent {
  message: string;
  link: string | null;
  photos: string[];
}

export interface Published {
  fbPostId: string;
  permalink: string;
}

/** Allowance for clock skew between us and Graph when matching a post created by an earlier attempt. */
const CLOCK_SKEW_MS = 5 * 60_000;
/** Posts read back when resolving an unknown outcome (Graph returns newest first). */
const READ_BACK_LIMIT = 25;

export function permalinkFor(fbPostId: string): string {
  const [page, post] = fbPostId.split('_');
  return post ? `https://www.facebook.com/${page}/posts/${post}` : `https://www.facebook.com/${fbPostId}`;
}

/** Publishes one post to one Page through the Graph client. */
export class Publisher {
  constructor(private readonly graph: GraphClient) {}

  /** `fence` is checked right before each write (each photo, then the feed post). */
  async publish(pageId: string, token: string, content: PostContent, fence?: Fence): Promise<Published & { usage: GraphUsage | null }> {
    const write = fence ? { fence } : {};
    // Photos go up unpublished first, then one feed post attaches them (the documented multi-photo flow).
    const media: string[] = [];
    for (const url of content.photos) {
      const photo = await this.graph.uploadPhoto(pageId, token, { url, published: false }, write);
      media.push(photo.data.id);
    }
    const res = await this.graph.createFeedPost(
      pageId,
      token,
      {
        message: content.message,
        ...(content.link ? { link: content.link } : {}),
        ...(media.length ? { attachedMedia: media } : {}),
        fields: ['id', 'permalink_url'],
      },
      write,
    );
    return { fbPostId: res.data.id, permalink: res.data.permalink_url ?? permalinkFor(res.data.id), usage: res.usage };
  }

  /**
   * Looks for a post with this content created on the Page since `since` (an earlier attempt whose
   * answer was lost). Facebook has no idempotency key, so content + time is the fingerprint.
   */
  async findExisting(pageId: string, token: string, content: PostContent, since: Date): Promise<Published | null> {
    const res = await this.graph.listPublishedPosts(pageId, token, {
      limit: READ_BACK_LIMIT,
      fields: ['id', 'message', 'created_time', 'permalink_url'],
    });
    const from = since.getTime() - CLOCK_SKEW_MS;
    for (const p of res.data.data) {
      const created = Date.parse(String(p.created_time ?? '').replace(/\+0000$/, 'Z'));
      if (p.message === content.message && (!Number.isFinite(created) || created >= from)) {
        const id = String(p.id);
        return { fbPostId: id, permalink: typeof p.permalink_url === 'string' ? p.permalink_url : permalinkFor(id) };
      }
    }
    return null;
  }
}
