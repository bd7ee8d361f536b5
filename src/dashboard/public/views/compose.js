import { api } from '../api.js';
import * as components from '../components.js';
import { errorBox, unitName } from '../components.js';
import { h, replace } from '../dom.js';
import { dateTime, label, num, t } from '../i18n.js';

/** Editors and admins write posts; viewers and approvers never see the composer. */
export const canCompose = (me) => me?.role === 'editor' || me?.role === 'admin';

const PREVIEW_DELAY_MS = 400;
const SEARCH_DELAY_MS = 250;
const MAX_PHOTOS = 10;
const MAX_RESULTS = 20;
const COVERAGE_STATES = ['connected', 'needs_reauth', 'expiring', 'missing'];

/**
 * Level names: by the tree when components.js can tell (`levelName`, with the deepest level from
 * `loadLevels`), else the catalogue's `level.<n>`. Await `levelsKnown()` before naming levels.
 */
export const levelLabel = (l) => (typeof components.levelName === 'function' ? components.levelName(Number(l)) : label('level', l));
export const levelsKnown = () => (typeof components.loadLevels === 'function' ? components.loadLevels() : Promise.resolve());

/** Lower case without diacritics, so "ha noi" finds "Hà Nội" and "duong" finds "Đường". */
export const fold = (s) => String(s).normalize('NFD').replace(/\p{M}/gu, '').replace(/đ/g, 'd').replace(/Đ/g, 'D').toLowerCase();

/** The 400 problems of these fields are told in the chosen language. */
const FIELD_MESSAGES = {
  message: 'compose.err.message',
  link: 'compose.err.link',
  photos: 'compose.err.photo',
  publishAt: 'compose.err.publishAt',
  spread: 'compose.err.spread',
};

const coverageUrl = (code, query = '') => `/v1/units/${encodeURIComponent(code)}/coverage${query}`;

/**
 * Every unit of a subtree, for the name/code search: the coverage lists of its four states (there is
 * no search route). Each list stops at 1,000 units; `truncated` then says the search is partial.
 */
const subtreeIndexes = new Map();
function subtreeIndex(code) {
  if (!subtreeIndexes.has(code)) {
    subtreeIndexes.set(
      code,
      Promise.all(COVERAGE_STATES.map((s) => api(coverageUrl(code, `?list=${s}`)))).then((lists) => {
        const items = new Map();
        let truncated = false;
        for (const l of lists) {
          truncated ||= Boolean(l.units?.truncated);
          for (const u of l.units?.items ?? []) items.set(u.code, { ...u, key: fold(`${u.name} ${u.code}`) });
        }
        return { items: [...items.values()], truncated };
      }),
    );
    subtreeIndexes.get(code).catch(() => subtreeIndexes.delete(code));
  }
  return subtreeIndexes.get(code);
}

/**
 * Choose a unit inside `root` (the signed-in key's branch, or the target for exclusions): browse the
 * tree a level at a time, or search by name or code. `onPick(unit)` gets `{code, name, level}`.
 */
