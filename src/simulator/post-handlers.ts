/**
 * Endpoint handlers for Page posts and photos (spec §3.1, 3.2, 3.4–3.7).
 * Each returns the success body or throws a SimGraphError.
 */
import { attachedMedia, bool, parseFields, parseTime, str, type Params } from './body';
import { invalidParam, SimGraphError, unsupportedRequest } from './errors';
import type { SimStore, StoredPage, StoredPost } from './store';
import { dupKeyOf } from './store';
import type { ResolvedOptions } from './types';
import { checkPhotoFields, checkPostFields, decodeCursor, encodeCursor, photoView, postView } from './views';

const MIN_LEAD_MS = 10 * 60_000;

export interface HandlerContext {
  store: SimStore;
  opts: ResolvedOptions;
  now: number;
  params: Params;
  version: string;
  baseUrl: string;
}

function isHttpUrl(s: string): boolean {
  if (!/^https?:\/\//i.test(s)) return false;
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}

function scheduleTime(ctx: HandlerContext, raw: unknown): number {
  const at = parseTime(raw, ctx.now);
  const lead = at - ctx.now;
  if (lead < MIN_LEAD_MS || lead > ctx.opts.scheduleMaxLeadDays * 86_400_000) {
    throw new SimGraphError(100, '(#100) The specified scheduled publish time is invalid');
  }
  return at;
}

/** POST /{page-id}/feed */
export function createFeedPost(ctx: HandlerContext, page: StoredPage): Record<string, unknown> {
  const { params, store } = ctx;
  const message = str(params, 'message');
  const link = str(params, 'link');
  const media = attachedMedia(params);
  const fields = parseFields(params['fields']);
  checkPostFields(fields);
  if (!message && !link && media.length === 0) throw invalidParam('Missing message or attachment');
  if (link !== undefined && !isHttpUrl(link)) throw new SimGraphError(1500, '(#1500) The url you supplied is invalid');
  media.forEach((id, i) => {
    const photo = store.photos.get(id);
    if (!photo || photo.deleted || photo.pageId !== page.id || photo.published) {
      throw invalidParam(`attached_media[${i}] must be the id of an unpublished photo uploaded to this Page`);
    }
  });
  const published = bool(params, 'published') ?? true;
  let scheduledAt: number | undefined;
  const rawSchedule = params['scheduled_publish_time'];
  if (rawSchedule !== undefined && rawSchedule !== '') {
    if (published) throw new SimGraphError(100, '(#100) The specified scheduled publish time is invalid');
    scheduledAt = scheduleTime(ctx, rawSchedule);
  }
  const mode = ctx.opts.duplicateMode;
  if (published && media.length === 0 && mode !== 'off') {
    if (store.isDuplicate(page, dupKeyOf(message, link), mode, ctx.opts.duplicateWindowMs, ctx.now)) {
      throw new SimGraphError(506, '(#506) Duplicate status message');
    }
  }
  const post = store.createPost(
    page,
    {
      message,
      link,
      attachedMedia: media,
      published,
      scheduledAt,
      clientMutationId: str(params, 'client_mutation_id'),
      via: 'feed',
    },
    ctx.now,
  );
  const base = { id: post.id, post_supports_client_mutation_id: true };
  return fields ? { ...postView(post, fields, page, store.photos), ...base } : base;
}

/** POST /{page-id}/photos (by url only). */
export function createPhoto(ctx: HandlerContext, page: StoredPage): Record<string, unknown> {
  const { params, store } = ctx;
  const url = str(params, 'url');
  const fields = parseFields(params['fields']);
  checkPhotoFields(fields);
  if (url === undefined || url === '') throw new SimGraphError(324, '(#324) Requires upload file');
  if (!isHttpUrl(url)) throw new SimGraphError(324, '(#324) Missing or invalid image file');
  const caption = str(params, 'caption') ?? str(params, 'message');
  const published = bool(params, 'published') ?? true;
  const photo = store.createPhoto(page, url, caption, published, ctx.now);
  let base: Record<string, unknown> = { id: photo.id };
  if (published) {
    const post = store.createPost(page, { message: caption, attachedMedia: [photo.id], published: true, via: 'photos' }, ctx.now);
    photo.postId = post.id;
    base = { id: photo.id, post_id: post.id };
  }
  return fields ? { ...photoView(photo, fields, page, store.photos), ...base } : base;
}

/** GET /{post-id} */
export function getPost(ctx: HandlerContext, post: StoredPost, page: StoredPage): Record<string, unknown> {
  return postView(post, parseFields(ctx.params['fields']), page, ctx.store.photos);
}

/** POST /{post-id}: message edit, publish/unpublish, hide, re-schedule. */
export function updatePost(ctx: HandlerContext, post: StoredPost, page: StoredPage): Record<string, unknown> {
  const { params, store } = ctx;
  const fields = parseFields(params['fields']);
  checkPostFields(fields);
  const message = str(params, 'message');
  const isPublished = bool(params, 'is_published');
  const isHidden = bool(params, 'is_hidden');
  const rawSchedule = params['scheduled_publish_time'];
  if (message === undefined && isPublished === undefined && isHidden === undefined && rawSchedule === undefined) {
    throw invalidParam('Missing parameters: one of message, is_published, is_hidden or scheduled_publish_time is required');
  }
  let at: number | undefined;
  if (rawSchedule !== undefined) {
    if (post.isPublished) throw new SimGraphError(100, '(#100) The specified scheduled publish time is invalid');
    at = scheduleTime(ctx, rawSchedule);
  }
  if (message !== undefined) {
    post.message = message;
    post.dupKey = post.dupKey === null ? null : dupKeyOf(message, post.link);
  }
  if (isHidden !== undefined) post.isHidden = isHidden;
  if (at !== undefined) store.reschedule(post, at);
  // Publishing an already published post is a no-op that still succeeds (§3.5: idempotent).
  if (isPublished !== undefined) store.setPublished(post, isPublished, ctx.now);
  post.updatedAt = ctx.now;
  return fields ? { success: true, ...postView(post, fields, page, store.photos) } : { success: true };
}

/** DELETE /{post-id} */
export function deletePost(ctx: HandlerContext, post: StoredPost): Record<string, unknown> {
  ctx.store.deletePost(post, ctx.now);
  return { success: true };
}

/** DELETE /{photo-id}: only unattached, unpublished uploads can be deleted alone. */
export function deletePhoto(ctx: HandlerContext, photoId: string): Record<string, unknown> {
  const photo = ctx.store.photos.get(photoId);
  if (!photo || photo.deleted || photo.published) throw unsupportedRequest('delete', photoId);
  for (const post of ctx.store.pages.get(photo.pageId)?.posts ?? []) {
    if (!post.isDeleted && post.attachedMedia.includes(photoId)) throw unsupportedRequest('delete', photoId);
  }
  photo.deleted = true;
  return { success: true };
}

export type ListEdge = 'feed' | 'posts' | 'published_posts' | 'scheduled_posts';

/**
 * GET /{page-id}/{feed|posts|published_posts|scheduled_posts}: reverse chronological, cursor paged.
 * `createdUpTo` (read-after-create lag) leaves out published posts created after that instant.
 */
export function listPosts(
  ctx: HandlerContext,
  page: StoredPage,
  edge: ListEdge,
  createdUpTo = Number.POSITIVE_INFINITY,
): Record<string, unknown> {
  const { params } = ctx;
  const fields = parseFields(params['fields']);
  checkPostFields(fields);
  const rawLimit = str(params, 'limit');
  let limit = rawLimit === undefined ? 25 : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 0) throw invalidParam('Param limit must be a non-negative integer');
  limit = Math.min(limit, 100);
  const after = str(params, 'after');
  const before = str(params, 'before');
  const wanted =
    edge === 'scheduled_posts'
      ? (p: StoredPost) => !p.isDeleted && !p.isPublished && p.scheduledPublishTime !== undefined
      : (p: StoredPost) => !p.isDeleted && p.isPublished && p.createdAt <= createdUpTo;
  const picked: StoredPost[] = [];
  let more = false;
  if (before !== undefined) {
    // Newer than the cursor, collected oldest-first then reversed.
    for (let i = decodeCursor(before) + 1; i < page.posts.length; i++) {
      const p = page.posts[i]!;
      if (!wanted(p)) continue;
      if (picked.length === limit) {
        more = true;
        break;
      }
      picked.push(p);
    }
    picked.reverse();
  } else {
    const start = after === undefined ? page.posts.length - 1 : decodeCursor(after) - 1;
    for (let i = start; i >= 0; i--) {
      const p = page.posts[i]!;
      if (!wanted(p)) continue;
      if (picked.length === limit) {
        more = true;
        break;
      }
      picked.push(p);
    }
  }
  const data = picked.map((p) => postView(p, fields, page, ctx.store.photos));
  if (picked.length === 0) return { data };
  const cursors = { before: encodeCursor(picked[0]!.index), after: encodeCursor(picked[picked.length - 1]!.index) };
  const paging: Record<string, unknown> = { cursors };
  // `next` only when older posts remain (a `before` page always has the cursor's post behind it).
  if (more || before !== undefined) {
    const qs = new URLSearchParams();
    if (fields) qs.set('fields', fields.join(','));
    qs.set('limit', String(limit));
    qs.set('after', cursors.after);
    // Unlike Meta, the token is deliberately left out of paging URLs.
    paging['next'] = `${ctx.baseUrl}/${ctx.version}/${page.id}/${edge}?${qs.toString()}`;
  }
  return { data, paging };
}
