import fs from 'node:fs';
import path from 'node:path';

/**
 * `npm ci` warns about every dependency with an install script that package.json's `allowScripts`
 * does not cover (allowed or denied). The lockfile says which ones have one (`hasInstallScript`).
 */
const ROOT = path.resolve(__dirname, '../..');

describe('allowScripts covers every install script of the lockfile', () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> };
  const lock = JSON.parse(fs.readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { hasInstallScript?: boolean; name?: string }>;
  };
  const withScripts = Object.entries(lock.packages)
    .filter(([, p]) => p.hasInstallScript)
    .map(([where, p]) => p.name ?? where.slice(where.lastIndexOf('node_modules/') + 'node_modules/'.length));

  it('lists each package with an install script as allowed (true) or denied (false)', () => {
    expect(withScripts.length).toBeGreaterThan(0);
    const policy = pkg.allowScripts ?? {};
    expect(withScripts.filter((name) => typeof policy[name] !== 'boolean')).toEqual([]);
  });

  it('names no package the lockfile does not install with a script (a stale entry hides a missing one)', () => {
    expect(Object.keys(pkg.allowScripts ?? {}).filter((name) => !withScripts.includes(name))).toEqual([]);
  });
});
