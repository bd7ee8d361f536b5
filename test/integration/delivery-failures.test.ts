import { testDatabases } from '../helpers/databases';
import { seedOrganisation, startTestStack, waitFor, type TestStack } from '../helpers/stack';
import type { ApiClient } from '../../src/cli/api-client';
import { deliveryJobId } from '../../src/queues/catalog';
import type { PostView } from '../../src/services/read-models/post-views.service';

const FINAL = ['published', 'partially_failed', 'failed', 'cancelled'];
let seq = 0;

describe.each(testDatabases())('delivery failures against the simulator, on $name', (db) => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;

  beforeAll(async () => {
    // A 1 s Graph deadline so the 'delay' fault (2 s) turns into a client timeout after the post was created.
    s = await startTestStack(db, 'dlvfail', { env: { GRAPH_TIMEOUT_MS: '1000' } });
    // Every case posts to its own small province (Lai Châu 12, Huế 46, Điện Biên 11, Quảng Ninh 22, Cao Bằng 04,
    // Cà Mau 96, Lạng Sơn 20), so one case's faults, broken tokens and throttles never reach another's Pages.
    await seedOrganisation(s);
    editor = s.admin.withKey((await s.admin.createKey({ name: 'editor', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'approver', role: 'approver', unit: 'root' })).key);
  });
  afterAll(() => s?.dispose());

  type Delivery = {
    unitCode: string;
    pageId: string | null;
    status: string;
    attempts: number;
    reason: string | null;
    fbPostId: string | null;
    error: { code: number | null; subcode: number | null; message: string | null } | null;
  };

  /** Units (with their Page) of a province subtree. */
  async function unitsOf(province: string): Promise<Array<{ code: string; pageId: string }>> {
    const units = await s.deps.targets.resolve({ unit: province, scope: 'subtree' } as never);
    expect(units.every((u) => u.pageId)).toBe(true);
    return units.map((u) => ({ code: u.code, pageId: u.pageId! }));
  }

  /** Creates and approves a post with a unique message; returns its id and message. */
  async function publish(province: string, label: string, extra: Record<string, unknown> = {}): Promise<{ id: string; message: string }> {
    const message = `[${db.name} #${++seq}] ${label} ${Date.now()}`;
    const post = await editor.createPost({ message, target: { unit: province, scope: 'subtree' }, ...extra });
    expect((await approver.approve(post.id)).status).toBe('approved');
    return { id: post.id, message };
  }

  const finalPost = (id: string) =>
    waitFor(async () => {
      const p = await editor.getPost(id);
      return FINAL.includes(p.status) ? p : null;
    }, 30_000);

  async function deliveries(id: string): Promise<Map<string, Delivery>> {
    const res = await editor.deliveries(id, { limit: 500 });
    return new Map((res.items as unknown as Delivery[]).map((d) => [d.unitCode, d]));
  }

  /** Visible posts with this message on a Page (the simulator's own view). */
  const visible = (pageId: string, message: string) =>
    s.sim.postsOf(pageId).filter((p) => p.message === message && p.isPublished && !p.isDeleted && !p.isHidden).length;

  const deliveryId = async (postId: string, unitCode: string) =>
    (
      await s.deps.store.db
        .selectFrom('deliveries')
        .select('id')
        .where('post_id', '=', postId)
        .where('unit_code', '=', unitCode)
        .executeTakeFirstOrThrow()
    ).id;

  const deliveryJob = async (postId: string, unitCode: string) =>
    (await s.deps.queues.deliveries.getJob(deliveryJobId(Number(await deliveryId(postId, unitCode)))))!;

  function expectCounts(p: PostView, counts: Partial<PostView['counts']>) {
    expect(p.counts).toEqual({
      queued: 0,
      publishing: 0,
      published: 0,
      failed: 0,
      skipped: 0,
      cancelled: 0,
      recalling: 0,
      recalled: 0,
      recall_failed: 0,
      ...counts,
    });
  }

  it('a. invalidated token: fails password_changed (190/460), marks the Page needs_reauth, and the next post skips Graph for it', async () => {
    const units = await unitsOf('12');
    const broken = units[3]!;
    s.sim.invalidateToken(broken.pageId, 460);

    const first = await publish('12', 'token bị vô hiệu');
    const done = await finalPost(first.id);
    expect(done.status).toBe('partially_failed');
    expectCounts(done, { published: units.length - 1, failed: 1 });
    const d1 = await deliveries(first.id);
    expect(d1.get(broken.code)).toMatchObject({
      status: 'failed',
      reason: 'password_changed',
      attempts: 1,
      fbPostId: null,
      error: { code: 190, subcode: 460 },
    });
    expect(d1.get(broken.code)!.error!.message).toMatch(/changed their password/);
    for (const u of units.filter((x) => x !== broken)) {
      expect(d1.get(u.code)).toMatchObject({ status: 'published', attempts: 1, error: null });
      expect(visible(u.pageId, first.message)).toBe(1);
    }
    expect(visible(broken.pageId, first.message)).toBe(0);
    const page = await s.deps.store.db
      .selectFrom('pages')
      .select(['token_status', 'token_status_reason'])
      .where('unit_code', '=', broken.code)
      .executeTakeFirstOrThrow();
    expect(page.token_status).toBe('needs_reauth');
    expect(page.token_status_reason).toMatch(/^password_changed/);

    // Second post: the broken Page fails at once, without any Graph call for it.
    const before = s.sim.stats();
    const second = await publish('12', 'bài thứ hai sau khi token hỏng');
    const done2 = await finalPost(second.id);
    expect(done2.status).toBe('partially_failed');
    expectCounts(done2, { published: units.length - 1, failed: 1 });
    const after = s.sim.stats();
    // Exactly one feed call per healthy Page and nothing else (no read-back, no call for the broken Page).
    expect((after.byEndpoint['feed'] ?? 0) - (before.byEndpoint['feed'] ?? 0)).toBe(units.length - 1);
    expect(after.requests - before.requests).toBe(units.length - 1);
    const d2 = await deliveries(second.id);
    expect(d2.get(broken.code)).toMatchObject({
      status: 'failed',
      reason: 'needs_reauth',
      attempts: 0,
      error: { code: null, subcode: null },
    });
    expect(d2.get(broken.code)!.error!.message).toMatch(/password_changed/);
    for (const u of units.filter((x) => x !== broken)) expect(visible(u.pageId, second.message)).toBe(1);
  });

  it('b. transient errors before anything is created: retried (after a read-back) until published, one post per Page', async () => {
    const units = await unitsOf('46');
    const hit = [units[1]!, units[4]!];
    // 'error' faults fail the call before the simulator creates anything: 500 code 2, twice per Page.
    s.sim.addFaults(hit.map((u) => ({ kind: 'error' as const, endpoint: 'feed' as const, pageId: u.pageId, code: 2, count: 2 })));
    const listBefore = s.sim.stats().byEndpoint['list'] ?? 0;

    const post = await publish('46', 'lỗi tạm thời');
    const done = await finalPost(post.id);
    expect(done.status).toBe('published');
    expectCounts(done, { published: units.length });
    const d = await deliveries(post.id);
    for (const u of hit) {
      // Code 2 is ambiguous for a write: each retry first read the Page back, found nothing, then posted.
      expect(d.get(u.code)).toMatchObject({ status: 'published', attempts: 3, reason: null, error: null });
      expect(d.get(u.code)!.fbPostId).toMatch(new RegExp(`^${u.pageId}_`));
    }
    for (const u of units) expect(visible(u.pageId, post.message)).toBe(1);
    for (const u of units.filter((x) => !hit.includes(x))) expect(d.get(u.code)).toMatchObject({ status: 'published', attempts: 1 });
    expect((s.sim.stats().byEndpoint['list'] ?? 0) - listBefore).toBe(2 * hit.length);
    expect(s.sim.listFaults()).toEqual([]);
  });

  it('c. 500 code 2 after the post was created: the read-back finds it, exactly one visible post', async () => {
    const units = await unitsOf('11');
    const hit = [units[0]!, units[5]!, units[7]!];
    s.sim.addFaults(
      hit.map((u) => ({ kind: 'error-after-process' as const, endpoint: 'feed' as const, pageId: u.pageId, code: 2, count: 1 })),
    );

    const post = await publish('11', 'tạo xong mới báo lỗi');
    const done = await finalPost(post.id);
    expect(done.status).toBe('published');
    expectCounts(done, { published: units.length });
    const d = await deliveries(post.id);
    for (const u of hit) {
      expect(d.get(u.code)).toMatchObject({ status: 'published', attempts: 2, reason: 'recovered_after_unknown_outcome', error: null });
      // The recorded id is the post the first (failed-looking) attempt created.
      const onPage = s.sim.postsOf(u.pageId).filter((p) => p.message === post.message);
      expect(onPage).toHaveLength(1);
      expect(d.get(u.code)!.fbPostId).toBe(onPage[0]!.id);
    }
    for (const u of units) expect(visible(u.pageId, post.message)).toBe(1);
  });

  it('d. permanent errors (324 bad image, 100 invalid parameter): failed after one attempt, never retried', async () => {
    const units = await unitsOf('22');
    const badImage = units[2]!;
    const badParam = units[6]!;
    s.sim.addFaults([
      { kind: 'error', endpoint: 'photos', pageId: badImage.pageId, code: 324, count: 5 },
      { kind: 'error', endpoint: 'feed', pageId: badParam.pageId, code: 100, count: 5 },
    ]);
    const before = s.sim.stats();

    const post = await publish('22', 'ảnh hỏng và tham số sai', { photos: ['https://mattran.org.vn/anh/hop-mat.jpg'] });
    const done = await finalPost(post.id);
    expect(done.status).toBe('partially_failed');
    expectCounts(done, { published: units.length - 2, failed: 2 });
    const d = await deliveries(post.id);
    expect(d.get(badImage.code)).toMatchObject({
      status: 'failed',
      reason: 'bad_image',
      attempts: 1,
      fbPostId: null,
      error: { code: 324, subcode: null },
    });
    expect(d.get(badImage.code)!.error!.message).toMatch(/#324/);
    expect(d.get(badParam.code)).toMatchObject({
      status: 'failed',
      reason: 'invalid_parameter',
      attempts: 1,
      fbPostId: null,
      error: { code: 100, subcode: null },
    });
    expect(visible(badImage.pageId, post.message)).toBe(0);
    expect(visible(badParam.pageId, post.message)).toBe(0);
    for (const u of units.filter((x) => x !== badImage && x !== badParam)) expect(visible(u.pageId, post.message)).toBe(1);
    // Each fault fired exactly once: no second attempt reached Graph.
    expect(s.sim.listFaults()).toEqual([
      expect.objectContaining({ pageId: badImage.pageId, count: 4 }),
      expect.objectContaining({ pageId: badParam.pageId, count: 4 }),
    ]);
    const after = s.sim.stats();
    expect((after.byEndpoint['photos'] ?? 0) - (before.byEndpoint['photos'] ?? 0)).toBe(units.length);
    expect((after.byEndpoint['feed'] ?? 0) - (before.byEndpoint['feed'] ?? 0)).toBe(units.length - 1);
    s.sim.clearFaults();
    // Permanent errors do not mark the Page's token.
    const pages = await s.deps.store.db
      .selectFrom('pages')
      .select('token_status')
      .where('unit_code', 'in', [badImage.code, badParam.code])
      .execute();
    expect(pages.map((p) => p.token_status)).not.toContain('needs_reauth');
  });

  it('e. Page throttled (80001 with regain minutes): the delivery waits queued without using an attempt', async () => {
    const units = await unitsOf('04');
    const throttled = units[5]!;
    // 100 % of the Page's BUC budget, regained in 2 minutes: every call answers 80001 + usage header.
    s.sim.setUsagePercent(throttled.pageId, 100, 2);
    try {
      const post = await publish('04', 'trang bị giới hạn tần suất');
      const waiting = await waitFor(async () => {
        const d = (await deliveries(post.id)).get(throttled.code);
        return d?.reason === 'page_rate_limited' ? d : null;
      }, 20_000);
      expect(waiting).toMatchObject({ status: 'queued', attempts: 0, fbPostId: null, error: { code: 80001 } });
      // The others finish; the post stays publishing while one delivery waits.
      const view = await waitFor(async () => {
        const p = await editor.getPost(post.id);
        return p.counts.published === units.length - 1 ? p : null;
      }, 20_000);
      expect(view.status).toBe('publishing');
      expectCounts(view, { published: units.length - 1, queued: 1 });
      expect(visible(throttled.pageId, post.message)).toBe(0);
      // The job sleeps for the regain estimate (2 min), not the 5-minute default and not the 200 ms backoff.
      const job = await deliveryJob(post.id, throttled.code);
      await waitFor(async () => (await job.getState()) === 'delayed', 10_000);
      const delayed = (await s.deps.queues.deliveries.getJob(job.id!))!;
      expect(delayed.attemptsMade).toBe(0);
      expect(delayed.delay).toBeGreaterThan(60_000);
      expect(delayed.delay).toBeLessThanOrEqual(120_000 + 250); // + jitter

      // Still waiting a moment later: nothing retries a throttled Page early.
      await new Promise((r) => setTimeout(r, 1_000));
      expect((await deliveries(post.id)).get(throttled.code)).toMatchObject({ status: 'queued', attempts: 0, reason: 'page_rate_limited' });

      // Window regained (instead of sleeping 2 minutes, promote the job): published with a single counted attempt.
      s.sim.setUsagePercent(throttled.pageId, 0);
      // The Page itself is blocked for the regain estimate, so its other deliveries wait without calling Graph.
      expect(await s.deps.pacer.blockedFor(throttled.pageId)).toBeGreaterThan(60_000);
      await s.deps.pacer.unblockPage(throttled.pageId);
      await delayed.promote();
      const done = await finalPost(post.id);
      expect(done.status).toBe('published');
      expect((await deliveries(post.id)).get(throttled.code)).toMatchObject({
        status: 'published',
        attempts: 1,
        reason: null,
        error: null,
      });
      expect(visible(throttled.pageId, post.message)).toBe(1);
    } finally {
      s.sim.setUsagePercent(throttled.pageId, 0);
    }
  });

  it('f. lost answers after the post was created (client timeout, connection dropped): one visible post each', async () => {
    const units = await unitsOf('96');
    const slow = units[2]!;
    const dropped = units[9]!;
    s.sim.addFaults([
      // Answers after 2 s; the client gives up after GRAPH_TIMEOUT_MS = 1 s, the post is already created.
      { kind: 'delay', endpoint: 'feed', pageId: slow.pageId, delayMs: 2_000, count: 1 },
      { kind: 'drop-after-process', endpoint: 'feed', pageId: dropped.pageId, count: 1 },
    ]);

    const post = await publish('96', 'mất phản hồi');
    const done = await finalPost(post.id);
    expect(done.status).toBe('published');
    expectCounts(done, { published: units.length });
    const d = await deliveries(post.id);
    for (const u of [slow, dropped]) {
      expect(d.get(u.code)).toMatchObject({ status: 'published', attempts: 2, reason: 'recovered_after_unknown_outcome', error: null });
      const onPage = s.sim.postsOf(u.pageId).filter((p) => p.message === post.message);
      expect(onPage).toHaveLength(1);
      expect(d.get(u.code)!.fbPostId).toBe(onPage[0]!.id);
    }
    for (const u of units) expect(visible(u.pageId, post.message)).toBe(1);
  });

  it('h. a create that reaches Graph late, after a slow read-back: the next read-back waits from the write, not the claim', async () => {
    const units = await unitsOf('14');
    const p = units[3]!;
    s.sim.configure({ duplicateMode: 'off' });
    try {
      // Attempt 1: the connection drops before anything is created, so attempt 2 must read the Page back first.
      s.sim.addFaults([{ kind: 'drop-before-process', endpoint: 'feed', pageId: p.pageId, count: 1 }]);
      const post = await publish('14', 'đến muộn');
      await waitFor(async () => {
        const d = (await deliveries(post.id)).get(p.code);
        return d?.attempts === 1 && d.status === 'queued' ? d : null;
      }, 10_000);
      s.sim.addFaults([
        // Attempt 2: its read-back answers after 0.9 s (within the 1 s deadline) and finds nothing; its create reaches
        // Graph 0.95 s after it was sent (still within the deadline that bounds a sent request), and the answer is lost.
        { kind: 'delay', endpoint: 'list', pageId: p.pageId, delayMs: 900, count: 1 },
        { kind: 'arrive-late', endpoint: 'feed', pageId: p.pageId, delayMs: 950, count: 1 },
        { kind: 'delay', endpoint: 'feed', pageId: p.pageId, delayMs: 2_000, count: 1 },
      ]);
      // Attempt 2 gave up on its create: the read-back window now starts when that create was sent (after the slow
      // read-back), not at the claim. A create can reach Graph up to the deadline after it was sent, so the next
      // read-back must wait from there (from the claim it could run before a slow create is listed).
      const id = await deliveryId(post.id, p.code);
      const requeued = await waitFor(
        async () => {
          const row = await s.deps.store.db
            .selectFrom('deliveries')
            .select(['status', 'attempts', 'reason', 'attempt_started_at'])
            .where('id', '=', id)
            .executeTakeFirstOrThrow();
          return row.attempts === 2 && row.status === 'queued' ? row : null;
        },
        10_000,
        20,
      );
      expect(requeued.reason).toBe('outcome_unknown');
      const created = s.sim.postsOf(p.pageId).filter((x) => x.message === post.message);
      expect(created).toHaveLength(1);
      // Sent 0.95 s before it was created (the arrive-late hold); the claim was 0.9 s earlier still (the slow read-back).
      const sentBeforeCreated = created[0]!.createdAt - new Date(requeued.attempt_started_at!).getTime();
      expect(sentBeforeCreated).toBeGreaterThanOrEqual(900);
      expect(sentBeforeCreated).toBeLessThan(1_400);

      const done = await finalPost(post.id);
      expect(done.status).toBe('published');
      await new Promise((r) => setTimeout(r, 500));
      expect(s.sim.postsOf(p.pageId).filter((x) => x.message === post.message)).toHaveLength(1);
      expect((await deliveries(post.id)).get(p.code)).toMatchObject({
        status: 'published',
        attempts: 3,
        reason: 'recovered_after_unknown_outcome',
      });
      for (const u of units) expect(visible(u.pageId, post.message)).toBe(1);
    } finally {
      s.sim.configure({ duplicateMode: 'consecutive' });
      s.sim.clearFaults();
    }
  });

  it('g. a throttled read-back after an unknown outcome does not lose the ambiguity (no second post)', async () => {
    const units = await unitsOf('20');
    const p = units[4]!;
    // Facebook does not reliably refuse duplicates (graph-api.md §6.1): rely on the read-back only.
    s.sim.configure({ duplicateMode: 'off' });
    try {
      s.sim.addFaults([
        // Attempt 1: the post is created but the answer is 500 code 2.
        { kind: 'error-after-process', endpoint: 'feed', pageId: p.pageId, code: 2, count: 1 },
        // Attempt 2: the read-back that should find it is throttled.
        { kind: 'error', endpoint: 'list', pageId: p.pageId, code: 80001, count: 1 },
      ]);
      const post = await publish('20', 'đọc lại bị giới hạn');
      const waiting = await waitFor(async () => {
        const d = (await deliveries(post.id)).get(p.code);
        return d?.error?.code === 80001 ? d : null;
      }, 20_000);
      // One counted attempt (the throttled one was refunded), still marked as "outcome unknown".
      expect(waiting).toMatchObject({ status: 'queued', attempts: 1, reason: 'outcome_unknown' });
      // The read-back window still starts at attempt 1 (which created the post), not at the throttled attempt 2.
      const created = s.sim.postsOf(p.pageId).filter((x) => x.message === post.message);
      expect(created).toHaveLength(1);
      const row = await s.deps.store.db
        .selectFrom('deliveries')
        .select('attempt_started_at')
        .where('id', '=', await deliveryId(post.id, p.code))
        .executeTakeFirstOrThrow();
      expect(new Date(row.attempt_started_at!).getTime()).toBeLessThanOrEqual(created[0]!.createdAt);
      const job = await deliveryJob(post.id, p.code);
      await waitFor(async () => (await job.getState()) === 'delayed', 10_000);
      await s.deps.pacer.unblockPage(p.pageId);
      await job.promote();

      const done = await finalPost(post.id);
      expect(done.status).toBe('published');
      expect((await deliveries(post.id)).get(p.code)).toMatchObject({
        status: 'published',
        attempts: 2,
        reason: 'recovered_after_unknown_outcome',
      });
      expect(s.sim.postsOf(p.pageId).filter((x) => x.message === post.message)).toHaveLength(1);
      for (const u of units) expect(visible(u.pageId, post.message)).toBe(1);
    } finally {
      s.sim.configure({ duplicateMode: 'consecutive' });
      s.sim.clearFaults();
    }
  });
});
