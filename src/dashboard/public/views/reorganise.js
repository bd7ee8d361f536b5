import { api } from '../api.js';
import { badge, dataTable, emptyState, errorBox } from '../components.js';
import { h, replace } from '../dom.js';
import { num, t } from '../i18n.js';

const UUID = /^[0-9a-fA-F-]{36}$/;

/** `POST /v1/units/reorganise` is for an admin key over the whole tree (root); the server decides in the end. */
export const canReorganise = (me) => me?.role === 'admin' && me?.unit?.code === 'root';

/** Stat tiles: `[id, title, value]`; `data-count` lets a test (or a person with devtools) find each number. */
function stats(items) {
  return h(
    'dl',
    { class: 'stats stats--wide' },
    items.map(([id, title, value]) => h('div', { class: 'stat', dataset: { count: id } }, h('dt', {}, title), h('dd', {}, num(value)))),
  );
}

function block(title, n, content) {
  return h('div', { class: 'reorg-block' }, h('h3', {}, title, ' ', h('span', { class: 'muted' }, `(${num(n)})`)), content);
}

function postLink(id) {
  return UUID.test(id) ? h('a', { href: `#/posts/${id}` }, h('code', {}, id)) : h('code', {}, id);
}

function blockedTable(posts) {
  if (!posts.length) return emptyState(t('reorg.blocked.none'));
  return dataTable(
    [
      { title: t('reorg.col.post'), cell: (p) => postLink(String(p.id)) },
      { title: t('reorg.col.status'), cell: (p) => badge('post', p.status, 'badge--small') },
      { title: t('reorg.col.targetUnit'), cell: (p) => p.targetUnit ?? '' },
    ],
    posts,
    { label: t('reorg.blocked.title'), className: 'reorg-blocked' },
  );
}

function problemsTable(problems) {
  return dataTable(
    [
      {
        title: t('reorg.col.file'),
        cell: (p) => (p.file === 'units' ? t('reorg.file.units') : p.file === 'merges' ? t('reorg.file.merges') : (p.file ?? '')),
      },
      { title: t('reorg.col.line'), cell: (p) => p.line ?? '' },
      { title: t('reorg.col.field'), cell: (p) => (p.field ? h('code', {}, p.field) : '') },
      { title: t('reorg.col.message'), cell: (p) => p.message ?? '' },
    ],
    problems,
    { label: t('reorg.problems.title'), className: 'reorg-problems' },
  );
}

/**
 * The plan (dry run) or what was done (applied): counts, then the lists a person must act on.
 * `withBlocked: false` leaves out the blocked posts (a 409 lists the current ones above it).
 */
function summary(res, { withBlocked = true } = {}) {
  const unassigned = res.pages?.unassigned ?? [];
  const suspended = res.keys?.suspended ?? [];
  const blocked = res.posts?.blocked ?? [];
  return h(
    'section',
    { class: 'card reorg-result', 'aria-labelledby': 'reorg-result-title', dataset: { applied: String(Boolean(res.applied)) } },
    h('h2', { id: 'reorg-result-title' }, res.applied ? t('reorg.result.applied') : t('reorg.result.dryRun')),
    h('p', { class: 'hint' }, res.applied ? t('reorg.result.appliedHint') : t('reorg.result.dryRunHint')),
    h('h3', {}, t('reorg.units.title')),
    stats([
      ['units.kept', t('reorg.units.kept'), res.units.kept],
      ['units.renamed', t('reorg.units.renamed'), res.units.renamed],
      ['units.created', t('reorg.units.created'), res.units.created],
      ['units.retired', t('reorg.units.retired'), res.units.retired],
    ]),
    h('p', { class: 'hint' }, t('reorg.units.hint')),
    h('h3', {}, t('reorg.pages.title')),
    stats([
      ['pages.carried', t('reorg.pages.carried'), res.pages.carried],
      ['pages.retired', t('reorg.pages.retired'), res.pages.retired],
      ['pages.unassigned', t('reorg.pages.unassigned'), unassigned.length],
    ]),
    block(
      t('reorg.unassigned.title'),
      unassigned.length,
      unassigned.length
        ? dataTable(
            [
              { title: t('reorg.col.oldUnit'), cell: (p) => p.unitCode },
              { title: t('reorg.col.page'), cell: (p) => h('code', {}, p.pageId) },
            ],
            unassigned,
            { label: t('reorg.unassigned.title'), className: 'reorg-unassigned' },
          )
        : emptyState(t('reorg.unassigned.none')),
    ),
    block(
      t('reorg.keys.title'),
      suspended.length,
      suspended.length
        ? h(
            'div',
            {},
            h('p', { class: 'hint' }, t('reorg.keys.hint')),
            dataTable(
              [
                { title: t('reorg.col.keyName'), cell: (k) => k.name },
                { title: t('reorg.col.keyId'), cell: (k) => h('code', {}, k.id) },
                { title: t('reorg.col.unit'), cell: (k) => k.unit },
              ],
              suspended,
              { label: t('reorg.keys.title'), className: 'reorg-keys' },
            ),
          )
        : emptyState(t('reorg.keys.none')),
    ),
    withBlocked ? block(t('reorg.blocked.title'), blocked.length, blockedTable(blocked)) : null,
  );
}

