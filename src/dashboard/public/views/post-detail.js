import { api, subscribe } from '../api.js';
import { badge, describeTarget, errorBox, keyName, liveIndicator, loadKeyNames, progressBar, rollUp, safeUrl } from '../components.js';
import { h, replace, throttle } from '../dom.js';
import { dateTime, t } from '../i18n.js';
import { canApprove, decisionControls } from './approvals.js';
import { canCompose, levelsKnown, previewSummary } from './compose.js';
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
      await loadKeyNames(keyIds(post));
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
        p.spread
          ? metaRow(
              t('post.spread'),
              t('post.spreadValue', {
                minutes: p.spread.minutes,
                end: p.spread.plannedEndAt ? dateTime(p.spread.plannedEndAt) : t('post.spreadEndUnknown'),
              }),
            )
          : null,
        metaRow(t('post.completedAt'), p.completedAt ? dateTime(p.completedAt) : null),
      );
    // A post still waiting for approval, or rejected, has no deliveries: their sections stay hidden.
    const sent = [];
    const apply = (v) => {
      for (const el of sent) el.hidden = UNSENT.has(v.status);
      replace(status, badge('post', v.status));
      bar.update(rollUp(v.counts, v.total));
      bar.el.closest('.card')?.setAttribute('data-status', v.status);
    };
    const state = h('div', { class: 'post-state' });
    const showState = (p) => replace(state, statePanels(p, me, { onChanged: reload }));
    async function reload() {
      const fresh = await api(`/v1/posts/${postId}`).catch(() => null);
      if (!fresh || disposed) return;
      await loadKeyNames(keyIds(fresh));
      lastStatus = fresh.status;
      apply(fresh);
      showTimes(fresh);
      showState(fresh);
      follow();
    }
    sent.push(
      section(t('detail.tree'), h('p', { class: 'hint' }, t('detail.treeHint')), tree.el),
      section(t('detail.failures'), failures.el),
      section(t('detail.deliveries'), deliveries.el),
    );
    showTimes(post);
    apply(post);
    showState(post);
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
      state,
      ...sent,
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
              await loadKeyNames(keyIds(fresh));
              showTimes(fresh);
              showState(fresh);
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

const keyIds = (p) => [p.createdBy, p.approvedBy, p.cancelledBy, p.rejection?.by, p.recall?.by];
const UNSENT = new Set(['pending_approval', 'rejected']);
const RECALLABLE = new Set(['publishing', 'published', 'partially_failed', 'failed']);

/** "Bị từ chối" / "Đã thu hồi": what happened, why, who and when. */
function outcome(kind, badgeCode, record, extra = null) {
  return h(
    'section',
    { class: `card outcome outcome--${kind}`, 'aria-labelledby': `outcome-${kind}` },
    h('h2', { id: `outcome-${kind}` }, badge('post', badgeCode), ' ', t(`outcome.${kind}.title`)),
    h(
      'dl',
      { class: 'meta meta--grid' },
      metaRow(t('outcome.reason'), h('span', { class: 'outcome__reason' }, record.reason)),
      metaRow(t('outcome.by'), h('span', { class: 'outcome__by' }, keyName(record.by))),
      metaRow(t('outcome.at'), h('time', { datetime: record.at, class: 'outcome__at' }, dateTime(record.at))),
    ),
    extra,
  );
}