function unitPicker({ id, root, onPick, pickLabel, describedBy }) {
  let browse = [root];
  let timer = null;
  let generation = 0;
  const input = h('input', {
    id,
    type: 'search',
    autocomplete: 'off',
    spellcheck: 'false',
    placeholder: t('compose.unitSearchPlaceholder'),
    'aria-describedby': describedBy,
    'aria-controls': `${id}-results`,
  });
  const trail = h('div', { class: 'picker__trail' });
  const note = h('p', { class: 'hint', role: 'status' });
  const results = h('ul', { class: 'picker__results', id: `${id}-results` });

  const choice = (u, { open } = {}) =>
    h(
      'li',
      { class: 'picker__item', dataset: { code: u.code } },
      h(
        'button',
        {
          type: 'button',
          class: 'btn btn--small picker__pick',
          'aria-label': t(pickLabel, { name: `${u.name} (${u.code})` }),
          onclick: () => onPick({ code: u.code, name: u.name, level: u.level }),
        },
        u.name,
        ' ',
        h('small', { class: 'muted' }, `${levelLabel(u.level)} · ${u.code}`),
      ),
      open
        ? h(
            'button',
            {
              type: 'button',
              class: 'btn btn--small btn--plain',
              'aria-label': t('compose.openUnit', { name: u.name }),
              onclick: () => {
                browse = [...browse, u.code];
                input.value = '';
                show();
              },
            },
            '›',
          )
        : null,
    );

  async function showLevel(mine) {
    const code = browse[browse.length - 1];
    const res = await api(coverageUrl(code, '?children=true'));
    if (generation !== mine) return;
    replace(
      trail,
      browse.length > 1
        ? h(
            'button',
            {
              type: 'button',
              class: 'btn btn--small btn--plain',
              onclick: () => {
                browse = browse.slice(0, -1);
                show();
              },
            },
            t('compose.upLevel'),
          )
        : null,
      h('span', { class: 'muted small' }, t('compose.browsing', { name: res.unit.name })),
    );
    replace(note, res.children?.length ? '' : t('compose.noChildren'));
    replace(
      results,
      choice(res.unit),
      (res.children ?? []).map((c) => choice(c, { open: c.totals.units > 1 })),
    );
  }

  async function showSearch(q, mine) {
    const code = browse[browse.length - 1];
    const index = await subtreeIndex(code);
    if (generation !== mine) return;
    const words = fold(q).split(/\s+/).filter(Boolean);
    const hits = index.items.filter((u) => words.every((w) => u.key.includes(w)));
    replace(
      note,
      hits.length ? t('compose.searchHits', { n: hits.length, shown: Math.min(hits.length, MAX_RESULTS) }) : t('compose.searchNone'),
      index.truncated ? ` ${t('compose.searchTruncated')}` : '',
    );
    replace(
      results,
      hits.slice(0, MAX_RESULTS).map((u) => choice(u)),
    );
  }

  async function show() {
    const mine = ++generation;
    const q = input.value.trim();
    try {
      if (q) await showSearch(q, mine);
      else await showLevel(mine);
    } catch (err) {
      if (generation === mine) replace(results, h('li', {}, errorBox(err)));
    }
  }
  input.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(show, SEARCH_DELAY_MS);
  });
  input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter') {
      e.preventDefault();
      clearTimeout(timer);
      show();
    }
  });
  show();
  const el = h('div', { class: 'picker' }, input, trail, note, results);
  return {
    el,
    input,
    setRoot(code) {
      browse = [code];
      input.value = '';
      show();
    },
    stop: () => clearTimeout(timer),
  };
}

function fieldError(id) {
  return h('p', { class: 'field-error', id, role: 'alert', hidden: true });
}

function setError(el, message) {
  el.hidden = !message;
  replace(el, message ?? '');
}

