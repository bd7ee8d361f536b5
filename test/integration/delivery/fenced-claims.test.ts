import type { ApiClient } from '../../../src/cli/api-client';
import { GraphClient } from '../../../src/graph/graph-client';
import { EventBus } from '../../../src/services/shared/events';
import { DeliveryLedger, LeaseExpiredError, type LedgerDelivery } from '../../../src/services/delivery/delivery-ledger';
import { testDatabases } from '../../helpers/databases';
import { seedOrganisation, startTestStack, UNITS_TEXT, type TestStack } from '../../helpers/stack';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Two workers (two ledgers on one store) competing for one delivery row, with short leases: a worker
 * frozen past its lease must neither send nor record over the claim that took the row over.
 */
describe.each(testDatabases())('fenced claims of a delivery, on $name', (db) => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;
  const pageOf = new Map<string, { pageId: string; token: string }>();
  const settings = { leaseMs: 400, takeoverMs: 300 };

  beforeAll(async () => {
    s = await startTestStack(db, 'fence', { workers: false });
    const { pages } = await seedOrganisation(s, UNITS_TEXT, { only: (c) => c === 'root' || c === '01' || c === '00004' || c === '00008' });
    for (const p of pages) pageOf.set(p.unitCode, { pageId: p.pageId, token: p.token });
    editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
  });
  afterAll(() => s?.dispose());

  async function oneDelivery(message: string): Promise<number> {
    const post = await editor.createPost({ message, target: { unit: '00004', scope: 'self' } });
    await approver.approve(post.id);
    // No workers in this stack: run the fan-out here (writes the row; the queued job is never taken).
    await s.deps.fanout.run(post.id, { get: () => 0, set: async () => {} });
    const row = await s.deps.store.db.selectFrom('deliveries').select('id').where('post_id', '=', post.id).executeTakeFirstOrThrow();
    return row.id;
  }

  it('only one worker holds a claim; a frozen holder sends nothing after its lease and records nothing over the new claim', async () => {
    const a = new DeliveryLedger(s.deps.store.db, new EventBus(), settings);
    const b = new DeliveryLedger(s.deps.store.db, new EventBus(), settings);
    const message = `Bài có rào chắn ${db.name} ${Date.now()}`;
    const id = await oneDelivery(message);
    const { pageId, token } = pageOf.get('00004')!;
    const content = { message, link: null, photos: [] };

    const seenByA = (await a.load(id))!;
    const seenByB = (await b.load(id))!;
    const leaseA = await a.claim(seenByA, { kind: 'publish', countAttempt: true });
    expect(leaseA).not.toBeNull();
    // B read the same state: its claim loses (the claim token moved on), and so does a fresh read while A's lease is live.
    expect(await b.claim(seenByB, { kind: 'publish', countAttempt: true })).toBeNull();
    const live = (await b.load(id))!;
    expect(live).toMatchObject({ status: 'publishing', claimToken: leaseA!.token });
    expect(await b.claim(live, { kind: 'publish', countAttempt: true })).toBeNull();

    // A "freezes" past its lease: its fence refuses to send, and nothing reaches the Page.
    await sleep(settings.leaseMs + 50);
    expect(leaseA!.valid()).toBe(false);
    await expect(s.deps.publisher.publish(pageId, token, content, () => leaseA!.check())).rejects.toBeInstanceOf(LeaseExpiredError);
    expect(s.sim.postsOf(pageId).filter((p) => p.message === message)).toHaveLength(0);

    // B may take over only once the lease plus the take-over delay are over.
    const expired = (await b.load(id))!;
    expect(b.takeoverAt(expired)).toBeGreaterThan(Date.now());
    expect(await b.claim(expired, { kind: 'publish', countAttempt: true })).toBeNull();
    await sleep(Math.max(0, b.takeoverAt(expired) - Date.now()) + 20);
    const leaseB = await b.claim(expired, { kind: 'publish', countAttempt: true });
    expect(leaseB).not.toBeNull();
    const sent = await s.deps.publisher.publish(pageId, token, content, () => leaseB!.check());

    // A wakes up and tries to record: every transition over B's claim is refused.
    const ref: LedgerDelivery = seenByA;
    expect(await a.markPublished(ref, leaseA!, 'stale_post', null)).toBe(false);
    expect(await a.markFailed(ref, leaseA!, 'stale', null)).toBe(false);
    expect(await a.requeue(ref, leaseA!, 'stale', null)).toBe(false);
    expect(await a.release(leaseA!)).toBe(false);
    expect(await b.markPublished(ref, leaseB!, sent.fbPostId, sent.permalink)).toBe(true);
    expect(await b.load(id)).toMatchObject({ status: 'published', fbPostId: sent.fbPostId, attempts: 2, leaseUntil: null });
    expect(s.sim.postsOf(pageId).filter((p) => p.message === message)).toHaveLength(1);
  });

  it('a fenced write is checked again as late as the socket write (on a new connection: at connect), and dropped unsent if the fence refuses', async () => {
    const { pageId, token } = pageOf.get('00008')!;
    const client = new GraphClient({ baseUrl: s.sim.url, version: 'v25.0', timeoutMs: 5_000 });
    const copies = (message: string) => s.sim.postsOf(pageId).filter((p) => p.message === message).length;
    // Passes when the write is dispatched, refuses at the last check (as after a pause in between).
    const refusingLastCheck = () => {
      let checks = 0;
      return {
        fence: () => {
          if (++checks > 1) throw new LeaseExpiredError(0);
        },
        checks: () => checks,
      };
    };
    try {
      const cold = `Kết nối mới ${db.name} ${Date.now()}`;
      const f1 = refusingLastCheck();
      await expect(client.createFeedPost(pageId, token, { message: cold }, { fence: f1.fence })).rejects.toBeInstanceOf(LeaseExpiredError);
      expect(f1.checks()).toBe(2);
      // Warm a kept-alive socket: a write on it is checked when it gets that socket.
      await client.getPost(pageId, token, ['id']).catch(() => undefined);
      const warm = `Kết nối sẵn ${db.name} ${Date.now()}`;
      const f2 = refusingLastCheck();
      await expect(client.createFeedPost(pageId, token, { message: warm }, { fence: f2.fence })).rejects.toBeInstanceOf(LeaseExpiredError);
      expect(f2.checks()).toBe(2);
      expect(copies(cold) + copies(warm)).toBe(0);
      // A fence that holds lets the write out, checked at dispatch and on the socket.
      let passes = 0;
      await client.createFeedPost(pageId, token, { message: warm }, { fence: () => void passes++ });
      expect(passes).toBe(2);
      expect(copies(warm)).toBe(1);
    } finally {
      client.close();
    }
  });

  it('a released claim is free at once, and recall and edit claims wait for a live lease of any kind', async () => {
    const a = new DeliveryLedger(s.deps.store.db, new EventBus(), settings);
    const b = new DeliveryLedger(s.deps.store.db, new EventBus(), { leaseMs: 60_000, takeoverMs: 60_000 });
    const id = await oneDelivery(`Bài để sửa ${db.name} ${Date.now()}`);
    const lease = (await a.claim((await a.load(id))!, { kind: 'publish', countAttempt: true }))!;
    expect(await a.markPublished((await a.load(id))!, lease, `${pageOf.get('00004')!.pageId}_1`, null)).toBe(true);
    // Published: the lease ended with it, so an edit claim does not wait.
    await s.deps.store.db.updateTable('deliveries').set({ edit_revision: 1, edit_status: 'pending' }).where('id', '=', id).execute();
    const edit = await b.claim((await b.load(id))!, { kind: 'edit', revision: 1 });
    expect(edit).not.toBeNull();
    // A recall of the same row (an edit was mid-flight) waits for the edit's lease.
    await s.deps.store.db.updateTable('deliveries').set({ status: 'recalling' }).where('id', '=', id).execute();
    expect(await a.claim((await a.load(id))!, { kind: 'recall' })).toBeNull();
    expect(await b.release(edit!)).toBe(true);
    expect(await a.claim((await a.load(id))!, { kind: 'recall' })).not.toBeNull();
    // An edit claim of an older revision never matches a row pending a newer one.
    expect(await b.claim((await b.load(id))!, { kind: 'edit', revision: 0 })).toBeNull();
  });
});
