import type { CsvRow, RowProblem } from './csv';
import { ROOT_CODE, UNIT_CODE_RE } from './unit-paths';
import type { Node } from './units.service';

/**
 * The pure part of a reorganisation: from the active tree, the new tree and the merge rows, which
 * units keep their identity, which retire into which, and where every Page goes. No I/O, so the
 * service's dry run and apply share it, and it is tested on its own.
 */

export type MergeKind = 'full' | 'partial';
export type PagesMode = 'carry' | 'none';

/** A problem of one of the two files (line 0: a problem of the active tree the files leave unresolved). */
export interface PlanProblem extends RowProblem {
  file: 'units' | 'merges';
}

export interface ActiveUnit {
  id: number;
  code: string;
  parentCode: string | null;
  type: string;
  name: string;
  createdAt: string;
}

export interface RetiredVersion {
  code: string;
  retiredAt: string;
  succeededBy: string[];
}

export interface LinkedPage {
  pageId: string;
  unitId: number;
  label: string | null;
  position: number;
}

export interface MergeRow {
  line: number;
  newCode: string;
  oldCode: string;
  kind: MergeKind;
}

export interface PageMove {
  pageId: string;
  /** The new unit's code (its version is created by the apply, or is a kept unit). */
  toCode: string;
  label: string | null;
  position: number;
}

export interface Plan {
  /** New codes that keep their identity (root included). */
  kept: Set<string>;
  /** New versions to create, parents first, with the codes of the old units they absorbed. */
  created: Array<Node & { renamed: boolean; absorbed: string[] }>;
  /** Active versions to retire, with the codes of their successors (`[]`: abolished). */
  retired: Array<{ id: number; code: string; succeededBy: string[] }>;
  pages: { moves: PageMove[]; stay: number; retire: string[]; unassigned: Array<{ unitCode: string; pageId: string }> };
  /** Merge rows of an earlier apply of the same pair, ignored. */
  alreadyApplied: number;
}

const KINDS: readonly MergeKind[] = ['full', 'partial'];

/** Reads `new_code,old_code,kind` rows; problems name the line. */
export function readMerges(rows: CsvRow[]): { merges: MergeRow[]; problems: PlanProblem[] } {
  const problems: PlanProblem[] = [];
  const merges: MergeRow[] = [];
  const seen = new Map<string, number>();
  for (const { line, values } of rows) {
    let ok = true;
    const bad = (field: string, message: string) => {
      problems.push({ file: 'merges', line, field, message });
      ok = false;
    };
    const newCode = values.new_code ?? '';
    const oldCode = values.old_code ?? '';
    const kind = (values.kind ?? '').toLowerCase();
    if (!UNIT_CODE_RE.test(newCode)) bad('new_code', `"${newCode}" is not a valid code`);
    if (!UNIT_CODE_RE.test(oldCode)) bad('old_code', `"${oldCode}" is not a valid code`);
    if (!KINDS.includes(kind as MergeKind)) bad('kind', `"${values.kind}" is neither full nor partial`);
    if (ok && (newCode === ROOT_CODE || oldCode === ROOT_CODE) && !(newCode === ROOT_CODE && oldCode === ROOT_CODE)) {
      bad(newCode === ROOT_CODE ? 'new_code' : 'old_code', 'root is always kept and cannot absorb or be absorbed');
    }
    const key = `${newCode}\u0000${oldCode}`;
    if (ok && seen.has(key)) bad('old_code', `duplicate row ${newCode},${oldCode} (first on line ${seen.get(key)})`);
    if (!ok) continue;
    seen.set(key, line);
    if (newCode !== ROOT_CODE) merges.push({ line, newCode, oldCode, kind: kind as MergeKind });
  }
  return { merges, problems };
}

/**
 * Plans the move from the active tree to `next` (which holds root and every unit of the units file,
 * with paths resolved). Returns the problems instead when the files do not describe the move.
 */
