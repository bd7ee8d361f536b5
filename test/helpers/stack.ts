import fs from 'node:fs';
import { createLogger } from '../../src/logger';
import { seedOrganisation as seedTree, startStack, UNITS_CSV_2025_03, type Stack, type StackOptions } from '../../dev/stack';
import type { TestDatabase } from './databases';
import { dropPrefix, REDIS_URL, uniquePrefix } from './redis';
import { loadTestEnv } from '../../config/test-env';

/** The tests run on the 2025-03 tree (10,807 units with districts; their unit codes come from it). */
export const UNITS_TEXT = fs.readFileSync(UNITS_CSV_2025_03, 'utf8');

export interface TestStack extends Stack {
  dispose(): Promise<void>;
}

/** A real stack (simulator, store, Redis queues, API, workers) on a fresh database and queue prefix. */
export async function startTestStack(db: TestDatabase, label: string, opts: StackOptions = {}): Promise<TestStack> {
  const database = await db.create();
  const prefix = uniquePrefix(label);
  const stack = await startStack({
    ...opts,
    // The rate limiter stays on (every request goes through it) but far above what a test sends.
    env: {
      DATABASE_URL: database.url,
      QUEUE_PREFIX: prefix,
      REDIS_URL,
      LOG_LEVEL: 'silent',
      DELIVERY_BACKOFF_MS: '200',
      PAGE_MIN_SPACING_MS: '50',
      READBACK_DELAY_MS: '300',
      GRAPH_TIMEOUT_MS: '5000',
      RATE_LIMIT_MAX: '1000000',
      ...opts.env,
    },
    log: opts.log ?? createLogger(loadTestEnv().testLogLevel),
  });
  return Object.assign(stack, {
    async dispose() {
      await stack.close();
      await dropPrefix(prefix);
      await database.drop();
    },
  });
}

/** dev/stack's seedOrganisation on the tests' tree (UNITS_TEXT, 2025-03) unless told otherwise. */
export function seedOrganisation(stack: Stack, csvText: string = UNITS_TEXT, opts: Parameters<typeof seedTree>[2] = {}) {
  return seedTree(stack, csvText, opts);
}

/** Polls until `check` returns a value or the time runs out (no timing assertions: only a ceiling). */
export async function waitFor<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 60_000, stepMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
