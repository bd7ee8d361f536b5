import type { ApiClient } from './api-client';

/** A `--levels` value the CLI cannot use; main prints its message alone (exit 2). */
export class CliInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliInputError';
  }
}

/**
 * Names of the tree's levels. Level 0 is the root; 1 the provinces; the deepest level the communes (2 in
 * the tree since 2025-07, 3 before it, where level 2 is the districts). The units table stores only the
 * level number (the `type` column says Tỉnh / Thành phố, Quận / Huyện, Phường / Xã, which differ within a
 * level), so the names follow from the tree's depth.
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
const fold = (s: string) => s.normalize('NFD').replace(/\p{M}/gu, '').replace(/đ/gi, 'd').toLowerCase().trim();

/** `0 root/central, 1 provinces/province/tinh, 2 communes/commune/xa`. */
export function describeLevels(depth: number): string {
  return [...levelNames(depth).entries()].map(([n, names]) => `${n} ${names.join('/')}`).join(', ');
}

/**
 * `--levels 1,communes` → [1, 2] on a tree of depth 2. Numbers pass as they are (0..depth); a name not in
 * this tree (e.g. `districts` on the two-level tree) or an unknown word is a CliInputError listing the
 * valid names.
 */
export function parseLevels(input: string, depth: number): number[] {
  const names = levelNames(depth);
  const byName = new Map<string, number>();
  for (const [n, list] of names) for (const name of list) byName.set(name, n);
  const parts = input
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (!parts.length) throw new CliInputError(`--levels: empty; valid levels of this tree: ${describeLevels(depth)}`);
  const out: number[] = [];
  for (const part of parts) {
    let level: number | undefined;
    if (/^\d+$/.test(part)) {
      level = Number(part);
      if (level > depth) {
        throw new CliInputError(`--levels: this tree has no level ${part} (its deepest is ${depth}); valid: ${describeLevels(depth)}`);
      }
    } else {
      level = byName.get(fold(part));
      if (level === undefined) {
        const other = DISTRICT_NAMES.includes(fold(part)) ? ' (this tree has no districts: provinces, then communes)' : '';
        throw new CliInputError(`--levels: unknown level "${part}"${other}; valid levels of this tree: ${describeLevels(depth)}`);
      }
    }
    if (!out.includes(level)) out.push(level);
  }
  return out.sort((a, b) => a - b);
}

/**
 * `--levels` against the tree: its deepest level comes from the preview of the unit's subtree (every
 * subtree reaches down to the communes), so names map to this tree's numbers and a number below its
 * deepest level is refused before anything is sent.
 */
export async function resolveLevels(api: ApiClient, unit: string, input: string): Promise<number[]> {
  const preview = await api.previewTarget({ unit, scope: 'subtree' });
  const deepest = Math.max(preview.unit.level, ...Object.keys(preview.byLevel).map(Number));
  return parseLevels(input, deepest);
}
