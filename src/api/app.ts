import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Deps } from '../deps';
import { pingStore } from '../db/create-db';
import { installAuth } from './auth';
import { frameworkErrorHandler, installErrorHandler, RETRY_AFTER_S } from './errors';
import { describeStoreError, isStoreUnavailable, storeUnavailableReason } from '../db/store-errors';
import { dashboardPlugin } from '../dashboard/dashboard.plugin';
import { connectPlugin, redactConnectUrl } from '../connect/connect.plugin';
import { adminRoutes } from './routes/admin.routes';
import { onboardingRoutes } from './routes/onboarding.routes';
import { opsRoutes } from './routes/ops.routes';
import { progressRoutes } from './routes/progress.routes';
import { postsRoutes } from './routes/posts.routes';
import { metricsRoutes } from './routes/metrics.routes';
import { postLevelsRoutes } from './routes/post-levels.routes';
import { webhooksRoutes } from './routes/webhooks.routes';
import { approvalsRoutes } from './routes/approvals.routes';
import { registerQueueBoard } from './queue-board';
import { auditRoutes } from './routes/audit.routes';
import { changesRoutes } from './routes/changes.routes';
import { keysRoutes } from './routes/keys.routes';
import { decodeCsvBytes } from '../services/tree/csv';
import { installHelmet, installRateLimit } from './security';

/** Largest CSV upload (the full tree with tokens is ~3 MB). */
const CSV_BODY_LIMIT = 50 * 1024 * 1024;

/** Builds the API (no listen): tests drive it with inject, entry points call listen. */
export async function buildApp(deps: Deps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.log.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    frameworkErrors: frameworkErrorHandler,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandler(app);
  await installHelmet(app);
  // As bytes: a file that is not UTF-8 is a 400 naming its line, never text with U+FFFD in place of its letters.
  app.addContentTypeParser('text/csv', { parseAs: 'buffer', bodyLimit: CSV_BODY_LIMIT }, (_req, body, done) => {
    try {
      done(null, decodeCsvBytes(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Lan Tỏa API',
        description: 'Publish approved posts to the Facebook Pages of every unit in an organisation tree.',
        version: '1.0.0',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'API key' } } },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  const ops = app.withTypeProvider<ZodTypeProvider>();
  ops.get(
    '/healthz',
    { schema: { tags: ['ops'], summary: 'The process is up', response: { 200: z.object({ status: z.literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );
  const readiness = z.object({ status: z.string(), redis: z.string(), store: z.string(), down: z.array(z.enum(['redis', 'store'])) });
  ops.get(
    '/readyz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Redis and the store are reachable; `down` names the dependencies that are not (503, with Retry-After)',
        response: { 200: readiness, 503: readiness },
      },
    },
    async (_req, reply) => {
      const check = (p: Promise<unknown>, describe: (e: unknown) => string) =>
        Promise.race([p.then(() => 'ok'), new Promise<string>((r) => setTimeout(() => r('timeout'), 2_000).unref())]).catch(
          (e: unknown) => `error: ${describe(e)}`,
        );
      const [redis, store] = await Promise.all([
        check(deps.redis.ping(), (e) => (e as Error).message),
        check(pingStore(deps.store), (e) => (isStoreUnavailable(e) ? storeUnavailableReason(e) : describeStoreError(e, 'readyz').message)),
      ]);
      const down = [...(redis === 'ok' ? [] : ['redis' as const]), ...(store === 'ok' ? [] : ['store' as const])];
      if (down.length) reply.status(503).header('retry-after', String(RETRY_AFTER_S));
      return { status: down.length ? 'not_ready' : 'ready', redis, store, down };
    },
  );

  await app.register(
    async (v1) => {
      installAuth(v1, deps.keys);
      await installRateLimit(v1, deps);
      await v1.register(adminRoutes(deps));
      await v1.register(postsRoutes(deps));
      await v1.register(approvalsRoutes(deps));
      await v1.register(postLevelsRoutes(deps));
      await v1.register(webhooksRoutes(deps));
      await v1.register(progressRoutes(deps));
      await v1.register(opsRoutes(deps));
      await v1.register(keysRoutes(deps));
      await v1.register(changesRoutes(deps));
      await v1.register(auditRoutes(deps));
      await v1.register(onboardingRoutes(deps));
    },
    { prefix: '/v1' },
  );
  // Ops: Prometheus metrics, Bull Board at /admin/queues (admins; Bearer key or session cookie), the dashboard.
  await app.register(metricsRoutes(deps));
  await registerQueueBoard(app, deps);
  await app.register(dashboardPlugin);
  // The public connect pages (no key); their addresses carry the link token or the OAuth code, so logs see them redacted.
  await app.register(connectPlugin(deps), {
    logSerializers: {
      // pino takes an object from a serializer; Fastify's type says string.
      req: ((req: { method: string; url: string; id: string }) => ({
        method: req.method,
        url: redactConnectUrl(req.url),
        id: req.id,
      })) as unknown as (v: unknown) => string,
    },
  });
  return app;
}
