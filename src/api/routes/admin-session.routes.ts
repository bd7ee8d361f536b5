import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../../errors/app-error';
import { ADMIN_SESSION_COOKIE, type AdminSessionService } from '../../services/auth/admin-session.service';
import { ErrorBody } from '../schemas';

const FORM = 'application/x-www-form-urlencoded';
export const QUEUE_BOARD_PATH = '/admin/queues';

/** Escapes text for HTML. */
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** The sign-in form for the queue UI: no script and no inline style (works under a strict CSP). */
export function loginPage(message?: string): string {
  return `<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lan Tỏa · Hàng đợi / Queues</title></head>
<body><main>
<h1>Lan Tỏa · Hàng đợi (Bull Board)</h1>
<p>Cần khóa API quản trị. / An admin API key is required.</p>
${message ? `<p role="alert"><strong>${esc(message)}</strong></p>` : ''}
<form method="post" action="/admin/session">
<label for="key">Khóa API / API key</label><br>
<input id="key" name="key" type="password" autocomplete="off" required size="48"><br>
<button type="submit">Đăng nhập / Sign in</button>
</form>
</main></body></html>`;
}

function cookie(req: FastifyRequest, value: string, maxAgeS: number): string {
  const secure = req.protocol === 'https' ? '; Secure' : '';
  return `${ADMIN_SESSION_COOKIE}=${value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure}`;
}

const isForm = (req: FastifyRequest) => (req.headers['content-type'] ?? '').toLowerCase().startsWith(FORM);

/**
 * `POST /admin/session {key}` turns an admin key into a short-lived HttpOnly cookie for the browser
 * UIs under `/admin` (JSON or an HTML form; the key never goes in a URL). `DELETE` signs out.
 */
export function adminSessionRoutes(sessions: AdminSessionService): FastifyPluginAsyncZod {
  return async (app) => {
    app.addContentTypeParser(FORM, { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    app.post('/admin/session', {
      schema: {
        tags: ['ops'],
        summary: `Exchange an admin API key for a short-lived HttpOnly session cookie (for ${QUEUE_BOARD_PATH}). A form post is redirected there.`,
        consumes: ['application/json', FORM],
        body: z.object({ key: z.string().trim().min(1, 'expected an API key').max(512) }).strict(),
        response: {
          200: z.object({ role: z.string(), unit: z.string(), expiresAt: z.string() }),
          303: z.null().describe(`redirect to ${QUEUE_BOARD_PATH} (form posts)`),
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
        },
      },
      handler: async (req, reply: FastifyReply) => {
        let opened;
        try {
          opened = await sessions.open(req.body.key);
        } catch (err) {
          if (!(err instanceof AppError) || !isForm(req)) throw err;
          return reply.status(err.statusCode).type('text/html; charset=utf-8').send(loginPage(err.message));
        }
        const maxAge = Math.floor((opened.expiresAt.getTime() - Date.now()) / 1000);
        reply.header('set-cookie', cookie(req, opened.token, maxAge)).header('cache-control', 'no-store');
        if (isForm(req)) return reply.status(303).header('location', QUEUE_BOARD_PATH).send(null);
        return { role: opened.principal.role, unit: opened.principal.unitCode, expiresAt: opened.expiresAt.toISOString() };
      },
    });

    app.delete('/admin/session', {
      schema: {
        tags: ['ops'],
        summary: 'Sign out of the admin UIs (clears the session cookie)',
        response: { 204: z.null().describe('signed out') },
      },
      handler: async (req, reply) =>
        reply
          .status(204)
          .header('set-cookie', cookie(req, '', 0))
          .send(null),
    });
  };
}