/** Recall with a required reason (at least 3 characters, as the API asks). */
function recallControls(post, onChanged) {
  const reason = h('textarea', { id: 'recall-reason', rows: 2, maxlength: 1000, 'aria-describedby': 'recall-reason-error' });
  const error = h('p', { class: 'field-error', id: 'recall-reason-error', role: 'alert', hidden: true });
  const open = h('button', { type: 'button', class: 'btn', 'aria-expanded': 'false' }, t('recall.open'));
  const confirm = h('button', { type: 'submit', class: 'btn btn--danger' }, t('recall.confirm'));
  const form = h(
    'form',
    { class: 'reject-form', hidden: true, novalidate: true },
    h('label', { for: 'recall-reason' }, t('recall.reason')),
    h('p', { class: 'hint' }, t('recall.hint')),
    reason,
    error,
    h('div', { class: 'retry' }, confirm),
  );
  reason.addEventListener('input', () => {
    error.hidden = true;
  });
  open.addEventListener('click', () => {
    form.hidden = !form.hidden;
    open.setAttribute('aria-expanded', String(!form.hidden));
    if (!form.hidden) reason.focus();
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = reason.value.trim();
    error.hidden = true;
    if (text.length < 3) {
      error.hidden = false;
      replace(error, t('recall.reasonRequired'));
      reason.focus();
      return;
    }
    confirm.disabled = true;
    try {
      await api(`/v1/posts/${post.id}/recall`, { method: 'POST', body: { reason: text } });
      onChanged();
    } catch (err) {
      error.hidden = false;
      replace(error, err.details?.problems?.[0]?.message ?? t('recall.failed', { message: err.message }));
    } finally {
      confirm.disabled = false;
    }
  });
  return h('section', { class: 'card', 'aria-labelledby': 'recall-title' }, h('h2', { id: 'recall-title' }, t('recall.title')), open, form);
}

/**
 * What this key can do with the post and what became of it: approve or reject a pending post (never
 * its author), the rejection with resubmit, the recall with reason, who and when, links between a
 * rejected post and its resubmission.
 */
function statePanels(post, me, { onChanged }) {
  const out = [];
  const mine = post.createdBy === me.keyId;
  if (post.resubmitOf) {
    out.push(
      h(
        'p',
        { class: 'notice notice--info resubmit-link' },
        t('outcome.resubmitOf'),
        ' ',
        h('a', { href: `#/posts/${post.resubmitOf}` }, t('outcome.openRejected')),
      ),
    );
  }
  if (post.status === 'pending_approval') {
    const reach = h('div', { class: 'approval__preview' }, t('common.loading'));
    Promise.all([api('/v1/targets/preview', { method: 'POST', body: { target: post.target } }), levelsKnown()])
      .then(([res]) => replace(reach, h('h3', {}, t('approvals.reach')), previewSummary(res)))
      .catch((err) => replace(reach, errorBox(err)));
    const body = [reach];
    if (canApprove(me) && !mine) {
      body.push(
        decisionControls({
          paths: { approve: `/v1/posts/${post.id}/approve`, reject: `/v1/posts/${post.id}/reject` },
          idPrefix: 'detail',
          onDone: onChanged,
        }).el,
      );
    } else {
      body.push(h('p', { class: 'hint' }, t(mine ? 'approvals.waitingOwn' : 'approvals.waiting')));
    }
    out.push(section(t('approvals.sectionTitle'), ...body));
  }
  if (post.status === 'rejected' && post.rejection) {
    const actions = [];
    if (post.resubmittedAs) {
      actions.push(
        h(
          'p',
          { class: 'resubmit-link' },
          t('outcome.resubmittedAs'),
          ' ',
          h('a', { href: `#/posts/${post.resubmittedAs}` }, t('outcome.openResubmitted')),
        ),
      );
    } else if (canCompose(me)) {
      actions.push(h('p', {}, h('a', { class: 'btn btn--primary', href: `#/compose/${post.id}` }, t('outcome.resubmit'))));
    }
    out.push(outcome('rejected', 'rejected', post.rejection, actions));
  }
  if ((post.status === 'recalling' || post.status === 'recalled') && post.recall) {
    out.push(outcome('recalled', post.status, post.recall, h('p', { class: 'hint' }, t('outcome.recalled.hint'))));
  }
  if (RECALLABLE.has(post.status) && ['editor', 'approver', 'admin'].includes(me.role)) out.push(recallControls(post, onChanged));
  return out;
}
