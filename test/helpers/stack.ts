import fs from 'node:fs';
import { createLogger } from '../../src/logger';
import {
  seedOrganisation as seedTree,
  startStack,
  UNITS_CSV_2025_03,
  UNITS_CSV_2025_07,
  type Stack,
  type StackOptions,
} from '../../dev/stack';
import type { TestDatabase } from './databases';
import { dropPrefix, REDIS_URL, uniquePrefix } from './redis';
import { loadTestEnv } from '../../config/test-env';

/**
 * The tests' default tree: the current one, 2025-07 (34 provinces and 3,321 communes, no districts; with root
 * 3,356 units). Their unit codes come from it: province 01 is Hà Nội, communes have 5-digit codes.
 */
export const UNITS_TEXT = fs.readFileSync(UNITS_CSV_2025_07, 'utf8');
/**
 * The tree before 2025-07-01 (63 provinces, 696 districts, 10,047 communes; with root 10,807 units), for the
 * tests that need three levels or a district, or the old tree's size. Each says why where it imports this.
 */
export const UNITS_TEXT_2025_03 = fs.readFileSync(UNITS_CSV_2025_03, 'utf8');

/**
 * A small tree of the 2025-07 shape (two levels, no districts), for the tests that look at every unit (the
 * dashboard's browser tests): Hà Nội (01) with four wards (00004 Ba Đình, 00008 Ngọc Hà, 00025 Giảng Võ,
 * 00070 Hoàn Kiếm) and Hồ Chí Minh (79) with two (26734 Sài Gòn, 26737 Tân Định); with root 9 units.
 */
export const SMALL_TREE_UNITS = [
  'code,parent_code,level,type,name',
  '01,,1,Thành phố Trung ương,Thành phố Hà Nội',
  '00004,01,2,Phường,Phường Ba Đình',
  '00008,01,2,Phường,Phường Ngọc Hà',
  '00025,01,2,Phường,Phường Giảng Võ',
  '00070,01,2,Phường,Phường Hoàn Kiếm',
  '79,,1,Thành phố Trung ương,Thành phố Hồ Chí Minh',
  '26734,79,2,Phường,Phường Sài Gòn',
  '26737,79,2,Phường,Phường Tân Định',
].join('\n');

/** Codes of the direct children of `parent` in a units CSV, in file order (`root` for the provinces). */
export function childCodes(csv: string, parent: string): string[] {
  return csv
    .split(/\r?\n/)
    .slice(1)
    .map((l) => l.split(','))
    .filter(([code, p]) => code && (p || 'root') === parent)
    .map(([code]) => code!);
}

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
      // Test trees are small: 50 in flight (2 lanes) is plenty, and keeps each file's Redis and PostgreSQL
      // connections low while two files run at once. The default (200) runs in the benches and the reliability suite.
      WORKER_CONCURRENCY: '50',
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

/** dev/stack's seedOrganisation on the tests' tree (UNITS_TEXT, 2025-07) unless told otherwise (UNITS_TEXT_2025_03). */
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
