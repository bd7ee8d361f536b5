import { api } from '../api.js';
import { describeTarget, emptyState, errorBox, keyName, loadKeyNames } from '../components.js';
import { h, replace } from '../dom.js';
import { dateTime, t } from '../i18n.js';
import { levelsKnown, previewSummary } from './compose.js';

/** Approvers and admins approve; the server decides scope and four eyes in the end. */
export const canApprove = (me) => me?.role === 'approver' || me?.role === 'admin';

/** How many items await this key's approval (for the nav badge); null when it cannot approve or the route is missing. */
export async function approvalsCount(me) {
  if (!canApprove(me)) return null;
  try {
    return (await api('/v1/approvals?limit=1')).total;
  } catch {
    return null;
  }
}

export const changedApprovals = () => window.dispatchEvent(new CustomEvent('lantoa:approvals-changed'));

/**
 * Approve, or reject with a required reason. `paths` are `{approve, reject}`; `onDone(kind, result)`
 * is called after a success. Shared by the inbox and the post detail.
 */
export function decisionControls({ paths, idPrefix, onDone }) {
  const notice = h('p', { class: 'notice', role: 'status', hidden: true });
  const reason = h('textarea', {
    id: `${idPrefix}-reason`,
    rows: 3,
    maxlength: 1000,
    'aria-describedby': `${idPrefix}-reason-error`,
  });
  const reasonError = h('p', { class: 'field-error', id: `${idPrefix}-reason-error`, role: 'alert', hidden: true });
  const approve = h('button', { type: 'button', class: 'btn btn--primary' }, t('approvals.approve'));
  const openReject = h('button', { type: 'button', class: 'btn', 'aria-expanded': 'false' }, t('approvals.reject'));
  const confirmReject = h('button', { type: 'submit', class: 'btn btn--danger' }, t('approvals.confirmReject'));
  const rejectForm = h(
    'form',
    { class: 'reject-form', hidden: true, novalidate: true },
    h('label', { for: `${idPrefix}-reason` }, t('approvals.reason')),
    h('p', { class: 'hint' }, t('approvals.reasonHint')),
    reason,
    reasonError,
    h(
      'div',
      { class: 'retry' },
      confirmReject,
      h(
        'button',
        {
          type: 'button',
          class: 'btn',
          onclick: () => {
            rejectForm.hidden = true;
            openReject.setAttribute('aria-expanded', 'false');
          },
        },
        t('common.cancel'),
      ),
    ),
  );
  const buttons = h('div', { class: 'retry decision__buttons' }, approve, openReject);
  const el = h('div', { class: 'decision' }, buttons, rejectForm, notice);
  const say = (kind, text) => {
    notice.className = `notice notice--${kind}`;
    notice.hidden = false;
    replace(notice, text);
  };
  const done = (kind, res, text) => {
    buttons.hidden = true;
    rejectForm.hidden = true;
    say('ok', text);
    changedApprovals();
    onDone?.(kind, res);
  };
  reason.addEventListener('input', () => {
    reasonError.hidden = true;
    reason.removeAttribute('aria-invalid');
  });
  openReject.addEventListener('click', () => {
    rejectForm.hidden = false;
    openReject.setAttribute('aria-expanded', 'true');
    reason.focus();
  });
  approve.addEventListener('click', async () => {
    approve.disabled = openReject.disabled = true;
    try {
      const res = await api(paths.approve, { method: 'POST' });
      done('approved', res, t('approvals.approved'));
    } catch (err) {
      say('error', t('approvals.failed', { message: err.message }));
    } finally {
      approve.disabled = openReject.disabled = false;
    }
  });
  rejectForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    reasonError.hidden = true;
    const text = reason.value.trim();
    if (!text) {
      reasonError.hidden = false;
      replace(reasonError, t('approvals.reasonRequired'));
      reason.setAttribute('aria-invalid', 'true');
      reason.focus();
      return;
    }
    reason.removeAttribute('aria-invalid');
    confirmReject.disabled = true;
    try {
      const res = await api(paths.reject, { method: 'POST', body: { reason: text } });
      done('rejected', res, t('approvals.rejected'));
    } catch (err) {
      const problem = err.details?.problems?.find((p) => /reason/.test(p.field ?? ''));
      if (err.status === 400 && problem) {
        reasonError.hidden = false;
        replace(reasonError, problem.message);
        reason.focus();
      } else say('error', t('approvals.failed', { message: err.message }));
    } finally {
      confirmReject.disabled = false;
    }
  });
  return { el };
}

