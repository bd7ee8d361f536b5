import { api } from '../api.js';
import { badge, errorBox, postLink, progressBar, retiredTag, rollUp } from '../components.js';
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';

/**
 * The post's target as a collapsible tree. Each node shows its own delivery (with a link to the
 * Page post once published) and a bar rolled up over its whole subtree. Children are fetched when a
 * node is first opened; `refresh()` re-reads every open level in place (used while the post runs).
 */
export function targetTree(postId) {
  const rows = new Map();
  const root = h('ul', { class: 'tree' });
  const el = h('div', { class: 'tree-wrap' }, root);

  const fetchLevel = (code) => api(`/v1/posts/${postId}/tree${code ? `?unit=${encodeURIComponent(code)}` : ''}`);

  function ownStatus(node) {
    const d = node.delivery;
    if (!d) return h('span', { class: 'muted small' }, t('tree.notTargeted'));
    return h(
      'span',
      { class: 'tree-own' },
      badge('delivery', d.status, 'badge--small'),
      postLink(d)
        ? h(
            'a',
            {
              href: postLink(d),
              target: '_blank',
              rel: 'noopener noreferrer',
              class: 'small',
              'aria-label': t('tree.viewPostOf', { name: node.name }),
            },
            t('tree.viewPostShort'),
          )
        : null,
    );
  }

  function row(node) {
    const bar = progressBar({ compact: true });
    const own = h('span', { class: 'tree-own-wrap' });
    // The unit version the post went to was dissolved by a reorganisation since: greyed, with a tag.
    const retired = retiredTag(!node.retired);
    const kids = h('ul', { class: 'tree', id: `tree-${node.code}`, hidden: true });
    const toggle = node.hasChildren
      ? h('button', {
          type: 'button',
          class: 'tree-toggle',
          'aria-expanded': 'false',
          'aria-controls': `tree-${node.code}`,
          'aria-label': t('tree.expand', { name: node.name }),
        })
      : h('span', { class: 'tree-toggle tree-toggle--leaf', 'aria-hidden': 'true' });
    const li = h(
      'li',
      { class: 'tree-node', dataset: { code: node.code } },
      h(
        'div',
        { class: `tree-row ${node.hasChildren ? '' : 'tree-row--leaf'}` },
        toggle,
        h(
          'span',
          { class: 'tree-name' },
          h('span', {}, node.name),
          h('small', { class: 'muted' }, ` ${node.type} · ${node.code}`),
          ' ',
          retired,
        ),
        own,
        node.hasChildren ? bar.el : null,
      ),
      kids,
    );
    const r = { node, li, kids, toggle, open: false, loaded: false, update: null };
    r.update = (n) => {
      r.node = n;
      li.classList.toggle('tree-node--retired', Boolean(n.retired));
      retired.hidden = !n.retired;
      replace(own, ownStatus(n));
      bar.update(rollUp(n.counts));
    };
    r.update(node);
    if (node.hasChildren) toggle.addEventListener('click', () => setOpen(r, !r.open));
    rows.set(node.code, r);
    return r;
  }

  function fill(list, children) {
    list.replaceChildren(...children.map((c) => row(c).li));
    if (!children.length) list.append(h('li', { class: 'muted small' }, t('tree.noChildren')));
  }

  async function setOpen(r, open) {
    r.open = open;
    r.toggle.setAttribute('aria-expanded', String(open));
    r.toggle.setAttribute('aria-label', t(open ? 'tree.collapse' : 'tree.expand', { name: r.node.name }));
    r.kids.hidden = !open;
    if (!open || r.loaded) return;
    r.kids.replaceChildren(h('li', { class: 'muted small' }, t('common.loading')));
    try {
      const res = await fetchLevel(r.node.code);
      r.loaded = true;
      fill(r.kids, res.children);
    } catch (err) {
      r.kids.replaceChildren(h('li', {}, errorBox(err)));
    }
  }

  async function load() {
    try {
      const res = await fetchLevel(null);
      rows.clear();
      const top = row(res.node);
      root.replaceChildren(top.li);
      top.loaded = true;
      fill(top.kids, res.children);
      if (res.node.hasChildren) await setOpen(top, true);
    } catch (err) {
      root.replaceChildren(h('li', {}, errorBox(err)));
    }
  }

  /** Re-reads the top node and every open node; a level whose children changed is rebuilt. */
  async function refresh() {
    const open = [...rows.values()].filter((r) => r.loaded && (r.open || r.li.parentElement === root));
    if (!open.length) return load();
    let rebuild = false;
    await Promise.all(
      open.map(async (r) => {
        const res = await fetchLevel(r.node.code).catch(() => null);
        if (!res) return;
        if (res.node.hasChildren !== r.node.hasChildren) rebuild = true;
        r.update(res.node);
        const known =
          res.children.every((c) => rows.has(c.code)) && res.children.length === r.kids.querySelectorAll(':scope > .tree-node').length;
        if (known) for (const c of res.children) rows.get(c.code).update(c);
        else fill(r.kids, res.children);
      }),
    );
    if (rebuild) await load();
  }

  load();
  return { el, refresh };
}