/** A `datetime-local` value for an ISO time, in the browser's time zone. */
function localValue(iso) {
  const d = new Date(iso);
  const pad = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * `#/compose`: write a post — message, link, photos, target on the tree (unit, subtree or self,
 * levels, exclusions) and schedule — with a live preview of the Pages it reaches. Opened as
 * `#/compose/<id>` from a rejected post, it is filled in from that post and sends `resubmitOf`.
 */
export function composeView(main, { me, params: [resubmitOf] }) {
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t(resubmitOf ? 'compose.titleResubmit' : 'compose.title'))));
  if (!canCompose(me)) {
    main.append(h('p', { class: 'notice notice--info', role: 'status' }, t('compose.editorsOnly')));
    return () => {};
  }
  let disposed = false;
  let previewTimer = null;
  let previewGeneration = 0;
  const state = {
    target: { code: me.unit.code, name: me.unit.name, level: null },
    scope: 'subtree',
    levels: new Set(),
    exclude: new Map(),
    photos: [],
  };
  let idempotency = { body: null, key: null };

  const message = h('textarea', {
    id: 'compose-message',
    rows: 6,
    maxlength: 63206,
    'aria-describedby': 'compose-message-error',
  });
  const messageError = fieldError('compose-message-error');
  const link = h('input', {
    id: 'compose-link',
    type: 'url',
    inputmode: 'url',
    placeholder: 'https://',
    'aria-describedby': 'compose-link-hint compose-link-error',
  });
  const linkError = fieldError('compose-link-error');

  // Photos: public image URLs, up to 10.
  const photoList = h('ul', { class: 'photo-list' });
  const photoError = fieldError('compose-photos-error');
  const addPhoto = h('button', { type: 'button', class: 'btn btn--small', onclick: () => addPhotoRow('') }, t('compose.addPhoto'));
  function addPhotoRow(value) {
    const row = { input: null, error: null };
    const n = state.photos.length + 1;
    row.error = h('p', { class: 'field-error', role: 'alert', hidden: true });
    row.input = h('input', {
      type: 'url',
      inputmode: 'url',
      placeholder: 'https://',
      value,
      class: 'photo-url',
      'aria-label': t('compose.photoLabel', { n }),
    });
    const li = h(
      'li',
      { class: 'photo-row' },
      row.input,
      h(
        'button',
        {
          type: 'button',
          class: 'btn btn--small',
          'aria-label': t('compose.removePhoto', { n }),
          onclick: () => {
            state.photos = state.photos.filter((p) => p !== row);
            li.remove();
            addPhoto.disabled = state.photos.length >= MAX_PHOTOS;
          },
        },
        t('compose.remove'),
      ),
      row.error,
    );
    row.li = li;
    state.photos.push(row);
    photoList.append(li);
    addPhoto.disabled = state.photos.length >= MAX_PHOTOS;
    if (!value) row.input.focus();
  }

  // Target.
  const targetShown = h('p', { class: 'target-chosen', id: 'compose-target-chosen', role: 'status' });
  const targetError = fieldError('compose-target-error');
  const picker = unitPicker({
    id: 'compose-unit',
    root: me.unit.code,
    pickLabel: 'compose.pickUnit',
    describedBy: 'compose-target-chosen',
    onPick: (u) => {
      state.target = u;
      state.exclude.clear();
      state.levels.clear();
      showTarget();
      showExcluded();
      excludePicker.setRoot(u.code);
      loadLevels();
      schedulePreview();
    },
  });
  const scopeRadios = ['subtree', 'self'].map((s) =>
    h(
      'label',
      { class: 'choice' },
      h('input', {
        type: 'radio',
        name: 'compose-scope',
        value: s,
        checked: s === state.scope,
        onchange: () => {
          state.scope = s;
          levelsBox.hidden = s === 'self';
          excludeBox.hidden = s === 'self';
          schedulePreview();
        },
      }),
      ' ',
      t(`compose.scope.${s}`),
    ),
  );
  const levelChecks = h('div', { class: 'choices', id: 'compose-levels' });
  const levelsBox = h(
    'fieldset',
    { class: 'fieldset' },
    h('legend', {}, t('compose.levels')),
    h('p', { class: 'hint' }, t('compose.levelsHint')),
    levelChecks,
  );
  async function loadLevels() {
    const code = state.target.code;
    try {
      const [res] = await Promise.all([api(coverageUrl(code)), levelsKnown()]);
      if (disposed || code !== state.target.code) return;
      state.target.level = res.unit.level;
      replace(
        levelChecks,
        res.levels.map((l) =>
          h(
            'label',
            { class: 'choice' },
            h('input', {
              type: 'checkbox',
              value: String(l.level),
              dataset: { level: String(l.level) },
              onchange: (e) => {
                if (e.target.checked) state.levels.add(l.level);
                else state.levels.delete(l.level);
                schedulePreview();
              },
            }),
            ' ',
            levelLabel(l.level),
            ' ',
            h('small', { class: 'muted' }, t('compose.levelUnits', { n: l.units })),
          ),
        ),
      );
    } catch (err) {
      replace(levelChecks, errorBox(err));
    }
  }
  const excludeList = h('ul', { class: 'chips', id: 'compose-excluded' });
  const excludePicker = unitPicker({
    id: 'compose-exclude',
    root: state.target.code,
    pickLabel: 'compose.excludeUnit',
    onPick: (u) => {
      if (u.code === state.target.code) return;
      state.exclude.set(u.code, u);
      showExcluded();
      schedulePreview();
    },
  });
  const excludeBox = h(
    'fieldset',
    { class: 'fieldset' },
    h('legend', {}, t('compose.exclude')),
    h('p', { class: 'hint' }, t('compose.excludeHint')),
    excludeList,
    h('details', { class: 'picker-toggle' }, h('summary', {}, t('compose.excludeAdd')), excludePicker.el),
  );
  function showExcluded() {
    replace(
      excludeList,
      [...state.exclude.values()].map((u) =>
        h(
          'li',
          { class: 'chip chip--excluded', dataset: { code: u.code } },
          `${u.name} (${u.code}) `,
          h(
            'button',
            {
              type: 'button',
              class: 'btn btn--small btn--plain',
              'aria-label': t('compose.unexclude', { name: u.name }),
              onclick: () => {
                state.exclude.delete(u.code);
                showExcluded();
                schedulePreview();
              },
            },
            '×',
          ),
        ),
      ),
      state.exclude.size ? null : h('li', { class: 'muted small' }, t('compose.excludeNone')),
    );
  }
  function showTarget() {
    replace(targetShown, t('compose.targetChosen', { unit: `${state.target.name} (${state.target.code})` }));
  }

  // Schedule.
  const when = h('input', { id: 'compose-when', type: 'datetime-local', disabled: true, 'aria-describedby': 'compose-when-error' });
  const whenError = fieldError('compose-when-error');
  const whenRadios = ['now', 'at'].map((s) =>
    h(
      'label',
      { class: 'choice' },
      h('input', {
        type: 'radio',
        name: 'compose-schedule',
        value: s,
        checked: s === 'now',
        onchange: () => {
          when.disabled = s === 'now';
          if (s === 'at') when.focus();
          showSpread();
        },
      }),
      ' ',
      t(`compose.schedule.${s}`),
    ),
  );

  // Spread: the Pages get the post evenly over a window; the planned end follows the schedule and the minutes.
  const spreadOn = h('input', { type: 'checkbox', id: 'compose-spread', onchange: () => showSpread() });
  const spreadMinutes = h('input', {
    id: 'compose-spread-minutes',
    type: 'number',
    min: '1',
    max: '1440',
    step: '1',
    value: '60',
    disabled: true,
    'aria-describedby': 'compose-spread-end compose-spread-error',
    oninput: () => showSpread(),
  });
  const spreadEnd = h('p', { id: 'compose-spread-end', class: 'hint', 'aria-live': 'polite' });
  const spreadError = fieldError('compose-spread-error');
  function showSpread() {
    spreadMinutes.disabled = !spreadOn.checked;
    const minutes = Number(spreadMinutes.value);
    const start = !when.disabled && when.value ? new Date(when.value) : new Date();
    const ok = spreadOn.checked && Number.isInteger(minutes) && minutes >= 1 && minutes <= 1440 && !Number.isNaN(start.getTime());
    replace(spreadEnd, ok ? t('compose.spread.end', { end: dateTime(new Date(start.getTime() + minutes * 60_000).toISOString()) }) : null);
  }
  when.addEventListener('input', () => showSpread());

  // Preview.
  const preview = h('div', { class: 'preview', id: 'compose-preview', 'aria-live': 'polite' }, t('common.loading'));
  function targetBody() {
    const target = { unit: state.target.code, scope: state.scope };
    if (state.scope === 'subtree') {
      if (state.levels.size) target.levels = [...state.levels].sort((a, b) => a - b);
      if (state.exclude.size) target.exclude = [...state.exclude.keys()];
    }
    return target;
  }
  function schedulePreview() {
    clearTimeout(previewTimer);
    previewTimer = setTimeout(runPreview, PREVIEW_DELAY_MS);
  }
  async function runPreview() {
    const mine = ++previewGeneration;
    preview.dataset.state = 'loading';
    try {
      const [res] = await Promise.all([api('/v1/targets/preview', { method: 'POST', body: { target: targetBody() } }), levelsKnown()]);
      if (disposed || mine !== previewGeneration) return;
      replace(preview, previewSummary(res));
      preview.dataset.state = 'ready';
      setError(targetError, null);
    } catch (err) {
      if (disposed || mine !== previewGeneration) return;
      preview.dataset.state = 'error';
      replace(preview, h('p', { class: 'error', role: 'alert' }, t('compose.previewFailed', { message: err.message })));
    }
  }

  // Submit.
  const submit = h('button', { type: 'submit', class: 'btn btn--primary' }, t(resubmitOf ? 'compose.resubmit' : 'compose.submit'));
  const formError = h('div', { class: 'form-error', role: 'alert' });
  const resubmitNote = h('div');
  const field = (labelFor, title, ...content) => h('div', { class: 'field' }, h('label', { for: labelFor }, title), ...content);

  const form = h(
    'form',
    { class: 'compose', novalidate: true },
    resubmitNote,
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'compose-content' },
      h('h2', { id: 'compose-content' }, t('compose.content')),
      field('compose-message', t('compose.message'), message, messageError),
      field('compose-link', t('compose.link'), link, h('p', { class: 'hint', id: 'compose-link-hint' }, t('compose.linkHint')), linkError),
      h(
        'fieldset',
        { class: 'fieldset' },
        h('legend', {}, t('compose.photos')),
        h('p', { class: 'hint' }, t('compose.photosHint')),
        photoList,
        addPhoto,
        photoError,
      ),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'compose-where' },
      h('h2', { id: 'compose-where' }, t('compose.where')),
      h(
        'div',
        { class: 'compose-grid' },
        h(
          'div',
          {},
          targetShown,
          targetError,
          h('label', { for: 'compose-unit' }, t('compose.unitSearch')),
          h('p', { class: 'hint' }, t('compose.unitSearchHint', { unit: me.unit.name })),
          picker.el,
          h('fieldset', { class: 'fieldset' }, h('legend', {}, t('compose.scope')), h('div', { class: 'choices' }, scopeRadios)),
          levelsBox,
          excludeBox,
        ),
        h(
          'aside',
          { class: 'preview-card', 'aria-labelledby': 'compose-preview-title' },
          h('h3', { id: 'compose-preview-title' }, t('compose.preview')),
          preview,
        ),
      ),
    ),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'compose-when-title' },
      h('h2', { id: 'compose-when-title' }, t('compose.schedule')),
      h('div', { class: 'choices' }, whenRadios),
      h('label', { for: 'compose-when', class: 'sr-only' }, t('compose.scheduleAt')),
      when,
      whenError,
      h('label', { class: 'choice' }, spreadOn, ' ', t('compose.spread')),
      h('p', { class: 'hint' }, t('compose.spread.hint')),
      h('label', { for: 'compose-spread-minutes' }, t('compose.spread.minutes')),
      spreadMinutes,
      spreadEnd,
      spreadError,
    ),
    formError,
    h('div', { class: 'compose-actions' }, submit, h('a', { href: '#/posts', class: 'btn' }, t('common.cancel'))),
  );

  function body() {
    const b = { message: message.value, target: targetBody() };
    if (link.value.trim()) b.link = link.value.trim();
    const photos = state.photos.map((p) => p.input.value.trim()).filter(Boolean);
    if (photos.length) b.photos = photos;
    if (!when.disabled && when.value) {
      const d = new Date(when.value);
      b.publishAt = Number.isNaN(d.getTime()) ? when.value : d.toISOString();
    }
    if (spreadOn.checked) {
      // A whole number goes as one; anything else as typed, so the server's 400 points at this field.
      const m = spreadMinutes.value.trim();
      b.spread = { minutes: /^\d+$/.test(m) ? Number(m) : m };
    }
    if (resubmitOf) b.resubmitOf = resubmitOf;
    return b;
  }

  function clearErrors() {
    for (const el of [messageError, linkError, photoError, targetError, whenError, spreadError]) setError(el, null);
    for (const p of state.photos) setError(p.error, null);
    replace(formError);
  }

  /** A 400's problems (`body.message`, `body.photos.1`, `body.target.unit`…) go next to their field. */
  function showProblems(problems) {
    const rest = [];
    let first = null;
    for (const p of problems) {
      const path = String(p.field ?? '')
        .replace(/^body\./, '')
        .split('.');
      // Known fields get a sentence in the chosen language; the server's words stay for the rest.
      const text = FIELD_MESSAGES[path[0]] ? t(FIELD_MESSAGES[path[0]]) : t('compose.err.other', { message: p.message ?? '' });
      let where = null;
      if (path[0] === 'message') where = [messageError, message];
      else if (path[0] === 'link') where = [linkError, link];
      else if (path[0] === 'photos') {
        const row = state.photos.filter((r) => r.input.value.trim())[Number(path[1])];
        where = row ? [row.error, row.input] : [photoError, addPhoto];
      } else if (path[0] === 'target') where = [targetError, picker.input];
      else if (path[0] === 'publishAt') where = [whenError, when];
      else if (path[0] === 'spread') where = [spreadError, spreadMinutes];
      else if (path[0] === 'resubmitOf') where = null;
      if (where) {
        const [el, input] = where;
        if (el.hidden || !el.textContent.includes(text)) setError(el, el.hidden ? text : `${el.textContent} ${text}`);
        input.setAttribute('aria-invalid', 'true');
        first ??= input;
      } else rest.push(text);
    }
    if (rest.length) replace(formError, h('p', { class: 'error' }, rest.join('; ')));
    first?.focus();
  }

  // Typing in a field marked invalid clears its mark and its message.
  form.addEventListener('input', (e) => {
    const el = e.target;
    if (!el.hasAttribute?.('aria-invalid')) return;
    el.removeAttribute('aria-invalid');
    for (const id of (el.getAttribute('aria-describedby') ?? '').split(/\s+/)) {
      const msg = id && document.getElementById(id);
      if (msg?.classList.contains('field-error')) setError(msg, null);
    }
    const row = state.photos.find((r) => r.input === el);
    if (row) setError(row.error, null);
  });

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clearErrors();
    for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
    const b = body();
    const text = JSON.stringify(b);
    // One Idempotency-Key per body: a second click or a retry after a lost answer cannot create a second post.
    if (idempotency.body !== text) idempotency = { body: text, key: crypto.randomUUID() };
    submit.disabled = true;
    try {
      const post = await api('/v1/posts', { method: 'POST', body: b, headers: { 'idempotency-key': idempotency.key } });
      window.dispatchEvent(new CustomEvent('lantoa:approvals-changed'));
      location.hash = `#/posts/${post.id}`;
    } catch (err) {
      const problems = err.details?.problems;
      if (err.status === 400 && Array.isArray(problems) && problems.length) showProblems(problems);
      else if (err.status === 400 && typeof err.details?.field === 'string') {
        showProblems([{ field: err.details.field, message: err.message.replace(/^[\w.[\]]+: /, '') }]);
      } else if (err.status === 400 && /^(body\.)?[\w.]+: /.test(err.message)) {
        const [field, ...msg] = err.message.split(': ');
        showProblems([{ field, message: msg.join(': ') }]);
      } else replace(formError, h('p', { class: 'error' }, t('compose.failed', { message: err.message })));
    } finally {
      submit.disabled = false;
    }
  });

  main.append(form);
  showTarget();
  showExcluded();
  loadLevels();
  runPreview();

  if (resubmitOf) {
    submit.disabled = true;
    api(`/v1/posts/${resubmitOf}`)
      .then(async (old) => {
        if (disposed) return;
        message.value = old.message;
        link.value = old.link ?? '';
        for (const p of old.photos ?? []) addPhotoRow(p);
        const tg = old.target ?? {};
        if (tg.unit) state.target = { code: tg.unit, name: await unitName(tg.unit), level: null };
        state.scope = tg.scope === 'self' ? 'self' : 'subtree';
        for (const r of form.querySelectorAll('input[name="compose-scope"]')) r.checked = r.value === state.scope;
        levelsBox.hidden = excludeBox.hidden = state.scope === 'self';
        for (const c of tg.exclude ?? []) state.exclude.set(c, { code: c, name: await unitName(c) });
        if (old.publishAt && new Date(old.publishAt).getTime() > Date.now()) {
          for (const r of form.querySelectorAll('input[name="compose-schedule"]')) r.checked = r.value === 'at';
          when.disabled = false;
          when.value = localValue(old.publishAt);
        }
        if (old.spread) {
          spreadOn.checked = true;
          spreadMinutes.value = String(old.spread.minutes);
          showSpread();
        }
        showTarget();
        showExcluded();
        excludePicker.setRoot(state.target.code);
        await loadLevels();
        for (const l of tg.levels ?? []) {
          state.levels.add(l);
          const box = levelChecks.querySelector(`input[data-level="${l}"]`);
          if (box) box.checked = true;
        }
        replace(
          resubmitNote,
          h(
            'div',
            { class: 'notice notice--warn rejection' },
            h('p', {}, h('strong', {}, t('compose.resubmitOf')), ' ', h('a', { href: `#/posts/${old.id}` }, t('compose.resubmitOfLink'))),
            old.rejection
              ? h('p', {}, t('compose.rejectedBecause', { reason: old.rejection.reason, at: dateTime(old.rejection.at) }))
              : null,
          ),
        );
        runPreview();
        submit.disabled = false;
        message.focus();
      })
      .catch((err) => {
        if (!disposed) replace(resubmitNote, errorBox(err));
      });
  } else message.focus();

  return () => {
    disposed = true;
    clearTimeout(previewTimer);
    picker.stop();
    excludePicker.stop();
  };
}

