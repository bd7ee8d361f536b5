/**
 * In-memory object model of the simulator (spec §2): Pages, tokens, posts and
 * photos, with O(1) lookups by id and an incrementally maintained visible
 * count per Page.
 */
import type { Rng } from './prng';
import type { InvalidationSubcode, PageSeed, SimPost } from './types';

export interface StoredPost extends SimPost {
  /** Position in the Page's `posts` array; used for cursors. */
  index: number;
  /** Normalised message+link for the duplicate rule; null when not a text/link feed post. */
  dupKey: string | null;
}

export interface StoredPhoto {
  id: string;
  pageId: string;
  url: string;
  caption?: string;
  published: boolean;
  postId?: string;
  createdAt: number;
  deleted: boolean;
}

export interface StoredPage {
  id: string;
  name: string;
  posts: StoredPost[];
  visible: number;
  seededAt: number;
  /** The Page's current token: the last one seeded (or re-issued by /me/accounts after an invalidation). */
  token: string;
}

export interface TokenRecord {
  pageId: string;
  /** null while valid; the 190 subcode once invalidated. */
  invalidSubcode: InvalidationSubcode | null;
  invalidatedAt: number;
  issuedAt: number;
}

export interface StoreSnapshot {
  lastId: number;
  pages: StoredPage[];
  tokens: Array<[string, TokenRecord]>;
  photos: StoredPhoto[];
}

/** Ids start near real-looking 16-digit values and stay below 2^53. */
const ID_START = 1_221_689_090_000_000;
const MAX_GAP = 997;

export class SimStore {
  readonly pages = new Map<string, StoredPage>();
  readonly tokens = new Map<string, TokenRecord>();
  readonly posts = new Map<string, StoredPost>();
  readonly photos = new Map<string, StoredPhoto>();
  /** Scheduled, not yet published posts; promoted lazily when due. */
  private readonly scheduled = new Set<StoredPost>();
  private lastId = ID_START;
  totalVisible = 0;

  constructor(private readonly rng: () => Rng) {}

  clear(keepPages: boolean): void {
    this.posts.clear();
    this.photos.clear();
    this.scheduled.clear();
    this.totalVisible = 0;
    this.lastId = ID_START;
    if (!keepPages) {
      this.pages.clear();
      this.tokens.clear();
      return;
    }
    for (const page of this.pages.values()) {
      page.posts = [];
      page.visible = 0;
    }
    for (const t of this.tokens.values()) t.invalidSubcode = null;
  }

  /** Strictly increasing numeric ids with seeded random gaps. */
  nextId(): string {
    this.lastId += 1 + Math.floor(this.rng()() * MAX_GAP);
    return String(this.lastId);
  }

  seedPages(seeds: PageSeed[], now: number): number {
    for (const s of seeds) {
      if (typeof s?.id !== 'string' || s.id.length === 0 || typeof s.token !== 'string' || s.token.length === 0) {
        throw new TypeError('each page needs a non-empty string id and token');
      }
      if (s.id.includes('_') || s.id.includes('/')) throw new TypeError(`page id must not contain '_' or '/': ${s.id}`);
      let page = this.pages.get(s.id);
      if (!page) {
        page = { id: s.id, name: s.name ?? `Page ${s.id}`, posts: [], visible: 0, seededAt: now, token: s.token };
        this.pages.set(s.id, page);
      } else {
        if (s.name) page.name = s.name;
        page.token = s.token;
      }
      // Re-seeding a Page issues a fresh valid token; older tokens keep their own state.
      this.tokens.set(s.token, { pageId: s.id, invalidSubcode: null, invalidatedAt: 0, issuedAt: now });
    }
    return seeds.length;
  }

  /**
   * The Page token a user or system user derives now (/me/accounts): the current one while valid,
   * else a fresh one, as a new derivation after re-authorisation would give [INF].
   */
  derivePageToken(page: StoredPage, now: number, mint: () => string): string {
    const rec = this.tokens.get(page.token);
    if (rec && rec.pageId === page.id && rec.invalidSubcode === null) return page.token;
    const token = mint();
    this.tokens.set(token, { pageId: page.id, invalidSubcode: null, invalidatedAt: 0, issuedAt: now });
    page.token = token;
    return token;
  }

  invalidatePageTokens(pageId: string, subcode: InvalidationSubcode, now: number): number {
    let n = 0;
    for (const rec of this.tokens.values()) {
      if (rec.pageId === pageId && rec.invalidSubcode === null) {
        rec.invalidSubcode = subcode;
        rec.invalidatedAt = now;
        n++;
      }
    }
    return n;
  }

