import { api } from './api.js';
import { h, replace } from './dom.js';
import { dateTime, label, num, t } from './i18n.js';

/** Segments of a progress bar, in drawing order. `pending` (queued + publishing) is the empty track. */
export const SEGMENTS = ['published', 'failed', 'skipped', 'cancelled', 'pending'];
/** Segments of a recall's bar: the Page copies being deleted. `recalling` is the empty track. */
export const RECALL_SEGMENTS = ['recalled', 'recall_failed', 'recalling'];
const RECALL_POST_STATUSES = new Set(['recalling', 'recalled']);

/**
 * Post counts ({queued, publishing, …}) → roll-up shape ({pending, …, total}). The recall statuses
 * are counted too: a recalled post's deliveries are `recalled`, not published, failed or pending.
 */
export function rollUp(counts, total) {
  const c = {
    published: counts.published ?? 0,
    failed: counts.failed ?? 0,
    skipped: counts.skipped ?? 0,
    cancelled: counts.cancelled ?? 0,
    pending: (counts.queued ?? 0) + (counts.publishing ?? 0) + (counts.pending ?? 0),
    recalling: counts.recalling ?? 0,
    recalled: counts.recalled ?? 0,
    recall_failed: counts.recall_failed ?? 0,
  };
  const sum = Object.values(c).reduce((a, b) => a + b, 0);
  return { ...c, total: total ?? counts.total ?? sum };
}

/** A roll-up is in its recall phase once any copy is being or was recalled (or the post says so). */
export function inRecall(r, status) {
  return RECALL_POST_STATUSES.has(status) || (r.recalling ?? 0) + (r.recalled ?? 0) + (r.recall_failed ?? 0) > 0;
}

/** The copies a recall deletes: those that reached their Page (still published, or on their way out). */
export function recallTotal(r) {
  return (r.published ?? 0) + (r.recalling ?? 0) + (r.recalled ?? 0) + (r.recall_failed ?? 0);
}

export function percentDone(r) {
  const done = r.published + r.failed + r.skipped + r.cancelled + (r.recalling ?? 0) + (r.recalled ?? 0) + (r.recall_failed ?? 0);
  return r.total ? Math.floor((done / r.total) * 100) : 0;
}

/** Share of the recall that is over (deleted, or given up on). */
export function percentRecalled(r) {
  const total = recallTotal(r);
  return total ? Math.floor((((r.recalled ?? 0) + (r.recall_failed ?? 0)) / total) * 100) : 0;
}

export function badge(kind, code, extraClass = '') {
  return h('span', { class: `badge badge--${code} ${extraClass}`.trim() }, label(kind, code));
}

/**
 * A stacked progress bar with its caption. Returns the element and `update(rollUp, postStatus)`, so a
 * live stream only moves widths and numbers (no re-render, focus and scroll stay put). Once a recall
 * starts, the bar tells the recall: "Đã thu hồi 44 / 44 Trang", with its own segments and legend.
 */
export function progressBar({ compact = false, legend: withLegend = !compact } = {}) {
  const all = [...SEGMENTS, ...RECALL_SEGMENTS];
  const fills = Object.fromEntries(all.map((s) => [s, h('span', { class: `bar__seg bar__seg--${s}` })]));
  const bar = h(
    'div',
    { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0, 'aria-label': t('progress.label') },
    Object.values(fills),
  );
  const caption = h('p', { class: 'bar__caption' });
  const el = h('div', { class: `progress ${compact ? 'progress--compact' : ''}` }, bar, caption);
  const update = (r, status) => {
    if (inRecall(r, status)) return updateRecall(r);
    delete el.dataset.phase;
    const pct = percentDone(r);
    for (const s of all) fills[s].style.width = r.total && SEGMENTS.includes(s) ? `${(r[s] / r.total) * 100}%` : '0';
    bar.setAttribute('aria-label', t('progress.label'));
    bar.setAttribute('aria-valuenow', String(pct));
    bar.setAttribute('aria-valuetext', t('progress.valuetext', { pct, done: r.total - r.pending, total: r.total }));
    el.dataset.percent = String(pct);
    el.dataset.total = String(r.total);
    if (!r.total) return replace(caption, h('span', { class: 'muted' }, t('progress.notStarted')));
    replace(
      caption,
      h('strong', { class: 'bar__pct' }, `${pct}%`),
      ' ',
      t('progress.pages', { done: r.total - r.pending, total: r.total, n: r.total }),
      withLegend ? legend(r) : null,
    );
  };
  function updateRecall(r) {
    const total = recallTotal(r);
    const pct = percentRecalled(r);
    const widths = { recalled: r.recalled ?? 0, recall_failed: r.recall_failed ?? 0, recalling: 0 };
    for (const s of all) fills[s].style.width = total && s in widths ? `${(widths[s] / total) * 100}%` : '0';
    el.dataset.phase = 'recall';
    el.dataset.percent = String(pct);
    el.dataset.total = String(total);
    bar.setAttribute('aria-label', t('progress.recallLabel'));
    bar.setAttribute('aria-valuenow', String(pct));
    bar.setAttribute('aria-valuetext', t('progress.recallValuetext', { pct, done: r.recalled ?? 0, total }));
    const still = (r.recalling ?? 0) + (r.published ?? 0);
    replace(
      caption,
      h('strong', { class: 'bar__pct' }, t(still ? 'progress.recalling' : 'progress.recalled')),
      ' ',
      t('progress.pages', { done: r.recalled ?? 0, total, n: total }),
      withLegend ? recallLegend(r) : null,
    );
  }
  return { el, update };
}

