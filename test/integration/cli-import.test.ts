import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadTestEnv } from '../../config/test-env';
import { testDatabases } from '../helpers/databases';
import { startTestStack, type TestStack } from '../helpers/stack';

const ROOT = path.resolve(__dirname, '../..');
const HEADER = 'code,parent_code,level,type,name';

// The CLI's printing does not depend on the store: SQLite only.
describe('lantoa units import / pages import print every problem of a rejected file', () => {
  let s: TestStack;
  let dir: string;
  const cli = (...args: string[]) =>
    new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
      const child = spawn(process.execPath, [require.resolve('tsx/cli'), path.join(ROOT, 'src/cli/main.ts'), ...args], {
        cwd: dir,
        env: { PATH: loadTestEnv().path, LANTOA_API_URL: s.apiUrl, LANTOA_API_KEY: s.adminKey },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.once('exit', (code) => resolve({ code, out, err }));
    });

  beforeAll(async () => {
    s = await startTestStack(testDatabases()[0]!, 'cliimport', { workers: false });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-cli-import-'));
    fs.writeFileSync(path.join(dir, 'good.csv'), `${HEADER}\n98,,1,Tỉnh,Tỉnh Thử Nghiệm\n`);
    // 60 rows with an unknown parent: the API reports the first 50 and the total.
    const bad = Array.from({ length: 60 }, (_, i) => `${99000 + i},nope,2,Xã,Xã ${i}`);
    fs.writeFileSync(path.join(dir, 'bad.csv'), [HEADER, ...bad].join('\n'));
    // "Tỉnh" in Windows-1258 (i + combining hook above 0xD2) on line 2.
    fs.writeFileSync(path.join(dir, 'cp1258.csv'), Buffer.from(`${HEADER}\n98,,1,T\u0069\u00d2nh,T\u0069\u00d2nh\n`, 'latin1'));
  });
  afterAll(async () => {
    await s?.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('prints up to 50 problems with file, line and field, then how many more; exit 1', async () => {
    const r = await cli('units', 'import', 'bad.csv');
    expect(r.code).toBe(1);
    const lines = r.err.trim().split('\n');
    expect(lines[0]).toContain('POST /v1/units/import → 400 VALIDATION_FAILED');
    expect(lines[1]).toBe('60 problem(s):');
    expect(lines[2]).toBe('  bad.csv line 2, parent_code: unknown parent nope');
    expect(lines[51]).toBe('  bad.csv line 51, parent_code: unknown parent nope');
    expect(lines[52]).toBe('  … and 10 more');
    expect(lines).toHaveLength(53);
    expect(await s.deps.units.countAll()).toBe(1);
  }, 60_000);

  it('sends the file as bytes, so a Windows-1258 file is refused naming its line, not imported as U+FFFD', async () => {
    const r = await cli('units', 'import', 'cp1258.csv');
    expect(r.code).toBe(1);
    expect(r.err).toContain('CSV line 2 is not valid UTF-8 (byte 0xD2)');
    expect(r.err).toContain('  cp1258.csv line 2: not valid UTF-8 (byte 0xD2); save the file as CSV UTF-8');
    expect(await s.deps.units.countAll()).toBe(1);
    const ok = await cli('units', 'import', 'good.csv');
    expect({ code: ok.code, out: JSON.parse(ok.out) }).toEqual({ code: 0, out: { created: 1, updated: 0, total: 1 } });
    expect((await s.deps.units.get('98')).name).toBe('Tỉnh Thử Nghiệm');
  }, 60_000);
});