  createPost(
    page: StoredPage,
    fields: {
      message?: string;
      link?: string;
      attachedMedia: string[];
      published: boolean;
      scheduledAt?: number;
      clientMutationId?: string;
      via: 'feed' | 'photos';
    },
    now: number,
  ): StoredPost {
    const n = this.nextId();
    const id = `${page.id}_${n}`;
    const post: StoredPost = {
      id,
      pageId: page.id,
      message: fields.message,
      link: fields.link,
      attachedMedia: fields.attachedMedia,
      createdAt: now,
      updatedAt: now,
      isPublished: fields.published,
      scheduledPublishTime: fields.scheduledAt === undefined ? undefined : Math.floor(fields.scheduledAt / 1000),
      isDeleted: false,
      isHidden: false,
      clientMutationId: fields.clientMutationId,
      permalinkUrl: `https://www.facebook.com/${page.id}/posts/${n}`,
      via: fields.via,
      index: page.posts.length,
      dupKey: fields.via === 'feed' && fields.attachedMedia.length === 0 ? dupKeyOf(fields.message, fields.link) : null,
    };
    page.posts.push(post);
    this.posts.set(id, post);
    if (post.isPublished) this.bumpVisible(page, 1);
    else if (post.scheduledPublishTime !== undefined) this.scheduled.add(post);
    return post;
  }

  createPhoto(page: StoredPage, url: string, caption: string | undefined, published: boolean, now: number): StoredPhoto {
    const photo: StoredPhoto = { id: this.nextId(), pageId: page.id, url, caption, published, createdAt: now, deleted: false };
    this.photos.set(photo.id, photo);
    return photo;
  }

  setPublished(post: StoredPost, published: boolean, now: number): void {
    if (post.isDeleted || post.isPublished === published) return;
    const page = this.pages.get(post.pageId)!;
    post.isPublished = published;
    post.updatedAt = now;
    if (published) {
      this.scheduled.delete(post);
      post.scheduledPublishTime = undefined;
    }
    this.bumpVisible(page, published ? 1 : -1);
  }

  reschedule(post: StoredPost, at: number): void {
    post.scheduledPublishTime = Math.floor(at / 1000);
    if (!post.isPublished && !post.isDeleted) this.scheduled.add(post);
  }

  deletePost(post: StoredPost, now: number): void {
    if (post.isDeleted) return;
    const page = this.pages.get(post.pageId)!;
    if (post.isPublished) this.bumpVisible(page, -1);
    post.isDeleted = true;
    post.updatedAt = now;
    this.scheduled.delete(post);
    if (post.via === 'photos') {
      for (const pid of post.attachedMedia) {
        const photo = this.photos.get(pid);
        if (photo) photo.deleted = true;
      }
    }
  }

  /** Publishes scheduled posts whose time has come (the "scheduler tick", run lazily). */
  promoteDue(now: number): void {
    if (this.scheduled.size === 0) return;
    for (const post of this.scheduled) {
      if (post.scheduledPublishTime !== undefined && post.scheduledPublishTime * 1000 <= now) {
        this.setPublished(post, true, now);
      }
    }
  }

  /** §6.1: is there an earlier post this create would duplicate? */
  isDuplicate(page: StoredPage, key: string, mode: 'consecutive' | 'window', windowMs: number, now: number): boolean {
    for (let i = page.posts.length - 1; i >= 0; i--) {
      const p = page.posts[i]!;
      if (!p.isPublished || p.isDeleted) continue;
      if (mode === 'consecutive') return p.dupKey === key;
      if (now - p.createdAt > windowMs) return false;
      if (p.dupKey === key) return true;
    }
    return false;
  }

  scheduledCount(): number {
    return this.scheduled.size;
  }

  /** Everything this store holds, as plain JSON (the `--state` file; it holds the Page tokens). */
  snapshot(): StoreSnapshot {
    return {
      lastId: this.lastId,
      pages: [...this.pages.values()],
      tokens: [...this.tokens.entries()],
      photos: [...this.photos.values()],
    };
  }

  /** Replaces the whole store with a snapshot (posts, the scheduled set and visible counts are rebuilt from the Pages). */
  restore(s: StoreSnapshot): void {
    this.clear(false);
    this.lastId = s.lastId;
    for (const page of s.pages) {
      page.visible = 0;
      this.pages.set(page.id, page);
      page.posts.forEach((post, i) => {
        post.index = i;
        this.posts.set(post.id, post);
        if (post.isPublished && !post.isDeleted) this.bumpVisible(page, 1);
        else if (!post.isPublished && !post.isDeleted && post.scheduledPublishTime !== undefined) this.scheduled.add(post);
      });
    }
    for (const [token, rec] of s.tokens) this.tokens.set(token, rec);
    for (const photo of s.photos) this.photos.set(photo.id, photo);
  }

  private bumpVisible(page: StoredPage, delta: number): void {
    page.visible += delta;
    this.totalVisible += delta;
  }
}

export function dupKeyOf(message: string | undefined, link: string | undefined): string {
  return `${(message ?? '').trim().replace(/\s+/g, ' ')}\u0000${(link ?? '').trim()}`;
}

export function toSimPost(p: StoredPost): SimPost {
  const { index: _index, dupKey: _dupKey, ...rest } = p;
  return { ...rest, attachedMedia: [...p.attachedMedia] };
}
