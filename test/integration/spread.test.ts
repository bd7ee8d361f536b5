import { testDatabases } from '../helpers/databases';
import { childCodes, seedOrganisation, startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../helpers/stack';
import type { ApiClient } from '../../src/cli/api-client';
import { deliveryJobId } from '../../src/queues/catalog';

/** One minute of a spread lasts this long here (SPREAD_MINUTE_MS): a 1-minute spread runs in 4 s. */
const MINUTE_MS = 4_000;
/** Hà Nội and its first 11 wards have Pages (12); the other wards of 01 have none and are skipped. */
const WARDS = childCodes(UNITS_TEXT, '01').slice(0, 11);

/**
 * Optional spread: a post's deliveries go out evenly over the window, root level first, each never
 * before its planned slot (whoever enqueued its job), each Page exactly once.
 */
describe.each(testDatabases())('spread, on $name', (db) => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;

  beforeAll(async () => {
    s = await startTestStack(db, 'spread', { env: { SPREAD_MINUTE_MS: String(MINUTE_MS) } });
    await seedOrganisation(s, UNITS_TEXT, { only: (c) => c === '01' || WARDS.includes(c) });
    editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
  });
  afterAll(async () => {
    await s?.dispose();
  });

  const rows = (postId: string) =>
    s.deps.store.db
      .selectFrom('deliveries')
      .innerJoin('units', 'units.id', 'deliveries.unit_id')
      .select(['deliveries.id', 'deliveries.unit_code', 'deliveries.status', 'deliveries.page_id', 'deliveries.not_before', 'units.level'])
      .where('post_id', '=', postId)
      .execute();
  const finalPost = (id: string) =>
    waitFor(async () => {
      const p = await editor.getPost(id);
      return ['published', 'partially_failed', 'failed'].includes(p.status) ? p : null;
    }, 60_000);

  /** Every Page got the post exactly once, never before its slot; returns the publish times (ms) by level. */
  async function checkDelivered(postId: string, message: string): Promise<Map<number, number[]>> {
    const byLevel = new Map<number, number[]>();
    const sent = (await rows(postId)).filter((r) => r.page_id !== null);
    expect(sent).toHaveLength(12);
    for (const r of sent) {
      expect(r.status).toBe('published');
      const copies = s.sim.postsOf(r.page_id!).filter((p) => p.message === message);
      expect(copies).toHaveLength(1);
      expect(r.not_before).not.toBeNull();
      expect(copies[0]!.createdAt).toBeGreaterThanOrEqual(Date.parse(r.not_before!));
      byLevel.set(r.level, [...(byLevel.get(r.level) ?? []), copies[0]!.createdAt]);
    }
    return byLevel;
  }

  it('delivers every Page once, evenly over the window, the province before its wards', async () => {
    const message = `Spread over a minute ${Date.now()}`;
    const post = await editor.createPost({ message, target: { unit: '01', scope: 'subtree' }, spread: { minutes: 1 } });
    expect(post.spread).toEqual({ minutes: 1, plannedEndAt: null }); // not known until it goes out
    await approver.approve(post.id);
    const done = await finalPost(post.id);
    expect(done.status).toBe('published');
    expect(done.counts.published).toBe(12);
    const start = Date.parse(done.startedAt!);
    expect(Date.parse(done.spread!.plannedEndAt!)).toBe(start + MINUTE_MS);

    // Slots: the i-th of 12 Pages at start + i × window ÷ 12, the province (level 1) first.
    const slots = (await rows(post.id)).filter((r) => r.not_before).map((r) => ({ level: r.level, at: Date.parse(r.not_before!) }));
    slots.sort((a, b) => a.at - b.at);
    expect(slots.map((x) => x.at - start)).toEqual(Array.from({ length: 12 }, (_, i) => Math.floor((i * MINUTE_MS) / 12)));
    expect(slots[0]!.level).toBe(1);

    const byLevel = await checkDelivered(post.id, message);
    const all = [...byLevel.values()].flat().sort((a, b) => a - b);
    // Spread out, not all at once: the first and last copies are at least half the window apart.
    expect(all[all.length - 1]! - all[0]!).toBeGreaterThanOrEqual(MINUTE_MS / 2);
    expect(Math.max(...byLevel.get(1)!)).toBeLessThan(Math.min(...byLevel.get(2)!));
  });

  it('a job re-added early (as by a reconciler or a manual retry) still waits for its slot', async () => {
    const message = `Spread, enqueued early ${Date.now()}`;
    const post = await editor.createPost({ message, target: { unit: '01', scope: 'subtree' }, spread: { minutes: 2 } });
    await approver.approve(post.id);
    const open = await waitFor(async () => {
      const r = (await rows(post.id)).filter((x) => x.page_id !== null);
      return r.length === 12 ? r : null;
    });
    // The last slot is seconds away: add a job for it that runs now (a new job round, no delay).
    const last = open.sort((a, b) => Date.parse(b.not_before!) - Date.parse(a.not_before!))[0]!;
    await s.deps.store.db.updateTable('deliveries').set({ job_round: 1 }).where('id', '=', last.id).execute();
    await s.deps.queues.deliveries.add(
      'delivery.publish',
      { deliveryId: last.id, postId: post.id, round: 1 },
      { jobId: deliveryJobId(last.id, 1) },
    );
    expect((await finalPost(post.id)).counts.published).toBe(12);
    await checkDelivered(post.id, message); // the early job did not send before the slot, nor twice
  });

  it('a scheduled post with a spread plans its window from publishAt and keeps it', async () => {
    const message = `Spread, scheduled ${Date.now()}`;
    const publishAt = new Date(Date.now() + 2_000);
    const post = await editor.createPost({
      message,
      target: { unit: '01', scope: 'subtree' },
      publishAt: publishAt.toISOString(),
      spread: { minutes: 1 },
    });
    expect(post.spread).toEqual({ minutes: 1, plannedEndAt: new Date(publishAt.getTime() + MINUTE_MS).toISOString() });
    await approver.approve(post.id);
    const done = await finalPost(post.id);
    expect(done.counts.published).toBe(12);
    const start = Date.parse(done.startedAt!);
    expect(start).toBeGreaterThanOrEqual(publishAt.getTime() - 1_000); // the fan-out's own tolerance
    expect(done.spread!.plannedEndAt).toBe(new Date(start + MINUTE_MS).toISOString());
    const times = [...(await checkDelivered(post.id, message)).values()].flat();
    expect(Math.min(...times)).toBeGreaterThanOrEqual(publishAt.getTime() - 1_000);
  });

  it.each([
    [{ minutes: 0 }, 'body.spread.minutes'],
    [{ minutes: 1441 }, 'body.spread.minutes'],
    [{ minutes: 1.5 }, 'body.spread.minutes'],
    [{ minutes: '5' }, 'body.spread.minutes'],
    [{}, 'body.spread.minutes'],
    [{ minutes: 5, seconds: 3 }, 'body.spread'],
    [5, 'body.spread'],
  ])('refuses spread %j with a 400 naming %s', async (spread, field) => {
    const res = await s.app.inject({
      method: 'POST',
      url: '/v1/posts',
      headers: { authorization: `Bearer ${s.adminKey}` },
      payload: { message: 'bad spread', target: { unit: '01', scope: 'subtree' }, spread },
    });
    expect(res.statusCode).toBe(400);
    const { error } = res.json() as { error: { code: string; message: string } };
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.message.startsWith(`${field}:`)).toBe(true);
  });
});
