import { api } from '../api.js';
import { badge, connectLinkAction, emptyState, errorBox } from '../components.js';
import { h, replace } from '../dom.js';
import { dateTime, has, label, num, t } from '../i18n.js';

const FILTERS = [
  { id: 'attention', statuses: ['needs_reauth', 'expiring'] },
  { id: 'needs_reauth', statuses: ['needs_reauth'] },
  { id: 'expiring', statuses: ['expiring'] },
];

/** A machine reason in the chosen language; a code with no entry still reads as a sentence. */
function reasonLabel(code) {
  return has(`reason.${code}`) ? t(`reason.${code}`) : t('pages.reasonOther', { code: String(code).replace(/_/g, ' ') });
}

/**
 * The stored reason, in the chosen language. Reasons are `machine_reason: detail` (token checks and
 * failed deliveries) or, for a token about to expire, `the token expires at <ISO>; …`. The server's
 * English detail is kept in a closed "details" for operators, never as the text a user reads.
 */
function reasonText(reason) {
  if (!reason) return [t('pages.noReason')];
  const expires = /^(the token expires|data access expires) at (\S+?);/.exec(reason);
  if (expires) {
    return [
      h(
        'strong',
        {},
        t(expires[1] === 'data access expires' ? 'pages.dataAccessExpiresAt' : 'pages.tokenExpiresAt', { at: dateTime(expires[2]) }),
      ),
    ];
  }
  const m = /^([a-z_]+)(?::\s*(.*))?$/s.exec(reason);
  if (!m) return [reason];
  return [
    h('strong', {}, reasonLabel(m[1])),
    m[2] ? h('details', { class: 'reason-detail small muted' }, h('summary', {}, t('error.serverDetail')), h('span', {}, m[2])) : null,
  ];
}

/** Pages whose token must be reconnected (or soon will), by unit, with the reason. */
export function pagesView(main, { me } = {}) {
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
    // Connect links are for admins: other keys are told once, not on every row.
    me?.role === 'admin' ? null : h('p', { class: 'hint' }, t('pages.relinkAskAdmin')),
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
    const ancestors = p.ancestors ?? [];
    return h(
      'li',
      { class: `card page-item page-item--${p.tokenStatus}`, dataset: { unit: p.unitCode } },
      ancestors.length
        ? h(
            'nav',
            { class: 'page-item__path small muted', 'aria-label': t('pages.ancestorsOf', { name: p.unitName }) },
            ancestors.map((a) => h('span', { class: 'crumb', dataset: { unit: a.code } }, a.name)),
          )
        : null,
      h('div', { class: 'page-item__head' }, h('strong', {}, p.unitName), badge('token', p.tokenStatus, 'badge--small')),
      h('p', { class: 'small muted' }, t('pages.where', { type: p.unitType, code: p.unitCode, page: p.pageId })),
      h('div', { class: 'page-item__reason' }, ...reasonText(p.tokenStatusReason)),
      p.checkedAt ? h('p', { class: 'small muted' }, t('pages.checkedAt', { at: dateTime(p.checkedAt) })) : null,
      me?.role === 'admin' ? connectLinkAction({ code: p.unitCode, name: p.unitName }, me) : null,
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
