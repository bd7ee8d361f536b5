import { sleep } from './dom.js';

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

export class ApiError extends Error {
  /** `details` is the error body's `details` (e.g. `{problems: […]}` of a 400), or null. */
  constructor(status, code, message, details = null) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** A 404 from the router itself: the route does not exist on this server (yet). */
  get missingRoute() {
    return this.status === 404 && /^no route /.test(this.message);
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

function headers(extra = {}) {
  return { authorization: `Bearer ${session.key ?? ''}`, ...extra };
}

/** JSON call to the API; a 401 signs the user out. `headers` adds request headers (e.g. Idempotency-Key). */
export async function api(path, { method = 'GET', body, signal, key, headers: extra = {} } = {}) {
  const res = await fetch(path, {
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
  const res = await fetch(path, {
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