/** "12 Pages · 34 provinces, 3,321 communes · 3 units without a healthy Page". */
export function previewSummary(res) {
  const levels = Object.entries(res.byLevel ?? {}).sort(([a], [b]) => Number(a) - Number(b));
  return h(
    'div',
    { class: 'preview__body' },
    h(
      'dl',
      { class: 'stats' },
      h('div', { class: 'stat', dataset: { count: 'pages' } }, h('dt', {}, t('preview.pages')), h('dd', {}, num(res.pages))),
      h('div', { class: 'stat', dataset: { count: 'units' } }, h('dt', {}, t('preview.units')), h('dd', {}, num(res.units))),
      h(
        'div',
        { class: `stat ${res.withoutHealthyPage ? 'stat--warn' : ''}`.trim(), dataset: { count: 'withoutHealthyPage' } },
        h('dt', {}, t('preview.withoutHealthyPage')),
        h('dd', {}, num(res.withoutHealthyPage)),
      ),
    ),
    levels.length
      ? h(
          'table',
          { class: 'table preview__levels' },
          h(
            'thead',
            {},
            h(
              'tr',
              {},
              h('th', { scope: 'col' }, t('preview.level')),
              h('th', { scope: 'col' }, t('preview.unitsAtLevel')),
              h('th', { scope: 'col' }, t('preview.pagesAtLevel')),
              h('th', { scope: 'col' }, t('preview.withoutHealthyAtLevel')),
            ),
          ),
          h(
            'tbody',
            {},
            levels.map(([l, n]) =>
              h(
                'tr',
                { dataset: { level: l } },
                h('td', {}, levelLabel(l)),
                h('td', { dataset: { col: 'units' } }, num(n)),
                h('td', { dataset: { col: 'pages' } }, num(res.pagesByLevel?.[l] ?? 0)),
                h(
                  'td',
                  { dataset: { col: 'withoutHealthyPage' }, class: res.withoutHealthyPageByLevel?.[l] ? 'warn' : undefined },
                  num(res.withoutHealthyPageByLevel?.[l] ?? 0),
                ),
              ),
            ),
          ),
        )
      : null,
    res.withoutHealthyPage ? h('p', { class: 'hint' }, t('preview.withoutHealthyHint', { n: res.withoutHealthyPage })) : null,
  );
}
