import { api, subscribe } from '../api.js';
import { badge, describeTarget, errorBox, keyName, liveIndicator, loadKeyNames, progressBar, rollUp, safeUrl } from '../components.js';
import { h, replace, throttle } from '../dom.js';
import { dateTime, t } from '../i18n.js';
import { deliveriesPanel } from './deliveries.js';
import { failuresPanel } from './failures.js';
import { targetTree } from './tree.js';

function section(title, ...content) {
  const id = `h-${title.replace(/\W+/g, '-')}`;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h2', { id }, title), ...content);
}

function metaRow(term, value) {
  return value ? h('div', {}, h('dt', {}, term), h('dd', {}, value)) : null;
}

/** One post: live progress, the rolled-up tree, failures by reason and the per-Page list. */
export function postDetailView(main, { me, params: [postId] }) {
  let stop = null;
  let disposed = false;
  const live = liveIndicator();
  const status = h('span');
  const bar = progressBar();
  const back = h('a', { href: '#/posts', class: 'back' }, t('detail.back'));
  main.append(back, h('div', { class: 'page-head' }, h('h1', {}, t('detail.title')), live.el));

  (async () => {
    let post;
    try {
      post = await api(`/v1/posts/${postId}`);
      await loadKeyNames([post.createdBy, post.approvedBy, post.cancelledBy]);
    } catch (err) {
      main.append(errorBox(err));
      return;
    }
    if (disposed) return;
    const target = h('span', {}, post.target?.unit ?? '');
    describeTarget(post.target).then((s) => replace(target, s));
    const tree = targetTree(postId);
    const failures = failuresPanel(postId, me, {
      onRetried: () => {
        refreshAll();
        follow();
      },
    });
    const deliveries = deliveriesPanel(postId);
    const times = h('dl', { class: 'meta meta--grid' });
    const showTimes = (p) =>
      replace(
        times,
        metaRow(t('post.target'), target),
        metaRow(t('post.author'), keyName(p.createdBy)),
        metaRow(t('post.approver'), p.approvedBy ? keyName(p.approvedBy) : t('post.notApproved')),
        p.cancelledBy ? metaRow(t('post.cancelledBy'), keyName(p.cancelledBy)) : null,
        metaRow(t('post.createdAt'), dateTime(p.createdAt)),
        metaRow(t('post.publishAt'), p.publishAt ? dateTime(p.publishAt) : null),
        metaRow(t('post.startedAt'), p.startedAt ? dateTime(p.startedAt) : null),
        metaRow(t('post.completedAt'), p.completedAt ? dateTime(p.completedAt) : null),
      );
    const apply = (v) => {
      replace(status, badge('post', v.status));
      bar.update(rollUp(v.counts, v.total));
      bar.el.closest('.card')?.setAttribute('data-status', v.status);
    };
    showTimes(post);
    apply(post);
    main.append(
      h(
        'section',
        { class: 'card post-summary', 'aria-label': t('detail.summary') },
        h('div', { class: 'post-summary__head' }, status),
        h('p', { class: 'message' }, post.message),
        safeUrl(post.link)
          ? h('p', {}, h('a', { href: safeUrl(post.link), target: '_blank', rel: 'noopener noreferrer' }, post.link))
          : null,
        times,
        bar.el,
      ),
      section(t('detail.tree'), h('p', { class: 'hint' }, t('detail.treeHint')), tree.el),
      section(t('detail.failures'), failures.el),
      section(t('detail.deliveries'), deliveries.el),
    );

    // While the post runs, the open tree levels and the failures follow the counts, at most every 2 s.
    const refreshAll = throttle(() => {
      tree.refresh();
      failures.refresh();
    }, 2_000);
    let lastStatus = post.status;
    function follow() {
      stop?.();
      stop = subscribe(
        `/v1/posts/${postId}/events`,
        async (event, data) => {
          if (event !== 'progress') return;
          apply(data);
          refreshAll();
          if (data.status !== lastStatus) {
            lastStatus = data.status;
            const fresh = await api(`/v1/posts/${postId}`).catch(() => null);
            if (fresh) {
              await loadKeyNames([fresh.approvedBy, fresh.cancelledBy]);
              showTimes(fresh);
            }
          }
        },
        (s) => {
          live.set(s);
          if (s === 'ended') {
            refreshAll();
            deliveries.refresh();
          }
        },
      );
    }
    follow();
    cleanup = () => {
      refreshAll.cancel();
      stop?.();
    };
  })();

  let cleanup = () => stop?.();
  return () => {
    disposed = true;
    cleanup();
  };
}
