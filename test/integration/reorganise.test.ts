import fs from 'node:fs';
import { MERGES_CSV_2025_07, UNITS_CSV_2025_03, UNITS_CSV_2025_07 } from '../../dev/stack';
import type { ApiClient } from '../../src/cli/api-client';
import { testDatabases } from '../helpers/databases';
import { visibleCopies, waitForStatus } from '../helpers/governance';
import { expectedReorganisation, type ExpectedReorganisation } from '../helpers/reorg-oracle';
import { seedOrganisation, startTestStack, type TestStack } from '../helpers/stack';
import { snapshotStore } from '../helpers/store-snapshot';

/**
 * The real 2025-03 → 2025-07 reorganisation, end to end on each dialect: 10,807 linked Pages, a
 * national post before, the dry run, the bad inputs, the apply, a national post after, the recall of
 * the first post, suspended keys, and a second apply. The expected numbers come from an independent
 * oracle (test/helpers/reorg-oracle.ts) computed from the same two CSV files.
 */
jest.setTimeout(600_000);

const OLD = fs.readFileSync(UNITS_CSV_2025_03, 'utf8');
const NEW = fs.readFileSync(UNITS_CSV_2025_07, 'utf8');
const MERGES = fs.readFileSync(MERGES_CSV_2025_07, 'utf8');
const FIRST = 'Thông báo trước sắp xếp đơn vị hành chính (bài 1)';
const SECOND = 'Thông báo sau sắp xếp đơn vị hành chính (bài 2)';

// The national run is the slowest file of the suite (about two minutes a dialect), so it runs on one: PostgreSQL when
// TEST_DATABASE_URL is set (the scale-out store, where the apply locks `units` and rewrites 10,807 Pages in one
// transaction), SQLite otherwise. Both dialects run every rule of the reorganisation on small trees in
// reorganise-rules.test.ts, the migration in migration-0006.test.ts, and SQLite at this scale in `npm run bench:reorganise`.
const NATIONAL = testDatabases().slice(-1);

