import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import net from 'node:net';
import path from 'node:path';
import { testDatabases } from '../helpers/databases';
import { childCodes, seedOrganisation, startTestStack, UNITS_TEXT, waitFor, type TestStack } from '../helpers/stack';
import type { ApiClient } from '../../src/cli/api-client';
import { loadTestEnv } from '../../config/test-env';

const ROOT = path.resolve(__dirname, '../..');
const PROVINCE = '12'; // Lai Châu in the 2025-07 tree: 38 communes, a small province
const COMMUNES = childCodes(UNITS_TEXT, PROVINCE);
/** Communes with no Page at all: the preview names them, a post skips them. */
const NO_PAGE = new Set(COMMUNES.slice(0, 2));
const SIM_APP = { FB_APP_ID: '100000000000001', FB_APP_SECRET: 'sim-app-secret' };

interface Run {
  code: number | null;
  out: string;
  err: string;
}

/** The real CLI (src/cli/main.ts under tsx) as a separate process, as a person runs it. */
function startCli(args: string[], env: { url: string; key?: string; stdin?: string }) {
  const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'src/cli/main.ts'), ...args], {
    cwd: ROOT,
    env: { PATH: loadTestEnv().path, LANTOA_API_URL: env.url, ...(env.key ? { LANTOA_API_KEY: env.key } : {}) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const run: Run = { code: null, out: '', err: '' };
  child.stdout.on('data', (d: Buffer) => (run.out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (run.err += d.toString()));
  child.stdin.end(env.stdin ?? '');
  const done = new Promise<Run>((resolve) =>
    child.once('exit', (code) => {
      run.code = code;
      resolve(run);
    }),
  );
  return { run, done, child };
}

/** A port nothing listens on: bound once by the OS, then closed. */
async function closedPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise((r) => srv.close(r));
  return port;
}

describe.each(testDatabases())('lantoa: the CLI for the whole day, against a real stack on $name', (db) => {
  let s: TestStack;
  let pages: Array<{ unitCode: string; pageId: string; token: string }>;
  let editorKey: string;
  let approver: ApiClient;
  let postId: string;
  let broken: { unitCode: string; pageId: string };
  let adminPostId: string;
  const cli = (args: string[], opts: { key?: string; stdin?: string } = {}) =>
    startCli(args, { url: s.apiUrl, key: opts.key ?? s.adminKey, ...(opts.stdin !== undefined ? { stdin: opts.stdin } : {}) }).done;

  beforeAll(async () => {
    s = await startTestStack(db, 'cli-day', { env: SIM_APP, connectFlow: true });
    ({ pages } = await seedOrganisation(s, UNITS_TEXT, {
      only: (c) => c === 'root' || c === PROVINCE || (COMMUNES.includes(c) && !NO_PAGE.has(c)),
    }));
    editorKey = (await s.admin.createKey({ name: 'Biên tập Lai Châu', role: 'editor', unit: PROVINCE })).key;
    approver = s.admin.withKey((await s.admin.createKey({ name: 'Duyệt Lai Châu', role: 'approver', unit: PROVINCE })).key);
    broken = pages.find((p) => p.unitCode === COMMUNES[5])!;
    // The import's token check (debug_token at the simulator) has looked at every Page first.
    await waitFor(async () => {
      const left = await s.deps.store.db.selectFrom('pages').select('page_id').where('token_status', '=', 'unknown').execute();
      return left.length === 0;
    });
    // Then its token dies at Facebook: the post fails there with a reason a retry cannot fix until the Page is relinked.
    s.sim.invalidateToken(broken.pageId, 463);
  }, 120_000);
  afterAll(() => s?.dispose());

  it('an unreachable API is one line with the hint, no stack, exit 1', async () => {
    const port = await closedPort();
    const res = await startCli(['posts', 'list'], { url: `http://127.0.0.1:${port}`, key: 'lt_whatever' }).done;
    expect(res).toEqual({
      code: 1,
      out: '',
      err: `cannot reach the Lan Tỏa API at http://127.0.0.1:${port} — is it running? (npm start; set LANTOA_API_URL or --url)\n`,
    });
  });

  it('posts preview counts by level with level names, and names the units without a healthy Page', async () => {
    const res = await cli(['posts', 'preview', '--unit', PROVINCE, '--levels', 'provinces,communes']);
    expect(res.code).toBe(0);
    expect(res.out).toContain(`target ${PROVINCE} subtree · levels 1,2: ${1 + COMMUNES.length} units, ${COMMUNES.length - 1} Pages`);
    expect(res.out).toMatch(/^ {2}provinces +1 units$/m);
    expect(res.out).toMatch(new RegExp(`^ {2}communes +${COMMUNES.length} units$`, 'm'));
    expect(res.out).toContain('units without a healthy Page (a post cannot reach them): 2');
    for (const code of NO_PAGE) {
      const { name } = await s.admin.getUnit(code);
      expect(res.out).toContain(`  ${code}  ${name}`);
    }
    // Vietnamese names without diacritics, and with them, mean the same levels.
    const vi = await cli(['posts', 'preview', '--unit', PROVINCE, '--levels', 'tinh,Xã', '--json']);
    expect(JSON.parse(vi.out)).toMatchObject({ units: 1 + COMMUNES.length, byLevel: { 1: 1, 2: COMMUNES.length } });
    const communesOnly = await cli(['posts', 'preview', '--unit', PROVINCE, '--levels', 'commune', '--json']);
    expect(JSON.parse(communesOnly.out)).toMatchObject({ units: COMMUNES.length, byLevel: { 2: COMMUNES.length } });
  });

  it('an unknown level name is a clear error listing the valid names, and creates nothing', async () => {
    const before = (await s.admin.listPosts()).items.length;
    const districts = await cli(['posts', 'submit', '--message', 'x', '--unit', PROVINCE, '--levels', 'districts'], { key: editorKey });
    expect(districts).toEqual({
      code: 2,
      out: '',
      err:
        '--levels: unknown level "districts" (this tree has no districts: provinces, then communes); valid levels of this tree: ' +
        '0 root/central/trung-uong, 1 provinces/province/tinh, 2 communes/commune/xa\n',
    });
    const bogus = await cli(['posts', 'preview', '--unit', PROVINCE, '--levels', 'provinces,wards']);
    expect(bogus.code).toBe(2);
    expect(bogus.err).toContain('--levels: unknown level "wards"; valid levels of this tree: 0 root/central');
    expect(bogus.err).not.toMatch(/expected number|received/);
    const deep = await cli(['posts', 'preview', '--unit', PROVINCE, '--levels', '1,3']);
    expect(deep.code).toBe(2);
    expect(deep.err).toContain('--levels: this tree has no level 3 (its deepest is 2)');
    const flag = await cli(['posts', 'list', '--api', s.apiUrl]);
    expect(flag).toEqual({ code: 2, out: '', err: 'unknown option --api (lantoa --help lists the commands and their flags)\n' });
    expect((await s.admin.listPosts()).items.length).toBe(before);
  });

  it('watch says a post waits for approval, follows it out, and ends with the failure reasons and what to do', async () => {
    const submitted = await cli(['posts', 'submit', '--message', `Thông báo ${db.name}`, '--unit', PROVINCE, '--levels', 'tinh,communes'], {
      key: editorKey,
    });
    expect(submitted.code).toBe(0);
    const post = JSON.parse(submitted.out) as { id: string; status: string; target: unknown };
    postId = post.id;
    expect(post).toMatchObject({ status: 'pending_approval', target: { unit: PROVINCE, scope: 'subtree', levels: [1, 2] } });

    const watch = startCli(['watch', postId], { url: s.apiUrl, key: s.adminKey });
    await waitFor(async () => watch.run.out.includes('is waiting for approval'), 45_000);
    expect(watch.run.out).toContain(`post ${postId} is waiting for approval: an approver runs \`lantoa posts approve ${postId}\``);
    expect(watch.run.code).toBeNull(); // still watching: it waits rather than exiting
    await approver.approve(postId);
    const res = await Promise.race([watch.done, new Promise<'running'>((r) => setTimeout(() => r('running'), 90_000).unref())]);
    if (res === 'running') watch.child.kill();
    const published = COMMUNES.length - NO_PAGE.size - 1 + 1; // the province and every commune with a working Page
    expect(res).toMatchObject({ code: 1 }); // partially failed
    const out = (res as Run).out;
    expect(out).toContain(`partially_failed: published ${published} · failed 1 · skipped ${NO_PAGE.size} of ${1 + COMMUNES.length}`);
    expect(out).toMatch(/provinces 1\/1 done \(published 1 · failed 0 · skipped 0\)/);
    expect(out).toContain('why 1 Pages failed:');
    expect(out).toContain(
      '  token_expired (190/463) × 1 — the Page token expired; reconnect the Page: relink the Pages first ' +
        `(lantoa pages link <unit> --page-id <id> --token-file <file>), then lantoa posts retry ${postId} --reasons token_expired`,
    );
  }, 150_000);

  it('posts list shows status, one date format, the author by name, the target and the progress', async () => {
    const res = await cli(['posts', 'list', '--status', 'partially_failed,pending_approval']);
    expect(res.code).toBe(0);
    const [header, ...rows] = res.out.trimEnd().split('\n');
    expect(header).toMatch(/^ID +STATUS +CREATED +AUTHOR +TARGET +PROGRESS$/);
    const row = rows.find((r) => r.startsWith(postId))!;
    expect(row).toMatch(
      new RegExp(
        `^${postId} +partially_failed +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC +Biên tập Lai Châu +${PROVINCE} subtree · levels 1,2 +published \\d+ · failed 1 · skipped 2 of ${1 + COMMUNES.length}$`,
      ),
    );
    // A post by the bootstrap admin is named as such, never by its variable name.
    adminPostId = (await s.admin.createPost({ message: 'by the admin', target: { unit: PROVINCE, scope: 'self' } })).id;
    const all = await cli(['posts', 'list', '--limit', '5']);
    expect(all.out).toContain('bootstrap admin');
    expect(all.out).not.toContain('ADMIN_API_KEY');
    const bad = await cli(['posts', 'list', '--limit', 'lots']);
    expect(bad).toMatchObject({ code: 2, err: '--limit: expected a whole number 1–500, got "lots"\n' });
    const json = JSON.parse((await cli(['posts', 'list', '--status', 'partially_failed', '--json'])).out) as Array<{ id: string }>;
    expect(json.map((p) => p.id)).toEqual([postId]);
  });

  it('posts show tells who did what and when, the counts and the failure groups; a missing post is a plain 404', async () => {
    const res = await cli(['posts', 'show', postId]);
    expect(res.code).toBe(0);
    expect(res.out).toContain(`post ${postId}`);
    expect(res.out).toMatch(/ {2}status +partially_failed/);
    expect(res.out).toMatch(/ {2}created +\d{4}-\d\d-\d\d \d\d:\d\d UTC by Biên tập Lai Châu/);
    expect(res.out).toMatch(/ {2}approved +\d{4}-\d\d-\d\d \d\d:\d\d UTC by Duyệt Lai Châu/);
    expect(res.out).toMatch(/ {2}counts +published \d+ · failed 1 · skipped 2/);
    expect(res.out).toContain('failures (1):');
    expect(res.out).toContain('token_expired (190/463) × 1');

    await approver.cancel(adminPostId);
    const cancelled = await cli(['posts', 'show', adminPostId]);
    expect(cancelled.out).toMatch(/ {2}status +cancelled/);
    expect(cancelled.out).toMatch(/ {2}created +\d{4}-\d\d-\d\d \d\d:\d\d UTC by bootstrap admin/);
    expect(cancelled.out).toMatch(/ {2}cancelled +\d{4}-\d\d-\d\d \d\d:\d\d UTC by Duyệt Lai Châu/);

    const missing = crypto.randomUUID();
    expect(await cli(['posts', 'show', missing])).toEqual({ code: 1, out: '', err: `post ${missing} not found (404)\n` });
  });

  it('posts retry leaves the Page with a broken token and names it to relink; after pages link the retry publishes', async () => {
    const first = await cli(['posts', 'retry', postId, '--reasons', 'token_expired'], { key: editorKey });
    expect(first.code).toBe(0);
    // Its Page's token is broken and was not relinked since: the API leaves it, and the CLI names the Page to relink.
    expect(first.out).toContain(`requeued 0 deliveries of post ${postId} (now partially_failed)`);
    expect(first.out).toContain(
      `left 1 whose Page must be relinked first (its token is broken):\n  lantoa pages link ${broken.unitCode} --page-id ${broken.pageId} --token-file <file>`,
    );
    expect(first.out).toContain('then run this retry again.');
    const again = await s.admin.getPost(postId);
    expect([again.status, again.counts.failed]).toEqual(['partially_failed', 1]);

    // A token on the command line is refused and never echoed.
    const argv = await cli(['pages', 'link', broken.unitCode, '--page-id', broken.pageId, '--token', 'EAAGsecret-on-argv']);
    expect(argv.code).toBe(2);
    expect(argv.err).toContain('a token is never taken as a command-line argument');
    expect(argv.out + argv.err).not.toContain('EAAGsecret-on-argv');

    // The Page admin reconnects at Facebook (a new token), the operator relinks it from stdin.
    const fresh = `EAAG${crypto.randomBytes(30).toString('base64url')}`;
    s.sim.seedPages([{ id: broken.pageId, token: fresh, name: `MTTQ ${broken.unitCode}` }]);
    const linked = await cli(['pages', 'link', broken.unitCode, '--page-id', broken.pageId, '--token-stdin'], { stdin: `${fresh}\n` });
    expect(linked).toEqual({
      code: 0,
      out: `linked Page ${broken.pageId} to unit ${broken.unitCode} with its token (stored encrypted; the token check runs now)\n`,
      err: '',
    });
    await waitFor(
      async () => (await s.admin.getUnit(broken.unitCode)).pages.find((p) => p.pageId === broken.pageId)?.tokenStatus === 'valid',
    );
    const retried = await cli(['posts', 'retry', postId]);
    expect(retried.out).toContain('requeued 1 deliveries');
    const watched = await cli(['watch', postId]);
    expect(watched.code).toBe(0);
    expect(watched.out).toContain(
      `published: published ${COMMUNES.length - NO_PAGE.size + 1} · failed 0 · skipped 2 of ${1 + COMMUNES.length}`,
    );
    expect(watched.out).not.toContain('why ');
  }, 150_000);

  it('pages link without a token maps the Page and prints a connect link for its admin', async () => {
    const code = [...NO_PAGE][0]!;
    const res = await cli(['pages', 'link', code, '--page-id', '990000000000001', '--label', 'Trang chính, mới']);
    expect(res.code).toBe(0);
    expect(res.out).toContain(`mapped Page 990000000000001 to unit ${code} without a token (status no_token).`);
    expect(res.out).toMatch(new RegExp(`^ {2}${s.apiUrl.replace(/[.]/g, '\\.')}/connect/\\S+$`, 'm'));
    const unit = await s.admin.getUnit(code);
    expect(unit.pages).toEqual([
      expect.objectContaining({ pageId: '990000000000001', label: 'Trang chính, mới', tokenStatus: 'no_token' }),
    ]);
    const bad = await cli(['pages', 'link', code, '--page-id', 'abc']);
    expect(bad).toMatchObject({ code: 2, err: '--page-id: expected a numeric Page id, got "abc"\n' });
  });

  it('watch follows a recall to its end and says it in recall terms', async () => {
    const recalled = await cli(['posts', 'recall', postId, '--reason', 'Sai số liệu']);
    expect(recalled.code).toBe(0);
    const res = await cli(['watch', postId]);
    const reached = COMMUNES.length - NO_PAGE.size + 1;
    expect(res.out).toContain(`recalled: recalled ${reached} of ${reached} Pages`);
    expect(res.out).toMatch(/provinces 1\/1 recalled \(recalling 0 · recall failed 0\)/);
    expect(res.out).toMatch(/recalled \d{4}-\d\d-\d\d \d\d:\d\d UTC: Sai số liệu/);
    expect(res.out).not.toContain('published 0');
    expect(res.code).toBe(0);
    const shown = await cli(['posts', 'show', postId]);
    expect(shown.out).toMatch(/ {2}recalled +\d{4}-\d\d-\d\d \d\d:\d\d UTC by bootstrap admin: Sai số liệu/);
    expect(shown.out).toContain(`  progress   recalled ${reached} of ${reached} Pages`);
  }, 120_000);
});
