import { api, apiFile } from '../api.js';
import { dataTable, emptyState, errorBox } from '../components.js';
import { h, replace } from '../dom.js';
import { dateTime, label, num, t } from '../i18n.js';

/** Coverage states in drawing order (best first); `key` is the field of a totals object. */
const STATES = [
  { id: 'connected', key: 'connected' },
  { id: 'needs_reauth', key: 'needsReauth' },
  { id: 'expiring', key: 'expiring' },
  { id: 'missing', key: 'missing' },
];
/** The lists a person can ask for under the selected unit (`?list=`); `null` shows the totals only. */
const FILTERS = [null, 'missing', 'needs_reauth', 'expiring'];

/** Connect links are for admin keys; the server checks the unit (its own or an ancestor's admin). */
export const canConnect = (me) => me?.role === 'admin';

const coverageUrl = (code, query = '') => `/v1/units/${encodeURIComponent(code)}/coverage${query}`;

/**
 * Name of a tree level. The catalogue names the tree before 2025-07 (districts at 2, communes at 3);
 * since the reorganisation the tree has two levels and level 2 is the communes, so when the deepest
 * level seen is 2, it is named like the communes.
 */
let deepestLevel = 3;
const levelName = (level) => label('level', deepestLevel <= 2 && level === 2 ? 3 : level);
const noteDepth = (res) => {
  if (res.levels?.length) deepestLevel = Math.max(...res.levels.map((l) => l.level));
};

/** `levels` of a coverage answer → one totals object over the whole subtree. */
function sumLevels(levels) {
  const total = { units: 0, connected: 0, needsReauth: 0, expiring: 0, missing: 0 };
  for (const l of levels) for (const k of Object.keys(total)) total[k] += l[k] ?? 0;
  return total;
}

const percent = (tot) => (tot.units ? Math.floor((tot.connected / tot.units) * 100) : 0);

/**
 * A stacked bar of a subtree's units by state, with its caption. `data-*` carry the numbers so a test
 * (or a person with devtools) can read them; `update(totals)` moves widths and text in place.
 */
function coverageBar(name, { compact = false } = {}) {
  const fills = Object.fromEntries(STATES.map((s) => [s.id, h('span', { class: `bar__seg cov-seg--${s.id}` })]));
  const bar = h(
    'div',
    {
      class: 'bar',
      role: 'progressbar',
      'aria-valuemin': 0,
      'aria-valuemax': 100,
      'aria-valuenow': 0,
      'aria-label': t('cov.barLabel', { name }),
    },
    Object.values(fills),
  );
  const caption = h('p', { class: 'bar__caption' });
  const el = h('div', { class: `progress cov-progress ${compact ? 'progress--compact' : ''}`.trim() }, bar, caption);
  const update = (tot) => {
    const pct = percent(tot);
    for (const s of STATES) fills[s.id].style.width = tot.units ? `${(tot[s.key] / tot.units) * 100}%` : '0';
    bar.setAttribute('aria-valuenow', String(pct));
    bar.setAttribute('aria-valuetext', t('cov.valuetext', { pct, ...tot }));
    el.dataset.percent = String(pct);
    for (const k of ['units', 'connected', 'needsReauth', 'expiring', 'missing']) el.dataset[k] = String(tot[k]);
    if (!tot.units) return replace(caption, h('span', { class: 'muted' }, t('cov.noUnits')));
    replace(
      caption,
      h('strong', { class: 'bar__pct' }, `${pct}%`),
      ' ',
      h('span', {}, t('cov.connectedOf', { connected: tot.connected, units: tot.units, n: tot.units })),
      h(
        'span',
        { class: 'legend' },
        STATES.filter((s) => !compact || tot[s.key] > 0).map((s) =>
          h(
            'span',
            { class: `legend__item cov-legend--${s.id}`, dataset: { state: s.id } },
            h('span', { class: 'dot', 'aria-hidden': 'true' }),
            `${t(`cov.state.${s.id}`)} ${num(tot[s.key])}`,
          ),
        ),
      ),
    );
  };
  return { el, update };
}

/** Copies `text`; falls back to selecting the input (the person then copies by hand). */
async function copy(text, input) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input.focus();
    input.select();
    return false;
  }
}

