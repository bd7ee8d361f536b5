/**
 * JSON views of stored objects for GET / read-after-write `fields=` (spec §3.4).
 */
import { SimGraphError } from './errors';
import type { StoredPage, StoredPhoto, StoredPost } from './store';

/** `2026-04-06T17:50:09+0000` */
export function fbTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19) + '+0000';
}

export function nonexistingField(field: string, nodeType: string): SimGraphError {
  return new SimGraphError(100, `(#100) Tried accessing nonexisting field (${field}) on node type (${nodeType})`);
}

export const DEFAULT_POST_FIELDS = ['id', 'created_time', 'message'];

type Renderer<T> = (obj: T, ctx: { page: StoredPage; photos: Map<string, StoredPhoto> }) => unknown;

function photoAttachment(id: string, photos: Map<string, StoredPhoto>): Record<string, unknown> {
  const photo = photos.get(id);
  return {
    media_type: 'photo',
    type: 'photo',
    target: { id, url: `https://www.facebook.com/photo.php?fbid=${id}` },
    ...(photo ? { media: { image: { src: photo.url } } } : {}),
  };
}

const POST_FIELDS: Record<string, Renderer<StoredPost>> = {
  id: (p) => p.id,
  message: (p) => p.message,
  created_time: (p) => fbTime(p.createdAt),
  updated_time: (p) => fbTime(p.updatedAt),
  permalink_url: (p) => p.permalinkUrl,
  is_published: (p) => p.isPublished,
  is_hidden: (p) => p.isHidden,
  is_expired: () => false,
  scheduled_publish_time: (p) => p.scheduledPublishTime,
  from: (_p, { page }) => ({ id: page.id, name: page.name }),
  status_type: (p) => (p.attachedMedia.length > 0 ? 'added_photos' : p.link !== undefined ? 'shared_story' : 'mobile_status_update'),
  full_picture: (p, { photos }) => (p.attachedMedia.length > 0 ? photos.get(p.attachedMedia[0]!)?.url : undefined),
  attachments: (p, { photos }) => {
    if (p.attachedMedia.length === 1) return { data: [photoAttachment(p.attachedMedia[0]!, photos)] };
    if (p.attachedMedia.length > 1) {
      return {
        data: [
          {
            media_type: 'album',
            type: 'album',
            subattachments: { data: p.attachedMedia.map((id) => photoAttachment(id, photos)) },
          },
        ],
      };
    }
    if (p.link !== undefined) return { data: [{ media_type: 'link', type: 'share', url: p.link }] };
    return { data: [] };
  },
};

const PHOTO_FIELDS: Record<string, Renderer<StoredPhoto>> = {
  id: (p) => p.id,
  created_time: (p) => fbTime(p.createdAt),
  name: (p) => p.caption,
  link: (p) => `https://www.facebook.com/photo.php?fbid=${p.id}`,
  page_story_id: (p) => p.postId,
  post_id: (p) => p.postId,
  from: (_p, { page }) => ({ id: page.id, name: page.name }),
};

const PAGE_FIELDS: Record<string, (p: StoredPage) => unknown> = {
  id: (p) => p.id,
  name: (p) => p.name,
  category: () => 'Government organization',
};

function render<T>(
  obj: T,
  fields: string[],
  table: Record<string, Renderer<T>>,
  nodeType: string,
  ctx: { page: StoredPage; photos: Map<string, StoredPhoto> },
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields) {
    const r = table[f];
    if (!r) throw nonexistingField(f, nodeType);
    const v = r(obj, ctx);
    if (v !== undefined) out[f] = v;
  }
  return out;
}

/** Throws 100 for an unknown field before anything is created (one bad field fails the call). */
export function checkPostFields(fields: string[] | undefined): void {
  for (const f of fields ?? []) if (!POST_FIELDS[f]) throw nonexistingField(f, 'Post');
}

export function checkPhotoFields(fields: string[] | undefined): void {
  for (const f of fields ?? []) if (!PHOTO_FIELDS[f]) throw nonexistingField(f, 'Photo');
}

export function postView(
  post: StoredPost,
  fields: string[] | undefined,
  page: StoredPage,
  photos: Map<string, StoredPhoto>,
): Record<string, unknown> {
  return render(post, fields ?? DEFAULT_POST_FIELDS, POST_FIELDS, 'Post', { page, photos });
}

export function photoView(
  photo: StoredPhoto,
  fields: string[] | undefined,
  page: StoredPage,
  photos: Map<string, StoredPhoto>,
): Record<string, unknown> {
  return render(photo, fields ?? ['id', 'created_time'], PHOTO_FIELDS, 'Photo', { page, photos });
}

export function pageView(page: StoredPage, fields: string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fields ?? ['id', 'name']) {
    const r = PAGE_FIELDS[f];
    if (!r) throw nonexistingField(f, 'Page');
    out[f] = r(page);
  }
  return out;
}

export function encodeCursor(index: number): string {
  return Buffer.from(`c:${index}`).toString('base64');
}

export function decodeCursor(cursor: string): number {
  const m = /^c:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
  if (!m) throw new SimGraphError(100, '(#100) Invalid cursor');
  return Number(m[1]);
}
