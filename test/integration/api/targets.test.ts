import { testDatabases } from '../../helpers/databases';
import { startTestStack, UNITS_TEXT, UNITS_TEXT_2025_03, type TestStack } from '../../helpers/stack';

/** Parent of every unit of a units CSV (`root` for the provinces), read from the file alone. */
function parentsOf(csv: string): Map<string, string> {
  return new Map(
    csv
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(','))
      .map(([code, p]) => [code!, p || 'root']),
  );
}

describe.each(testDatabases())('target resolution against the current tree (2025-07) on $name', (db) => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack(db, 'targets07', { workers: false });
    await s.deps.units.importCsv(UNITS_TEXT);
  });
  afterAll(() => s.dispose());

  const resolve = (t: Parameters<TestStack['deps']['targets']['resolve']>[0]) => s.deps.targets.resolve(t);

  it('subtree of root is all 3,356 units; levels pick provinces and communes', async () => {
    expect((await resolve({ unit: 'root', scope: 'subtree' })).length).toBe(3_356);
    expect((await resolve({ unit: 'root', scope: 'subtree', levels: [1] })).length).toBe(34);
    expect((await resolve({ unit: 'root', scope: 'subtree', levels: [2] })).length).toBe(3_321);
    expect((await resolve({ unit: 'root', scope: 'subtree', levels: [3] })).length).toBe(0);
  });

  it('reachesAnyUnit (what a submission checks) agrees with resolve, empty targets included', async () => {
    const targets: Array<Parameters<typeof resolve>[0]> = [
      { unit: 'root', scope: 'subtree' },
      { unit: 'root', scope: 'subtree', levels: [3] },
      { unit: '01', scope: 'subtree', exclude: ['01'] },
      { unit: '01', scope: 'subtree', levels: [2], exclude: ['00004'] },
      { unit: '00004', scope: 'subtree', levels: [1] },
      { unit: '00004', scope: 'self' },
    ];
    for (const t of targets) {
      expect({ t, any: await s.deps.targets.reachesAnyUnit(t) }).toEqual({ t, any: (await resolve(t)).length > 0 });
    }
  });

  it('self is exactly the unit', async () => {
    expect(await resolve({ unit: '01', scope: 'self' })).toEqual([
      { code: '01', name: 'Thành phố Hà Nội', level: 1, path: '/root/01/', pageId: null, unitId: expect.any(Number) },
    ]);
    expect(await resolve({ unit: '00004', scope: 'self' })).toEqual([
      { code: '00004', name: 'Phường Ba Đình', level: 2, path: '/root/01/00004/', pageId: null, unitId: expect.any(Number) },
    ]);
  });

  it('a province subtree includes the province and its communes', async () => {
    const hn = await resolve({ unit: '01', scope: 'subtree' });
    expect(hn.length).toBe(127);
    expect(hn.filter((u) => u.level === 2).length).toBe(126);
    expect(hn[0]!.code).toBe('01');
  });

  it('exclude drops units with their subtrees; levels and exclude combine', async () => {
    expect((await resolve({ unit: 'root', scope: 'subtree', exclude: ['01'] })).length).toBe(3_356 - 127);
    expect((await resolve({ unit: '01', scope: 'subtree', exclude: ['00004'] })).length).toBe(127 - 1);
    const all = await resolve({ unit: 'root', scope: 'subtree', levels: [2], exclude: ['01', '79'] });
    expect(all.length).toBe(3_321 - 126 - 168);
    expect(all.some((u) => u.code === '00004')).toBe(false);
    expect((await resolve({ unit: 'root', scope: 'subtree', levels: [1], exclude: ['00004'] })).length).toBe(34);
  });

  it('matches the subtree computed independently from the CSV (codes that share a prefix are not confused)', async () => {
    // Province 01 and commune 01147 (of Tuyên Quang, 08) share a prefix; paths are compared by segment, not by string prefix.
    const parent = parentsOf(UNITS_TEXT);
    const under = (code: string, top: string): boolean => (code === top ? true : code === 'root' ? false : under(parent.get(code)!, top));
    for (const top of ['01', '08', '01147', '12', '79']) {
      const expected = [...parent.keys()].filter((c) => under(c, top)).sort();
      const got = (await resolve({ unit: top, scope: 'subtree' })).map((u) => u.code).sort();
      expect(got).toEqual(expected);
    }
  });

  it('levels may be named: provinces and communes are 1 and 2 here; a name not in this tree lists the valid ones', async () => {
    expect((await resolve({ unit: 'root', scope: 'subtree', levels: ['provinces'] })).length).toBe(34);
    expect((await resolve({ unit: 'root', scope: 'subtree', levels: ['Xã', 1] })).length).toBe(34 + 3_321);
    expect((await resolve({ unit: '01', scope: 'subtree', levels: ['commune'] })).every((u) => u.level === 2)).toBe(true);
    await expect(resolve({ unit: 'root', scope: 'subtree', levels: [1, 'districts'] })).rejects.toThrow(
      'target.levels[1]: unknown level "districts" (this tree has no districts: provinces, then communes); valid levels of this tree: ' +
        '0 root/central/trung-uong, 1 provinces/province/tinh, 2 communes/commune/xa',
    );
    await expect(resolve({ unit: 'root', scope: 'subtree', levels: ['wards'] })).rejects.toThrow('target.levels[0]: unknown level "wards"');
  });

  it('over HTTP: a preview and a post take level names; the post stores the numbers; a bad name is a 400 that creates nothing', async () => {
    const http = (method: 'POST' | 'GET', url: string, payload?: unknown) =>
      s.app.inject({ method, url, headers: { authorization: `Bearer ${s.adminKey}` }, ...(payload ? { payload } : {}) });
    const preview = await http('POST', '/v1/targets/preview', { target: { unit: '01', scope: 'subtree', levels: ['tinh', 'communes'] } });
    expect(preview.statusCode).toBe(200);
    expect(preview.json()).toMatchObject({ byLevel: { 1: 1 }, withoutHealthyPageUnits: expect.any(Array) });
    const created = await http('POST', '/v1/posts', {
      message: 'theo tên cấp',
      target: { unit: '01', scope: 'subtree', levels: ['communes'] },
    });
    expect(created.statusCode).toBe(201);
    expect(created.json().target).toEqual({ unit: '01', scope: 'subtree', levels: [2] });
    const before = (await http('GET', '/v1/posts')).json().items.length;
    const bad = await http('POST', '/v1/posts', { message: 'x', target: { unit: '01', scope: 'subtree', levels: ['districts'] } });
    expect(bad.statusCode).toBe(400);
    expect(JSON.stringify(bad.json())).toContain('unknown level \\"districts\\"');
    expect(JSON.stringify(bad.json())).toContain(
      'valid levels of this tree: 0 root/central/trung-uong, 1 provinces/province/tinh, 2 communes/commune/xa',
    );
    const nul = await http('POST', '/v1/targets/preview', { target: { unit: '01', scope: 'subtree', levels: [null] } });
    expect(nul.statusCode).toBe(400);
    expect(JSON.stringify(nul.json())).toContain('expected a level number (0 = root) or a level name (provinces, communes…)');
    expect((await http('GET', '/v1/posts')).json().items.length).toBe(before);
  });

  it('names the bad field for unknown units and exclusions outside the target', async () => {
    await expect(resolve({ unit: 'nope', scope: 'subtree' })).rejects.toThrow('target.unit');
    await expect(resolve({ unit: '01', scope: 'subtree', exclude: ['79'] })).rejects.toThrow('target.exclude[0]: 79 is not inside 01');
    await expect(resolve({ unit: '01', scope: 'subtree', exclude: ['00004', 'zz'] })).rejects.toThrow('target.exclude[1]');
    await expect(resolve({ unit: '01', scope: 'subtree', exclude: ['01147'] })).rejects.toThrow(
      'target.exclude[0]: 01147 is not inside 01',
    );
  });

  it('the preview counts units, Pages and units without a healthy Page, per level', async () => {
    const admin = await s.deps.keys.bootstrapPrincipal();
    // Province 01 with one Page; commune 00004 with two; commune 00008 with one whose token is known broken.
    await s.deps.pages.importCsv(
      admin,
      [
        'unit_code,page_id,access_token',
        '01,9101,EAAtoken0001',
        '00004,9102,EAAtoken0002',
        '00004,9103,EAAtoken0003',
        '00008,9104,EAAtoken0004',
      ].join('\n'),
    );
    await s.deps.store.db.updateTable('pages').set({ token_status: 'needs_reauth' }).where('page_id', '=', '9104').execute();
    const preview = await s.deps.targets.summarize({ unit: '01', scope: 'subtree' });
    expect(preview).toMatchObject({
      units: 127,
      withPage: 3,
      pages: 4,
      withoutHealthyPage: 127 - 2,
      byLevel: { '1': 1, '2': 126 },
      pagesByLevel: { '1': 1, '2': 3 },
      withoutHealthyPageByLevel: { '1': 0, '2': 126 - 1 },
    });
    const communes = await s.deps.targets.summarize({ unit: '01', scope: 'subtree', levels: [2], exclude: ['00004'] });
    expect(communes).toMatchObject({
      units: 125,
      pages: 1,
      byLevel: { '2': 125 },
      pagesByLevel: { '2': 1 },
      withoutHealthyPageByLevel: { '2': 125 },
    });
  });
});

