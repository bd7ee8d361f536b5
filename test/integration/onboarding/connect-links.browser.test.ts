import type { Page } from 'playwright-core';
import { launchChromium, screenshot, trackProblems, type ChromiumSession } from '../../helpers/browser';
import { testDatabases } from '../../helpers/databases';
import { startTestStack, type TestStack } from '../../helpers/stack';

/**
 * The whole connect-link flow in a headless Chromium (helpers/browser.ts): the link → the
 * "Đăng nhập Facebook" button → the simulator's Login dialog (auto-consent) → the callback → the
 * admin picks one of their Pages → linked; the unit then counts as connected in its coverage.
 * One database is enough: the flow runs on both dialects in connect-links.test.ts.
 */
jest.setTimeout(120_000);

const TREE = [
  'code,parent_code,level,type,name',
  '01,,1,Thành phố Trung ương,Thành phố Hà Nội',
  '00004,01,2,Phường,Phường Ba Đình',
  '00008,01,2,Phường,Phường Ngọc Hà',
].join('\n');
const PAGE_A = '900000000000011';
const PAGE_B = '900000000000012';

interface Coverage {
  levels: Array<{ level: number; units: number; connected: number; missing: number }>;
}

describe('connect link in chromium', () => {
  let s: TestStack;
  let browser: ChromiumSession;
  const problems: string[] = [];

  const coverage = async (code: string): Promise<Coverage> => {
    const r = await s.app.inject({ method: 'GET', url: `/v1/units/${code}/coverage`, headers: { authorization: `Bearer ${s.adminKey}` } });
    expect(r.statusCode).toBe(200);
    return r.json() as Coverage;
  };

  beforeAll(async () => {
    s = await startTestStack(testDatabases()[0]!, 'connect-ui', {
      env: { FB_APP_ID: '100000000000001', FB_APP_SECRET: 'sim-app-secret' },
      connectFlow: true,
    });
    await s.deps.units.importCsv(TREE);
    s.sim.seedPages([
      { id: PAGE_A, name: 'UBMTTQ Phường Ba Đình', token: 'EAAGpageA-0123456789abcdef' },
      { id: PAGE_B, name: 'Câu lạc bộ thơ Ba Đình', token: 'EAAGpageB-0123456789abcdef' },
    ]);
    s.sim.seedUsers([
      {
        id: '10000000000000077',
        name: 'Lê Văn C',
        pages: [
          { id: PAGE_B, tasks: ['CREATE_CONTENT'] },
          { id: PAGE_A, tasks: ['MANAGE', 'CREATE_CONTENT'] },
        ],
      },
    ]);
    s.sim.setDialog({ userId: '10000000000000077' });
    browser = await launchChromium({ locale: 'vi-VN' });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await s?.dispose();
  });

  it('opens the link, logs in through the dialog, picks the Page; the unit is connected', async () => {
    const before = await coverage('01');
    expect(before.levels.find((l) => l.level === 2)).toMatchObject({ units: 2, connected: 0 });

    const made = await s.app.inject({
      method: 'POST',
      url: '/v1/units/00004/connect-links',
      headers: { authorization: `Bearer ${s.adminKey}` },
      payload: {},
    });
    expect(made.statusCode).toBe(201);
    const { url } = made.json() as { url: string };

    // Not openPage: this tab keeps the context's default viewport.
    const page: Page = trackProblems(await browser.context.newPage(), problems);
    await page.goto(url);
    await page.getByRole('heading', { level: 1, name: 'Kết nối Trang Facebook' }).waitFor();
    expect(await page.locator('main').innerText()).toContain('Phường Ba Đình (00004)');
    await screenshot(page, 'connect-link-open.png');

    await page.getByRole('link', { name: 'Đăng nhập Facebook' }).click();
    await page.waitForURL((u) => u.pathname === '/connect/callback');
    expect(page.url().startsWith(`${s.apiUrl}/connect/callback?`)).toBe(true);
    await page.getByRole('heading', { level: 1, name: /Chọn Trang/ }).waitFor();
    const main = await page.locator('main').innerText();
    expect(main).toContain('UBMTTQ Phường Ba Đình');
    expect(main).toContain('Câu lạc bộ thơ Ba Đình');
    await screenshot(page, 'connect-link-pick.png');

    await page.getByLabel('UBMTTQ Phường Ba Đình').check();
    await page.getByRole('button', { name: 'Kết nối Trang đã chọn' }).click();
    await page.getByRole('heading', { level: 1, name: 'Đã kết nối' }).waitFor();
    expect(await page.locator('main').innerText()).toContain('UBMTTQ Phường Ba Đình');
    await screenshot(page, 'connect-link-done.png');

    const row = await s.deps.store.db.selectFrom('pages').selectAll().where('page_id', '=', PAGE_A).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ unit_code: '00004', token_status: 'valid', label: 'UBMTTQ Phường Ba Đình' });
    const after = await coverage('01');
    expect(after.levels.find((l) => l.level === 2)).toMatchObject({ units: 2, connected: 1, missing: 1 });
    expect((await coverage('00004')).levels.find((l) => l.level === 2)).toMatchObject({ units: 1, connected: 1, missing: 0 });

    expect(problems).toEqual([]);

    // The link is spent: opening it again says so (the page answers 410 Gone).
    const again = await page.goto(url);
    expect(again?.status()).toBe(410);
    await page.locator('[data-failure="link_used"]').waitFor();
    await page.close();
  });
});
