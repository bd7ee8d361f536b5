import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTestEnv } from '../../config/test-env';
import { ApiClient } from '../../src/cli/api-client';
import { freePort, ROOT, spawnNode, waitForHttp, type NodeProcess } from '../helpers/processes';
import { dropPrefix, REDIS_URL, uniquePrefix } from '../helpers/redis';
import { waitFor } from '../helpers/stack';

// bin/build.js is what `npm start` and `npm run sim` run first (their pre-scripts).
const { ensureBuilt } = require(path.join(ROOT, 'bin/build.js')) as { ensureBuilt(root?: string): number };

const MARKER = '<!-- walkthrough:';
const TREE = 'data/vn-admin-units-2025-07.csv';
const GRACE_MS = 30_000;

type Step = { kind: 'shell'; script: string } | { kind: 'npm'; script: 'sim' | 'start'; args: string[]; line: string };

/**
 * The README's "From scratch" block, as steps: `npm run sim -- …` and `npm start` are long-running processes
 * (each in its own terminal); every other line runs in bash, in order, one shell session across steps.
 */
export function walkthroughSteps(readme: string): Step[] {
  const at = readme.indexOf(MARKER);
  if (at < 0) throw new Error(`README has no ${MARKER} … --> marker before the walk-through block`);
  const block = /```bash\n([\s\S]*?)\n```/.exec(readme.slice(at));
  if (!block) throw new Error('no ```bash block after the walk-through marker');
  const steps: Step[] = [];
  let shell: string[] = [];
  const flush = () => {
    if (shell.some((l) => l.trim() && !l.trim().startsWith('#'))) steps.push({ kind: 'shell', script: shell.join('\n') });
    shell = [];
  };
  for (const line of block[1]!.split('\n')) {
    const sim = /^npm run sim -- (.*)$/.exec(line);
    if (sim || line === 'npm start') {
      flush();
      const args = sim ? sim[1]!.split(/ +/) : [];
      if (args.some((a) => /["'$`\\]/.test(a))) throw new Error(`the test splits "${line}" on spaces: keep it free of quotes and $`);
      steps.push({ kind: 'npm', script: sim ? 'sim' : 'start', args, line });
    } else if (/^npm /.test(line)) {
      throw new Error(`the walk-through test does not know how to run "${line}": teach it (test/integration/walkthrough.test.ts)`);
    } else {
      shell.push(line);
    }
  }
  flush();
  return steps;
}

/**
 * The node arguments of a package.json script `node [--flag…] dist/….js`, as the npm script runs it (its
 * node flags, then the entry point; its pre-script, the build, is done in beforeAll).
 */
function npmScript(name: 'sim' | 'start'): string[] {
  const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const m = /^node ((?:--\S+ )*)(dist\/\S+\.js)$/.exec(scripts[name] ?? '');
  if (!m) throw new Error(`package.json script ${name} is "${scripts[name]}": expected node [--flag…] dist/….js`);
  expect(scripts[`pre${name}`]).toBe('node bin/ensure-build.js');
  return [...m[1]!.split(' ').filter(Boolean), path.join(ROOT, m[2]!)];
}

describe('README "Running it for real": the walk-through from scratch, as processes', () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-walkthrough-'));
  const running: NodeProcess[] = [];
  const prefix = uniquePrefix('walk');

  beforeAll(() => {
    expect(ensureBuilt(ROOT)).toBe(0);
  }, 600_000);
  afterAll(async () => {
    for (const p of running.splice(0)) p.child.kill('SIGKILL');
    await dropPrefix(prefix);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('parses into the steps a newcomer takes', () => {
    const steps = walkthroughSteps(readme);
    expect(steps.map((s) => (s.kind === 'npm' ? s.line : 'shell'))).toEqual([
      'shell',
      `npm run sim -- --pages ${TREE} --write-pages-csv pages.csv --state data/sim-state.json`,
      'npm start',
      'shell',
    ]);
    const all = steps.map((s) => (s.kind === 'shell' ? s.script : s.line)).join('\n');
    for (const needed of ['TOKEN_ENCRYPTION_KEY=', 'ADMIN_API_KEY=', `lantoa units import ${TREE}`, 'lantoa pages import pages.csv']) {
      expect(all).toContain(needed);
    }
    for (const needed of [/--role editor/, /--role approver/, /posts submit/, /posts approve/, /lantoa watch/]) expect(all).toMatch(needed);
    expect(() => walkthroughSteps(readme.replace(MARKER, '<!-- gone:'))).toThrow('marker');
  });

  it('runs exactly those commands: the post reaches every Page; a refused token, re-linked by import or PUT, then retries', async () => {
    const simPort = await freePort();
    const apiPort = await freePort();
    // The one change to the README's commands: free ports instead of 4010 and 3000 (other tests run on this machine).
    const ports = (text: string) =>
      text.replaceAll('127.0.0.1:4010', `127.0.0.1:${simPort}`).replaceAll('127.0.0.1:3000', `127.0.0.1:${apiPort}`);
    // The checkout, as far as the commands reach: the tree in data/, and `lantoa` on PATH (what `npm link` installs).
    fs.mkdirSync(path.join(dir, 'data'));
    fs.copyFileSync(path.join(ROOT, TREE), path.join(dir, TREE));
    const binDir = path.join(dir, '.bin');
    fs.mkdirSync(binDir);
    fs.writeFileSync(path.join(binDir, 'lantoa'), `#!/bin/sh\nexec "${process.execPath}" "${path.join(ROOT, 'bin/lantoa.js')}" "$@"\n`, {
      mode: 0o755,
    });
    const envFile = path.join(dir, '.walkthrough-shell-vars');
    const PATH = `${binDir}:${path.dirname(process.execPath)}:${loadTestEnv().path}`;
    // Only what a shell on a developer's machine has, plus the Redis prefix this test owns.
    const env = { PATH, HOME: dir, QUEUE_PREFIX: prefix, REDIS_URL };

    /** One shell step; variables carry over to the next (one terminal session). */
    async function shell(script: string): Promise<{ out: string; err: string }> {
      const full = [
        'set -euo pipefail',
        `if [ -f ${envFile} ]; then source ${envFile}; fi`,
        script,
        `declare -p | grep -E '^declare -(-|x) [A-Z][A-Z_]*=' | grep -vE '^declare -. (BASH|SHELLOPTS|SHLVL|PWD|OLDPWD|HOME|PATH)' > ${envFile}`,
      ].join('\n');
      const p = spawnNode(['-c', full], env, { cwd: dir, command: 'bash' });
      running.push(p);
      const code = await p.exited;
      const o = p.output();
      if (code !== 0) throw new Error(`shell step failed (${code}):\n${script}\nstdout: ${o.out}\nstderr: ${o.err}`);
      return o;
    }
    const shellVar = async (name: string) => (await shell(`printf '%s' "$${name}" >&2`)).err;

    let watchOut = '';
    for (const step of walkthroughSteps(readme)) {
      if (step.kind === 'shell') {
        watchOut = (await shell(ports(step.script))).out;
      } else if (step.script === 'sim') {
        const sim = spawnNode([...npmScript('sim'), ...step.args, '--port', String(simPort)], env, { cwd: dir });
        running.push(sim);
        await sim.waitForOutput(/Next steps:[\s\S]*pages import/, 120_000);
      } else {
        // PORT: the README's service listens on the default 3000; here on the free port the CLI was pointed at.
        const api = spawnNode(npmScript('start'), { ...env, PORT: String(apiPort) }, { cwd: dir });
        running.push(api);
        expect((await waitForHttp(`http://127.0.0.1:${apiPort}/readyz`, {}, 120_000)).status).toBe(200);
      }
    }

    // What the newcomer sees: watch ended on published (the shell step ran `set -e`, so watch exited 0).
    expect(watchOut).toMatch(/published: published 3356\b/);
    const pagesCsv = fs.readFileSync(path.join(dir, 'pages.csv'), 'utf8').trim().split('\n').slice(1);
    const pages = new Map(pagesCsv.map((l) => l.split(',')).map(([unit, page, token]) => [unit!, { page: page!, token: token! }]));
    expect(pages.size).toBe(3356);
    expect(fs.statSync(path.join(dir, 'pages.csv')).mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.join(dir, 'data/sim-state.json')).mode & 0o777).toBe(0o600);
    const sim = `http://127.0.0.1:${simPort}`;
    const visible = async () => ((await (await fetch(`${sim}/_sim/visible-counts`)).json()) as { counts: Record<string, number> }).counts;
    const counts = await visible();
    for (const { page } of pages.values()) expect(counts[page]).toBe(1);

    const adminKey = /^ADMIN_API_KEY=(.+)$/m.exec(fs.readFileSync(path.join(dir, '.env'), 'utf8'))![1]!;
    const admin = new ApiClient(`http://127.0.0.1:${apiPort}`, adminKey);
    const postId = await shellVar('POST_ID');
    const post = await admin.getPost(postId);
    expect({ status: post.status, total: post.total, published: post.counts.published }).toEqual({
      status: 'published',
      total: 3356,
      published: 3356,
    });

    // A made-up token for two communes of Hà Nội: one by PUT, one by a Pages CSV line. Both get 190 and turn needs_reauth.
    const communes = fs
      .readFileSync(path.join(ROOT, TREE), 'utf8')
      .split('\n')
      .filter((l) => l.split(',')[1] === '01')
      .map((l) => l.split(',')[0]!);
    const [byPut, byImport] = [communes[3]!, communes[7]!];
    const madeUp = 'EAAGmadeUpTokenForTheWalkthrough0123456789';
    await admin.putPage(byPut, pages.get(byPut)!.page, madeUp);
    fs.writeFileSync(path.join(dir, 'made-up.csv'), `unit_code,page_id,access_token\n${byImport},${pages.get(byImport)!.page},${madeUp}\n`);
    await shell('lantoa pages import made-up.csv');
    const editor = admin.withKey(await shellVar('EDITOR_KEY'));
    const approver = admin.withKey(await shellVar('APPROVER_KEY'));
    const second = await editor.createPost({ message: 'Bài thứ hai cho Hà Nội', target: { unit: '01', scope: 'subtree' } });
    await approver.approve(second.id);
    const final = (id: string) =>
      waitFor(async () => {
        const v = await admin.getPost(id);
        return ['published', 'partially_failed', 'failed'].includes(v.status) && v;
      }, 120_000);
    const failed = await final(second.id);
    expect({ status: failed.status, failed: failed.counts.failed }).toEqual({ status: 'partially_failed', failed: 2 });
    const failedUnits = (await admin.deliveries(second.id, { status: 'failed' })).items.map((d) => d.unitCode).sort();
    expect(failedUnits).toEqual([byPut, byImport].sort());
    for (const code of [byPut, byImport]) expect((await admin.getUnit(code)).page?.tokenStatus).toBe('needs_reauth');

    // The store, read as it is: re-linking must move each Page's token row on (its update time), not only its status.
    const db = new Database(path.join(dir, 'data/lantoa.db'), { readonly: true, fileMustExist: true });
    const rowOf = (code: string) =>
      db.prepare('select token_status, updated_at from pages where page_id = ?').get(pages.get(code)!.page) as {
        token_status: string;
        updated_at: string;
      };
    try {
      const before = new Map([byPut, byImport].map((c) => [c, rowOf(c).updated_at]));
      // Re-link with the good tokens (from pages.csv): one by PUT, one by a re-import of its line.
      await admin.putPage(byPut, pages.get(byPut)!.page, pages.get(byPut)!.token);
      fs.writeFileSync(
        path.join(dir, 'relink.csv'),
        `unit_code,page_id,access_token\n${byImport},${pages.get(byImport)!.page},${pages.get(byImport)!.token}\n`,
      );
      await shell('lantoa pages import relink.csv');
      for (const code of [byPut, byImport]) {
        const row = rowOf(code);
        expect(['unknown', 'valid']).toContain(row.token_status);
        expect(row.updated_at > before.get(code)!).toBe(true);
        // The fresh debug_token check (FB_APP_ID is the simulator's app) finds the token good.
        await waitFor(async () => (await admin.getUnit(code)).page?.tokenStatus === 'valid', 60_000);
      }
    } finally {
      db.close();
    }

    // The retry now delivers the two copies, and each of those Pages shows both posts once.
    expect(await editor.retry(second.id)).toMatchObject({ requeued: 2 });
    const done = await final(second.id);
    expect({ status: done.status, published: done.counts.published, failed: done.counts.failed }).toEqual({
      status: 'published',
      published: done.total,
      failed: 0,
    });
    const after = await visible();
    for (const code of [byPut, byImport]) expect(after[pages.get(code)!.page]).toBe(2);

    for (const p of running.filter((r) => r.child.exitCode === null)) expect(await p.terminate(GRACE_MS)).toBe(0);
  }, 600_000);
});