describe.each(NATIONAL)('reorganisation 2025-03 → 2025-07 on $name', (db) => {
  let s: TestStack;
  let expected: ExpectedReorganisation;
  let pageOf: Map<string, string>;
  let editor: ApiClient;
  let approver: ApiClient;
  let commune: { id: string; key: string };
  let hanoi: { id: string; key: string };
  let firstPost: string;
  let blockedPost: string;
  let beforeApply: string;
  const reorganise = (body: Record<string, unknown>, key = s.adminKey) =>
    s.app.inject({
      method: 'POST',
      url: '/v1/units/reorganise',
      headers: { authorization: `Bearer ${key}` },
      payload: { units: NEW, merges: MERGES, ...body },
    });
  const snapshot = () => snapshotStore(s.deps.store);
  /** A snapshot equal to the one taken a second before (up to 30 s): nothing is still being written. */
  const settledSnapshot = async () => {
    let prev = await snapshot();
    for (let i = 0; i < 30; i++) {
      await new Promise((r) => setTimeout(r, 1_000));
      const next = await snapshot();
      if (JSON.stringify(next) === JSON.stringify(prev)) return next;
      prev = next;
    }
    throw new Error('the store kept changing for 30 s after the recall');
  };

  beforeAll(async () => {
    s = await startTestStack(db, 'reorg', { env: { WORKER_CONCURRENCY: '100' } });
    const { pages } = await seedOrganisation(s, OLD);
    pageOf = new Map(pages.map((p) => [p.unitCode, p.pageId]));
    expected = expectedReorganisation({
      oldUnitsCsv: OLD,
      newUnitsCsv: NEW,
      mergesCsv: MERGES,
      pagesOf: (code) => (pageOf.has(code) ? [pageOf.get(code)!] : []),
    });
    editor = s.admin.withKey((await s.admin.createKey({ name: 'biên tập', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'phê duyệt', role: 'approver', unit: 'root' })).key);
    commune = await s.admin.createKey({ name: 'xã Duy Nhất', role: 'viewer', unit: '13279' });
    hanoi = await s.admin.createKey({ name: 'Hà Nội', role: 'viewer', unit: '01' });

    const post = await editor.createPost({ message: FIRST, target: { unit: 'root', scope: 'subtree' } });
    await approver.approve(post.id);
    expect((await waitForStatus(editor, post.id, ['published', 'partially_failed', 'failed'], 300_000)).status).toBe('published');
    firstPost = post.id;
    // Waiting for approval, aimed at a district the reorganisation abolishes.
    blockedPost = (await editor.createPost({ message: 'Chờ duyệt', target: { unit: '001', scope: 'subtree' } })).id;
    beforeApply = new Date().toISOString();
  });
  afterAll(() => s?.dispose());

  it('rejects bad input with 400 naming the file and line, and changes nothing', async () => {
    const before = await snapshot();
    const mergeLines = MERGES.trimEnd().split('\n');
    const unknownOld = [...mergeLines, '13279,99999,full'].join('\n');
    const res1 = await reorganise({ merges: unknownOld, apply: true, force: true });
    expect(res1.statusCode).toBe(400);
    expect(res1.json().error.details.problems).toContainEqual({
      file: 'merges',
      line: mergeLines.length + 1,
      field: 'old_code',
      message: 'unknown old unit 99999',
    });

    const missingNew = [...mergeLines, '77777,13282,partial'].join('\n');
    const res2 = await reorganise({ merges: missingNew, apply: true, force: true });
    expect(res2.statusCode).toBe(400);
    expect(res2.json().error.details.problems).toContainEqual({
      file: 'merges',
      line: mergeLines.length + 1,
      field: 'new_code',
      message: 'new unit 77777 is not in the units file',
    });

    // Phường Quán Thánh (00013) is absorbed into 00004 and is no code of the new tree: without its row it has nowhere to go.
    const lone = mergeLines.filter((l) => l !== '00004,00013,full');
    expect(lone.length).toBe(mergeLines.length - 1);
    const res3 = await reorganise({ merges: lone.join('\n'), apply: true, force: true });
    expect(res3.statusCode).toBe(400);
    const uncovered = res3.json().error.details.problems as Array<{ message: string }>;
    expect(uncovered.some((p) => p.message.startsWith('active unit 00013 (Phường Quán Thánh)'))).toBe(true);

    const badUnits = NEW.replace('13279,33,2,Xã,Xã Vũ Tiên', '13279,33,2,Xã,');
    const res4 = await reorganise({ units: badUnits, apply: true, force: true });
    expect(res4.statusCode).toBe(400);
    const line = NEW.split('\n').findIndex((l) => l.startsWith('13279,')) + 1;
    expect(res4.json().error.details.problems).toContainEqual({ file: 'units', line, field: 'name', message: 'is empty' });

    const badKind = await reorganise({ merges: mergeLines.join('\n').replace('13279,13270,full', '13279,13270,most'), apply: true });
    expect(badKind.statusCode).toBe(400);
    expect(badKind.json().error.details.problems[0]).toMatchObject({ file: 'merges', field: 'kind' });
    expect((await reorganise({ units: 'code,name\n1,a', apply: true })).statusCode).toBe(400);
    expect((await reorganise({ apply: 'yes' })).statusCode).toBe(400);
    expect((await reorganise({}, hanoi.key)).statusCode).toBe(403);
    expect(await snapshot()).toEqual(before);
  });

  it('dry-runs without changing anything, with the counts of the independent computation', async () => {
    const before = await snapshot();
    const res = await reorganise({});
    expect(res.statusCode).toBe(200);
    const plan = res.json();
    expect(plan.applied).toBe(false);
    expect(plan.units).toEqual(expected.units);
    expect(plan.pages.carried).toBe(expected.pages.carried);
    expect(plan.pages.retired).toBe(expected.pages.retired);
    expect(plan.pages.unassigned).toEqual(
      [...expected.pages.unassigned].sort((a, b) => a.unitCode.localeCompare(b.unitCode) || a.pageId.localeCompare(b.pageId)),
    );
    expect(plan.pages.carried + plan.pages.retired).toBe(10_807);
    expect(plan.keys.suspended).toEqual([{ id: commune.id, name: 'xã Duy Nhất', unit: '13279' }]);
    expect(plan.posts.blocked).toEqual([{ id: blockedPost, status: 'pending_approval', targetUnit: '001' }]);
    expect(await snapshot()).toEqual(before);
  });

  it('refuses to apply over a blocked post without force, then applies with force in one audited step', async () => {
    const before = await snapshot();
    const refused = await reorganise({ apply: true });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().error.details.posts).toEqual([{ id: blockedPost, status: 'pending_approval', targetUnit: '001' }]);
    expect(await snapshot()).toEqual(before);

    const res = await reorganise({ apply: true, force: true });
    expect(res.statusCode).toBe(200);
    const done = res.json();
    expect(done.applied).toBe(true);
    expect(done.units).toEqual(expected.units);
    expect(done.pages.carried).toBe(expected.pages.carried);
    expect((await editor.getPost(blockedPost)).status).toBe('cancelled');
    const audit = await s.deps.store.db
      .selectFrom('audit_log')
      .selectAll()
      .where('action', 'in', ['units.reorganise', 'post.cancel'])
      .execute();
    expect(audit.find((a) => a.action === 'post.cancel' && a.subject_id === blockedPost)?.details).toContain('unit_retired');
    expect(JSON.parse(audit.find((a) => a.action === 'units.reorganise')!.details).units).toEqual(expected.units);

    // The active tree is the new one, and each Page sits where the oracle says.
    expect(await s.deps.units.countAll()).toBe(3_356);
    const pages = await s.deps.store.db
      .selectFrom('pages')
      .innerJoin('units', 'units.id', 'pages.unit_id')
      .select(['pages.page_id', 'pages.retired_at', 'units.code', 'units.retired_at as unit_retired_at'])
      .execute();
    for (const g of pages) {
      const home = expected.pageHome.get(g.page_id);
      expect(g.retired_at === null ? g.code : null).toBe(home);
      if (g.retired_at === null) expect(g.unit_retired_at).toBeNull();
    }
  });

  it('makes reused code 13279 a new unit and keeps the old one, retired, with its name', async () => {
    const api = s.admin;
    const now = await api.getUnit('13279');
    expect(now).toMatchObject({ code: '13279', name: 'Xã Vũ Tiên', parentCode: '33', level: 2, retiredAt: null, succeededBy: [] });
    // Its own Page comes first; the absorbed communes' Pages carry their old names as labels.
    expect(now.pages.map((p: { pageId: string }) => p.pageId)).toEqual(
      ['13279', '13270', '13273', '13282']
        .map((c) => pageOf.get(c))
        .sort((a, b) => (a === pageOf.get('13279') ? -1 : b === pageOf.get('13279') ? 1 : 0)),
    );
    expect(now.pages[0].label).toBe('Xã Duy Nhất');
    const then = await api.getUnit('13279', beforeApply);
    expect(then).toMatchObject({ code: '13279', name: 'Xã Duy Nhất', level: 3, succeededBy: ['13279'] });
    expect(then.retiredAt).not.toBeNull();
    expect(then.parentCode).not.toBe('33');
    // An abolished district answers as retired, with no successor.
    expect(await api.getUnit('001')).toMatchObject({ code: '001', retiredAt: expect.any(String), succeededBy: [] });
  });

  it('suspends keys of retired units with 403 unit_retired until an admin re-scopes them', async () => {
    const res = await s.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${commune.key}` } });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('unit_retired');
    expect(res.json().error.message).toContain('13279');
    expect((await s.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${hanoi.key}` } })).statusCode).toBe(200);
    const keys = await s.app.inject({ method: 'GET', url: '/v1/keys', headers: { authorization: `Bearer ${s.adminKey}` } });
    expect(keys.json().items.find((k: { id: string }) => k.id === commune.id).suspended).toBe(true);

    const rescoped = await s.app.inject({
      method: 'PATCH',
      url: `/v1/keys/${commune.id}`,
      headers: { authorization: `Bearer ${s.adminKey}` },
      payload: { unit: '13279' },
    });
    expect(rescoped.statusCode).toBe(200);
    expect(rescoped.json()).toMatchObject({ id: commune.id, unit: '13279', suspended: false });
    const me = await s.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${commune.key}` } });
    expect(me.json().unit.name).toBe('Xã Vũ Tiên');
    // The tree after the reform has two levels: clients name level 2 the communes.
    expect(me.json().deepestLevel).toBe(2);
    const audit = await s.deps.store.db.selectFrom('audit_log').select('details').where('action', '=', 'key.rescope').execute();
    expect(audit.map((a) => JSON.parse(a.details))).toContainEqual(
      expect.objectContaining({ from: '13279', fromRetired: true, to: '13279' }),
    );
  });

  it('sends a national post after the apply to exactly the carried Pages of active units', async () => {
    const post = await editor.createPost({ message: SECOND, target: { unit: 'root', scope: 'subtree' } });
    await approver.approve(post.id);
    const done = await waitForStatus(editor, post.id, ['published', 'partially_failed', 'failed'], 300_000);
    expect(done.counts.published).toBe(expected.pages.carried);
    expect(done.counts.failed).toBe(0);
    for (const [pageId, home] of expected.pageHome) expect([pageId, visibleCopies(s, pageId, SECOND)]).toEqual([pageId, home ? 1 : 0]);
  });

  it('shows the first post with the names of its time, and recalls every copy, retired Pages included', async () => {
    const old = await s.admin.deliveries(firstPost, { unit: '13279' });
    expect(old.items).toEqual([
      expect.objectContaining({ unitCode: '13279', unitName: 'Xã Duy Nhất', unitRetired: true, status: 'published' }),
    ]);
    const tree = await s.app.inject({
      method: 'GET',
      url: `/v1/posts/${firstPost}/tree?unit=001`,
      headers: { authorization: `Bearer ${s.adminKey}` },
    });
    expect(tree.statusCode).toBe(200);
    expect(tree.json().node).toMatchObject({ code: '001', name: 'Quận Ba Đình', retired: true });
    expect(tree.json().children.every((c: { retired: boolean }) => c.retired)).toBe(true);

    await approver.recall(firstPost, 'sai nội dung');
    const recalled = await waitForStatus(editor, firstPost, ['recalled', 'published', 'partially_failed'], 300_000);
    expect(recalled.status).toBe('recalled');
    let left = 0;
    for (const pageId of pageOf.values()) left += visibleCopies(s, pageId, FIRST);
    expect(left).toBe(0);
  });

  it('changes nothing when the same pair is applied again: every unit is kept', async () => {
    // From a store at rest: the recall's last ledger batches and the workers' bookkeeping may still land
    // just after the post reads `recalled`, and those are not the apply's doing.
    const before = await settledSnapshot();
    const res = await reorganise({ apply: true });
    expect(res.statusCode).toBe(200);
    expect(res.json().units).toEqual({ kept: 3_356, renamed: 0, created: 0, retired: 0 });
    expect(res.json().pages).toEqual({ carried: expected.pages.carried, retired: 0, unassigned: [] });
    const after = await snapshot();
    // Only the audit log grows (the second apply is recorded too).
    expect({ ...after, audit_log: null }).toEqual({ ...before, audit_log: null });
    expect(after.audit_log!.rows).toBe(before.audit_log!.rows + 1);
  });
});
