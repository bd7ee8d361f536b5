import crypto from 'node:crypto';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../../src/logger';
import { JOB, JOBS } from '../../../src/queues/catalog';
import { testDatabases } from '../../helpers/databases';
import { waitForStatus } from '../../helpers/governance';
import { childCodes, seedOrganisation, startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../../helpers/stack';

const APP_ID = '100000000000001'; // the simulator's app id: it accepts app tokens `{appId}|…`
const DAY = 86_400_000;

describe.each(testDatabases())('Page token health on $name', (db) => {
  let s: TestStack;
  /** The simulator's clock runs `skew` ms behind ours while Pages are seeded (to age a token). */
  let skew = 0;
  const pageOf = new Map<string, string>();
  const statusOf = async (unit: string) =>
    s.deps.store.db
      .selectFrom('pages')
      .select(['token_status', 'token_status_reason', 'token_checked_at'])
      .where('unit_code', '=', unit)
      .executeTakeFirstOrThrow();

  beforeAll(async () => {
    s = await startTestStack(db, 'tokens', {
      env: { FB_APP_ID: APP_ID, FB_APP_SECRET: 'sim-app-secret', TOKEN_EXPIRING_DAYS: '7', TOKEN_SWEEP_EVERY_MINUTES: '60' },
      simulator: { now: () => Date.now() - skew },
    });
    // Pages on root, Hà Nội and 13 of its wards (00004, 00008, 00025, 00070, 00082, 00091, …).
    const wards = new Set(childCodes(UNITS_TEXT, '01').slice(0, 13));
    const { pages } = await seedOrganisation(s, UNITS_TEXT, { only: (c) => c === 'root' || c === '01' || wards.has(c) });
    for (const p of pages) pageOf.set(p.unitCode, p.pageId);
  });
  afterAll(() => s?.dispose());

  it('checks newly linked Pages right after the import, and schedules a sweep of every Page', async () => {
    const scheduler = await s.deps.queues.maintenance.getJobScheduler(JOBS[JOB.checkTokens].scheduler.id);
    expect(scheduler).toMatchObject({ name: 'pages.checkTokens', every: 3_600_000 });
    const n = pageOf.size;
    await waitFor(async () => {
      const checked = await s.deps.store.db.selectFrom('pages').select('unit_code').where('token_checked_at', 'is not', null).execute();
      return checked.length === n;
    });
    expect((await statusOf('01')).token_status).toBe('valid');
  });

  it('marks Pages valid, expiring or needs_reauth with the reason', async () => {
    s.sim.invalidateToken(pageOf.get('00004')!, 463);
    s.sim.invalidateToken(pageOf.get('00008')!, 492);
    // A token Facebook does not know at all.
    const unknown = `EAAG${crypto.randomBytes(30).toString('base64url')}`;
    await s.deps.pages.link(await s.deps.keys.authenticate(s.adminKey), {
      unitCode: '00025',
      pageId: pageOf.get('00025')!,
      accessToken: unknown,
    });
    // A token issued 85 days ago: its data access (90 days) ends within the 7-day warning window.
    skew = 85 * DAY;
    const aged = `EAAG${crypto.randomBytes(30).toString('base64url')}`;
    s.sim.seedPages([{ id: pageOf.get('00070')!, token: aged }]);
    skew = 0;
    await s.deps.pages.link(await s.deps.keys.authenticate(s.adminKey), {
      unitCode: '00070',
      pageId: pageOf.get('00070')!,
      accessToken: aged,
    });

    const totals = await s.deps.tokenHealth.sweep();
    expect(totals).toMatchObject({ checked: pageOf.size, needs_reauth: 3, expiring: 1, valid: pageOf.size - 4, errors: 0 });
    expect(await statusOf('00004')).toMatchObject({
      token_status: 'needs_reauth',
      token_status_reason: expect.stringMatching(/^token_expired: /),
    });
    expect(await statusOf('00008')).toMatchObject({
      token_status: 'needs_reauth',
      token_status_reason: expect.stringMatching(/^role_removed: /),
    });
    expect(await statusOf('00025')).toMatchObject({
      token_status: 'needs_reauth',
      token_status_reason: expect.stringMatching(/^token_invalid: /),
    });
    expect(await statusOf('00070')).toMatchObject({
      token_status: 'expiring',
      token_status_reason: expect.stringMatching(/^data access expires at /),
    });
    expect(await statusOf('00082')).toMatchObject({ token_status: 'valid', token_status_reason: null });
    // The unit view shows it to operators.
    const unit = await s.app.inject({ method: 'GET', url: '/v1/units/00004', headers: { authorization: `Bearer ${s.adminKey}` } });
    expect(unit.json().page).toMatchObject({ tokenStatus: 'needs_reauth', tokenStatusReason: expect.stringContaining('token_expired') });
  });

  it('checks stale Pages before a fan-out, so a broken token fails without a publish call', async () => {
    const unit = '00091';
    s.sim.invalidateToken(pageOf.get(unit)!, 460);
    await s.deps.store.db
      .updateTable('pages')
      .set({ token_status: 'valid', token_checked_at: new Date(Date.now() - 2 * 3_600_000).toISOString() })
      .where('unit_code', '=', unit)
      .execute();
    const editor = s.admin.withKey((await s.admin.createKey({ name: 'e', role: 'editor', unit: 'root' })).key);
    const approver = s.admin.withKey((await s.admin.createKey({ name: 'a', role: 'approver', unit: 'root' })).key);
    const post = await editor.createPost({ message: 'Kiểm tra token trước khi đăng', target: { unit, scope: 'self' } });
    await approver.approve(post.id);
    const done = await waitForStatus(editor, post.id);
    expect(done.status).toBe('failed');
    const [d] = (await editor.deliveries(post.id)).items;
    expect(d).toMatchObject({ status: 'failed', reason: 'needs_reauth', attempts: 0 });
    expect(await statusOf(unit)).toMatchObject({
      token_status: 'needs_reauth',
      token_status_reason: expect.stringMatching(/^password_changed: /),
    });
    expect(s.sim.postsOf(pageOf.get(unit)!)).toEqual([]);
  });

  it('without FB_APP_ID/FB_APP_SECRET the sweep is off and says so once', async () => {
    const lines: string[] = [];
    const out = new PassThrough();
    out.on('data', (b: Buffer) => lines.push(...b.toString('utf8').split('\n').filter(Boolean)));
    const plain = await startTestStack(db, 'notokens', { log: createLogger('info', 'lantoa', out) });
    try {
      expect(plain.deps.tokenHealth.enabled).toBe(false);
      expect(await plain.deps.tokenHealth.sweep()).toEqual({ checked: 0, valid: 0, expiring: 0, needs_reauth: 0, errors: 0 });
      expect(lines.filter((l) => l.includes('token-health sweep disabled'))).toHaveLength(1);
    } finally {
      await plain.dispose();
    }
  });
});
