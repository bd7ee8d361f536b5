import { api } from '../api.js';
import { badge, emptyState, errorBox } from '../components.js';
import { h, replace } from '../dom.js';
import { dateTime, label, num, t } from '../i18n.js';

const FILTERS = [
  { id: 'attention', statuses: ['needs_reauth', 'expiring'] },
  { id: 'needs_reauth', statuses: ['needs_reauth'] },
  { id: 'expiring', statuses: ['expiring'] },
];

/** "machine_reason: detail" → the translated reason, then the server's detail (in English) below it. */
function reasonText(reason) {
  if (!reason) return [t('pages.noReason')];
  const m = /^([a-z_]+)(?::\s*(.*))?$/s.exec(reason);
  if (!m) return [reason];
  return [h('strong', {}, label('reason', m[1])), m[2] ? h('span', { class: 'small muted reason-detail' }, m[2]) : null];
}

/** Pages whose token must be reconnected (or soon will), by unit, with the reason. */
export function pagesView(main) {
  const state = { filter: FILTERS[0], cursor: null };
  const summary = h('div', { class: 'chips', 'aria-live': 'polite' });
  const list = h('ul', { class: 'page-list' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => load(false) }, t('common.more'));
  const buttons = FILTERS.map((f) =>
    h(
      'button',
      { type: 'button', class: 'seg', 'aria-pressed': String(f === state.filter), onclick: () => choose(f) },
      t(`pages.filter.${f.id}`),
    ),
  );
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, t('pages.title'))),
    h('p', { class: 'lead' }, t('pages.lead')),
    summary,
    h('div', { class: 'segmented', role: 'group', 'aria-label': t('pages.filterLabel') }, buttons),
    list,
    h('div', { class: 'more' }, more),
  );

  function choose(f) {
    state.filter = f;
    FILTERS.forEach((x, i) => buttons[i].setAttribute('aria-pressed', String(x === f)));
    load(true);
  }

  function item(p) {
    return h(
      'li',
      { class: `card page-item page-item--${p.tokenStatus}`, dataset: { unit: p.unitCode } },
      h('div', { class: 'page-item__head' }, h('strong', {}, p.unitName), badge('token', p.tokenStatus, 'badge--small')),
      h('p', { class: 'small muted' }, t('pages.where', { type: p.unitType, code: p.unitCode, page: p.pageId })),
      h('p', { class: 'page-item__reason' }, ...reasonText(p.tokenStatusReason)),
      p.checkedAt ? h('p', { class: 'small muted' }, t('pages.checkedAt', { at: dateTime(p.checkedAt) })) : null,
    );
  }

  async function load(reset) {
    if (reset) {
      state.cursor = null;
      list.replaceChildren();
    }
    more.disabled = true;
    try {
      const q = new URLSearchParams({ limit: '50' });
      for (const s of state.filter.statuses) q.append('status', s);
      if (state.cursor) q.set('cursor', state.cursor);
      const res = await api(`/v1/pages?${q}`);
      replace(
        summary,
        ['needs_reauth', 'expiring', 'valid', 'unknown'].map((s) =>
          h('span', { class: `chip chip--${s}` }, h('strong', {}, num(res.counts[s])), ' ', label('token', s)),
        ),
      );
      list.append(...res.items.map(item));
      if (!list.children.length) list.append(emptyState(t('pages.empty')));
      state.cursor = res.nextCursor;
      more.hidden = !res.nextCursor;
    } catch (err) {
      list.append(errorBox(err));
    } finally {
      more.disabled = false;
    }
  }

  load(true);
  return () => {};
}
