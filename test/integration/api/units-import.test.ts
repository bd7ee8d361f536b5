import { testDatabases } from '../../helpers/databases';
import { startTestStack, UNITS_TEXT, UNITS_TEXT_2025_03, type TestStack } from '../../helpers/stack';

describe.each(testDatabases())('unit import on $name', (db) => {
  let s: TestStack;
  const auth = () => ({ authorization: `Bearer ${s.adminKey}` });
  const importCsv = (csv: string) =>
    s.app.inject({ method: 'POST', url: '/v1/units/import', headers: { ...auth(), 'content-type': 'text/csv' }, payload: csv });
  const unitCount = async () => s.deps.units.countAll();

  beforeAll(async () => {
    s = await startTestStack(db, 'units', { workers: false });
  });
  afterAll(() => s.dispose());

  it('rejects a file with a bad row, naming the line and field, and imports nothing', async () => {
    const lines = UNITS_TEXT.trim().split('\n');
    lines[5] = '00070,01,2,Phường,'; // empty name on line 6 (Phường Hoàn Kiếm)
    lines.push('99999,nope,2,Xã,Xã Không Có'); // unknown parent on the last line
    const res = await importCsv(lines.join('\n'));
    expect(res.statusCode).toBe(400);
    const body = res.json();
    expect(body.error.code).toBe('VALIDATION_FAILED');
    expect(body.error.message).toContain('line 6 (name)');
    expect(body.error.details.problems).toEqual(
      expect.arrayContaining([
        { line: 6, field: 'name', message: 'is empty' },
        { line: lines.length, field: 'parent_code', message: 'unknown parent nope' },
      ]),
    );
    expect(await unitCount()).toBe(1); // only root
  });

  it('rejects a missing column and a level that contradicts the tree', async () => {
    const noLevel = await importCsv('code,parent_code,type,name\n01,,Tỉnh,Hà Nội');
    expect(noLevel.statusCode).toBe(400);
    expect(noLevel.json().error.message).toContain('level');
    const badLevel = await importCsv('code,parent_code,level,type,name\n01,,1,Tỉnh,A\n001,01,3,Quận,B');
    expect(badLevel.statusCode).toBe(400);
    expect(badLevel.json().error.details.problems[0]).toMatchObject({ line: 3, field: 'level' });
    expect(await unitCount()).toBe(1);
  });

  it('imports the full 3,355-row tree in one go and is idempotent on re-import', async () => {
    const first = await importCsv(UNITS_TEXT);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ created: 3_355, updated: 0, total: 3_355 });
    expect(await unitCount()).toBe(3_356);
    const again = await importCsv(UNITS_TEXT);
    expect(again.json()).toEqual({ created: 0, updated: 0, total: 3_355 });
    const hn = await s.app.inject({ method: 'GET', url: '/v1/units/01', headers: auth() });
    expect(hn.json()).toEqual({
      code: '01',
      name: 'Thành phố Hà Nội',
      type: 'Thành phố Trung ương',
      level: 1,
      parentCode: 'root',
      childCount: 126,
      page: null,
      pages: [],
      activeFrom: expect.any(String),
      retiredAt: null,
      succeededBy: [],
    });
  });

  it('renames and moves a commune on re-import', async () => {
    // Phường Ba Đình (00004, Hà Nội) moves under Hải Phòng (31) and is renamed.
    const moved = UNITS_TEXT.replace('00004,01,2,Phường,Phường Ba Đình', '00004,31,2,Phường,Phường Ba Đình Mới');
    const res = await importCsv(moved);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ created: 0, updated: 1, total: 3_355 });
    const unit = await s.deps.units.get('00004');
    expect(unit.path).toBe('/root/31/00004/');
    const hp = await s.deps.targets.summarize({ unit: '31', scope: 'subtree' });
    const hn = await s.deps.targets.summarize({ unit: '01', scope: 'subtree' });
    expect(hp.units).toBe(115 + 1);
    expect(hn.units).toBe(127 - 1);
    // and back
    expect((await importCsv(UNITS_TEXT)).json().updated).toBe(1);
  });

  it('rejects a cycle', async () => {
    const res = await importCsv('code,parent_code,level,type,name\nA1,B1,1,X,A\nB1,A1,2,X,B');
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json())).toContain('loops');
  });
});

// Moving a unit with its subtree needs a unit with children below a province: a district of the 2025-03 tree.
describe.each(testDatabases())('unit import of the 2025-03 tree on $name', (db) => {
  let s: TestStack;
  const auth = () => ({ authorization: `Bearer ${s.adminKey}` });
  const importCsv = (csv: string) =>
    s.app.inject({ method: 'POST', url: '/v1/units/import', headers: { ...auth(), 'content-type': 'text/csv' }, payload: csv });

  beforeAll(async () => {
    s = await startTestStack(db, 'units03', { workers: false });
    expect((await importCsv(UNITS_TEXT_2025_03)).json()).toEqual({ created: 10_806, updated: 0, total: 10_806 });
  });
  afterAll(() => s.dispose());

  it('renames and moves a district with its communes on re-import', async () => {
    // Quận Ba Đình (001, Hà Nội) moves under Hải Phòng (31) and is renamed.
    const moved = UNITS_TEXT_2025_03.replace('001,01,2,Quận,Quận Ba Đình', '001,31,2,Quận,Quận Ba Đình Mới');
    const res = await importCsv(moved);
    expect(res.statusCode).toBe(200);
    const communes = (await s.deps.store.db.selectFrom('units').select('code').where('parent_code', '=', '001').execute()).length;
    expect(res.json()).toEqual({ created: 0, updated: 1 + communes, total: 10_806 });
    const unit = await s.deps.units.get('00001');
    expect(unit.path).toBe('/root/31/001/00001/');
    const hp = await s.deps.targets.summarize({ unit: '31', scope: 'subtree' });
    const hn = await s.deps.targets.summarize({ unit: '01', scope: 'subtree' });
    expect(hp.units).toBe(183 + 1 + communes);
    expect(hn.units).toBe(557 - 1 - communes);
    // and back
    expect((await importCsv(UNITS_TEXT_2025_03)).json().updated).toBe(1 + communes);
  });
});