function excerpt(message, max = 400) {
  const s = String(message ?? '')
    .replace(/\s+/g, ' ')
    .trim();
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function postItem(item, onDone) {
  const { post, preview } = item;
  const target = h('span', {}, post.target?.unit ?? '');
  describeTarget(post.target).then((s) => replace(target, s));
  const decision = decisionControls({
    paths: { approve: `/v1/posts/${post.id}/approve`, reject: `/v1/posts/${post.id}/reject` },
    idPrefix: `approve-${post.id}`,
    onDone,
  });
  return h(
    'li',
    { class: 'card approval', dataset: { postId: post.id, kind: 'post' } },
    h(
      'div',
      { class: 'post-card__head' },
      h('span', { class: 'badge badge--pending_approval' }, t(post.resubmitOf ? 'approvals.kind.resubmitted' : 'approvals.kind.post')),
      h('time', { datetime: post.createdAt, class: 'muted' }, dateTime(post.createdAt)),
    ),
    h('a', { class: 'post-card__title', href: `#/posts/${post.id}` }, excerpt(post.message)),
    h(
      'dl',
      { class: 'meta' },
      h('div', {}, h('dt', {}, t('post.target')), h('dd', {}, target)),
      h('div', {}, h('dt', {}, t('post.author')), h('dd', {}, keyName(post.createdBy))),
      post.publishAt ? h('div', {}, h('dt', {}, t('post.publishAt')), h('dd', {}, dateTime(post.publishAt))) : null,
    ),
    preview ? h('div', { class: 'approval__preview' }, h('h3', {}, t('approvals.reach')), previewSummary(preview)) : null,
    decision.el,
  );
}

function editItem(item, onDone) {
  const decision = decisionControls({
    paths: {
      approve: `/v1/posts/${item.postId}/edits/${item.revision}/approve`,
      reject: `/v1/posts/${item.postId}/edits/${item.revision}/reject`,
    },
    idPrefix: `edit-${item.postId}-${item.revision}`,
    onDone,
  });
  return h(
    'li',
    { class: 'card approval', dataset: { postId: item.postId, kind: 'edit', revision: String(item.revision) } },
    h(
      'div',
      { class: 'post-card__head' },
      h('span', { class: 'badge badge--pending_approval' }, t('approvals.kind.edit', { revision: item.revision })),
      h('time', { datetime: item.requestedAt, class: 'muted' }, dateTime(item.requestedAt)),
    ),
    h('a', { class: 'post-card__title', href: `#/posts/${item.postId}` }, excerpt(item.post?.message ?? item.previousMessage, 160)),
    h(
      'div',
      { class: 'edit-diff' },
      h('div', {}, h('h3', {}, t('approvals.edit.before')), h('p', { class: 'message' }, item.previousMessage)),
      h('div', {}, h('h3', {}, t('approvals.edit.after')), h('p', { class: 'message' }, item.message)),
    ),
    h('dl', { class: 'meta' }, h('div', {}, h('dt', {}, t('approvals.requestedBy')), h('dd', {}, keyName(item.requestedBy)))),
    decision.el,
  );
}

/** `#/approvals` "Chờ duyệt": the posts and edits awaiting this key's approval, each with its reach. */
export function approvalsView(main, { me }) {
  const list = h('ul', { class: 'post-list approvals' });
  const count = h('p', { class: 'muted', role: 'status' });
  const refresh = h('button', { type: 'button', class: 'btn', onclick: () => load() }, t('posts.refresh'));
  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, t('approvals.title')), refresh),
    h('p', { class: 'lead' }, t('approvals.lead')),
    count,
    list,
  );
  if (!canApprove(me)) {
    replace(list, h('li', { class: 'notice notice--info' }, t('approvals.approversOnly')));
    refresh.hidden = true;
    return () => {};
  }
  let disposed = false;
  let total = 0;
  const showCount = () => replace(count, t('approvals.count', { n: total }));

  async function load() {
    refresh.disabled = true;
    try {
      const [res] = await Promise.all([api('/v1/approvals?limit=200'), levelsKnown()]);
      await loadKeyNames(res.items.flatMap((i) => (i.kind === 'edit' ? [i.requestedBy] : [i.post.createdBy])));
      if (disposed) return;
      total = res.total;
      showCount();
      const onDone = () => {
        total = Math.max(0, total - 1);
        showCount();
      };
      replace(
        list,
        res.items.map((i) => (i.kind === 'edit' ? editItem(i, onDone) : postItem(i, onDone))),
        res.items.length ? null : emptyState(t('approvals.empty')),
      );
    } catch (err) {
      if (!disposed) replace(list, h('li', {}, errorBox(err)));
    } finally {
      refresh.disabled = false;
    }
  }
  load();
  return () => {
    disposed = true;
  };
}
