import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { Deps } from '../deps';
import { AppError } from '../errors/app-error';

/** Security headers on every answer (nosniff, frame-ancestors, HSTS, a strict CSP the docs UI fits in). */
export async function installHelmet(app: FastifyInstance): Promise<void> {
  await app.register(fastifyHelmet, { global: true, crossOriginResourcePolicy: { policy: 'same-origin' } });
}

/**
 * Per-key request limit, counted in Redis so every API process shares it; over the limit the
 * answer is 429 with `Retry-After`. Install it after authentication (it keys on the caller's key
 * id, never on the key). If Redis is unreachable requests pass: approvals must not fail with it.
 */
export async function installRateLimit(v1: FastifyInstance, deps: Deps): Promise<void> {
  const { max, windowMs } = deps.config.rateLimit;
  if (max === 0) return;
  await v1.register(fastifyRateLimit, {
    global: true,
    max,
    timeWindow: windowMs,
    redis: deps.redis,
    nameSpace: `${deps.config.queue.prefix}:ratelimit:`,
    skipOnError: true,
    keyGenerator: (req) => req.principal?.keyId ?? `ip:${req.ip}`,
    errorResponseBuilder: (_req, ctx) =>
      new AppError(
        'RATE_LIMITED',
        `rate limit exceeded: at most ${ctx.max} requests per ${Math.round(windowMs / 1000)} s per key; retry after ${Math.ceil(ctx.ttl / 1000)} s`,
        429,
      ),
  });
}
