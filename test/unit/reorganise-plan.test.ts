import { parseCsv } from '../../src/services/tree/csv';
import { planReorganisation, readMerges, type ActiveUnit, type LinkedPage, type PagesMode } from '../../src/services/tree/reorganise-plan';
import { readUnitTree, type Node } from '../../src/services/tree/units.service';
import { MERGES, NEW, OLD, pagesOf } from '../helpers/reorg-fixture';
import { expectedReorganisation } from '../helpers/reorg-oracle';

/** The planner on the hand-made pair, against the independent oracle, and its refusals. */
function newTree(csv: string): Map<string, Node> {
  const next = new Map<string, Node>([['root', { code: 'root', parent: null, type: '', name: '' }]]);
  expect(readUnitTree(parseCsv(csv, ['code', 'parent_code', 'level', 'type', 'name']), next)).toEqual([]);
  return next;
}

function oldState(): { active: ActiveUnit[]; pages: LinkedPage[] } {
  const rows = parseCsv(OLD, ['code', 'parent_code', 'level', 'type', 'name']);
  const at = '2025-03-01T00:00:00.000Z';
  const active: ActiveUnit[] = [
    { id: 1, code: 'root', parentCode: null, type: 'Trung ương', name: 'Ủy ban Trung ương', createdAt: at },
    ...rows.map(({ values: v }, i) => ({
      id: i + 2,
      code: v.code!,
      parentCode: v.parent_code || 'root',
      type: v.type!,
      name: v.name!,
      createdAt: at,
    })),
  ];
  const pages = active.flatMap((u) => pagesOf(u.code).map((pageId, position) => ({ pageId, unitId: u.id, label: null, position })));
  return { active, pages };
}

function plan(
  mode: PagesMode,
  merges = MERGES,
  state = { ...oldState(), retired: [] as Array<{ code: string; retiredAt: string; succeededBy: string[] }> },
) {
  const read = readMerges(parseCsv(merges, ['new_code', 'old_code', 'kind']));
  expect(read.problems).toEqual([]);
  return planReorganisation({ ...state, next: newTree(NEW), merges: read.merges, mode });
}

describe('planReorganisation', () => {
  it.each(['carry', 'none'] as const)('agrees with the oracle on the hand-made pair (pages %s)', (mode) => {
    const expected = expectedReorganisation({ oldUnitsCsv: OLD, newUnitsCsv: NEW, mergesCsv: MERGES, pagesOf, mode });
    const { plan: p, problems } = plan(mode);
    expect(problems).toEqual([]);
    expect([...p.kept].sort()).toEqual([...expected.keptCodes].sort());
    expect({
      kept: p.kept.size,
      renamed: p.created.filter((c) => c.renamed).length,
      created: p.created.filter((c) => !c.renamed).length,
      retired: p.retired.length,
    }).toEqual(expected.units);
    expect(p.retired.map((r) => r.code).sort()).toEqual([...expected.retiredCodes].sort());
    expect(p.pages.stay + p.pages.moves.length).toBe(expected.pages.carried);
    expect(p.pages.retire.length).toBe(expected.pages.retired);
    expect(p.pages.unassigned).toEqual(expected.pages.unassigned);
    for (const m of p.pages.moves) expect(expected.pageHome.get(m.pageId)).toBe(m.toCode);
    for (const id of p.pages.retire) expect(expected.pageHome.get(id)).toBeNull();
  });

  it('orders a merged unit’s Pages with its own first and labels the absorbed ones with their old names', () => {
    const moves = plan('carry').plan.pages.moves.filter((m) => m.toCode === '00001');
    expect(moves).toEqual([
      { pageId: 'p-00001', toCode: '00001', label: 'Xã Một', position: 0 },
      { pageId: 'p-00002', toCode: '00001', label: 'Xã Hai', position: 1 },
      { pageId: 'p-00003', toCode: '00001', label: 'Xã Ba', position: 2 },
    ]);
    // Abolished units retire with no successor; the others name theirs.
    const retired = new Map(plan('carry').plan.retired.map((r) => [r.code, r.succeededBy]));
    expect(retired.get('001')).toEqual([]);
    expect(retired.get('00005')).toEqual(['00002', '00021']);
  });

  it('names the line of each bad merge row', () => {
    const read = readMerges(
      parseCsv('new_code,old_code,kind\n00001,00001,full\n00001,00001,full\n0 1,00002,full\n00001,00003,most\nroot,00004,full', [
        'new_code',
        'old_code',
        'kind',
      ]),
    );
    expect(read.problems).toEqual([
      { file: 'merges', line: 3, field: 'old_code', message: 'duplicate row 00001,00001 (first on line 2)' },
      { file: 'merges', line: 4, field: 'new_code', message: '"0 1" is not a valid code' },
      { file: 'merges', line: 5, field: 'kind', message: '"most" is neither full nor partial' },
      { file: 'merges', line: 6, field: 'new_code', message: 'root is always kept and cannot absorb or be absorbed' },
    ]);
  });

  it('refuses an unknown old code, a new code outside the units file, a unit absorbed in full twice, and an orphaned leaf', () => {
    const bad = `${MERGES}00001,77777,full\n99999,00002,partial\n00004,00003,full\n`
      .replace('00021,00005,partial\n', '')
      .replace('00002,00005,partial\n', '');
    const read = readMerges(parseCsv(bad, ['new_code', 'old_code', 'kind']));
    const { problems } = planReorganisation({
      ...oldState(),
      retired: [],
      next: newTree(NEW),
      merges: read.merges,
      mode: 'carry',
    });
    const lines = bad.trimEnd().split('\n');
    const lineOf = (row: string) => lines.indexOf(row) + 1;
    expect(problems).toEqual(
      expect.arrayContaining([
        { file: 'merges', line: lineOf('00001,77777,full'), field: 'old_code', message: 'unknown old unit 77777' },
        { file: 'merges', line: lineOf('99999,00002,partial'), field: 'new_code', message: 'new unit 99999 is not in the units file' },
        expect.objectContaining({
          file: 'merges',
          line: lineOf('00004,00003,full'),
          field: 'old_code',
          message: expect.stringContaining('absorbed in full by two units'),
        }),
        expect.objectContaining({
          file: 'merges',
          line: 0,
          message: expect.stringContaining('active unit 00005 (Xã Năm) is in no merge row'),
        }),
      ]),
    );
  });

  it('ignores the rows of an earlier apply of the same pair, keeping every unit', () => {
    // The state after applying: the new tree active (created at T), the absorbed versions retired at T.
    const T = '2025-07-01T00:00:00.000Z';
    const first = plan('carry').plan;
    const next = newTree(NEW);
    let id = 100;
    const active: ActiveUnit[] = [...next.values()].map((n) => ({
      id: id++,
      code: n.code,
      parentCode: n.parent,
      type: n.type,
      name: n.name,
      createdAt: first.kept.has(n.code) ? '2025-03-01T00:00:00.000Z' : T,
    }));
    const retired = first.retired.map((r) => ({ code: r.code, retiredAt: T, succeededBy: r.succeededBy }));
    const again = plan('carry', MERGES, { active, retired, pages: [] });
    expect(again.problems).toEqual([]);
    expect(again.plan.kept.size).toBe(10);
    expect(again.plan.created).toEqual([]);
    expect(again.plan.retired).toEqual([]);
    expect(again.plan.alreadyApplied).toBe(7);
  });
});
