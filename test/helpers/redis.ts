import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import { loadTestEnv } from '../../config/test-env';

export const REDIS_URL = loadTestEnv().redisUrl;

/** A queue prefix no other test uses. */
export function uniquePrefix(label: string): string {
  return `lt-test-${label}-${crypto.randomBytes(4).toString('hex')}`;
}

/** Deletes every key of a test's queue prefix. */
export async function dropPrefix(prefix: string): Promise<void> {
  const r = new Redis(REDIS_URL);
  try {
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) await r.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}
