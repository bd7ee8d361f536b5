import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const { staleReason, STAMP } = require('../../bin/build.js') as { staleReason(root: string): string | undefined; STAMP: string };

/** bin/build.js decides from mtimes whether the start scripts must build dist/ first. */
describe('build stamp (bin/build.js)', () => {
  let root: string;
  const at = (s: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, s));
  const touch = (rel: string, s: number) => fs.utimesSync(path.join(root, rel), at(s), at(s));

  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'lantoa-stamp-'));
    for (const d of ['src/api', 'workers', 'config', 'dist']) fs.mkdirSync(path.join(root, d), { recursive: true });
    for (const f of ['src/main.ts', 'src/api/app.ts', 'workers/main.ts', 'config/index.ts', 'tsconfig.json']) {
      fs.writeFileSync(path.join(root, f), '');
    }
    for (const p of [
      'src/main.ts',
      'src/api/app.ts',
      'src/api',
      'src',
      'workers/main.ts',
      'workers',
      'config/index.ts',
      'config',
      'tsconfig.json',
    ]) {
      touch(p, 10);
    }
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('wants a build when there is no stamp', () => {
    expect(staleReason(root)).toMatch(/no build stamp/);
  });

  it('is up to date when the stamp is newer than every source, and stale when one is newer', () => {
    fs.writeFileSync(path.join(root, STAMP), '{}');
    touch(STAMP, 20);
    expect(staleReason(root)).toBeUndefined();
    touch('src/api/app.ts', 30); // an edited file deep in src/
    expect(staleReason(root)).toMatch(/sources changed/);
    touch('src/api/app.ts', 10);
    touch('config', 30); // a file added to or removed from config/ moves the folder's mtime
    expect(staleReason(root)).toMatch(/sources changed/);
    touch('config', 10);
    touch('tsconfig.json', 30);
    expect(staleReason(root)).toMatch(/sources changed/);
  });

  it('is up to date with dist/ alone (the image ships no sources)', () => {
    for (const d of ['src', 'workers', 'config']) fs.rmSync(path.join(root, d), { recursive: true });
    fs.rmSync(path.join(root, 'tsconfig.json'));
    fs.writeFileSync(path.join(root, STAMP), '{}');
    touch(STAMP, 20);
    fs.mkdirSync(path.join(root, 'bin'));
    fs.writeFileSync(path.join(root, 'bin/build.js'), '');
    touch('bin/build.js', 30); // copied into the image after the build: still nothing to rebuild from
    expect(staleReason(root)).toBeUndefined();
    fs.rmSync(path.join(root, STAMP));
    expect(staleReason(root)).toMatch(/no build stamp/);
  });
});
