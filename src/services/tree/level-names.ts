/**
 * Names of the tree's levels, for targets (`levels: ["provinces", "communes"]`) and the CLI's `--levels`.
 * Level 0 is the root; 1 the provinces; the deepest level the communes (2 in the tree since 2025-07, 3
 * before it, where level 2 is the districts). The units table stores only the level number (its `type`
 * column says Tỉnh / Thành phố, Quận / Huyện, Phường / Xã, which differ within a level), so the names
 * follow from the tree's depth.
 */
const ROOT_NAMES = ['root', 'central', 'trung-uong'];
const PROVINCE_NAMES = ['provinces', 'province', 'tinh'];
const DISTRICT_NAMES = ['districts', 'district', 'huyen'];
const COMMUNE_NAMES = ['communes', 'commune', 'xa'];

/** Level number → accepted names, for a tree whose deepest level is `depth` (2 or 3). */
export function levelNames(depth: number): Map<number, string[]> {
  const m = new Map<number, string[]>([
    [0, ROOT_NAMES],
    [1, PROVINCE_NAMES],
  ]);
  if (depth >= 3) m.set(2, DISTRICT_NAMES);
  if (depth >= 2) m.set(depth, COMMUNE_NAMES);
  return m;
}

/** `tỉnh` → `tinh`, `Xã` → `xa`: names are matched without case or Vietnamese diacritics. */
export const foldLevelName = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').replace(/đ/gi, 'd').toLowerCase().trim();

/** `0 root/central/trung-uong, 1 provinces/province/tinh, 2 communes/commune/xa`. */
export function describeLevels(depth: number): string {
  return [...levelNames(depth).entries()].map(([n, names]) => `${n} ${names.join('/')}`).join(', ');
}

/**
 * The level a name or number means in a tree of this depth, or a sentence saying why there is none
 * (it lists the valid names).
 */
export function levelOf(spec: string | number, depth: number): { level: number } | { problem: string } {
  if (typeof spec === 'number' || /^\d+$/.test(spec.trim())) {
    const level = Number(spec);
    if (level > depth) return { problem: `this tree has no level ${level} (its deepest is ${depth}); valid: ${describeLevels(depth)}` };
    return { level };
  }
  const name = foldLevelName(spec);
  for (const [level, names] of levelNames(depth)) if (names.includes(name)) return { level };
  const hint = DISTRICT_NAMES.includes(name) ? ' (this tree has no districts: provinces, then communes)' : '';
  return { problem: `unknown level "${spec}"${hint}; valid levels of this tree: ${describeLevels(depth)}` };
}
