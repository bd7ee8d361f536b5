import { api } from '../api.js';
import { emptyState, errorBox } from '../components.js';
import { h, replace } from '../dom.js';
import { label, num, t } from '../i18n.js';

/** Roles that may ask for a retry (the server decides in the end). */
const RETRY_ROLES = new Set(['editor', 'approver', 'admin']);

/**
 * Failed deliveries grouped by reason and Graph error code, with "retry these" for roles that may.
 * A retry asks for a confirmation in place (no modal), then calls POST /v1/posts/{id}/retry.
 */
export function failuresPanel(postId, me, { onRetried }) {
  const body = h('div', { class: 'failures' });
  const notice = h('p', { class: 'notice', role: 'status', hidden: true });
  const el = h('div', {}, notice, body);
  const canRetry = RETRY_ROLES.has(me.role);

  function say(text, kind = 'info') {
    notice.className = `notice notice--${kind}`;
    replace(notice, text);
    notice.hidden = false;
  }

  async function retry(reasons, button) {
    button.disabled = true;
    try {
      await api(`/v1/posts/${postId}/retry`, { method: 'POST', body: reasons ? { reasons } : {} });
      say(t('failures.retried'), 'ok');
      onRetried();
    } catch (err) {
      if (err.missingRoute) say(t('failures.retryUnavailable'), 'warn');
      else say(t('failures.retryFailed', { message: err.message }), 'error');
    } finally {
      button.disabled = false;
    }
  }

  /** First click asks "Retry N Pages?", with Confirm / Cancel next to it. */
  function retryControl(reasons, count, text) {
    const wrap = h('div', { class: 'retry' });
    const start = h('button', { type: 'button', class: 'btn btn--small', onclick: ask }, text);
    function ask() {
      const confirm = h(
        'button',
        { type: 'button', class: 'btn btn--small btn--danger', onclick: () => retry(reasons, confirm) },
        t('failures.confirm'),
      );
      const cancel = h(
        'button',
        {
          type: 'button',
          class: 'btn btn--small btn--ghost',
          onclick: () => {
            replace(wrap, start);
            start.focus();
          },
        },
        t('common.cancel'),
      );
      replace(wrap, h('span', { class: 'small' }, t('failures.confirmQuestion', { n: count })), confirm, cancel);
      confirm.focus();
    }
    wrap.append(start);
    return wrap;
  }

  async function refresh() {
    try {
      const res = await api(`/v1/posts/${postId}/failures`);
      if (!res.items.length) return replace(body, emptyState(t('failures.none')));
      const rows = res.items.map((f) =>
        h(
          'li',
          { class: 'failure' },
          h(
            'div',
            { class: 'failure__head' },
            h('strong', { class: 'failure__count' }, num(f.count)),
            h('span', { class: 'failure__reason' }, label('reason', f.reason ?? 'unknown')),
            f.code !== null ? h('code', { class: 'small' }, f.subcode !== null ? `#${f.code}/${f.subcode}` : `#${f.code}`) : null,
          ),
          f.sampleMessage ? h('p', { class: 'failure__sample small muted' }, t('failures.sample', { message: f.sampleMessage })) : null,
          canRetry && f.reason ? retryControl([f.reason], f.count, t('failures.retryThese')) : null,
        ),
      );
      replace(
        body,
        h('p', { class: 'small' }, t('failures.total', { n: res.total })),
        h('ul', { class: 'failure-list' }, rows),
        !canRetry
          ? h('p', { class: 'hint' }, t('failures.viewerHint'))
          : res.items.length > 1
            ? retryControl(undefined, res.total, t('failures.retryAll'))
            : null,
      );
    } catch (err) {
      replace(body, errorBox(err));
    }
  }

  refresh();
  return { el, refresh };
}
