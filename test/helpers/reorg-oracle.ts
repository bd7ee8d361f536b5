// An independent oracle for POST /v1/units/reorganise: the counts a reorganisation must report, computed straight
// from the rules of the reorganisation contract (issue 9), with no code shared with src/.
//
// Rules, as implemented here (old tree = the active tree before, new tree = the units CSV):
// - `root` is implicit in both trees (never a CSV row); it is always kept and its Pages stay.
// - An old code with no merge row whose code is in the new tree gets an implicit `X,X,full` row. An old unit with no
//   merge row and absent from the new tree is "abolished" when it has children in the old tree (no successor);
//   a leaf in that situation is bad input (this oracle throws).
// - New unit N is kept when its only merge row is `N,N,full`, old N's only merge row is that same row, name, type
//   and parent code are unchanged, and N's parent is kept (root is kept).
// - Other new units: `renamed` when one of the old units they absorbed has their code, `created` otherwise.
// - An old unit retires when it is abolished or absorbed into a new unit that is not kept.
// - Pages, mode `carry`: kept → stay; a `full` row → that new unit; only `partial` rows → the successor with the same
//   code if there is one, otherwise retired and listed in `unassigned`; abolished → retired (not listed).
//   Mode `none`: only Pages of kept units stay, all others retire and none is listed.
//
// Two readings the contract leaves open, chosen here (neither occurs in the 2025-07 data):
// - "the new unit with the same code" for a partial-only old unit is taken among that unit's successors (its own
//   merge rows): a new unit that merely reuses the code without absorbing any of it does not get the Pages.
// - An old unit with more than one `full` row has no single home for its Pages: this oracle throws.

export interface ReorgOracleInput {
  oldUnitsCsv: string;
  newUnitsCsv: string;
  mergesCsv: string;
  /** The Page ids linked to an old unit (called for every old code and for `root`). */
  pagesOf: (oldCode: string) => string[];
  mode?: 'carry' | 'none';
}

export interface ExpectedReorganisation {
  units: { kept: number; renamed: number; created: number; retired: number };
  pages: { carried: number; retired: number; unassigned: Array<{ unitCode: string; pageId: string }> };
  /** New codes whose unit keeps its identity, `root` included. */
  keptCodes: Set<string>;
  /** Old codes whose version retires. */
  retiredCodes: Set<string>;
  /** Every Page linked before → the code of the active unit it ends on, or null when it retires. */
  pageHome: Map<string, string | null>;
}

const ROOT = 'root';
const UNIT_HEADER = ['code', 'parent_code', 'level', 'type', 'name'];
const MERGE_HEADER = ['new_code', 'old_code', 'kind'];

interface Unit {
  code: string;
  parentCode: string; // ROOT when the CSV's parent_code is empty
  level: string;
  type: string;
  name: string;
}

interface MergeRow {
  newCode: string;
  oldCode: string;
  kind: 'full' | 'partial';
}

/** A tiny CSV split: the files have no quoted fields, so a quote anywhere is refused rather than misread. */
function splitCsv(text: string, header: string[], file: string): string[][] {
  if (text.includes('"')) throw new Error(`${file}: quoted fields are not supported by this oracle`);
  const lines = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '');
  if (lines.length === 0 || lines[0] !== header.join(',')) {
    throw new Error(`${file}: the first line must be "${header.join(',')}"`);
  }
  const rows: string[][] = [];
  for (let i = 1; i < lines.length; i++) {
    const fields = lines[i].split(',');
    if (fields.length !== header.length) throw new Error(`${file} line ${i + 1}: ${fields.length} fields, ${header.length} expected`);
    rows.push(fields);
  }
  return rows;
}

function parseUnits(text: string, file: string): Map<string, Unit> {
  const units = new Map<string, Unit>();
  for (const [code, parent, level, type, name] of splitCsv(text, UNIT_HEADER, file)) {
    if (code === '' || code === ROOT) throw new Error(`${file}: bad code "${code}"`);
    if (units.has(code)) throw new Error(`${file}: duplicate code ${code}`);
    units.set(code, { code, parentCode: parent === '' ? ROOT : parent, level, type, name });
  }
  for (const unit of units.values()) {
    if (unit.parentCode !== ROOT && !units.has(unit.parentCode)) {
      throw new Error(`${file}: ${unit.code} has unknown parent ${unit.parentCode}`);
    }
  }
  return units;
}

