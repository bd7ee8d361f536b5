/**
 * The switches of the test suite. Tests and their helpers read the environment only through this
 * function (config/ is the one place that reads `process.env`). Only the test process's own
 * environment counts here, not `.env`: a developer's `.env` configures the service, not the tests.
 */
export interface TestEnv {
  /** TEST_DATABASE_URL: a PostgreSQL server URL; when set, the dialect-sensitive tests also run there. */
  readonly databaseUrl: string | undefined;
  /** CHROMIUM_PATH: a Chromium binary to drive instead of the one the @sparticuz/chromium package ships. */
  readonly chromiumPath: string | undefined;
  /** REQUIRE_PROMTOOL=1: a missing `promtool` fails the metrics test instead of skipping its promtool checks. */
  readonly requirePromtool: boolean;
}

function flag(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new Error(`${name} must be 1 or 0 (got "${value}")`);
}

export function readTestEnv(source: Record<string, string | undefined> = process.env): TestEnv {
  return {
    databaseUrl: source.TEST_DATABASE_URL || undefined,
    chromiumPath: source.CHROMIUM_PATH || undefined,
    requirePromtool: flag('REQUIRE_PROMTOOL', source.REQUIRE_PROMTOOL),
  };
}
