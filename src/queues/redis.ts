import { Redis, type RedisOptions } from 'ioredis';

/**
 * `worker` connections block and must retry forever (`maxRetriesPerRequest: null`, BullMQ's rule);
 * `producer` connections fail fast so the API can answer instead of hanging while Redis is down.
 */
export function createRedis(url: string, kind: 'worker' | 'producer', extra: RedisOptions = {}): Redis {
  const opts: RedisOptions =
    kind === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : { maxRetriesPerRequest: 1, enableOfflineQueue: false, connectTimeout: 5_000 };
  return new Redis(url, { ...opts, ...extra });
}

/** One PING with a short timeout and no retries: for start-up checks and /readyz. */
export async function probeRedis(url: string, timeoutMs = 2_000): Promise<void> {
  const r = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    await r.ping();
  } finally {
    r.disconnect();
  }
}
