import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HELP } from '../../../src/simulator/main';
import { ROOT, spawnNode, TSX, type NodeProcess } from '../../helpers/processes';
import { waitFor } from '../../helpers/stack';

/** `npm run sim` as a process (on the sources, like the reliability suite runs it): seeding from a units CSV and `--state`. */
const UNITS = [
  'code,parent_code,level,type,name',
  '01,,1,Thành phố Trung ương,Thành phố Hà Nội',
  '001,01,2,Quận,Quận Ba Đình',
  '00001,001,3,Phường,Phường Phúc Xá',
].join('\r\n');

describe('npm run sim (the simulator process)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-sim-cli-'));
  const running: NodeProcess[] = [];
  afterEach(() => {
    for (const p of running.splice(0)) p.child.kill('SIGKILL');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  function sim(args: string[]): NodeProcess {
    const p = spawnNode([TSX, path.join(ROOT, 'src/simulator/main.ts'), '--port', '0', ...args], {});
    running.push(p);
    return p;
  }
  async function started(p: NodeProcess): Promise<string> {
    await p.waitForOutput(/^http:\/\/\S+$/m);
    return /^(http:\/\/\S+)$/m.exec(p.output().out)![1]!;
  }
  function readPagesCsv(file: string): Array<{ unit: string; page: string; token: string }> {
    const [header, ...rows] = fs.readFileSync(file, 'utf8').trim().split('\n');
    expect(header).toBe('unit_code,page_id,access_token');
    return rows.map((r) => {
      const [unit, page, token] = r.split(',');
      return { unit: unit!, page: page!, token: token! };
    });
  }
  const feed = (base: string, page: string, token: string, message: string) =>
    fetch(`${base}/v25.0/${page}/feed`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ message }).toString(),
    });

  it('--pages seeds one Page per unit with a working token and --write-pages-csv writes them (mode 600); --state keeps them across a restart', async () => {
    const units = path.join(dir, 'units.csv');
    fs.writeFileSync(units, UNITS);
    const csv = path.join(dir, 'pages.csv');
    const state = path.join(dir, 'sim-state.json');

    const first = sim(['--pages', units, '--write-pages-csv', csv, '--state', state]);
    const base = await started(first);
    await first.waitForOutput(/Next steps:[\s\S]*pages import/);
    const out = first.output().out;
    expect(out).toContain(`lantoa units import ${units}`);
    expect(out).toContain(`lantoa pages import ${csv}`);
    expect(out).toMatch(/mode 600.*access tokens/);
    expect(fs.statSync(csv).mode & 0o777).toBe(0o600);
    const pages = readPagesCsv(csv);
    expect(pages.map((p) => p.unit)).toEqual(['root', '01', '001', '00001']);
    expect(new Set(pages.map((p) => p.page)).size).toBe(4);
    for (const p of pages) expect(p.page).toMatch(/^\d{15}$/);

    // Every token publishes to its own Page, and to no other one.
    for (const p of pages) expect((await feed(base, p.page, p.token, `Xin chào ${p.unit}`)).status).toBe(200);
    const wrong = await feed(base, pages[0]!.page, pages[1]!.token, 'x');
    expect(wrong.status).toBeGreaterThanOrEqual(400);
    // The state file follows (debounced), mode 600, without a signal.
    await waitFor(async () => fs.existsSync(state) && fs.readFileSync(state, 'utf8').includes('Xin chào 00001'), 10_000);
    expect(fs.statSync(state).mode & 0o777).toBe(0o600);
    // A token invalidated before the restart stays invalid after it.
    const bad = await fetch(`${base}/_sim/tokens/invalidate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ pageId: pages[3]!.page, subcode: 460 }),
    });
    expect(bad.status).toBe(200);
    expect(await first.terminate(10_000)).toBe(0);
    expect(first.output().err).toBe('');

    // Restarted on the same state file (no --pages): the Pages, tokens and posts are back.
    const second = sim(['--state', state]);
    const base2 = await started(second);
    await second.waitForOutput(/Loaded 4 Pages and 4 posts/);
    const posts = (await (await fetch(`${base2}/_sim/pages/${pages[2]!.page}/posts`)).json()) as { posts: Array<{ message: string }> };
    expect(posts.posts.map((p) => p.message)).toEqual(['Xin chào 001']);
    expect((await feed(base2, pages[2]!.page, pages[2]!.token, 'sau khi khởi động lại')).status).toBe(200);
    const invalid = await feed(base2, pages[3]!.page, pages[3]!.token, 'x');
    expect(invalid.status).toBe(400);
    expect(((await invalid.json()) as { error: { code: number } }).error.code).toBe(190);
    expect(await second.terminate(10_000)).toBe(0);

    // --pages again on the state: the same Pages; valid tokens are kept, the invalidated one is replaced by a valid one.
    const third = sim(['--pages', units, '--write-pages-csv', csv, '--state', state]);
    const base3 = await started(third);
    await third.waitForOutput(/Seeded 1 new Pages .*\(3 kept/);
    const again = readPagesCsv(csv);
    expect(again.map((p) => p.page)).toEqual(pages.map((p) => p.page));
    expect(again.slice(0, 3).map((p) => p.token)).toEqual(pages.slice(0, 3).map((p) => p.token));
    expect(again[3]!.token).not.toBe(pages[3]!.token);
    expect((await feed(base3, again[3]!.page, again[3]!.token, 'liên kết lại')).status).toBe(200);
    expect(await third.terminate(10_000)).toBe(0);
  }, 60_000);

  it('a units CSV with bad lines is refused with each line, and nothing is written', async () => {
    const units = path.join(dir, 'bad-units.csv');
    fs.writeFileSync(units, ['code,parent_code,level,type,name', '01,,1,Tỉnh,Tỉnh Một', '002,09,2,Xã,', '01,,1,Tỉnh,Lặp'].join('\n'));
    const csv = path.join(dir, 'bad-pages.csv');
    const p = sim(['--pages', units, '--write-pages-csv', csv]);
    expect(await p.exited).toBe(1);
    const { err, out } = p.output();
    expect(err).toContain(`cannot seed Pages from ${units}`);
    expect(err).toContain(`${units}:3 (name): is empty`);
    expect(err).toContain(`${units}:4 (code): duplicate code 01 (first on line 2)`);
    expect(out).not.toMatch(/^http/m);
    expect(fs.existsSync(csv)).toBe(false);

    const semicolons = path.join(dir, 'semicolons.csv');
    fs.writeFileSync(semicolons, 'code;parent_code;level;type;name\n01;;1;Tỉnh;Tỉnh Một\n');
    const q = sim(['--pages', semicolons]);
    expect(await q.exited).toBe(1);
    expect(q.output().err).toMatch(new RegExp(`${semicolons}:1:? .*`));
  });

  it('a corrupt or foreign state file is a one-line error naming it, and is left as it was', async () => {
    for (const [name, text, why] of [
      ['garbage.json', '{"version":1,"store":', /not valid JSON/],
      ['foreign.json', '{"hello":"world"}', /not a simulator state: unknown version undefined/],
      ['pages.json', '{"version":1,"store":{"lastId":1,"pages":[{"id":"1"}],"tokens":[],"photos":[]},"identity":{}}', /store\.pages\[0\]/],
    ] as const) {
      const file = path.join(dir, name);
      fs.writeFileSync(file, text);
      const p = sim(['--state', file]);
      expect(await p.exited).toBe(1);
      const lines = p.output().err.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(file);
      expect(lines[0]).toMatch(why);
      expect(lines[0]).toContain('delete it to start empty');
      expect(fs.readFileSync(file, 'utf8')).toBe(text);
    }
  });

  it('--help documents the seeding and control routes', async () => {
    const p = sim(['--help']);
    expect(await p.exited).toBe(0);
    const { out } = p.output();
    for (const s of [
      '--pages',
      '--write-pages-csv',
      '--state',
      'POST /_sim/pages',
      'POST /_sim/tokens/invalidate',
      'GET  /_sim/visible-counts',
    ]) {
      expect(out).toContain(s);
    }
  });

  it('the README documents every control route that --help lists', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const routes = [...HELP.matchAll(/^ {2}(GET|POST|DELETE) +(\/_sim\/[^\s,]+)/gm)].map((m) => `${m[1]} ${m[2]}`);
    expect(routes.length).toBeGreaterThanOrEqual(14);
    for (const r of routes) expect(readme).toContain(r);
    for (const flag of HELP.matchAll(/^ {2}(--[a-z-]+)/gm)) if (flag[1] !== '--help') expect(readme).toContain(`\`${flag[1]}`);
  });
});
