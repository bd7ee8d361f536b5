import closeWithGrace from 'close-with-grace';
import { loadConfigOrExit } from '../config';
import { createDeps } from '../src/deps';
import { probeRedis } from '../src/queues/redis';
import { startWorkers } from './create-workers';

/** `npm run start:worker`: delivery and fan-out workers only. Run as many as needed against one Redis and one PostgreSQL. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (!config.tokenEncryptionKey) {
    process.stderr.write('TOKEN_ENCRYPTION_KEY is required (32 bytes, base64)\n');
    process.exit(1);
  }
  try {
    await probeRedis(config.redisUrl);
  } catch {
    process.stderr.write(`Redis is not reachable at ${config.redisUrl}. Start one (e.g. \`redis-server --daemonize yes\`).\n`);
    process.exit(1);
  }
  const deps = await createDeps(config);
  const workers = await startWorkers(deps);
  deps.log.info({ concurrency: config.queue.concurrency, pid: process.pid }, 'worker started');
  closeWithGrace({ delay: 30_000 }, async ({ signal, err }) => {
    if (err) deps.log.error({ err }, 'worker shutting down after an error');
    else deps.log.info({ signal }, 'worker shutting down');
    await workers.close(25_000);
    await deps.close();
  });
}

void main();
