import { api } from '../api.js';
import { badge, emptyState, errorBox, retiredTag, safeUrl } from '../components.js';
import { h } from '../dom.js';
import { dateTime, label, t } from '../i18n.js';

const FILTERS = ['published', 'failed', 'skipped', 'queued', 'publishing', 'cancelled'];

/** Per-Page deliveries of a post, filtered by status, with a link to each published Page post. */
export function deliveriesPanel(postId) {
  const state = { status: 'published', cursor: null, generation: 0 };
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
    FILTERS.map((s) => h('option', { value: s }, label('delivery', s))),
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
      safeUrl(d.permalink)
        ? h('a', { href: safeUrl(d.permalink), target: '_blank', rel: 'noopener noreferrer', class: 'small' }, t('tree.viewPost'))
        : null,
      d.reason && d.status !== 'published'
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
      const q = new URLSearchParams({ status: state.status, limit: '20' });
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

  load(true);
  return { el, refresh: () => load(true) };
}
