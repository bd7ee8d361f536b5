import { spawn } from 'node:child_process';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { testDatabases } from '../helpers/databases';
import { seedOrganisation, startTestStack, UNITS_TEXT_2025_03, type TestStack } from '../helpers/stack';
import { watchPostLevels } from '../../src/cli/watch';
import type { ApiClient } from '../../src/cli/api-client';
import { loadTestEnv } from '../../config/test-env';

const ROOT = path.resolve(__dirname, '../..');

describe.each(testDatabases())('per-level progress (GET /v1/posts/{id}/levels, lantoa watch) on $name', (db) => {
  let s: TestStack;
  let editor: ApiClient;
  let approver: ApiClient;
  let expected: Map<number, number>;

  beforeAll(async () => {
    s = await startTestStack(db, 'watch');
    // The 2025-03 tree: the per-level bars are checked for provinces, districts and communes, and a district key's own counts.
    await s.deps.units.importCsv(UNITS_TEXT_2025_03);
    const hanoi = await s.deps.targets.resolve({ unit: '01', scope: 'subtree' } as never);
    await seedOrganisation(s, UNITS_TEXT_2025_03, { only: (c) => c === 'root' || hanoi.some((u) => u.code === c) });
    const levels = await s.deps.store.db
      .selectFrom('units')
      .select(['code', 'level'])
      .where(
        'code',
        'in',
        hanoi.map((u) => u.code),
      )
      .execute();
    expected = new Map();
    for (const u of levels) expected.set(u.level, (expected.get(u.level) ?? 0) + 1);
    editor = s.admin.withKey((await s.admin.createKey({ name: 'editor', role: 'editor', unit: 'root' })).key);
    approver = s.admin.withKey((await s.admin.createKey({ name: 'approver', role: 'approver', unit: 'root' })).key);
  });
  afterAll(() => s?.dispose());

  it('counts a province-wide post by level, scoped to the caller, and the CLI prints it live and at the end', async () => {
    const post = await editor.createPost({ message: `Theo dõi theo cấp ${db.name}`, target: { unit: '01', scope: 'subtree' } });
    await approver.approve(post.id);

    // The real CLI, watching while the post goes out.
    const cli = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'src/cli/main.ts'), 'watch', post.id], {
      cwd: ROOT,
      env: { PATH: loadTestEnv().path, LANTOA_API_URL: s.apiUrl, LANTOA_API_KEY: s.adminKey },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    cli.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exitCode = new Promise<number | null>((r) => cli.once('exit', r));

    const stream = new PassThrough();
    let drawn = '';
    stream.on('data', (d: Buffer) => (drawn += d.toString()));
    const { view, levels } = await watchPostLevels(editor, post.id, { intervalMs: 100, stream });
    expect(view.status).toBe('published');
    expect(levels.map((l) => [l.level, l.total, l.done, l.counts.published])).toEqual(
      [...expected.entries()].sort(([a], [b]) => a - b).map(([level, n]) => [level, n, n, n]),
    );
    for (const name of ['provinces', 'districts', 'communes']) expect(drawn).toMatch(new RegExp(`${name} .*\\| \\d+/\\d+ done`));

    const exited = await Promise.race([exitCode, new Promise<'running'>((r) => setTimeout(() => r('running'), 45_000).unref())]);
    if (exited === 'running') cli.kill();
    expect({ exited, out }).toEqual({ exited: 0, out: expect.any(String) });
    const [p, d, c] = [1, 2, 3].map((l) => expected.get(l)!);
    expect(out).toContain('published: published');
    expect(out).toMatch(new RegExp(`provinces ${p}/${p} done \\(published ${p} · failed 0 · skipped 0\\)`));
    expect(out).toMatch(new RegExp(`districts ${d}/${d} done`));
    expect(out).toMatch(new RegExp(`communes +${c}/${c} done`));

    // A district key counts only its own subtree; another province does not see the post at all.
    const district = s.admin.withKey((await s.admin.createKey({ name: 'district viewer', role: 'viewer', unit: '001' })).key);
    const mine = await district.postLevels(post.id);
    const communes = await s.deps.store.db.selectFrom('units').select('code').where('parent_code', '=', '001').execute();
    expect(mine.levels.map((l) => [l.level, l.total])).toEqual([
      [2, 1],
      [3, communes.length],
    ]);
    const hcm = s.admin.withKey((await s.admin.createKey({ name: 'hcm viewer', role: 'viewer', unit: '79' })).key);
    await expect(hcm.postLevels(post.id)).rejects.toThrow(/404/);
  });
});
