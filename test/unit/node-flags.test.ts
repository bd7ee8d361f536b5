import fs from 'node:fs';
import path from 'node:path';
import { SERVICE_NODE_FLAGS } from '../../config/node-flags';

const ROOT = path.resolve(__dirname, '../..');
const FLAGS = SERVICE_NODE_FLAGS.join(' ');

describe('every service process starts with the heap settings of config/node-flags.ts', () => {
  const scripts = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

  it.each(['start', 'start:api', 'start:worker'])('npm run %s', (name) => {
    expect(scripts[name]).toMatch(new RegExp(`^node ${FLAGS} dist/`));
  });

  it("the image's NODE_OPTIONS (compose runs node directly)", () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(runtime).toContain(`ENV NODE_OPTIONS="${FLAGS}"`);
  });
});
