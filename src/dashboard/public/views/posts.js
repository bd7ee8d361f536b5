import { api, subscribe } from '../api.js';
import { badge, describeTarget, emptyState, errorBox, keyName, liveIndicator, loadKeyNames, progressBar, rollUp } from '../components.js';
import { h, replace } from '../dom.js';
import { dateTime, label, t } from '../i18n.js';

/** Statuses after which a post's counts no longer move (a recall may still start: the list is reloaded for that). */
const FINAL = new Set(['published', 'partially_failed', 'failed', 'cancelled', 'recalled', 'rejected']);
const FILTERS = [
  '',
  'pending_approval',
  'rejected',
  'scheduled',
  'publishing',
  'published',
  'partially_failed',
  'failed',
  'cancelled',
  'recalling',
  'recalled',
];
const PAGE_SIZE = 20;

function excerpt(message, max = 160) {
  const s = message.replace(/\s+/g, ' ').trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

/** Posts newest first, with a live progress bar on each unfinished one (one SSE stream for all). */
export function postsView(main) {
  const state = { status: '', cursor: null, cards: new Map(), stop: null, generation: 0 };
  const live = liveIndicator();
  const list = h('ul', { class: 'post-list', 'aria-live': 'off' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => load(false) }, t('posts.more'));
  const select = h(
    'select',
    {
      id: 'post-filter',
      onchange: () => {
        state.status = select.value;
        load(true);
      },
    },
    FILTERS.map((s) => h('option', { value: s }, s ? label('post', s) : t('posts.filterAll'))),
  );
  const refresh = h('button', { type: 'button', class: 'btn', onclick: () => load(true) }, t('posts.refresh'));
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, t('posts.title')), live.el),
    h('div', { class: 'toolbar' }, h('label', { for: 'post-filter' }, t('posts.filter')), select, refresh),
    list,
    h('div', { class: 'more' }, more),
  );

  function card(post) {
    const bar = progressBar({ compact: true, legend: true });
    const status = h('span', { class: 'post-card__status' });
    const approver = h('dd', {}, post.approvedBy ? keyName(post.approvedBy) : t('post.notApproved'));
    const target = h('span', {}, post.target?.unit ?? '');
    describeTarget(post.target).then((s) => replace(target, s));
    const el = h(
      'li',
      { class: 'card post-card', dataset: { postId: post.id } },
      h('div', { class: 'post-card__head' }, status, h('time', { datetime: post.createdAt, class: 'muted' }, dateTime(post.createdAt))),
      h('a', { class: 'post-card__title', href: `#/posts/${post.id}` }, excerpt(post.message)),
      h(
        'dl',
        { class: 'meta' },
        h('div', {}, h('dt', {}, t('post.target')), h('dd', {}, target)),
        h('div', {}, h('dt', {}, t('post.author')), h('dd', {}, keyName(post.createdBy))),
        h('div', {}, h('dt', {}, t('post.approver')), approver),
        post.recall
          ? h(
              'div',
              { class: 'post-card__recall' },
              h('dt', {}, t('posts.recall')),
              h(
                'dd',
                {},
                t('posts.recallWhoWhen', { by: keyName(post.recall.by), at: dateTime(post.recall.at), reason: post.recall.reason }),
              ),
            )
          : null,
      ),
      bar.el,
    );
    const update = (v) => {
      // Leaving pending_approval means someone approved it: fetch who.
      if (el.dataset.status === 'pending_approval' && v.status !== 'pending_approval') {
        api(`/v1/posts/${v.id}`)
          .then(async (p) => {
            await loadKeyNames([p.approvedBy]);
            replace(approver, p.approvedBy ? keyName(p.approvedBy) : t('post.notApproved'));
          })
          .catch(() => {});
      }
      replace(status, badge('post', v.status));
      bar.update(rollUp(v.counts, v.total), v.status);
      el.dataset.status = v.status;
    };
    update(post);
    return { el, update, final: () => FINAL.has(el.dataset.status) };
  }

  /** One stream for every unfinished post on screen; it ends by itself when they are all final. */
  function stream() {
    state.stop?.();
    const ids = [...state.cards]
      .filter(([, c]) => !c.final())
      .map(([id]) => id)
      .slice(0, 50);
    if (!ids.length) return live.set('idle');
    state.stop = subscribe(
      `/v1/posts/events?ids=${ids.join(',')}`,
      (event, data) => {
        if (event === 'progress') state.cards.get(data.id)?.update(data);
      },
      live.set,
    );
  }

  async function load(reset) {
    // A reload started while another is in flight wins; the older answer is dropped.
    const generation = reset ? ++state.generation : state.generation;
    if (reset) state.cursor = null;
    more.disabled = true;
    try {
      const q = new URLSearchParams({ limit: String(PAGE_SIZE) });
      if (state.status) q.set('status', state.status);
      if (state.cursor) q.set('cursor', state.cursor);
      const res = await api(`/v1/posts?${q}`);
      await loadKeyNames(res.items.flatMap((p) => [p.createdBy, p.approvedBy, p.recall?.by]));
      if (generation !== state.generation) return;
      if (reset) {
        state.cards.clear();
        list.replaceChildren();
      }
      for (const post of res.items) {
        const c = card(post);
        state.cards.set(post.id, c);
        list.append(c.el);
      }
      if (!state.cards.size) list.append(emptyState(t('posts.empty')));
      state.cursor = res.nextCursor;
      more.hidden = !res.nextCursor;
      stream();
    } catch (err) {
      list.append(errorBox(err));
    } finally {
      more.disabled = false;
    }
  }

  load(true);
  return () => state.stop?.();
}
