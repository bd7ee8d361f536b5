import { testDatabases } from '../helpers/databases';
import { seedOrganisation, startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../helpers/stack';
import type { DeliveryLedger } from '../../src/services/delivery/delivery-ledger';

/**
 * Found by the reliability suite on PostgreSQL: the post was created, then recording it failed
 * ("sorry, too many clients already"). That error was classified as a transient `internal_error`, the
 * row went back to `queued` with a non-ambiguous reason, and the retry created a second copy.
 */
describe.each(testDatabases())('the store fails right after a post was created, on $name', (db) => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack(db, 'ledgerfail', { env: { READBACK_DELAY_MS: '200' } });
    await seedOrganisation(s, UNITS_TEXT, { only: (c) => c === '01' || c === '00004' || c === '00008' });
  });
  afterAll(() => s?.dispose());

  it('the retry reads the Page back and records that post: one visible copy', async () => {
    const deliveries: DeliveryLedger = s.deps.ledger;
    const original = deliveries.markPublished.bind(deliveries);
    let injected = 0;
    // The first "fresh create" record for unit 00004 fails as the store would when out of connections.
    deliveries.markPublished = async (d, lease, fbPostId, permalink, reason = null) => {
      if (d.unitCode === '00004' && reason === null && injected === 0) {
        injected++;
        throw new Error('sorry, too many clients already');
      }
      return original(d, lease, fbPostId, permalink, reason);
    };
    try {
      const editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
      const approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
      const message = `Ghi sổ thất bại sau khi đăng ${Date.now()}`;
      const post = await editor.createPost({ message, target: { unit: '01', scope: 'subtree' } });
      await approver.approve(post.id);
      const done = await waitFor(async () => {
        const p = await editor.getPost(post.id);
        return p.status === 'published' ? p : null;
      }, 30_000);
      expect(injected).toBe(1);
      expect(done.counts).toMatchObject({ published: 3, failed: 0 });
      const pageId = (
        await s.deps.store.db.selectFrom('pages').select('page_id').where('unit_code', '=', '00004').executeTakeFirstOrThrow()
      ).page_id;
      const copies = s.sim.postsOf(pageId).filter((p) => p.message === message);
      expect(copies).toHaveLength(1);
      const row = (await editor.deliveries(post.id, { unit: '00004' })).items[0]!;
      expect(row).toMatchObject({ status: 'published', attempts: 2, reason: 'recovered_after_unknown_outcome', fbPostId: copies[0]!.id });
    } finally {
      deliveries.markPublished = original;
    }
  });
});
