import closeWithGrace from 'close-with-grace';
import { loadConfigOrExit } from '../config';
import { createDeps } from '../src/deps';
import { exitIfStoreNeverCame, guardProcessErrors, PROCESS_ERROR_EVENTS } from '../src/errors/process-errors';
import { startMetricsServer, type MetricsServer } from '../src/metrics/metrics-server';
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
  const deps = await exitIfStoreNeverCame(createDeps(config));
  const workers = await startWorkers(deps);
  // Without the API in this process, Prometheus scrapes this listener (METRICS_PORT=0 turns it off).
  let metrics: MetricsServer | undefined;
  if (config.env.METRICS_PORT > 0) {
    metrics = await startMetricsServer(deps.metrics, {
      port: config.env.METRICS_PORT,
      host: config.env.METRICS_HOST,
      token: config.env.METRICS_TOKEN,
    }).catch((err: Error) => {
      deps.log.error(
        { err: err.message, port: config.env.METRICS_PORT },
        'metrics listener could not start; this worker runs without /metrics',
      );
      return undefined;
    });
  }
  deps.log.info({ concurrency: config.queue.concurrency, pid: process.pid, metrics: metrics?.url }, 'worker started');
  const shutdown = async () => {
    await workers.close(25_000);
    await metrics?.close();
    await deps.close();
  };
  // Signals go through close-with-grace; errors through guardProcessErrors, which lets a store outage pass.
  closeWithGrace({ delay: 30_000, skip: PROCESS_ERROR_EVENTS }, async ({ signal }) => {
    deps.log.info({ signal }, 'worker shutting down');
    await shutdown();
  });
  guardProcessErrors(deps.log, shutdown, { what: 'worker' });
}

void main();
