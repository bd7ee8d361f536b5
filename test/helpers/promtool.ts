import { spawnSync } from 'node:child_process';
import { loadTestEnv } from '../../config/test-env';

/**
 * `promtool` (Debian's `prometheus` package) when it is on PATH. It is not on npm, so tests must pass
 * without it: they check the same things with test/helpers/exposition.ts and promql.ts, and run
 * promtool's own checks on top where it is installed. REQUIRE_PROMTOOL=1 (.ci/run sets it) makes a
 * missing promtool a failure instead.
 */
export interface Promtool {
  /** Exit status and everything promtool printed. */
  run(args: string[], input?: string): { status: number | null; output: string };
}

export const PROMTOOL_MISSING_NOTE =
  'promtool not found: skipped `promtool check metrics/config/rules` (apt-get install prometheus to run them, or set REQUIRE_PROMTOOL=1 to make them mandatory)';

function onPath(): boolean {
  const r = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
  return !r.error && r.status === 0;
}

let found: { promtool: Promtool | undefined } | undefined;

/**
 * The promtool runner, or undefined when promtool is missing (then one line says which checks were
 * skipped, once per test file). With REQUIRE_PROMTOOL=1 a missing promtool throws, failing the test.
 */
export function promtool(): Promtool | undefined {
  if (!found) {
    found = {
      promtool: onPath()
        ? {
            run(args, input) {
              const r = spawnSync('promtool', args, { input, encoding: 'utf8' });
              if (r.error) throw r.error;
              return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
            },
          }
        : undefined,
    };
    if (!found.promtool && !loadTestEnv().requirePromtool) process.stderr.write(`${PROMTOOL_MISSING_NOTE}\n`);
  }
  if (!found.promtool && loadTestEnv().requirePromtool) {
    throw new Error('REQUIRE_PROMTOOL=1 but promtool is not on PATH: install it (apt-get install prometheus) or unset REQUIRE_PROMTOOL');
  }
  return found.promtool;
}
