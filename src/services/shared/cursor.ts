import { ValidationError } from '../../errors/app-error';

/** Opaque pagination cursors: base64url JSON. A tampered cursor is a 400 naming `cursor`. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

export function decodeCursor<T>(cursor: string | undefined, check: (v: unknown) => v is T): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const text = Buffer.from(cursor, 'base64url').toString('utf8');
    const v: unknown = JSON.parse(text);
    if (check(v) && !text.includes('\u0000') && !text.includes('\\u0000')) return v;
  } catch {
    /* fall through */
  }
  throw new ValidationError('cursor: not a cursor returned by this API', { field: 'cursor' });
}
