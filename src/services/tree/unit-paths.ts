/**
 * Facts about the unit tree's materialised paths (`/root/01/001/`), shared by every module that
 * scopes a query to a subtree. Pure: it imports nothing, so anything may import it.
 */

export const ROOT_CODE = 'root';
export const UNIT_CODE_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Upper bound (exclusive) of the paths inside the subtree whose path is `prefix` (ends with '/'). */
export function subtreeEnd(prefix: string): string {
  return `${prefix.slice(0, -1)}0`; // '0' (0x30) sorts right after '/' (0x2F)
}
