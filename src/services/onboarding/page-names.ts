/**
 * Matching a Facebook Page's name to a unit by name, for the sync's suggestions: Vietnamese
 * diacritics folded, đ → d, case and punctuation ignored, and the Front's prefixes stripped
 * ("UBMTTQ", "Ủy ban MTTQ", "Mặt trận Tổ quốc", …). A suggestion is never applied: a person confirms
 * it through the Pages import.
 */

/** Prefixes (already folded) that name the Front rather than the unit, longest first. */
const FRONT_PREFIXES = [
  'uy ban mat tran to quoc viet nam',
  'uy ban mat tran to quoc',
  'mat tran to quoc viet nam',
  'mat tran to quoc',
  'uy ban mttq viet nam',
  'uy ban mttqvn',
  'uy ban mttq',
  'ub mttq',
  'ubmttqvn',
  'ubmttq',
  'mttqvn',
  'mttq',
];

/** Lower case, without diacritics (đ → d), punctuation as spaces, single spaces. */
export function foldName(name: string): string {
  return name
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .replace(/[đĐ]/g, 'd')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]+/gu, ' ')
    .trim();
}

/** The folded name without the Front's prefixes (and a leading "của"/"cua"). */
export function normaliseUnitName(name: string): string {
  let folded = foldName(name);
  for (let changed = true; changed;) {
    changed = false;
    for (const prefix of FRONT_PREFIXES) {
      if (folded === prefix) return '';
      if (folded.startsWith(`${prefix} `)) {
        folded = folded.slice(prefix.length + 1).replace(/^cua /, '');
        changed = true;
      }
    }
  }
  return folded;
}

export interface UnitName {
  code: string;
  name: string;
  /** The parent's name, to tell apart two units of the same name (there are many "Xã Tân Lập"). */
  parentName: string | null;
}

export interface Suggestion {
  unitCode: string;
  unitName: string;
  /** `exact`: the normalised names are equal and only one unit has that name; `ambiguous`: several units do (all listed). */
  match: 'exact' | 'ambiguous';
}

/** Suggests units for Page names: an exact normalised match, or all units sharing the name. */
export function suggestUnits(units: readonly UnitName[]): (pageName: string) => Suggestion[] {
  const byName = new Map<string, UnitName[]>();
  for (const u of units) {
    const key = normaliseUnitName(u.name);
    if (!key) continue;
    byName.set(key, [...(byName.get(key) ?? []), u]);
  }
  return (pageName) => {
    const key = normaliseUnitName(pageName);
    const found = key ? (byName.get(key) ?? []) : [];
    // "UBMTTQ Xã Tân Lập, Huyện X": try the part before a comma or dash when the whole name matches nothing.
    const candidates = found.length ? found : (byName.get(normaliseUnitName(pageName.split(/[,–—|-]/)[0] ?? '')) ?? []);
    const match = candidates.length === 1 ? 'exact' : 'ambiguous';
    return candidates.map((u) => ({ unitCode: u.code, unitName: u.name, match }));
  };
}
