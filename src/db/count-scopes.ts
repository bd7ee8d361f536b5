/**
 * The scopes a delivery is counted in (`delivery_counts`, migration 0010), from the path of its unit:
 * the post as a whole (`''`) and every proper ancestor of its unit below the root. The root is left out
 * (its subtree is the whole post, `''`) and so is the unit itself (a unit's own deliveries are a handful
 * of rows, read by index when needed): a commune's delivery on the 2025 tree counts in three scopes
 * ('', its province, its district), so a batch of a post's transitions folds into few counter rows.
 * Each scope is further split by the delivery's level, which the per-level view reads.
 */
export const POST_SCOPE = '';

export function countScopes(path: string | null): string[] {
  const out = [POST_SCOPE];
  if (!path) return out;
  // '/root/01/001/00001/' → '/root/01/', '/root/01/001/'
  let i = path.indexOf('/', 1);
  for (;;) {
    const j = path.indexOf('/', i + 1);
    if (j < 0 || j === path.length - 1) return out;
    out.push(path.slice(0, j + 1));
    i = j;
  }
}
