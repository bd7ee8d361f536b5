import { testDatabases } from '../../helpers/databases';
import { waitForStatus } from '../../helpers/governance';
import { seedOrganisation, startTestStack, UNITS_TEXT_2025_03, type TestStack } from '../../helpers/stack';

/** The acceptance run: a post on all 10,807 Pages, recalled, leaves 0 visible copies. */
// One database is enough for the size test (recall on PostgreSQL is covered by recall-edit.test.ts); it is the slowest test.
describe.each(testDatabases().slice(0, 1))('recall of a national post, on $name', (db) => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack(db, 'natrecall');
    // The 2025-03 tree: the acceptance run is a recall on all 10,807 Pages (a size test; the current tree has 3,356).
    await seedOrganisation(s, UNITS_TEXT_2025_03);
  }, 120_000);
  afterAll(() => s?.dispose());

  it('publishes to all 10,807 Pages, then the recall leaves the simulator showing 0 visible copies and the audit log naming who and why', async () => {
    const editor = s.admin.withKey((await s.admin.createKey({ name: 'Biên tập TW', role: 'editor', unit: 'root' })).key);
    const approver = s.admin.withKey((await s.admin.createKey({ name: 'Duyệt TW', role: 'approver', unit: 'root' })).key);
    const recaller = await s.admin.createKey({ name: 'Trực ban TW', role: 'approver', unit: 'root' });
    const message = `Thông báo toàn quốc (${db.name})`;
    const post = await editor.createPost({ message, target: { unit: 'root', scope: 'subtree' } });
    await approver.approve(post.id);
    const published = await waitForStatus(editor, post.id, ['published', 'partially_failed', 'failed'], 240_000);
    expect(published.counts.published).toBe(10_807);
    const total = () => [...s.sim.visibleCounts().values()].reduce((a, b) => a + b, 0);
    expect(total()).toBe(10_807);

    const res = await s.admin.withKey(recaller.key).recall(post.id, 'Nội dung chưa được kiểm duyệt đầy đủ');
    expect(res.queued).toBe(10_807);
    const recalled = await waitForStatus(editor, post.id, ['recalled'], 240_000);
    expect(recalled.counts).toMatchObject({ recalled: 10_807, recall_failed: 0, published: 0 });
    expect(total()).toBe(0);

    const entries = (await editor.audit({ subject: post.id, action: 'post.recall' })).items;
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actor: { keyId: recaller.id, name: 'Trực ban TW' },
      details: { reason: 'Nội dung chưa được kiểm duyệt đầy đủ', toDelete: 10_807 },
    });
  }, 480_000);
});
