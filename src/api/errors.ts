import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError } from '../errors/app-error';

const CODE_BY_STATUS: Record<number, string> = {
  400: 'VALIDATION_FAILED',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  429: 'RATE_LIMITED',
};

/**
 * One error body everywhere: `{error: {code, message, details?}}`. Client mistakes keep their
 * message (4xx, logged at warn); anything else is a 500 with a generic message, logged in full.
 */
export function installErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, req, reply) => {
    if (hasZodFastifySchemaValidationErrors(err)) {
      const where = err.validationContext ?? 'body';
      const problems = err.validation.map((v) => {
        const field = [where, ...v.instancePath.split('/').filter(Boolean)].join('.');
        return { field, message: v.message ?? 'invalid' };
      });
      const first = problems[0];
      return reply.status(400).send({
        error: { code: 'VALIDATION_FAILED', message: first ? `${first.field}: ${first.message}` : 'invalid request', details: { problems } },
      });
    }
    if (err instanceof AppError) {
      if (err.statusCode === 503) {
        req.log.warn({ code: err.code, reason: err.message }, 'dependency unavailable');
        reply.header('retry-after', '5');
      } else if (err.statusCode >= 500) req.log.error({ err }, 'request failed');
      else req.log.warn({ code: err.code, reason: err.message }, 'request rejected');
      return reply.status(err.statusCode).send({ error: { code: err.code, message: err.message, ...(err.details !== undefined ? { details: err.details } : {}) } });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status < 500) {
      req.log.warn({ code: err.code, reason: err.message }, 'request rejected');
      return reply.status(status).send({ error: { code: CODE_BY_STATUS[status] ?? 'BAD_REQUEST', message: err.message } });
    }
    req.log.error({ err }, 'unhandled error');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error; see the server log' } });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });
}
