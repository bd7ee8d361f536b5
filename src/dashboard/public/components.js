import { api } from './api.js';
import { h, replace } from './dom.js';
import { label, num, t } from './i18n.js';

/** Segments of a progress bar, in drawing order. `pending` (queued + publishing) is the empty track. */
export const SEGMENTS = ['published', 'failed', 'skipped', 'cancelled', 'pending'];

/** Post counts ({queued, publishing, …}) → roll-up shape ({pending, …, total}). */
export function rollUp(counts, total) {
  const c = {
    published: counts.published,
    failed: counts.failed,
    skipped: counts.skipped,
    cancelled: counts.cancelled,
    pending: counts.queued + counts.publishing,
  };
  return { ...c, total: total ?? c.published + c.failed + c.skipped + c.cancelled + c.pending };
}

export function percentDone(r) {
  const done = r.published + r.failed + r.skipped + r.cancelled;
  return r.total ? Math.floor((done / r.total) * 100) : 0;
}

export function badge(kind, code, extraClass = '') {
  return h('span', { class: `badge badge--${code} ${extraClass}`.trim() }, label(kind, code));
}

/**
 * A stacked progress bar with its caption. Returns the element and `update(rollUp)`, so a live
 * stream only moves widths and numbers (no re-render, focus and scroll stay put).
 */
export function progressBar({ compact = false, legend: withLegend = !compact } = {}) {
  const fills = Object.fromEntries(SEGMENTS.map((s) => [s, h('span', { class: `bar__seg bar__seg--${s}` })]));
  const bar = h(
    'div',
    { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100, 'aria-valuenow': 0, 'aria-label': t('progress.label') },
    Object.values(fills),
  );
  const caption = h('p', { class: 'bar__caption' });
  const el = h('div', { class: `progress ${compact ? 'progress--compact' : ''}` }, bar, caption);
  const update = (r) => {
    const pct = percentDone(r);
    for (const s of SEGMENTS) fills[s].style.width = r.total ? `${(r[s] / r.total) * 100}%` : '0';
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
  return { el, update };
}

export function legend(r) {
  return h(
    'span',
    { class: 'legend' },
    SEGMENTS.filter((s) => r[s] > 0 || s === 'published' || s === 'failed').map((s) =>
      h(
        'span',
        { class: `legend__item legend__item--${s}` },
        h('span', { class: 'dot', 'aria-hidden': 'true' }),
        `${label('count', s)} ${num(r[s])}`,
      ),
    ),
  );
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

export const keyName = (id) => (id ? (keyNames.get(id) ?? id) : '—');

/** "Hà Nội (01) and every unit under it · districts, communes · except 2 units" */
export async function describeTarget(target) {
  if (!target || typeof target !== 'object') return '';
  const name = await unitName(target.unit);
  const parts = [t(target.scope === 'self' ? 'target.self' : 'target.subtree', { unit: `${name} (${target.unit})` })];
  if (target.levels?.length) parts.push(t('target.levels', { levels: target.levels.map((l) => label('level', l)).join(', ') }));
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

export function errorBox(err) {
  return h('p', { class: 'error', role: 'alert' }, t('error.load', { message: err?.message ?? String(err) }));
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