function parseMerges(text: string, oldUnits: Map<string, Unit>, newUnits: Map<string, Unit>): MergeRow[] {
  const rows: MergeRow[] = [];
  const seen = new Set<string>();
  for (const [newCode, oldCode, kind] of splitCsv(text, MERGE_HEADER, 'merges')) {
    if (kind !== 'full' && kind !== 'partial') throw new Error(`merges: bad kind "${kind}" for ${newCode},${oldCode}`);
    if (!newUnits.has(newCode)) throw new Error(`merges: new code ${newCode} is not in the new tree`);
    if (!oldUnits.has(oldCode)) throw new Error(`merges: old code ${oldCode} is not in the old tree`);
    const pair = `${newCode},${oldCode}`;
    if (seen.has(pair)) throw new Error(`merges: duplicate row ${pair}`);
    seen.add(pair);
    rows.push({ newCode, oldCode, kind });
  }
  return rows;
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

export function expectedReorganisation(input: ReorgOracleInput): ExpectedReorganisation {
  const mode = input.mode ?? 'carry';
  const oldUnits = parseUnits(input.oldUnitsCsv, 'old units');
  const newUnits = parseUnits(input.newUnitsCsv, 'units');
  const rows = parseMerges(input.mergesCsv, oldUnits, newUnits);

  // Which old codes have children in the old tree (to tell an abolished district from a missing leaf).
  const hasChildren = new Set<string>();
  for (const unit of oldUnits.values()) hasChildren.add(unit.parentCode);

  // Implicit rows and abolished units.
  const explicitOldCodes = new Set(rows.map((row) => row.oldCode));
  const abolished = new Set<string>();
  for (const code of oldUnits.keys()) {
    if (explicitOldCodes.has(code)) continue;
    if (newUnits.has(code)) rows.push({ newCode: code, oldCode: code, kind: 'full' });
    else if (hasChildren.has(code)) abolished.add(code);
    else throw new Error(`old unit ${code} is a leaf with no merge row and is not in the new tree`);
  }

  const rowsByNew = new Map<string, MergeRow[]>();
  const rowsByOld = new Map<string, MergeRow[]>();
  for (const row of rows) {
    push(rowsByNew, row.newCode, row);
    push(rowsByOld, row.oldCode, row);
  }

  // Kept, decided top-down through the parent chain (memoised; a cycle in the new tree is bad input).
  const keptMemo = new Map<string, boolean>([[ROOT, true]]);
  const deciding = new Set<string>();
  function isKept(code: string): boolean {
    const known = keptMemo.get(code);
    if (known !== undefined) return known;
    if (deciding.has(code)) throw new Error(`units: parent cycle through ${code}`);
    deciding.add(code);
    const unit = newUnits.get(code)!;
    const intoN = rowsByNew.get(code) ?? [];
    const fromN = rowsByOld.get(code) ?? [];
    const old = oldUnits.get(code);
    const kept =
      intoN.length === 1 &&
      intoN[0].oldCode === code &&
      intoN[0].kind === 'full' &&
      fromN.length === 1 &&
      fromN[0] === intoN[0] &&
      old !== undefined &&
      old.name === unit.name &&
      old.type === unit.type &&
      old.parentCode === unit.parentCode &&
      isKept(unit.parentCode);
    deciding.delete(code);
    keptMemo.set(code, kept);
    return kept;
  }

  const keptCodes = new Set<string>([ROOT]);
  let renamed = 0;
  let created = 0;
  for (const code of newUnits.keys()) {
    if (isKept(code)) keptCodes.add(code);
    else if ((rowsByNew.get(code) ?? []).some((row) => row.oldCode === code)) renamed++;
    else created++;
  }

  const retiredCodes = new Set<string>();
  for (const code of oldUnits.keys()) {
    if (abolished.has(code)) retiredCodes.add(code);
    else if (rowsByOld.get(code)!.some((row) => !keptCodes.has(row.newCode))) retiredCodes.add(code);
  }

  // Pages.
  const pageHome = new Map<string, string | null>();
  const unassigned: Array<{ unitCode: string; pageId: string }> = [];
  function place(pageId: string, home: string | null, fromCode: string): void {
    if (pageHome.has(pageId)) throw new Error(`page ${pageId} is linked to more than one old unit (again at ${fromCode})`);
    pageHome.set(pageId, home);
  }
  for (const pageId of input.pagesOf(ROOT)) place(pageId, ROOT, ROOT);
  for (const code of oldUnits.keys()) {
    const pages = input.pagesOf(code);
    // A kept new code is the same unit as the old one: its only merge row is `code,code,full`.
    if (keptCodes.has(code)) {
      for (const pageId of pages) place(pageId, code, code);
      continue;
    }
    if (mode === 'none' || abolished.has(code)) {
      for (const pageId of pages) place(pageId, null, code);
      continue;
    }
    const successors = rowsByOld.get(code)!;
    const full = successors.filter((row) => row.kind === 'full');
    if (full.length > 1) throw new Error(`old unit ${code} has ${full.length} full rows: its Pages have no single home`);
    if (full.length === 1) {
      for (const pageId of pages) place(pageId, full[0].newCode, code);
    } else if (successors.some((row) => row.newCode === code)) {
      for (const pageId of pages) place(pageId, code, code);
    } else {
      for (const pageId of pages) {
        place(pageId, null, code);
        unassigned.push({ unitCode: code, pageId });
      }
    }
  }

  let carried = 0;
  let retiredPages = 0;
  for (const home of pageHome.values()) {
    if (home === null) retiredPages++;
    else carried++;
  }

  return {
    units: { kept: keptCodes.size, renamed, created, retired: retiredCodes.size },
    pages: { carried, retired: retiredPages, unassigned },
    keptCodes,
    retiredCodes,
    pageHome,
  };
}
