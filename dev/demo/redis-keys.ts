import { Redis } from 'ioredis';

/**
 * The demo's own Redis key prefix, always the same: a crashed run's leftovers are found and removed by
 * the next run, and the demo never touches keys of the service's prefix (`lantoa` by default) or of tests.
 * One demo per Redis at a time.
 */
export const DEMO_PREFIX = 'lantoa-demo';

/** Removes every key under `prefix:` (SCAN + UNLINK, never KEYS or FLUSHDB). Returns how many were removed. */
export async function dropKeysUnder(redisUrl: string, prefix: string): Promise<number> {
  if (!/^[A-Za-z0-9_-]+$/.test(prefix)) {
    throw new TypeError(`refusing to clean the Redis prefix "${prefix}": letters, digits, _ and - only`);
  }
  const r = new Redis(redisUrl, { maxRetriesPerRequest: 1, lazyConnect: true });
  r.on('error', () => {});
  let removed = 0;
  try {
    await r.connect();
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length) removed += await r.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
  return removed;
}
