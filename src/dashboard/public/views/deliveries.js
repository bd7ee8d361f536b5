import { api } from '../api.js';
import { badge, emptyState, errorBox, postLink, retiredTag } from '../components.js';
import { h } from '../dom.js';
import { dateTime, label, t } from '../i18n.js';

/** '' lists every status. */
const FILTERS = ['', 'published', 'failed', 'skipped', 'queued', 'publishing', 'cancelled', 'recalling', 'recalled', 'recall_failed'];

/**
 * The filter a list opens with: one that shows something for the post as it stands. A recalled post
 * opens on its recalled Pages, a post being recalled on all of them, a published one on its Pages.
 */
export function defaultDeliveryFilter(post) {
  const c = post?.counts ?? {};
  if (post?.status === 'recalled' && c.recalled) return 'recalled';
  if (post?.status === 'recalling' || post?.status === 'recalled') return '';
  if (c.published && (post?.status === 'published' || post?.status === 'partially_failed')) return 'published';
  return '';
}

/** Per-Page deliveries of a post, filtered by status, with a link to each Page post still on Facebook. */
export function deliveriesPanel(postId, post = null) {
  const state = { status: '', cursor: null, generation: 0 };
  const list = h('ul', { class: 'delivery-list' });
  const more = h('button', { type: 'button', class: 'btn', hidden: true, onclick: () => load(false) }, t('common.more'));
  const select = h(
    'select',
    {
      id: 'delivery-filter',
      onchange: () => {
        state.status = select.value;
        load(true);
      },
    },
    FILTERS.map((s) => h('option', { value: s }, s ? label('delivery', s) : t('deliveries.filterAll'))),
  );
  const el = h(
    'div',
    {},
    h('div', { class: 'toolbar' }, h('label', { for: 'delivery-filter' }, t('deliveries.filter')), select),
    list,
    h('div', { class: 'more' }, more),
  );

  function item(d) {
    const why = d.error?.message ?? null;
    // unitName is the unit's name when the post went out; unitRetired: that unit version was dissolved since.
    return h(
      'li',
      { class: `delivery ${d.unitRetired ? 'delivery--retired' : ''}`.trim(), dataset: { unit: d.unitCode } },
      h(
        'div',
        { class: 'delivery__head' },
        h('strong', {}, d.unitName ?? d.unitCode),
        h('small', { class: 'muted' }, ` ${d.unitCode}`),
        d.unitRetired ? retiredTag() : null,
        badge('delivery', d.status, 'badge--small'),
      ),
      postLink(d) ? h('a', { href: postLink(d), target: '_blank', rel: 'noopener noreferrer', class: 'small' }, t('tree.viewPost')) : null,
      d.status === 'recalled' ? h('p', { class: 'small muted' }, t('deliveries.deleted')) : null,
      // A reason that only repeats the status (`recalled`) says nothing more.
      d.reason && d.status !== 'published' && d.reason !== d.status
        ? h('p', { class: 'small' }, label('reason', d.reason), why ? h('span', { class: 'muted' }, ` — ${why}`) : null)
        : null,
      h('p', { class: 'small muted' }, t('deliveries.updated', { at: dateTime(d.updatedAt), attempts: d.attempts, n: d.attempts })),
    );
  }

  async function load(reset) {
    // A reload started while another is in flight wins; the older answer is dropped.
    const generation = reset ? ++state.generation : state.generation;
    if (reset) state.cursor = null;
    more.disabled = true;
    try {
      const q = new URLSearchParams({ limit: '20' });
      if (state.status) q.set('status', state.status);
      if (state.cursor) q.set('cursor', state.cursor);
      const res = await api(`/v1/posts/${postId}/deliveries?${q}`);
      if (generation !== state.generation) return;
      if (reset) list.replaceChildren();
      list.append(...res.items.map(item));
      if (!list.children.length) list.append(emptyState(t('deliveries.empty')));
      state.cursor = res.nextCursor;
      more.hidden = !res.nextCursor;
    } catch (err) {
      list.append(errorBox(err));
    } finally {
      more.disabled = false;
    }
  }

  // Without the post at hand (the detail view passes only its id), read it once to pick the opening filter.
  const ready = post ? Promise.resolve(post) : api(`/v1/posts/${postId}`).catch(() => null);
  ready.then((p) => {
    state.status = defaultDeliveryFilter(p);
    select.value = state.status;
    load(true);
  });
  return { el, refresh: () => load(true) };
}