const safeFileName = (name) => (name ?? '').replace(/[^\w.-]+/g, '_').replace(/^[._]+/, '') || null;

/**
 * "Page connections": from the key's unit down, how many units can be posted to (a Page with a valid
 * token) and why the others cannot, one level at a time. Selecting a unit shows its totals per level,
 * the units under it in one state, and, for an admin, a one-time connect link for the unit or a CSV of
 * links for every unit under it that has no connected Page.
 */
export function connectionsView(main, { me }) {
  const admin = canConnect(me);
  const state = { selected: null, filter: null, generation: 0, alive: true };
  const rows = new Map();

  const tree = h('ul', { class: 'tree cov-tree' });
  const panelTitle = h('h2', { id: 'cov-panel-title', tabindex: -1 });
  const panelBar = { current: null };
  const panelBarWrap = h('div', {});
  const levels = h('div', { class: 'cov-levels' });
  const filterButtons = FILTERS.map((f) =>
    h(
      'button',
      {
        type: 'button',
        class: 'seg',
        'aria-pressed': String(f === state.filter),
        dataset: { filter: f ?? 'none' },
        onclick: () => choose(f),
      },
      t(f ? `cov.filter.${f}` : 'cov.filter.none'),
    ),
  );
  const list = h('div', { class: 'cov-list', 'aria-live': 'polite' });
  const actions = h('div', { class: 'cov-actions' });
  const panel = h(
    'section',
    { class: 'card cov-panel', 'aria-labelledby': 'cov-panel-title' },
    h('p', { class: 'small muted' }, t('cov.current')),
    panelTitle,
    panelBarWrap,
    h('h3', {}, t('cov.levelsTitle')),
    levels,
    h('h3', {}, t('cov.listTitle')),
    h('div', { class: 'segmented', role: 'group', 'aria-label': t('cov.filterLabel') }, filterButtons),
    list,
    actions,
  );

  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, t('cov.title'))),
    h('p', { class: 'lead' }, t('cov.lead')),
    h(
      'div',
      { class: 'cov-layout' },
      h('section', { class: 'card cov-tree-card', 'aria-label': t('cov.treeTitle') }, h('h2', {}, t('cov.treeTitle')), tree),
      panel,
    ),
  );

  // ---- the tree ----

  function row(unit, totals) {
    const hasChildren = totals.units > 1;
    const bar = coverageBar(unit.name, { compact: true });
    bar.update(totals);
    const kids = h('ul', { class: 'tree', id: `cov-kids-${unit.code}`, hidden: true });
    const toggle = hasChildren
      ? h('button', {
          type: 'button',
          class: 'tree-toggle',
          'aria-expanded': 'false',
          'aria-controls': `cov-kids-${unit.code}`,
          'aria-label': t('tree.expand', { name: unit.name }),
        })
      : h('span', { class: 'tree-toggle tree-toggle--leaf', 'aria-hidden': 'true' });
    const select = h(
      'button',
      { type: 'button', class: 'cov-select', 'aria-pressed': 'false', onclick: () => selectUnit(unit, totals, true) },
      h('span', { class: 'cov-select__name' }, unit.name),
      h('small', { class: 'muted' }, ` ${levelName(unit.level)} · ${unit.code}`),
    );
    const li = h(
      'li',
      { class: 'tree-node cov-node', dataset: { code: unit.code } },
      h('div', { class: 'tree-row cov-row' }, toggle, h('span', { class: 'tree-name' }, select), bar.el),
      kids,
    );
    const r = { unit, totals, li, kids, toggle, select, open: false, loaded: false };
    if (hasChildren) toggle.addEventListener('click', () => setOpen(r, !r.open));
    rows.set(unit.code, r);
    return r;
  }

  function fill(r, children) {
    r.kids.replaceChildren(...children.map((c) => row(c, c.totals).li));
    if (!children.length) r.kids.append(h('li', { class: 'muted small' }, t('cov.noChildren')));
  }

  async function setOpen(r, open) {
    r.open = open;
    r.toggle.setAttribute('aria-expanded', String(open));
    r.toggle.setAttribute('aria-label', t(open ? 'tree.collapse' : 'tree.expand', { name: r.unit.name }));
    r.kids.hidden = !open;
    if (!open || r.loaded) return;
    r.kids.replaceChildren(h('li', { class: 'muted small' }, t('common.loading')));
    try {
      const res = await api(coverageUrl(r.unit.code, '?children=true'));
      if (!state.alive) return;
      r.loaded = true;
      fill(r, res.children ?? []);
    } catch (err) {
      r.kids.replaceChildren(h('li', {}, errorBox(err)));
    }
  }

  // ---- the selected unit ----

  function choose(f) {
    state.filter = f;
    FILTERS.forEach((x, i) => filterButtons[i].setAttribute('aria-pressed', String(x === f)));
    loadList();
  }

  function selectUnit(unit, totals, focus = false) {
    state.selected = { unit, totals };
    for (const r of rows.values()) r.select.setAttribute('aria-pressed', String(r.unit.code === unit.code));
    replace(panelTitle, unit.name, ' ', h('small', { class: 'muted' }, `(${unit.code})`));
    panelBar.current = coverageBar(unit.name);
    panelBar.current.update(totals);
    replace(panelBarWrap, panelBar.current.el);
    renderActions();
    loadList();
    if (focus) panelTitle.focus();
  }

  function levelsTable(res) {
    if (!res.levels.length) return emptyState(t('cov.noUnits'));
    return dataTable(
      [
        { title: t('cov.col.level'), cell: (l) => levelName(l.level) },
        { title: t('cov.col.units'), cell: (l) => num(l.units) },
        ...STATES.map((s) => ({ title: t(`cov.state.${s.id}`), cell: (l) => num(l[s.key]) })),
      ],
      res.levels,
      { label: t('cov.levelsTitle'), className: 'cov-levels-table' },
    );
  }

  function unitsTable(units, name) {
    if (!units.items.length) return emptyState(t('cov.list.empty', { name }));
    return h(
      'div',
      {},
      h('p', { class: 'small cov-list__count' }, t('cov.list.count', { n: units.items.length, state: t(`cov.filter.${units.state}`) })),
      units.truncated
        ? h('p', { class: 'notice notice--warn cov-truncated', role: 'status' }, t('cov.list.truncated', { shown: units.items.length }))
        : null,
      dataTable(
        [
          { title: t('cov.col.name'), cell: (u) => u.name },
          { title: t('cov.col.code'), cell: (u) => h('code', {}, u.code) },
          { title: t('cov.col.level'), cell: (u) => levelName(u.level) },
        ],
        units.items,
        { label: t('cov.listTitle'), className: 'cov-units' },
      ),
    );
  }

  /** The selected unit's totals per level, and with a filter the units in that state (one request). */
  async function loadList() {
    const sel = state.selected;
    if (!sel) return;
    const generation = ++state.generation;
    const filter = state.filter;
    replace(list, filter ? h('p', { class: 'muted small' }, t('common.loading')) : null);
    try {
      const res = await api(coverageUrl(sel.unit.code, filter ? `?list=${encodeURIComponent(filter)}` : ''));
      if (generation !== state.generation || !state.alive) return;
      const totals = sumLevels(res.levels);
      panelBar.current?.update(totals);
      replace(levels, levelsTable(res));
      replace(list, filter && res.units ? unitsTable(res.units, sel.unit.name) : null);
    } catch (err) {
      if (generation !== state.generation || !state.alive) return;
      replace(list, errorBox(err));
    }
  }

  // ---- connect links (admins) ----

  function renderActions() {
    const sel = state.selected;
    if (!admin) {
      replace(actions, h('p', { class: 'hint' }, t('cov.adminOnly')));
      return;
    }
    const notice = h('p', { class: 'notice', role: 'status', hidden: true });
    const out = h('div', { class: 'cov-link-out' });
    const say = (text, kind = 'info') => {
      notice.className = `notice notice--${kind}`;
      replace(notice, text);
      notice.hidden = false;
    };
    const createButton = h('button', { type: 'button', class: 'btn btn--primary' }, t('cov.createLink'));
    const csvButton = h('button', { type: 'button', class: 'btn' }, t('cov.downloadCsv'));
    const busy = (b) => {
      createButton.disabled = b;
      csvButton.disabled = b;
    };
    const stillHere = () => state.alive && state.selected === sel;

    function showFailure(err) {
      if (err.missingRoute) say(t('cov.linksUnavailable'), 'warn');
      else if (err.status === 403) say(t('cov.forbidden', { message: err.message }), 'error');
      else say(t('error.load', { message: err.message }), 'error');
    }

    createButton.addEventListener('click', async () => {
      busy(true);
      replace(out);
      say(t('cov.creatingLink'));
      try {
        const res = await api(`/v1/units/${encodeURIComponent(sel.unit.code)}/connect-links`, { method: 'POST', body: {} });
        if (!stillHere()) return;
        notice.hidden = true;
        replace(out, linkBox(sel.unit, res));
      } catch (err) {
        if (stillHere()) showFailure(err);
      } finally {
        busy(false);
      }
    });

    csvButton.addEventListener('click', async () => {
      busy(true);
      replace(out);
      say(t('cov.downloading'));
      try {
        const { blob, filename } = await apiFile('/v1/connect-links', {
          method: 'POST',
          body: { unit: sel.unit.code, onlyMissing: true },
        });
        if (!stillHere()) return;
        const text = await blob.text();
        const n = Math.max(0, text.split(/\r?\n/).filter((l) => l.trim()).length - 1);
        const file = safeFileName(filename) ?? `lien-ket-ket-noi-${safeFileName(sel.unit.code) ?? 'don-vi'}.csv`;
        const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
        const a = h('a', { href: url, download: file, hidden: true });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10_000);
        if (n) say(t('cov.downloaded', { n, file }), 'ok');
        else say(t('cov.downloadedNone', { name: sel.unit.name }), 'ok');
      } catch (err) {
        if (stillHere()) showFailure(err);
      } finally {
        busy(false);
      }
    });

    replace(
      actions,
      h('h3', {}, t('cov.actionsTitle')),
      h('div', { class: 'cov-action' }, createButton, h('p', { class: 'hint' }, t('cov.createLinkHint', { name: sel.unit.name }))),
      h('div', { class: 'cov-action' }, csvButton, h('p', { class: 'hint' }, t('cov.downloadHint', { name: sel.unit.name }))),
      notice,
      out,
    );
  }

  function linkBox(unit, res) {
    const input = h('input', {
      id: 'cov-link-url',
      type: 'text',
      readonly: true,
      class: 'cov-link-url',
      value: res.url,
      'aria-describedby': 'cov-link-expiry',
    });
    const status = h('span', { class: 'small', role: 'status' });
    const copyButton = h(
      'button',
      {
        type: 'button',
        class: 'btn btn--small',
        onclick: async () => replace(status, (await copy(res.url, input)) ? t('cov.copied') : t('cov.copyFailed')),
      },
      t('cov.copy'),
    );
    return h(
      'div',
      { class: 'cov-link field' },
      h('label', { for: 'cov-link-url' }, t('cov.linkLabel', { name: unit.name })),
      h('div', { class: 'cov-link__row' }, input, copyButton),
      h('p', { id: 'cov-link-expiry', class: 'hint cov-link__expiry' }, t('cov.linkExpires', { at: dateTime(res.expiresAt) })),
      status,
    );
  }

  // ---- start: the key's own unit, open one level ----

  async function load() {
    tree.replaceChildren(h('li', { class: 'muted small' }, t('common.loading')));
    try {
      const res = await api(coverageUrl(me.unit.code, '?children=true'));
      noteDepth(res);
      if (!state.alive) return;
      const top = row(res.unit, sumLevels(res.levels));
      tree.replaceChildren(top.li);
      top.loaded = true;
      fill(top, res.children ?? []);
      if (res.children?.length) await setOpen(top, true);
      selectUnit(top.unit, top.totals);
    } catch (err) {
      tree.replaceChildren(h('li', {}, errorBox(err)));
      panel.hidden = true;
    }
  }

  load();
  return () => {
    state.alive = false;
    state.generation += 1;
  };
}
