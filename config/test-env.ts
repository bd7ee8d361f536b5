/**
 * The variables that the tests, the benches and the reliability suite read; the service itself reads
 * config/index. Taken from the process environment only, not from `.env`: a developer's `.env`
 * configures the service, not the test run. Like the rest of config/, the only place that reads
 * `process.env` (the lint rule allows it nowhere else).
 */
export interface TestEnv {
  /** REDIS_URL: the Redis the tests and benches use (each test file isolates by a unique queue prefix). */
  redisUrl: string;
  /** TEST_DATABASE_URL: admin URL of a PostgreSQL server; set, the store tests run on PostgreSQL too. */
  testDatabaseUrl: string | undefined;
  /** CHROMIUM_PATH: a Chromium binary to drive instead of the one the @sparticuz/chromium package ships. */
  chromiumPath: string | undefined;
  /** REQUIRE_PROMTOOL=1: a missing `promtool` fails the metrics test instead of skipping its promtool checks. */
  requirePromtool: boolean;
  /** TEST_LOG_LEVEL: pino level of the in-process stacks in tests (default silent). */
  testLogLevel: string;
  /** RELIABILITY_SEED: seed of the short reliability run. */
  reliabilitySeed: number;
  /** FUZZ_RUNS: requests per store in the governance fuzz test (default: its own). */
  fuzzRuns: number | undefined;
  /** FUZZ_REPORT: print the fuzz test's status counts. */
  fuzzReport: boolean;
  /** PATH, to hand on to the child processes that tests and benches spawn (their env is otherwise explicit). */
  path: string;
}

function flag(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '' || value === '0' || value === 'false') return false;
  if (value === '1' || value === 'true') return true;
  throw new Error(`${name} must be 1 or 0 (got "${value}")`);
}

export function loadTestEnv(env: Record<string, string | undefined> = process.env): TestEnv {
  return {
    redisUrl: env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    testDatabaseUrl: env.TEST_DATABASE_URL || undefined,
    chromiumPath: env.CHROMIUM_PATH || undefined,
    requirePromtool: flag('REQUIRE_PROMTOOL', env.REQUIRE_PROMTOOL),
    testLogLevel: env.TEST_LOG_LEVEL ?? 'silent',
    reliabilitySeed: Number(env.RELIABILITY_SEED ?? 20251215),
    fuzzRuns: env.FUZZ_RUNS ? Number(env.FUZZ_RUNS) : undefined,
    fuzzReport: Boolean(env.FUZZ_REPORT),
    path: env.PATH ?? '',
  };
}