// The old tree too: levels [2] and [3], excluding a district with its communes, need its three levels.
describe.each(testDatabases())('target resolution against the 2025-03 tree (three levels) on $name', (db) => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack(db, 'targets', { workers: false });
    await s.deps.units.importCsv(UNITS_TEXT_2025_03);
  });
  afterAll(() => s.dispose());

  const resolve = (t: Parameters<TestStack['deps']['targets']['resolve']>[0]) => s.deps.targets.resolve(t);

  it('level names follow this tree: districts are 2 and communes 3', async () => {
    expect((await resolve({ unit: 'root', scope: 'subtree', levels: ['districts'] })).length).toBe(696);
    expect((await resolve({ unit: 'root', scope: 'subtree', levels: ['communes', 'huyện'] })).length).toBe(696 + 10_047);
  });

  it('subtree of root is all 10,807 units; levels pick provinces, districts, communes', async () => {
    expect((await resolve({ unit: 'root', scope: 'subtree' })).length).toBe(10_807);
    expect((await resolve({ unit: 'root', scope: 'subtree', levels: [1] })).length).toBe(63);
    expect((await resolve({ unit: 'root', scope: 'subtree', levels: [2] })).length).toBe(696);
    expect((await resolve({ unit: 'root', scope: 'subtree', levels: [3] })).length).toBe(10_047);
  });

  it('self is exactly the unit', async () => {
    expect(await resolve({ unit: '01', scope: 'self' })).toEqual([
      { code: '01', name: 'Thành phố Hà Nội', level: 1, path: '/root/01/', pageId: null, unitId: expect.any(Number) },
    ]);
  });

  it('a province subtree includes the province, its districts and communes', async () => {
    const hn = await resolve({ unit: '01', scope: 'subtree' });
    expect(hn.length).toBe(557);
    expect(hn.filter((u) => u.level === 2).length).toBe(30);
    expect(hn[0]!.code).toBe('01');
  });

  it('exclude drops units with their subtrees; levels and exclude combine', async () => {
    const baDinh = (await resolve({ unit: '001', scope: 'subtree' })).length; // district + its communes
    expect(baDinh).toBe(1 + UNITS_TEXT_2025_03.split('\n').filter((l) => l.split(',')[1] === '001').length);
    expect((await resolve({ unit: '01', scope: 'subtree', exclude: ['001'] })).length).toBe(557 - baDinh);
    const all = await resolve({ unit: 'root', scope: 'subtree', levels: [2], exclude: ['01', '79'] });
    expect(all.length).toBe(696 - 30 - 22);
    expect(all.some((u) => u.code === '001')).toBe(false);
    // a commune excluded on its own
    expect((await resolve({ unit: '001', scope: 'subtree', exclude: ['00001'] })).length).toBe(baDinh - 1);
  });

  it('matches the subtree computed independently from the CSV (codes that share a prefix are not confused)', async () => {
    // Province 10 and commune 10087 share a prefix; paths are compared by segment, not by string prefix.
    const parent = parentsOf(UNITS_TEXT_2025_03);
    const under = (code: string, top: string): boolean => (code === top ? true : code === 'root' ? false : under(parent.get(code)!, top));
    for (const top of ['10', '100', '12', '001', '79']) {
      const expected = [...parent.keys()].filter((c) => under(c, top)).sort();
      const got = (await resolve({ unit: top, scope: 'subtree' })).map((u) => u.code).sort();
      expect(got).toEqual(expected);
    }
  });

  it('names the bad field for unknown units and exclusions outside the target', async () => {
    await expect(resolve({ unit: 'nope', scope: 'subtree' })).rejects.toThrow('target.unit');
    await expect(resolve({ unit: '01', scope: 'subtree', exclude: ['79'] })).rejects.toThrow('target.exclude[0]: 79 is not inside 01');
    await expect(resolve({ unit: '01', scope: 'subtree', exclude: ['001', 'zz'] })).rejects.toThrow('target.exclude[1]');
  });
});