export function legend(r) {
  return h(
    'span',
    { class: 'legend' },
    SEGMENTS.filter((s) => r[s] > 0 || s === 'published' || s === 'failed').map((s) => legendItem(s, r[s])),
  );
}

/** The recall's legend; the Pages a post never reached (failed, skipped) are named too, so every Page is counted. */
function recallLegend(r) {
  const still = (r.recalling ?? 0) + (r.published ?? 0);
  const items = [
    ['recalled', r.recalled ?? 0, true],
    ['recall_failed', r.recall_failed ?? 0, true],
    ['recalling', still, still > 0],
    ['failed', r.failed, r.failed > 0],
    ['skipped', r.skipped, r.skipped > 0],
    ['cancelled', r.cancelled, r.cancelled > 0],
    ['pending', r.pending, r.pending > 0],
  ];
  return h(
    'span',
    { class: 'legend' },
    items.filter(([, , show]) => show).map(([s, n]) => legendItem(s, n)),
  );
}

function legendItem(s, n) {
  return h(
    'span',
    { class: `legend__item legend__item--${s}` },
    h('span', { class: 'dot', 'aria-hidden': 'true' }),
    `${label('count', s)} ${num(n)}`,
  );
}

/**
 * The link to a delivery's Facebook copy, or null when there is none to open: never for a copy that
 * was deleted (recalled) or is being deleted, nor without a (safe) permalink.
 */
export function postLink(delivery) {
  if (!delivery || delivery.status === 'recalled' || delivery.status === 'recalling' || delivery.deleted) return null;
  return safeUrl(delivery.permalink);
}

/** Unit names and key names, fetched once per page load. */
const unitNames = new Map();
const keyNames = new Map();

export async function unitName(code) {
  if (!unitNames.has(code)) {
    unitNames.set(
      code,
      api(`/v1/units/${encodeURIComponent(code)}`)
        .then((u) => u.name)
        .catch(() => code),
    );
  }
  return unitNames.get(code);
}

export async function loadKeyNames(ids) {
  const missing = [...new Set(ids.filter((i) => i && !keyNames.has(i)))];
  if (missing.length) {
    const res = await api(`/v1/keys/names?ids=${missing.map(encodeURIComponent).join(',')}`).catch(() => ({ items: [] }));
    for (const id of missing) keyNames.set(id, id);
    for (const k of res.items) keyNames.set(k.id, k.name);
  }
}

/** The key that ADMIN_API_KEY stands for (see keys.service.ts): named in words, never by the variable. */
const BOOTSTRAP_ADMIN_ID = 'bootstrap-admin';

/** A key's display name; a key outside the caller's view is "another key", never a raw id. */
export const keyName = (id) => {
  if (!id) return '—';
  if (id === BOOTSTRAP_ADMIN_ID) return t('key.bootstrapAdmin');
  const name = keyNames.get(id);
  return name && name !== id ? name : t('key.unknown');
};

/**
 * Tree levels are named by the tree: 0 is the centre, 1 the provinces, the deepest level the communes,
 * anything between the districts. The deepest level comes from /v1/me (2 since the 2025-07 reform, 3
 * before); until it is known, 3 is assumed.
 */
let deepest = null;
let deepestLoad = null;
export function loadLevels() {
  deepestLoad ??= api('/v1/me')
    .then((me) => {
      if (Number.isInteger(me.deepestLevel)) deepest = me.deepestLevel;
    })
    .catch(() => {
      deepestLoad = null;
    });
  return deepestLoad;
}

export function levelName(level) {
  const d = deepest ?? 3;
  if (level <= 1) return label('level', level);
  if (level >= d) return label('level', 3);
  return label('level', 2);
}

/** "Hà Nội (01) and every unit under it · provinces, communes · except 2 units" */
export async function describeTarget(target) {
  if (!target || typeof target !== 'object') return '';
  const [name] = await Promise.all([unitName(target.unit), loadLevels()]);
  const parts = [t(target.scope === 'self' ? 'target.self' : 'target.subtree', { unit: `${name} (${target.unit})` })];
  if (target.levels?.length) parts.push(t('target.levels', { levels: target.levels.map((l) => levelName(l)).join(', ') }));
  if (target.exclude?.length) parts.push(t('target.exclude', { n: target.exclude.length }));
  return parts.join(' · ');
}

