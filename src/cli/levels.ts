import { levelOf } from '../services/tree/level-names';
import type { ApiClient } from './api-client';

export { describeLevels, levelNames } from '../services/tree/level-names';

/** Input the CLI cannot use; main prints its message alone (exit 2). */
export class CliInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CliInputError';
  }
}

/**
 * `--levels 1,communes` → [1, 2] on a tree of depth 2 (names as in ../services/tree/level-names.ts).
 * A name not in this tree (e.g. `districts` on the two-level tree), an unknown word or a level below the
 * deepest is a CliInputError listing the valid names.
 */
export function parseLevels(input: string, depth: number): number[] {
  const parts = input
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  if (!parts.length) throw new CliInputError(`--levels: empty; give level numbers or names (provinces, communes…)`);
  const out: number[] = [];
  for (const part of parts) {
    const r = levelOf(part, depth);
    if ('problem' in r) throw new CliInputError(`--levels: ${r.problem}`);
    if (!out.includes(r.level)) out.push(r.level);
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
