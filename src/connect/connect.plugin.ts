import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import type { Deps } from '../deps';
import type { CandidatePage, Failure } from '../services/onboarding/connect-links.service';
import { langOf, MESSAGES, type Lang } from './messages';

/**
 * The public connect pages (no API key): server-rendered HTML, no script at all, one stylesheet from
 * this origin. The forms post to this origin only. Referrer-Policy no-referrer keeps the link token
 * and the OAuth code of the address bar from reaching any other site.
 */
const CSP = [
  "default-src 'none'",
  "style-src 'self'",
  "img-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const STYLE = `body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1c1e21;line-height:1.5}
h1{font-size:1.4rem}.button{display:inline-block;background:#1877f2;color:#fff;border:0;border-radius:6px;padding:.6rem 1.2rem;font-size:1rem;text-decoration:none;cursor:pointer}
.failure{border-left:4px solid #c0392b;padding-left:1rem}.done{border-left:4px solid #27ae60;padding-left:1rem}
ul.pages{list-style:none;padding:0}ul.pages li{margin:.4rem 0}.note{color:#65676b;font-size:.9rem}nav{margin-top:2rem;font-size:.9rem}`;

const escapeHtml = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Paths of this plugin never reach a log line whole: the link token is in the path, the OAuth code in the query. */
export function redactConnectUrl(url: string): string {
  const path = url.split('?')[0]!;
  if (path === '/connect/callback' || path === '/connect/style.css') return path;
  return path.replace(/^\/connect\/[^/]+/, '/connect/[redacted]');
}

function layout(lang: Lang, title: string, body: string, langHref: string | null): string {
  const m = MESSAGES[lang];
  const nav = langHref ? `<nav><a href="${escapeHtml(langHref)}" hreflang="${lang === 'vi' ? 'en' : 'vi'}">${m.otherLang}</a></nav>` : '';
  return (
    `<!DOCTYPE html><html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="referrer" content="no-referrer"><title>${escapeHtml(title)} · Lan Tỏa</title><link rel="stylesheet" href="/connect/style.css"></head>` +
    `<body><main><h1>${escapeHtml(title)}</h1>${body}</main>${nav}</body></html>`
  );
}

function send(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply
    .status(status)
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', CSP)
    .header('referrer-policy', 'no-referrer')
    .header('cache-control', 'no-store')
    .header('x-content-type-options', 'nosniff')
    .send(html);
}

const STATUS: Partial<Record<Failure['kind'], number>> = {
  unknown_link: 404,
  link_used: 410,
  link_expired: 410,
  unit_retired: 410,
  state_mismatch: 403,
  not_configured: 503,
  graph_unavailable: 503,
  page_taken: 409,
};

function failurePage(reply: FastifyReply, lang: Lang, f: Failure, langHref: string | null): FastifyReply {
  const m = MESSAGES[lang];
  const t = m.failures[f.kind];
  const unit = f.unit ? `<p>${escapeHtml(f.unit.name)} (${escapeHtml(f.unit.code)})</p>` : '';
  const body = `<section class="failure" data-failure="${f.kind}">${unit}<p>${escapeHtml(t.what)}</p><p>${escapeHtml(t.todo)}</p></section>`;
  return send(reply, STATUS[f.kind] ?? 400, layout(lang, m.failureTitle, body, langHref));
}

function pickForm(lang: Lang, linkId: string, state: string, unitName: string, pages: CandidatePage[]): string {
  const m = MESSAGES[lang];
  const hidden = `<input type="hidden" name="state" value="${escapeHtml(state)}">` + `<input type="hidden" name="lang" value="${lang}">`;
  const action = `/connect/${encodeURIComponent(linkId)}/pick`;
  if (pages.length === 1) {
    const p = pages[0]!;
    const note = p.canPublish ? '' : ` <span class="note">${escapeHtml(m.noCreateContent)}</span>`;
    return (
      `<p>${escapeHtml(m.confirmIntro(unitName))}</p><p><strong>${escapeHtml(p.name)}</strong>${note}</p>` +
      `<form method="post" action="${action}">${hidden}<input type="hidden" name="pageId" value="${escapeHtml(p.id)}">` +
      `<button class="button" type="submit">${escapeHtml(m.confirmButton)}</button></form>`
    );
  }
  const items = pages
    .map((p, i) => {
      const note = p.canPublish ? '' : ` <span class="note">${escapeHtml(m.noCreateContent)}</span>`;
      const id = `page-${i}`;
      return `<li><input type="radio" name="pageId" id="${id}" value="${escapeHtml(p.id)}"${i === 0 ? ' required' : ''}> <label for="${id}">${escapeHtml(p.name)}</label>${note}</li>`;
    })
    .join('');
  return (
    `<p>${escapeHtml(m.pickIntro(unitName))}</p><form method="post" action="${action}">${hidden}<ul class="pages">${items}</ul>` +
    `<button class="button" type="submit">${escapeHtml(m.pickButton)}</button></form>`
  );
}

/** A query-only relative address: the page's own path (which holds the link token) is never written into it. */
function otherLangHref(lang: Lang): string {
  return lang === 'vi' ? '?lang=en' : '?lang=vi';
}

/** `GET /connect/:token`, `GET /connect/callback`, `POST /connect/:token/pick`: the self-service connect flow. */
export function connectPlugin(deps: Deps): FastifyPluginAsync {
  return async (app) => {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });

    // HTML for people, not API: left out of the OpenAPI document (as the dashboard is).
    const hidden = { schema: { hide: true } };

    app.get('/connect/style.css', hidden, async (_req, reply) =>
      reply.header('content-type', 'text/css; charset=utf-8').header('cache-control', 'no-cache').send(STYLE),
    );

    app.get<{ Querystring: Record<string, string | undefined> }>('/connect/callback', hidden, async (req, reply) => {
      const lang = langOf(req.query);
      const q = req.query;
      const r = await deps.connectLinks.callback({ code: q['code'], state: q['state'], error: q['error'] });
      // The address holds the code: the language switch must not carry it along.
      if (!r.ok) return failurePage(reply, lang, r, null);
      const m = MESSAGES[lang];
      const title = r.pages.length === 1 ? m.confirmButton : m.pickTitle;
      return send(reply, 200, layout(lang, `${m.title}: ${title}`, pickForm(lang, r.linkId, r.state, r.unit.name, r.pages), null));
    });

    app.get<{ Params: { token: string }; Querystring: Record<string, string | undefined> }>(
      '/connect/:token',
      hidden,
      async (req, reply) => {
        const lang = langOf(req.query);
        const href = otherLangHref(lang);
        const r = await deps.connectLinks.dialogUrl(req.params.token);
        if (!r.ok) return failurePage(reply, lang, r, href);
        const m = MESSAGES[lang];
        const expires = `<p class="note">${escapeHtml(m.expires(r.expiresAt.slice(0, 16).replace('T', ' ')))}</p>`;
        const body =
          `<p>${escapeHtml(m.openIntro(`${r.unit.name} (${r.unit.code})`))}</p>` +
          `<p><a class="button" id="login" href="${escapeHtml(r.url)}">${escapeHtml(m.loginButton)}</a></p>${expires}`;
        return send(reply, 200, layout(lang, m.title, body, href));
      },
    );

    app.post<{ Params: { token: string }; Body: Record<string, string | undefined> | undefined }>(
      '/connect/:token/pick',
      hidden,
      async (req, reply) => {
        const body = req.body && typeof req.body === 'object' ? req.body : {};
        const lang = langOf({ lang: body['lang'] ?? (req.query as Record<string, unknown>)['lang'] });
        const r = await deps.connectLinks.pick({ link: req.params.token, state: body['state'], pageId: body['pageId'] });
        if (!r.ok) return failurePage(reply, lang, r, null);
        const m = MESSAGES[lang];
        const extra = r.tokenStatus === 'needs_reauth' ? `<p data-status="needs_reauth">${escapeHtml(m.doneNeedsReauth)}</p>` : '';
        const html = `<section class="done" data-status="${r.tokenStatus}"><p>${escapeHtml(m.done(r.page.name, `${r.unit.name} (${r.unit.code})`))}</p>${extra}</section>`;
        return send(reply, 200, layout(lang, m.doneTitle, html, null));
      },
    );
  };
}
