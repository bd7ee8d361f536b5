import { Redis } from 'ioredis';
import { Pacer } from '../../src/queues/pacer';
import { testDatabases } from '../helpers/databases';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { seedOrganisation, startTestStack, waitFor, type TestStack } from '../helpers/stack';

describe('Pacer (real Redis)', () => {
  const prefix = uniquePrefix('pacer');
  const redis = new Redis(REDIS_URL);
  const pacer = new Pacer(redis, { prefix, pageSpacingMs: 10_000, slowBaseMs: 60_000, appSlowSpacingMs: 500, defaultThrottleMs: 300_000 });
  afterAll(async () => {
    await dropPrefix(prefix);
    redis.disconnect();
  });

  it('spaces writes to one Page and leaves other Pages alone', async () => {
    expect(await pacer.reserve('p1')).toBe(0);
    const wait = await pacer.reserve('p1');
    expect(wait).toBeGreaterThan(9_000);
    expect(wait).toBeLessThanOrEqual(10_000);
    expect(await pacer.reserve('p2')).toBe(0);
  });

  it('stretches the spacing when Meta reports ≥ 80 % usage and blocks at 100 % until regain', async () => {
    await pacer.observe('p3', { page: { callCount: 90, totalCputime: 10, totalTime: 10, regainMinutes: 0 }, maxPercent: 90 });
    expect(await pacer.reserve('p3')).toBe(0);
    expect(await pacer.reserve('p3')).toBeGreaterThan(4 * 10_000 - 1_000); // 2^((90-80)/5) = 4 × spacing
    const verdict = await pacer.observe('p4', {
      page: { callCount: 100, totalCputime: 20, totalTime: 20, regainMinutes: 7 },
      maxPercent: 100,
    });
    expect(verdict).toEqual({ kind: 'page_blocked', ms: 7 * 60_000 });
    const wait = await pacer.reserve('p4');
    expect(wait).toBeGreaterThan(6 * 60_000);
    expect(await pacer.reserve('p5')).toBe(0); // another Page is not stalled
    await pacer.unblockPage('p4');
    expect(await pacer.reserve('p4')).toBe(0);
  });

  it('asks to pause everything when the app is at 100 %, and spaces all writes above 80 %', async () => {
    expect(await pacer.observe('p6', { app: { callCount: 100, totalCputime: 1, totalTime: 1 }, maxPercent: 100 })).toEqual({
      kind: 'app_blocked',
      ms: 300_000,
    });
    await pacer.observe('p6', { app: { callCount: 85, totalCputime: 1, totalTime: 1 }, maxPercent: 85 });
    expect(await pacer.reserve('p7')).toBe(0);
    const wait = await pacer.reserve('p8'); // a different Page, but the app is hot
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(500);
  });
});

describe.each(testDatabases())('throttles in the pipeline on $name', (db) => {
  let s: TestStack;
  let pages: Map<string, string>;
  beforeAll(async () => {
    s = await startTestStack(db, 'throttle');
    pages = new Map((await seedOrganisation(s)).pages.map((p) => [p.unitCode, p.pageId]));
  });
  afterAll(() => s.dispose());

  it('an app-level throttle (code 4) pauses the whole queue without consuming an attempt', async () => {
    const editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    const approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
    const first = pages.get('00004')!;
    s.sim.addFaults([{ kind: 'error', endpoint: 'feed', pageId: first, code: 4, count: 1 }]);
    const post = await editor.createPost({ message: 'Giới hạn ứng dụng', target: { unit: '01', scope: 'subtree' } });
    await approver.approve(post.id);
    const paused = await waitFor(async () => ((await s.deps.queues.deliveries.getRateLimitTtl(100_000)) > 60_000 ? true : null), 20_000);
    expect(paused).toBe(true);
    const d = (await editor.deliveries(post.id, { unit: '00004' })).items[0]!;
    expect(d).toMatchObject({ status: 'queued', attempts: 0, reason: 'app_rate_limited', error: { code: 4 } });
    // Resume (the window passed): everything is delivered, the throttled one with one counted attempt.
    await s.deps.queues.deliveries.removeRateLimitKey();
    const done = await waitFor(async () => {
      const p = await editor.getPost(post.id);
      return p.status === 'published' ? p : null;
    }, 60_000);
    expect(done.counts.published).toBe(done.total);
    expect((await editor.deliveries(post.id, { unit: '00004' })).items[0]).toMatchObject({ status: 'published', attempts: 1 });
    expect(s.sim.visibleCounts().get(first)).toBe(1);
  });
});
