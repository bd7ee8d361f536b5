import fs from 'node:fs';
import path from 'node:path';
import { MERGES, NEW, OLD, pagesOf } from '../helpers/reorg-fixture';
import { expectedReorganisation } from '../helpers/reorg-oracle';

const DATA = path.resolve(__dirname, '../../data');
const read = (name: string) => fs.readFileSync(path.join(DATA, name), 'utf8');

// The hand-made pair (test/helpers/reorg-fixture.ts). Old tree (10 units + root):
//   01 Tỉnh An            ─ 001 Huyện Một ─ 00001, 00002, 00003, 00004, 00005
//                         ─ 00009 Xã Chín (directly under the province)
//   02 Tỉnh Bình          ─ 00008 Xã Tám
// New tree (9 units + root): no districts. Implicit `X,X,full`: 01, 02, 00009, 00008; 001 is abolished.
// One Page per old unit and root, except 00005 which has two.
const small = (mode?: 'carry' | 'none') => expectedReorganisation({ oldUnitsCsv: OLD, newUnitsCsv: NEW, mergesCsv: MERGES, pagesOf, mode });

describe('expectedReorganisation on a hand-made pair', () => {
  it('counts the units by hand', () => {
    const r = small();
    // kept: root; 01 (implicit 01,01,full, unchanged, parent root); 00009 (implicit, unchanged, parent 01 kept) → 3
    // renamed: 02 (same code, new name); 00008 (unchanged itself, but its parent 02 is not kept);
    //          00001 (merge of 3 into 1, absorbed its own old code); 00004 (absorbed its own code, partial) → 4
    // created: 00020 (absorbed part of 00004 only); 00021 (part of 00005);
    //          00002 (reuses old code 00002 but absorbed part of 00005, not old 00002, which went into 00001) → 3
    // 3 + 4 + 3 = 10 = 9 new rows + root.
    expect(r.units).toEqual({ kept: 3, renamed: 4, created: 3, retired: 8 });
    expect([...r.keptCodes].sort()).toEqual(['00009', '01', 'root']);
    // retired: every old unit but the kept 01 and 00009: 02, 001 (abolished), 00001, 00002, 00003, 00004, 00005, 00008 → 8
    expect([...r.retiredCodes].sort()).toEqual(['00001', '00002', '00003', '00004', '00005', '00008', '001', '02']);
  });

  it('moves the Pages in mode carry', () => {
    const r = small('carry');
    // 12 Pages: root + 10 old units, 00005 has two.
    // stay: p-root, p-01, p-00009 (kept)                                        → 3 carried
    // full rows: p-02 → 02, p-00008 → 00008, p-00001/2/3 → 00001               → 5 carried
    // partial only, same-code successor: p-00004 → 00004                        → 1 carried
    // partial only, no same-code successor: p-00005a, p-00005b                  → 2 retired, listed
    // abolished district: p-001                                                 → 1 retired, not listed
    // carried 9 + retired 3 = 12
    expect(r.pages).toEqual({
      carried: 9,
      retired: 3,
      unassigned: [
        { unitCode: '00005', pageId: 'p-00005a' },
        { unitCode: '00005', pageId: 'p-00005b' },
      ],
    });
    expect(Object.fromEntries(r.pageHome)).toEqual({
      'p-root': 'root',
      'p-01': '01',
      'p-02': '02',
      'p-001': null,
      'p-00001': '00001',
      'p-00002': '00001',
      'p-00003': '00001',
      'p-00004': '00004',
      'p-00005a': null,
      'p-00005b': null,
      'p-00009': '00009',
      'p-00008': '00008',
    });
  });

  it('retires every Page but those of kept units in mode none', () => {
    const r = small('none');
    // stay: p-root, p-01, p-00009 → 3 carried; the other 9 retire; none is listed.
    expect(r.pages).toEqual({ carried: 3, retired: 9, unassigned: [] });
    expect(r.units).toEqual(small('carry').units);
    expect([...r.pageHome].filter(([, home]) => home !== null).map(([id]) => id)).toEqual(['p-root', 'p-01', 'p-00009']);
  });

  it('refuses a leaf with no merge row that is not in the new tree, and a quoted field', () => {
    const dropped = MERGES.replace('00021,00005,partial\n', '').replace('00002,00005,partial\n', '');
    expect(() => expectedReorganisation({ oldUnitsCsv: OLD, newUnitsCsv: NEW, mergesCsv: dropped, pagesOf })).toThrow(/00005 is a leaf/);
    expect(() =>
      expectedReorganisation({ oldUnitsCsv: OLD, newUnitsCsv: NEW.replace('Xã Chín', '"Xã Chín"'), mergesCsv: MERGES, pagesOf }),
    ).toThrow(/quoted/);
  });
});

describe('expectedReorganisation on the real pair (2025-03 → 2025-07)', () => {
  const r = expectedReorganisation({
    oldUnitsCsv: read('vn-admin-units-2025-03.csv'),
    newUnitsCsv: read('vn-admin-units-2025-07.csv'),
    mergesCsv: read('vn-2025-07-merges.csv'),
    pagesOf: (code) => [`page-${code}`], // one Page per old unit and root
  });
  const none = expectedReorganisation({
    oldUnitsCsv: read('vn-admin-units-2025-03.csv'),
    newUnitsCsv: read('vn-admin-units-2025-07.csv'),
    mergesCsv: read('vn-2025-07-merges.csv'),
    pagesOf: (code) => [`page-${code}`],
    mode: 'none',
  });

  it('holds the invariants', () => {
    console.log(
      `real pair, carry: units ${JSON.stringify(r.units)}, pages carried ${r.pages.carried}, retired ${r.pages.retired}, ` +
        `unassigned ${r.pages.unassigned.length}; mode none: pages carried ${none.pages.carried}, retired ${none.pages.retired}`,
    );
    expect(r.pages.carried + r.pages.retired).toBe(10_807);
    expect(r.units.kept + r.units.renamed + r.units.created).toBe(3_356);
    expect(r.units.retired).toBeGreaterThanOrEqual(10_806 - (r.units.kept - 1));
    // By the rules every old unit not kept retires, so this is an equality here.
    expect(r.units.retired).toBe(10_806 - (r.units.kept - 1));
    expect(none.pages.carried).toBe(r.units.kept);
    expect(none.pages.carried + none.pages.retired).toBe(10_807);
  });

  it("does not keep 13279's new unit (code reused: Xã Duy Nhất's Page goes to Xã Vũ Tiên, a new version)", () => {
    expect(r.pageHome.get('page-13279')).toBe('13279');
    expect(r.keptCodes.has('13279')).toBe(false);
    expect(r.retiredCodes.has('13279')).toBe(true);
  });
});