export function planReorganisation(input: {
  active: ActiveUnit[];
  retired: RetiredVersion[];
  next: Map<string, Node>;
  merges: MergeRow[];
  pages: LinkedPage[];
  mode: PagesMode;
}): { plan: Plan; problems: PlanProblem[] } {
  const { active, next, merges, mode } = input;
  const problems: PlanProblem[] = [];
  const activeByCode = new Map(active.map((u) => [u.code, u]));
  const retiredByCode = new Map<string, RetiredVersion[]>();
  for (const r of input.retired) retiredByCode.set(r.code, [...(retiredByCode.get(r.code) ?? []), r]);

  // Rows an earlier apply of the same pair already carried out: the old version retired into this
  // new unit, and the active new unit is the version that same apply created.
  const appliedBefore = (m: MergeRow): boolean => {
    const successor = activeByCode.get(m.newCode);
    return (retiredByCode.get(m.oldCode) ?? []).some((r) => r.succeededBy.includes(m.newCode) && successor?.createdAt === r.retiredAt);
  };
  const effective: MergeRow[] = [];
  let alreadyApplied = 0;
  for (const m of merges) {
    if (!next.has(m.newCode)) {
      problems.push({ file: 'merges', line: m.line, field: 'new_code', message: `new unit ${m.newCode} is not in the units file` });
      continue;
    }
    if (appliedBefore(m)) {
      alreadyApplied++;
      continue;
    }
    if (!activeByCode.has(m.oldCode)) {
      const gone = retiredByCode.get(m.oldCode);
      problems.push({
        file: 'merges',
        line: m.line,
        field: 'old_code',
        message: gone
          ? `old unit ${m.oldCode} is already retired (succeeded by ${gone.at(-1)!.succeededBy.join(', ') || 'nothing'})`
          : `unknown old unit ${m.oldCode}`,
      });
      continue;
    }
    effective.push(m);
  }

  const rowsOfOld = new Map<string, MergeRow[]>();
  const rowsOfNew = new Map<string, MergeRow[]>();
  for (const m of effective) {
    rowsOfOld.set(m.oldCode, [...(rowsOfOld.get(m.oldCode) ?? []), m]);
    rowsOfNew.set(m.newCode, [...(rowsOfNew.get(m.newCode) ?? []), m]);
  }
  for (const [code, rows] of rowsOfOld) {
    const full = rows.filter((r) => r.kind === 'full');
    if (full.length > 1) {
      problems.push({
        file: 'merges',
        line: full[1]!.line,
        field: 'old_code',
        message: `old unit ${code} is absorbed in full by two units (${full.map((r) => r.newCode).join(', ')}, lines ${full.map((r) => r.line).join(', ')})`,
      });
    }
  }

  // An active unit the merges do not name continues into the same code when the new tree has it,
  // retires with no successor when it is an intermediate level (the districts), and is an error when
  // it is a leaf: its Pages and keys would have nowhere to go.
  const hasChildren = new Set(active.map((u) => u.parentCode).filter((c): c is string => c !== null));
  const abolished = new Set<string>();
  for (const u of active) {
    if (u.code === ROOT_CODE || rowsOfOld.has(u.code)) continue;
    if (next.has(u.code)) {
      const implicit: MergeRow = { line: 0, newCode: u.code, oldCode: u.code, kind: 'full' };
      rowsOfOld.set(u.code, [implicit]);
      rowsOfNew.set(u.code, [...(rowsOfNew.get(u.code) ?? []), implicit]);
    } else if (hasChildren.has(u.code)) {
      abolished.add(u.code);
    } else {
      problems.push({
        file: 'merges',
        line: 0,
        field: 'old_code',
        message: `active unit ${u.code} (${u.name}) is in no merge row and not in the new tree: say which unit absorbs it`,
      });
    }
  }

  const empty: Plan = {
    kept: new Set(),
    created: [],
    retired: [],
    pages: { moves: [], stay: 0, retire: [], unassigned: [] },
    alreadyApplied,
  };
  if (problems.length) return { plan: empty, problems };

  // Kept: same code, name, type and parent, absorbing only itself in full, under a kept parent.
  const kept = new Set<string>([ROOT_CODE]);
  const ordered = [...next.values()].filter((n) => n.code !== ROOT_CODE).sort((a, b) => a.level! - b.level! || cmp(a.path!, b.path!));
  const created: Plan['created'] = [];
  for (const n of ordered) {
    const rows = rowsOfNew.get(n.code) ?? [];
    const old = activeByCode.get(n.code);
    const own = rows.length === 1 && rows[0]!.oldCode === n.code && rows[0]!.kind === 'full';
    const oldRows = rowsOfOld.get(n.code) ?? [];
    if (
      own &&
      old &&
      oldRows.length === 1 &&
      oldRows[0]!.newCode === n.code &&
      old.name === n.name &&
      old.type === n.type &&
      old.parentCode === n.parent &&
      kept.has(n.parent!)
    ) {
      kept.add(n.code);
    } else {
      created.push({ ...n, renamed: rows.some((r) => r.oldCode === n.code), absorbed: rows.map((r) => r.oldCode) });
    }
  }

  const retired: Plan['retired'] = [];
  for (const u of active) {
    if (u.code === ROOT_CODE || kept.has(u.code)) continue;
    const succeededBy = [...new Set((rowsOfOld.get(u.code) ?? []).map((r) => r.newCode))].sort(cmp);
    retired.push({ id: u.id, code: u.code, succeededBy });
  }

  // Pages: each follows its unit's `full` row; a unit only split gives them to its successor with its
  // own code, if any; otherwise (and for abolished units, or with mode `none`) they retire.
  const activeById = new Map(active.map((u) => [u.id, u]));
  const moves: PageMove[] = [];
  const retire: string[] = [];
  const unassigned: Plan['pages']['unassigned'] = [];
  let stay = 0;
  const nextPosition = new Map<string, number>();
  const pages = [...input.pages].sort((a, b) => a.unitId - b.unitId || a.position - b.position || cmp(a.pageId, b.pageId));
  const homeOf = (u: ActiveUnit): string | null => {
    const rows = rowsOfOld.get(u.code) ?? [];
    const full = rows.find((r) => r.kind === 'full');
    if (full) return full.newCode;
    return rows.some((r) => r.newCode === u.code) ? u.code : null;
  };
  // A unit's own Pages (from the old unit with its code) come first, then the absorbed units' Pages.
  const sameCodeFirst = [...pages].sort((a, b) => {
    const ua = activeById.get(a.unitId)!;
    const ub = activeById.get(b.unitId)!;
    const sa = homeOf(ua) === ua.code ? 0 : 1;
    const sb = homeOf(ub) === ub.code ? 0 : 1;
    return sa - sb || cmp(ua.code, ub.code) || a.position - b.position || cmp(a.pageId, b.pageId);
  });
  for (const g of sameCodeFirst) {
    const u = activeById.get(g.unitId);
    if (!u) continue; // a Page of a retired unit (left from an earlier reorganisation) is already retired
    if (kept.has(u.code)) {
      stay++;
      continue;
    }
    const home = mode === 'carry' && !abolished.has(u.code) ? homeOf(u) : null;
    if (!home) {
      retire.push(g.pageId);
      if (mode === 'carry' && !abolished.has(u.code)) unassigned.push({ unitCode: u.code, pageId: g.pageId });
      continue;
    }
    const position = nextPosition.get(home) ?? 0;
    nextPosition.set(home, position + 1);
    const newName = next.get(home)!.name;
    moves.push({ pageId: g.pageId, toCode: home, label: g.label ?? (u.name !== newName ? u.name : null), position });
  }
  unassigned.sort((a, b) => cmp(a.unitCode, b.unitCode) || cmp(a.pageId, b.pageId));
  return { plan: { kept, created, retired, pages: { moves, stay, retire, unassigned }, alreadyApplied }, problems };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
