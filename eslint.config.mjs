// ESLint flat config: the layer rules of README "Layout", the process.env rule, and a few correctness rules.
// Formatting is Prettier's job (eslint-config-prettier, last, turns off anything stylistic).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

// A relative specifier with a path segment named `seg` (`../../test/helpers`, `../simulator/simulator`).
const segment = (...segs) => `^\\.{1,2}/(?:.*/)?(?:${segs.join('|')})(?:/|$)`;

/** Restriction sets for no-restricted-imports; a file's final rule is the union of the sets of its groups. */
const R = {
  // process.env is read only in config/: no `import { env } from 'node:process'` around the rule either.
  env: {
    paths: ['process', 'node:process'].map((name) => ({
      name,
      importNames: ['env'],
      message: 'Only config/ reads the environment: use loadConfig()/readEnv() (or config/test-env for tests and benches).',
    })),
  },
  runtime: {
    patterns: [
      {
        regex: segment('simulator', 'dev', 'bench', 'test'),
        message:
          'Runtime code (src/ outside src/simulator, and workers/) must not import the simulator, dev/ scaffolding, bench/ or test/.',
      },
    ],
  },
  routes: {
    patterns: [
      {
        regex: '^(?:bullmq|ioredis|kysely|pg|better-sqlite3)(?:/|$)',
        message: 'Routes stay thin: queues and the store are reached through services (src/deps), never directly.',
      },
      { regex: segment('db'), message: 'Routes must not import src/db: go through a service.' },
    ],
  },
  graph: {
    patterns: [{ regex: segment('services'), message: 'src/graph is the Graph API client: it imports no service.' }],
  },
  config: {
    patterns: [
      { regex: segment('src', 'workers'), message: 'config/ is read by every process first: it imports nothing from src/ or workers/.' },
    ],
  },
};
const restrict = (...sets) => ['error', { paths: sets.flatMap((s) => s.paths ?? []), patterns: sets.flatMap((s) => s.patterns ?? []) }];

const ENV_DESTRUCTURE = {
  selector: "VariableDeclarator[init.type='Identifier'][init.name='process'] > ObjectPattern > Property[key.name='env']",
  message: 'Only config/ reads process.env: use loadConfig()/readEnv() (or config/test-env for tests and benches).',
};
// Kysely writes whose table is `deliveries` (with or without an alias).
const DELIVERIES_WRITE = {
  selector:
    'CallExpression[callee.property.name=/^(updateTable|insertInto|deleteFrom|replaceInto|mergeInto)$/][arguments.0.value=/^deliveries(\\s|$)/]',
  message:
    'Only the delivery ledger (src/services/delivery/delivery-ledger.ts and its post-deliveries.ts) writes `deliveries`: add a method there.',
};

const TS = ['**/*.ts'];
const RUNTIME = ['src/**', 'workers/**'];
const NOT_RUNTIME = ['src/simulator/**'];

export default defineConfig(
  { ignores: ['node_modules/**', 'dist/**', 'coverage/**', 'data/**', 'test/artifacts/**'] },
  js.configs.recommended,
  {
    files: TS,
    extends: [tseslint.configs.base],
    rules: {
      // TypeScript checks these itself (tsc --noEmit runs in npm test).
      'no-undef': 'off',
      'no-redeclare': 'off',
      'no-unused-vars': 'off',
      'no-dupe-class-members': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { args: 'none', caughtErrors: 'none', ignoreRestSiblings: true, varsIgnorePattern: '^_' },
      ],
    },
  },
  // Node code: CommonJS .js/.cjs at the root and in bin/, ESM .mjs.
  {
    files: ['**/*.js', '**/*.cjs'],
    ignores: ['src/dashboard/public/**'],
    languageOptions: { sourceType: 'commonjs', globals: globals.node },
  },
  { files: ['**/*.mjs'], languageOptions: { sourceType: 'module', globals: globals.node } },
  // The dashboard's browser modules.
  { files: ['src/dashboard/public/**/*.js'], languageOptions: { sourceType: 'module', globals: globals.browser } },

  // ---- layer rules (README "Layout") --------------------------------------------------------
  { files: ['**/*.{ts,js,mjs,cjs}'], ignores: ['config/**'], rules: { 'no-restricted-imports': restrict(R.env) } },
  { files: RUNTIME, ignores: NOT_RUNTIME, rules: { 'no-restricted-imports': restrict(R.env, R.runtime) } },
  { files: ['src/api/routes/**'], rules: { 'no-restricted-imports': restrict(R.env, R.runtime, R.routes) } },
  { files: ['src/graph/**'], rules: { 'no-restricted-imports': restrict(R.env, R.runtime, R.graph) } },
  { files: ['config/**'], rules: { 'no-restricted-imports': restrict(R.runtime, R.config) } },

  // ---- only config/ reads process.env ------------------------------------------------------
  {
    files: ['**/*.{ts,js,mjs,cjs}'],
    ignores: ['config/**'],
    rules: {
      'no-restricted-properties': [
        'error',
        {
          object: 'process',
          property: 'env',
          message: 'Only config/ reads process.env: use loadConfig()/readEnv() (or config/test-env for tests and benches).',
        },
      ],
      'no-restricted-syntax': ['error', ENV_DESTRUCTURE],
    },
  },

  // ---- only the delivery ledger writes `deliveries` -----------------------------------------
  {
    files: RUNTIME,
    ignores: ['src/services/delivery/delivery-ledger.ts', 'src/services/delivery/post-deliveries.ts'],
    rules: { 'no-restricted-syntax': ['error', ENV_DESTRUCTURE, DELIVERIES_WRITE] },
  },

  prettier,
  // After eslint-config-prettier, which turns `curly` off: 'multi-line' keeps one-line `if (x) return y;` and
  // requires braces once a body spans lines. When Prettier wraps a long one-liner, `eslint --fix` adds the braces
  // and Prettier keeps them, so the two settle after one round (`npm run format` runs both).
  {
    rules: {
      curly: ['error', 'multi-line'],
      eqeqeq: ['error', 'always', { null: 'ignore' }],
    },
  },
);
