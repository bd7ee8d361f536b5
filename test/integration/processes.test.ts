import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, spawnNode, TSX } from '../helpers/processes';

/** Start-up failures, on the TypeScript sources (the compiled entry points are tested in compiled-processes.test.ts). */
function run(script: string, args: string[], env: Record<string, string>) {
  return spawnNode([TSX, path.join(ROOT, script), ...args], env);
}

describe('processes', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-proc-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('exits non-zero listing every bad variable', async () => {
    const p = run('src/main.ts', [], { PORT: 'x', DATABASE_URL: 'mysql://a', LOG_LEVEL: 'chatty', PG_POOL_MAX: '1' });
    expect(await p.exited).toBe(1);
    const { err } = p.output();
    for (const name of ['PORT', 'DATABASE_URL', 'LOG_LEVEL', 'PG_POOL_MAX']) expect(err).toContain(`- ${name}:`);
  });

  it('npm start refuses to run without TOKEN_ENCRYPTION_KEY', async () => {
    const p = run('src/main.ts', [], { DATABASE_URL: `sqlite:${dir}/a.db` });
    expect(await p.exited).toBe(1);
    expect(p.output().err).toContain('TOKEN_ENCRYPTION_KEY is required');
  });

  it('the demo says in one line that Redis is unreachable', async () => {
    const p = run('dev/demo/main.ts', ['--exit'], { REDIS_URL: 'redis://127.0.0.1:1' });
    expect(await p.exited).toBe(1);
    const lines = p.output().err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/Redis is not reachable at redis:\/\/127\.0\.0\.1:1.*redis-server/);
  });
});
