import { sleep } from './dom.js';
import { label, t } from './i18n.js';

/**
 * The API key lives in sessionStorage (gone when the tab closes) and only ever travels in the
 * Authorization header: never in a URL, so it stays out of server logs, history and referrers.
 */
const KEY = 'lantoa.apiKey';

export const session = {
  get key() {
    return sessionStorage.getItem(KEY);
  },
  set(key) {
    sessionStorage.setItem(KEY, key);
  },
  clear() {
    sessionStorage.removeItem(KEY);
  },
};

/** `not found` subjects the server names (`post <id> not found`) that have a message of their own. */
const NOT_FOUND_SUBJECTS = ['post', 'unit', 'page', 'key', 'webhook', 'edit'];

/**
 * The error in the chosen language. The server's own text (English, for operators and logs) is kept
 * as `serverMessage`; `detail` holds it only where it tells the user more than the localized text
 * (why a key may not do something, which status is in the way), and is null otherwise.
 */
function localize(status, code, serverMessage, details) {
  if (status === 0) return { message: t('error.network'), detail: null };
  if (code === 'unit_retired') return { message: t('error.unitRetired'), detail: null };
  if (status === 400 && code === 'VALIDATION_FAILED') {
    const fields = [...new Set((details?.problems ?? []).map((p) => p.field ?? (p.line ? `#${p.line}` : null)).filter(Boolean))];
    return fields.length
      ? { message: t('error.invalidFields', { fields: fields.slice(0, 5).join(', '), n: fields.length }), detail: serverMessage }
      : { message: t('error.invalid'), detail: serverMessage };
  }
  if (status === 401) return { message: t('error.unauthenticated'), detail: null };
  if (status === 403) return { message: t('error.forbidden'), detail: serverMessage };
  if (status === 404) {
    const subject = /^(\w+) .* not found$|^(\w+) not found$/.exec(serverMessage ?? '');
    const what = subject?.[1] ?? subject?.[2];
    return { message: NOT_FOUND_SUBJECTS.includes(what) ? t(`error.notFound.${what}`) : t('error.notFound'), detail: null };
  }
  if (status === 409) {
    return details?.status
      ? { message: t('error.conflictStatus', { status: label('post', details.status) }), detail: serverMessage }
      : { message: t('error.conflict'), detail: serverMessage };
  }
  if (status === 413) return { message: t('error.tooLarge'), detail: null };
  if (status === 415) return { message: t('error.mediaType'), detail: serverMessage };
  if (status === 429) return { message: t('error.rateLimited'), detail: null };
  if (status === 503) return { message: t('error.unavailable'), detail: null };
  if (status >= 500) return { message: t('error.server', { status }), detail: null };
  return { message: t('error.http', { status }), detail: serverMessage };
}

export class ApiError extends Error {
  /**
   * `message` is in the chosen language (see localize); `serverMessage` is what the server said.
   * `details` is the error body's `details` (e.g. `{problems: […]}` of a 400), or null.
   */
  constructor(status, code, serverMessage, details = null) {
    const { message, detail } = localize(status, code, serverMessage, details);
    super(message);
    this.status = status;
    this.code = code;
    this.serverMessage = serverMessage;
    this.detail = detail && detail !== message ? detail : null;
    this.details = details;
  }

  /** A 404 from the router itself: the route does not exist on this server (yet). */
  get missingRoute() {
    return this.status === 404 && /^no route /.test(this.serverMessage ?? '');
  }
}

function signedOut() {
  session.clear();
  window.dispatchEvent(new CustomEvent('lantoa:signedout'));
}

async function toError(res) {
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON */
  }
  return new ApiError(
    res.status,
    body?.error?.code ?? `HTTP_${res.status}`,
    body?.error?.message ?? res.statusText,
    body?.error?.details ?? null,
  );
}

/** fetch, with a network failure (server down, offline) turned into an ApiError the views can show. */
async function send(path, init) {
  try {
    return await fetch(path, init);
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError(0, 'NETWORK', err?.message ?? 'network error');
  }
}

function headers(extra = {}) {
  return { authorization: `Bearer ${session.key ?? ''}`, ...extra };
}

/** JSON call to the API; a 401 signs the user out. `headers` adds request headers (e.g. Idempotency-Key). */
export async function api(path, { method = 'GET', body, signal, key, headers: extra = {} } = {}) {
  const res = await send(path, {
    method,
    signal,
    cache: 'no-store',
    headers: {
      ...headers({ accept: 'application/json', ...extra }),
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 401 && !key) signedOut();
    throw err;
  }
  return res.json();
}

/**
 * A call whose answer is a file (e.g. a CSV): `{blob, filename}`, the name from Content-Disposition
 * when the server gives one. Errors and a 401 behave as in `api`.
 */
export async function apiFile(path, { method = 'GET', body, accept = 'text/csv' } = {}) {
  const res = await send(path, {
    method,
    cache: 'no-store',
    headers: headers({ accept, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }),
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) {
    const err = await toError(res);
    if (res.status === 401) signedOut();
    throw err;
  }
  const disposition = res.headers.get('content-disposition') ?? '';
  const filename = /filename="?([^";]+)"?/i.exec(disposition)?.[1] ?? null;
  return { blob: await res.blob(), filename };
}

function parseBlock(block) {
  let event = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (!line || line.startsWith(':')) continue;
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  if (!data.length) return null;
  try {
    return { event, data: JSON.parse(data.join('\n')) };
  } catch {
    return null;
  }
}

/**
 * Server-sent events over fetch (EventSource cannot send an Authorization header). Reconnects with
 * back-off until the server sends `end`, a 4xx arrives, or the returned function is called.
 * `onState` gets 'live', 'reconnecting', 'ended' or an ApiError.
 */
export function subscribe(path, onEvent, onState = () => {}) {
  const ac = new AbortController();
  let ended = false;
  let delay = 1_000;
  (async () => {
    while (!ac.signal.aborted && !ended) {
      try {
        const res = await fetch(path, { headers: headers({ accept: 'text/event-stream' }), signal: ac.signal, cache: 'no-store' });
        if (!res.ok) {
          const err = await toError(res);
          if (res.status === 401) signedOut();
          onState(err);
          if (res.status < 500) return;
          throw err;
        }
        onState('live');
        delay = 1_000;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf('\n\n')) >= 0) {
            const ev = parseBlock(buf.slice(0, i));
            buf = buf.slice(i + 2);
            if (!ev) continue;
            if (ev.event === 'end') ended = true;
            onEvent(ev.event, ev.data);
          }
        }
      } catch {
        if (ac.signal.aborted) return;
      }
      if (ended) return onState('ended');
      if (ac.signal.aborted) return;
      onState('reconnecting');
      await sleep(delay, ac.signal);
      delay = Math.min(delay * 2, 10_000);
    }
  })();
  return () => ac.abort();
}
