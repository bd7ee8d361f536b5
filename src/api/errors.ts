import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { describeStoreError, isStoreUnavailable, storeUnavailableReason } from '../db/store-errors';
import { AppError, ValidationError } from '../errors/app-error';

/** Seconds a client should wait before retrying a 503 (Redis or the store unavailable). */
export const RETRY_AFTER_S = 5;

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
      // Fastify calls the query string `querystring`; field paths say `query`, as `req.query` does.
      const context = err.validationContext ?? 'body';
      const where = context === 'querystring' ? 'query' : context;
      const problems = err.validation.map((v) => {
        const field = [where, ...v.instancePath.split('/').filter(Boolean)].join('.');
        return { field, message: v.message ?? 'invalid' };
      });
      const first = problems[0];
      return reply.status(400).send({
        error: {
          code: 'VALIDATION_FAILED',
          message: first ? `${first.field}: ${first.message}` : 'invalid request',
          details: { problems },
        },
      });
    }
    if (err instanceof AppError) {
      const e = err instanceof ValidationError ? locateField(err, req) : err;
      if (e.statusCode === 503) {
        req.log.warn({ code: e.code, reason: e.message }, 'dependency unavailable');
        reply.header('retry-after', String(RETRY_AFTER_S));
      } else if (e.statusCode >= 500) req.log.error({ err: e }, 'request failed');
      else req.log.warn({ code: e.code, reason: e.message }, 'request rejected');
      return reply
        .status(e.statusCode)
        .send({ error: { code: e.code, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) } });
    }
    if (isStoreUnavailable(err)) {
      // The store went away (restart, network) or is locked/full: the request was fine, try again shortly.
      req.log.warn(describeStoreError(err, `${req.method} ${req.routeOptions.url ?? 'unknown route'}`), 'store unavailable');
      reply.header('retry-after', String(RETRY_AFTER_S));
      return reply.status(503).send({ error: { code: 'SERVICE_UNAVAILABLE', message: `${storeUnavailableReason(err)}; retry later` } });
    }
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 415) {
      const expected = (req.routeOptions.schema as { consumes?: string[] } | undefined)?.consumes ?? ['application/json'];
      const got = String(req.headers['content-type'] ?? 'none')
        .split(';')[0]!
        .trim()
        .slice(0, 100);
      req.log.warn({ code: err.code, got }, 'request rejected');
      return reply.status(415).send({
        error: {
          code: 'UNSUPPORTED_MEDIA_TYPE',
          message: `this route takes ${expected.join(' or ')}, not ${got}: send the body with Content-Type: ${expected[0]}`,
          details: { expected, got },
        },
      });
    }
    if (status < 500) {
      req.log.warn({ code: err.code, reason: err.message }, 'request rejected');
      return reply.status(status).send({ error: { code: CODE_BY_STATUS[status] ?? 'BAD_REQUEST', message: err.message } });
    }
    // node-postgres attaches the client (connection parameters, pool internals) to some errors: never log that.
    if ('client' in err) {
      req.log.error(describeStoreError(err, `${req.method} ${req.routeOptions.url ?? 'unknown route'}`), 'unhandled store error');
    } else req.log.error({ err }, 'unhandled error');
    return reply.status(500).send({ error: { code: 'INTERNAL', message: 'internal error; see the server log' } });
  });
  app.setNotFoundHandler((req, reply) => {
    reply.status(404).send({ error: { code: 'NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0]}` } });
  });
}

const LOCATIONS = ['body', 'query', 'params'] as const;

/**
 * Field paths start with where the field came from, as the schema validation's do (`body.target.unit`,
 * `query.cursor`, `params.id`). Services name fields relative to the input they were given
 * (`target.unit`); the request tells which part holds its first segment. The message's leading
 * `<field>:` is rewritten the same way, and the field is listed in `details.problems` like a schema problem.
 */
function locateField(err: ValidationError, req: FastifyRequest): ValidationError {
  const details = err.details as { field?: unknown; problems?: unknown } | undefined;
  const field = details?.field;
  if (typeof field !== 'string' || LOCATIONS.some((l) => field === l || field.startsWith(`${l}.`))) return err;
  const head = field.split(/[.[]/, 1)[0]!;
  const where = LOCATIONS.find((l) => {
    const part = req[l] as unknown;
    return typeof part === 'object' && part !== null && Object.hasOwn(part, head);
  });
  if (!where) return err;
  const located = `${where}.${field}`;
  const message = err.message.startsWith(`${field}:`) ? `${located}${err.message.slice(field.length)}` : err.message;
  const own = message.startsWith(`${located}:`) ? message.slice(located.length + 1).trim() : message;
  const problems = details?.problems ?? [{ field: located, message: own || message }];
  return new ValidationError(message, { ...details, field: located, problems });
}

/**
 * Errors the router raises before any hook or handler (a path parameter over 100 characters, a
 * malformed percent-encoding): the same error shape, without echoing the URL back.
 */
export function frameworkErrorHandler(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const status = err.statusCode === 414 ? 414 : 400;
  const message = status === 414 ? 'a path segment is too long' : 'the URL is not valid (bad percent-encoding?)';
  void reply.status(status).send({ error: { code: status === 414 ? 'URI_TOO_LONG' : 'BAD_URL', message } });
}
