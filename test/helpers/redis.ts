import crypto from 'node:crypto';
import { loadTestEnv } from '../../config/test-env';
import { dropKeysUnder } from '../../dev/demo/redis-keys';

export const REDIS_URL = loadTestEnv().redisUrl;

/** A queue prefix no other test uses. */
export function uniquePrefix(label: string): string {
  return `lt-test-${label}-${crypto.randomBytes(4).toString('hex')}`;
}

/** Deletes every key of a test's queue prefix (SCAN + UNLINK, the demo's and benches' own helper). */
export async function dropPrefix(prefix: string): Promise<void> {
  await dropKeysUnder(REDIS_URL, prefix);
}
