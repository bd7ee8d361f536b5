import closeWithGrace from 'close-with-grace';
import { loadConfigOrExit } from '../config';
import { buildApp } from './api/app';
import { createDeps } from './deps';
import { NO_ADMIN_WARNING } from './services/auth/keys.service';
import { exitIfStoreNeverCame, guardProcessErrors, PROCESS_ERROR_EVENTS } from './errors/process-errors';
import { probeRedis } from './queues/redis';
import { startWorkers, type Workers } from '../workers/create-workers';

/**
 * `npm start`: the API and the workers in one process (the embedded default).
 * `npm run start:api` (`--role=api`): the API alone, for scale-out next to `npm run start:worker`.
 */
async function main(): Promise<void> {
  const role = process.argv.includes('--role=api') ? 'api' : 'all';
  const config = loadConfigOrExit();
  if (!config.tokenEncryptionKey) {
    process.stderr.write('TOKEN_ENCRYPTION_KEY is required (32 bytes, base64): generate one with `openssl rand -base64 32`\n');
    process.exit(1);
  }
  try {
    await probeRedis(config.redisUrl);
  } catch {
    process.stderr.write(
      `Redis is not reachable at ${config.redisUrl}. Start one (e.g. \`redis-server --daemonize yes\` or \`docker compose up -d redis\`).\n`,
    );
    process.exit(1);
  }
  const deps = await exitIfStoreNeverCame(createDeps(config));
  const app = await buildApp(deps);
  let workers: Workers | undefined;
  if (role === 'all') workers = await startWorkers(deps);
  await app.listen({ port: config.port, host: config.host });
  deps.log.info({ role, url: `http://${config.host}:${config.port}`, docs: `http://${config.host}:${config.port}/docs` }, 'lantoa started');
  if (!(await deps.keys.hasAdminAccess())) deps.log.warn(NO_ADMIN_WARNING);

  const shutdown = async () => {
    await app.close(); // stop accepting requests first
    await workers?.close(25_000); // then finish or release in-flight deliveries
    await deps.close();
  };
  // Signals go through close-with-grace; errors through guardProcessErrors, which lets a store outage pass.
  closeWithGrace({ delay: 30_000, skip: PROCESS_ERROR_EVENTS }, async ({ signal }) => {
    deps.log.info({ signal }, 'shutting down');
    await shutdown();
  });
  guardProcessErrors(deps.log, shutdown);
}

void main();