/** "Live" / "reconnecting…" indicator for a stream. */
export function liveIndicator() {
  const el = h('span', { class: 'live', role: 'status' });
  const set = (state) => {
    el.dataset.state = typeof state === 'string' ? state : 'error';
    el.textContent = typeof state === 'string' ? t(`live.${state}`) : state.message;
  };
  return { el, set };
}

/** Only http(s) links are rendered: a stored permalink can never become a `javascript:` URL. */
export const safeUrl = (url) => (typeof url === 'string' && /^https?:\/\//i.test(url) ? url : null);

export function emptyState(text) {
  return h('p', { class: 'empty' }, text);
}

/**
 * An error in the chosen language (api.js localizes it). The server's own words, when they tell more
 * (why a key may not, which field), sit in a closed "details" below, marked as the server's.
 */
export function errorBox(err) {
  const detail = err?.detail ?? null;
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('p', {}, t('error.load', { message: err?.message ?? String(err) })),
    detail ? h('details', { class: 'error__detail small' }, h('summary', {}, t('error.serverDetail')), h('code', {}, detail)) : null,
  );
}

/**
 * "Create a connect link" for a unit (admins; POST /v1/units/{code}/connect-links): the one-time URL
 * appears with a copy button. Other roles are told to ask an admin.
 */
export function connectLinkAction(unit, me) {
  const wrap = h('div', { class: 'relink', dataset: { unit: unit.code } });
  if (me?.role !== 'admin') {
    wrap.append(h('p', { class: 'hint small' }, t('relink.askAdmin', { name: unit.name ?? unit.code })));
    return wrap;
  }
  const out = h('div', { class: 'relink__out', role: 'status' });
  const button = h(
    'button',
    {
      type: 'button',
      class: 'btn btn--small',
      'aria-label': t('relink.createFor', { name: unit.name ?? unit.code }),
      onclick: async () => {
        button.disabled = true;
        replace(out, h('span', { class: 'small muted' }, t('relink.creating')));
        try {
          const res = await api(`/v1/units/${encodeURIComponent(unit.code)}/connect-links`, { method: 'POST', body: {} });
          const input = h('input', {
            type: 'text',
            readonly: true,
            class: 'relink__url',
            value: res.url,
            'aria-label': t('relink.urlFor', { name: unit.name ?? unit.code }),
          });
          const copied = h('span', { class: 'small' });
          const copy = h(
            'button',
            {
              type: 'button',
              class: 'btn btn--small btn--ghost',
              onclick: async () => {
                try {
                  await navigator.clipboard.writeText(res.url);
                  replace(copied, t('relink.copied'));
                } catch {
                  input.select();
                  replace(copied, t('relink.copyFailed'));
                }
              },
            },
            t('relink.copy'),
          );
          replace(
            out,
            h('div', { class: 'relink__row' }, input, copy),
            h('p', { class: 'hint small' }, t('relink.expires', { at: dateTime(res.expiresAt) })),
            copied,
          );
        } catch (err) {
          replace(out, err.missingRoute ? h('p', { class: 'small' }, t('relink.unavailable')) : errorBox(err));
        } finally {
          button.disabled = false;
        }
      },
    },
    t('relink.create'),
  );
  wrap.append(button, out);
  return wrap;
}

/** The small grey "retired" tag next to a unit that a reorganisation dissolved since. */
export function retiredTag(hidden = false) {
  return h('span', { class: 'tag tag--retired', hidden }, t('unit.retired'));
}

const TABLE_STEP = 100;

/**
 * A table of rows (`columns`: `{title, cell(row) → text or node}`) in a horizontally scrollable,
 * focusable region, so a wide table never scrolls the page sideways. Long lists show 100 rows at a
 * time with "show more".
 */
export function dataTable(columns, rows, { label: name, className = '' } = {}) {
  const body = h('tbody');
  const count = h('span', { class: 'small muted' });
  const more = h('button', { type: 'button', class: 'btn btn--small', hidden: true }, t('common.more'));
  let shown = 0;
  const showMore = () => {
    const next = rows.slice(shown, shown + TABLE_STEP);
    body.append(
      ...next.map((r) =>
        h(
          'tr',
          {},
          columns.map((c) => h('td', {}, c.cell(r))),
        ),
      ),
    );
    shown += next.length;
    more.hidden = shown >= rows.length;
    replace(count, rows.length > TABLE_STEP ? t('table.shown', { shown, total: rows.length }) : '');
  };
  more.addEventListener('click', showMore);
  showMore();
  return h(
    'div',
    { class: `table-block ${className}`.trim() },
    h(
      'div',
      { class: 'table-wrap', role: 'region', tabindex: 0, 'aria-label': name },
      h(
        'table',
        { class: 'table' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            columns.map((c) => h('th', { scope: 'col' }, c.title)),
          ),
        ),
        body,
      ),
    ),
    rows.length > TABLE_STEP ? h('div', { class: 'table-more' }, count, more) : null,
  );
}