/**
 * Reorganisation of the unit tree from two CSV files (the new units, and the merges old → new).
 * "Dry run" posts them with `apply: false` and shows the plan; "Apply" is enabled only after a dry
 * run of exactly these files and mode, asks for a confirmation in place, and sends the very texts
 * that were dry-run. Choosing another file or mode discards the plan.
 */
export function reorganiseView(main, { me }) {
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('reorg.title'))));
  if (!canReorganise(me)) {
    main.append(h('p', { class: 'notice notice--warn', role: 'status' }, t('reorg.adminOnly')));
    return () => {};
  }

  // plan: {units, merges, pages, result, blocked} of the last dry run of the current inputs, or null.
  const state = { plan: null, generation: 0, busy: false };
  const fileInput = (id, hintId) =>
    h('input', { id, name: id, type: 'file', accept: '.csv,text/csv', required: true, 'aria-describedby': hintId });
  const unitsInput = fileInput('reorg-units', 'reorg-units-hint');
  const mergesInput = fileInput('reorg-merges', 'reorg-merges-hint');
  const pagesSelect = h(
    'select',
    { id: 'reorg-pages', name: 'reorg-pages', 'aria-describedby': 'reorg-pages-hint' },
    h('option', { value: 'carry' }, t('reorg.pagesMode.carry')),
    h('option', { value: 'none' }, t('reorg.pagesMode.none')),
  );
  const dryRunButton = h('button', { type: 'submit', class: 'btn btn--primary' }, t('reorg.dryRun'));
  const applyWrap = h('div', { class: 'retry reorg-apply' });
  const notice = h('p', { class: 'notice', role: 'status', hidden: true });
  const result = h('div', { class: 'reorg-output' });

  const form = h(
    'form',
    { class: 'card reorg-form', novalidate: true },
    h('h2', {}, t('reorg.filesTitle')),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'reorg-units' }, t('reorg.unitsFile')),
      unitsInput,
      h('p', { id: 'reorg-units-hint', class: 'hint' }, t('reorg.unitsHint')),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'reorg-merges' }, t('reorg.mergesFile')),
      mergesInput,
      h('p', { id: 'reorg-merges-hint', class: 'hint' }, t('reorg.mergesHint')),
    ),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'reorg-pages' }, t('reorg.pagesLabel')),
      pagesSelect,
      h('p', { id: 'reorg-pages-hint', class: 'hint' }, t('reorg.pagesHint')),
    ),
    h('div', { class: 'toolbar reorg-actions' }, dryRunButton, applyWrap),
  );
  main.append(h('p', { class: 'lead' }, t('reorg.lead')), form, notice, result);

  function say(text, kind = 'info') {
    notice.className = `notice notice--${kind}`;
    replace(notice, text);
    notice.hidden = false;
  }

  function setBusy(busy) {
    state.busy = busy;
    for (const el of [unitsInput, mergesInput, pagesSelect, dryRunButton, ...applyWrap.querySelectorAll('button')]) el.disabled = busy;
  }

  /** Apply (or, with blocked posts, "apply and cancel them"); the first click asks for a confirmation. */
  function renderApply() {
    const plan = state.plan;
    const force = Boolean(plan?.blocked.length);
    const start = h(
      'button',
      { type: 'button', class: `btn ${force ? 'btn--danger' : ''}`.trim(), disabled: !plan || state.busy, onclick: ask },
      force ? t('reorg.applyForce') : t('reorg.apply'),
    );
    function ask() {
      const r = plan.result;
      const confirm = h(
        'button',
        { type: 'button', class: 'btn btn--danger', onclick: () => apply(force) },
        force ? t('reorg.confirmForce') : t('reorg.confirm'),
      );
      const cancel = h(
        'button',
        {
          type: 'button',
          class: 'btn btn--ghost',
          onclick: () => {
            renderApply();
            applyWrap.querySelector('button')?.focus();
          },
        },
        t('common.cancel'),
      );
      replace(
        applyWrap,
        h(
          'span',
          { class: 'small reorg-question' },
          t('reorg.confirmQuestion', { units: r.units.retired, pages: r.pages.retired, keys: r.keys?.suspended?.length ?? 0 }),
          force ? ` ${t('reorg.confirmCancels', { n: plan.blocked.length })}` : '',
        ),
        confirm,
        cancel,
      );
      confirm.focus();
    }
    replace(applyWrap, start, plan ? null : h('span', { class: 'small muted' }, t('reorg.applyHint')));
  }

  function discardPlan() {
    state.generation += 1;
    if (!state.plan && !result.childElementCount) return;
    state.plan = null;
    notice.hidden = true;
    replace(result, h('p', { class: 'notice notice--warn' }, t('reorg.stale')));
    renderApply();
  }

  /** A failed call: the problems of the files, the posts that block the apply, or the error itself. */
  function showError(err) {
    const problems = err.details?.problems;
    const posts = err.details?.posts;
    if (err.status === 400 && Array.isArray(problems) && problems.length) {
      say(t('reorg.problems.lead', { n: problems.length }), 'error');
      replace(
        result,
        h(
          'section',
          { class: 'card', 'aria-label': t('reorg.problems.title') },
          h('h2', {}, t('reorg.problems.title')),
          problemsTable(problems),
        ),
      );
    } else if (err.status === 409 && Array.isArray(posts)) {
      // Posts became blocked since the dry run (or were): list them; the apply button now offers to cancel them.
      say(t('reorg.blocked.lead', { n: posts.length }), 'warn');
      if (state.plan) state.plan.blocked = posts;
      replace(
        result,
        h('section', { class: 'card', 'aria-label': t('reorg.blocked.title') }, h('h2', {}, t('reorg.blocked.title')), blockedTable(posts)),
        state.plan ? summary(state.plan.result, { withBlocked: false }) : null,
      );
    } else if (err.status === 403) {
      // The message is in the chosen language already (api.js); a retired unit has a message of its own.
      say(err.message, 'error');
      replace(result);
    } else if (err.missingRoute) {
      say(t('reorg.unavailable'), 'warn');
      replace(result);
    } else {
      notice.hidden = true;
      replace(result, errorBox(err));
    }
  }

  const readFile = async (input) => (await input.files[0].text()).replace(/^\uFEFF/, '');

  /** Runs one request of the view; an answer that arrives after a newer request started is dropped. */
  async function request(message, send, onResult) {
    const generation = ++state.generation;
    setBusy(true);
    renderApply();
    say(message);
    try {
      const res = await send();
      if (generation !== state.generation) return;
      onResult(res);
      replace(result, summary(res));
    } catch (err) {
      if (generation !== state.generation) return;
      showError(err);
    } finally {
      if (generation === state.generation) {
        setBusy(false);
        renderApply();
      }
    }
  }

  async function dryRun() {
    if (!unitsInput.files?.length || !mergesInput.files?.length) {
      say(t('reorg.chooseFiles'), 'error');
      (unitsInput.files?.length ? mergesInput : unitsInput).focus();
      return;
    }
    state.plan = null;
    let sent;
    await request(
      t('reorg.running'),
      async () => {
        const [units, merges] = await Promise.all([readFile(unitsInput), readFile(mergesInput)]);
        sent = { units, merges, pages: pagesSelect.value };
        return api('/v1/units/reorganise', { method: 'POST', body: { ...sent, apply: false } });
      },
      (res) => {
        state.plan = { ...sent, result: res, blocked: res.posts?.blocked ?? [] };
        say(t('reorg.dryRunDone'), 'ok');
      },
    );
  }

  async function apply(force) {
    const plan = state.plan;
    if (!plan) return;
    const body = { units: plan.units, merges: plan.merges, pages: plan.pages, apply: true, ...(force ? { force: true } : {}) };
    await request(
      t('reorg.applying'),
      () => api('/v1/units/reorganise', { method: 'POST', body }),
      () => {
        // Done: a further apply needs a new dry run (which would now find every unit kept).
        state.plan = null;
        say(t('reorg.applied'), 'ok');
      },
    );
  }

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!state.busy) dryRun();
  });
  for (const el of [unitsInput, mergesInput, pagesSelect]) el.addEventListener('change', discardPlan);
  renderApply();
  return () => {
    // Leaving the view drops any answer still in flight (the server finishes the call regardless).
    state.generation += 1;
  };
}
