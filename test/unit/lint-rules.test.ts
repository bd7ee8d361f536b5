/**
 * The layer rules and the process.env rule of eslint.config.mjs bite: each fixture is linted as if it
 * lived at `filePath`, through ESLint's Node API and the repository's own config, in a child process
 * (the config is an ES module, which jest's CommonJS loader cannot import).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

interface Fixture {
  filePath: string;
  code: string;
}
interface Finding {
  ruleId: string | null;
  message: string;
}

const LINT = `
import fs from 'node:fs';
import { ESLint } from 'eslint';
const fixtures = JSON.parse(fs.readFileSync(0, 'utf8'));
const eslint = new ESLint({ cwd: process.cwd(), overrideConfigFile: 'eslint.config.mjs' });
const out = [];
for (const f of fixtures) {
  const [r] = await eslint.lintText(f.code, { filePath: f.filePath, warnIgnored: true });
  out.push(r.messages.map((m) => ({ ruleId: m.ruleId, message: m.message })));
}
process.stdout.write(JSON.stringify(out));
`;

function lint(fixtures: Fixture[]): Finding[][] {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', LINT], {
    cwd: ROOT,
    input: JSON.stringify(fixtures),
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`eslint child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Finding[][];
}

const LAYER_RULES = ['no-restricted-imports', 'no-restricted-properties', 'no-restricted-syntax'];
const uses = (spec: string) => `import * as m from '${spec}';\nexport const x = m;\n`;

// [name, file it pretends to be, code, the rule that must report it]
const MUST_FAIL: Array<[string, string, string, string]> = [
  ...['bullmq', 'ioredis', 'kysely', 'pg', 'better-sqlite3', 'kysely/helpers/postgres'].map((pkg): [string, string, string, string] => [
    `a route imports ${pkg}`,
    'src/api/routes/x.routes.ts',
    uses(pkg),
    'no-restricted-imports',
  ]),
  ['a route imports src/db', 'src/api/routes/x.routes.ts', uses('../../db/create-db'), 'no-restricted-imports'],
  [
    'a route re-exports from src/db',
    'src/api/routes/x.routes.ts',
    "export type { Db } from '../../db/create-db';\n",
    'no-restricted-imports',
  ],
  ['runtime imports the simulator', 'src/api/x.ts', uses('../simulator/simulator'), 'no-restricted-imports'],
  ['runtime imports dev scaffolding', 'src/services/delivery/x.ts', uses('../../../dev/stack'), 'no-restricted-imports'],
  ['a worker imports the simulator', 'workers/x.ts', uses('../src/simulator/simulator'), 'no-restricted-imports'],
  ['runtime imports bench', 'src/x.ts', uses('../bench/reliability/suite'), 'no-restricted-imports'],
  ['a worker imports test helpers', 'workers/processors/x.ts', uses('../../test/helpers/redis'), 'no-restricted-imports'],
  ['a route imports the simulator', 'src/api/routes/x.routes.ts', uses('../../simulator/simulator'), 'no-restricted-imports'],
  ['graph imports a service', 'src/graph/x.ts', uses('../services/tree/unit-paths'), 'no-restricted-imports'],
  ['config imports src', 'config/x.ts', uses('../src/logger'), 'no-restricted-imports'],
  ['config imports workers', 'config/x.ts', uses('../workers/create-workers'), 'no-restricted-imports'],
  ['src reads process.env', 'src/services/posts/x.ts', 'export const a = process.env.FOO;\n', 'no-restricted-properties'],
  ['a worker reads process.env', 'workers/x.ts', "export const a = process.env['FOO'];\n", 'no-restricted-properties'],
  ['a test reads process.env', 'test/unit/x.test.ts', 'export const a = process.env.FOO;\n', 'no-restricted-properties'],
  ['a bench reads process.env', 'bench/x.ts', 'export const a = process.env.FOO;\n', 'no-restricted-properties'],
  ['bin reads process.env', 'bin/x.js', 'module.exports = process.env.FOO;\n', 'no-restricted-properties'],
  ['dev code destructures process.env', 'dev/x.ts', 'const { env } = process;\nexport const a = env.FOO;\n', 'no-restricted-syntax'],
  [
    'src imports env from node:process',
    'src/x.ts',
    "import { env } from 'node:process';\nexport const a = env.FOO;\n",
    'no-restricted-imports',
  ],
  [
    'a service updates deliveries',
    'src/services/governance/x.ts',
    "export const f = (db: any) => db.updateTable('deliveries').set({ status: 'x' }).execute();\n",
    'no-restricted-syntax',
  ],
  [
    'a worker inserts deliveries (aliased)',
    'workers/x.ts',
    "export const f = (db: any) => db.insertInto('deliveries as d').values({}).execute();\n",
    'no-restricted-syntax',
  ],
  ['a service destructures process.env', 'src/x.ts', 'const { env } = process;\nexport const a = env.FOO;\n', 'no-restricted-syntax'],
];

// The same kinds of import where the rules allow them: the rules must stay quiet.
const MUST_PASS: Array<[string, string, string]> = [
  ['a route imports a service', 'src/api/routes/x.routes.ts', uses('../../services/posts/posts.service')],
  [
    'a service imports kysely and src/db',
    'src/services/posts/x.ts',
    `${uses('kysely')}import * as d from '../../db/create-db';\nexport const y = d;\n`,
  ],
  ['dev scaffolding imports the simulator', 'dev/x.ts', uses('../src/simulator/simulator')],
  ['a test imports dev scaffolding', 'test/integration/x.test.ts', uses('../../dev/stack')],
  ['the simulator imports its own modules', 'src/simulator/x.ts', uses('./store')],
  ['graph imports errors', 'src/graph/x.ts', uses('../errors/app-error')],
  ['config reads process.env', 'config/x.ts', 'export const a = process.env.FOO;\n'],
  [
    'the ledger writes deliveries',
    'src/services/delivery/delivery-ledger.ts',
    "export const f = (db: any) => db.updateTable('deliveries').set({ status: 'x' }).execute();\n",
  ],
  [
    'a read model reads deliveries',
    'src/services/read-models/x.ts',
    "export const f = (db: any) => db.selectFrom('deliveries').selectAll().execute();\n",
  ],
];

describe('lint rules', () => {
  let failing: Finding[][];
  let passing: Finding[][];

  beforeAll(() => {
    const all = lint([
      ...MUST_FAIL.map(([, filePath, code]) => ({ filePath, code })),
      ...MUST_PASS.map(([, filePath, code]) => ({ filePath, code })),
    ]);
    failing = all.slice(0, MUST_FAIL.length);
    passing = all.slice(MUST_FAIL.length);
  });

  test.each(MUST_FAIL.map(([name, file, , rule], i) => [name, file, rule, i] as const))(
    '%s (%s) is an error of %s',
    (_name, _file, rule, i) => {
      expect(failing[i]!.map((m) => m.ruleId)).toContain(rule);
    },
  );

  test.each(MUST_PASS.map(([name, file], i) => [name, file, i] as const))('%s (%s) passes the layer rules', (_name, _file, i) => {
    expect(passing[i]!.filter((m) => m.ruleId === null || LAYER_RULES.includes(m.ruleId))).toEqual([]);
  });
});
