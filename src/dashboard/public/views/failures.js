import { api } from '../api.js';
import { connectLinkAction, emptyState, errorBox } from '../components.js';
import { h, replace } from '../dom.js';
import { label, num, t } from '../i18n.js';

/** Roles that may ask for a retry (the server decides in the end). */
const RETRY_ROLES = new Set(['editor', 'approver', 'admin']);
/** How many units of a relink group are listed with their own connect-link action. */
const RELINK_LIST = 10;

/**
 * Failed deliveries grouped by reason and Graph error code, each group with what can be done about it
 * (the server's `action`): `retry` groups offer "retry these"; `relink` groups (the Page's token is
 * broken) say to reconnect the Page first and list the units with a connect link, then offer a retry
 * of the Pages already reconnected; `none` groups say why a retry cannot help. A retry asks for a
 * confirmation in place (no modal), then calls POST /v1/posts/{id}/retry and reports what it skipped.
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

  /** "Requeued 3 Pages; left 2 that need reconnecting first." */
  function retriedText(res) {
    const parts = [res.requeued ? t('failures.retried', { n: res.requeued }) : t('failures.retriedNone')];
    const skipped = res.skipped ?? {};
    if (skipped.needs_relink) parts.push(t('failures.skippedRelink', { n: skipped.needs_relink }));
    if (skipped.permanent) parts.push(t('failures.skippedPermanent', { n: skipped.permanent }));
    for (const [why, n] of Object.entries(skipped)) {
      if (why !== 'needs_relink' && why !== 'permanent' && n) parts.push(t('failures.skippedOther', { n, why: label('skip', why) }));
    }
    return parts.join(' ');
  }

  async function retry(reasons, button) {
    button.disabled = true;
    try {
      const res = await api(`/v1/posts/${postId}/retry`, { method: 'POST', body: reasons ? { reasons } : {} });
      say(retriedText(res), res.requeued ? 'ok' : 'warn');
      onRetried();
    } catch (err) {
      if (err.missingRoute) say(t('failures.retryUnavailable'), 'warn');
      else say(t('failures.retryFailed', { message: err.message }), 'error');
    } finally {
      button.disabled = false;
    }
  }

  /** First click asks "Retry N Pages?", with Confirm / Cancel next to it. */
  function retryControl(reasons, count, text, question = 'failures.confirmQuestion') {
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
      replace(wrap, h('span', { class: 'small' }, t(question, { n: count })), confirm, cancel);
      confirm.focus();
    }
    wrap.append(start);
    return wrap;
  }

  /** The units of a relink group (from the failed deliveries with that reason), each with a connect link. */
  function relinkUnits(f) {
    const list = h('ul', { class: 'relink-list' }, h('li', { class: 'small muted' }, t('common.loading')));
    (async () => {
      try {
        const units = [];
        let cursor = null;
        do {
          const q = new URLSearchParams({ status: 'failed', limit: '500' });
          if (cursor) q.set('cursor', cursor);
          const res = await api(`/v1/posts/${postId}/deliveries?${q}`);
          for (const d of res.items) {
            if (d.reason === f.reason && !units.some((u) => u.code === d.unitCode)) units.push({ code: d.unitCode, name: d.unitName });
          }
          cursor = units.length >= RELINK_LIST ? null : res.nextCursor;
        } while (cursor);
        replace(
          list,
          units
            .slice(0, RELINK_LIST)
            .map((u) =>
              h(
                'li',
                { class: 'relink-item', dataset: { unit: u.code } },
                h('span', {}, h('strong', {}, u.name ?? u.code), h('small', { class: 'muted' }, ` ${u.code}`)),
                connectLinkAction(u, me),
              ),
            ),
          f.count > RELINK_LIST ? h('li', { class: 'hint small' }, t('failures.relinkMore', { n: f.count - RELINK_LIST })) : null,
        );
      } catch (err) {
        replace(list, h('li', {}, errorBox(err)));
      }
    })();
    return list;
  }

  function group(f) {
    const action = f.action ?? 'retry';
    return h(
      'li',
      { class: `failure failure--${action}`, dataset: { action, reason: f.reason ?? '' } },
      h(
        'div',
        { class: 'failure__head' },
        h('strong', { class: 'failure__count' }, num(f.count)),
        h('span', { class: 'failure__reason' }, label('reason', f.reason ?? 'unknown')),
        f.code !== null ? h('code', { class: 'small' }, f.subcode !== null ? `#${f.code}/${f.subcode}` : `#${f.code}`) : null,
      ),
      f.sampleMessage ? h('p', { class: 'failure__sample small muted' }, t('failures.sample', { message: f.sampleMessage })) : null,
      action === 'relink'
        ? [
            h('p', { class: 'failure__advice' }, t('failures.relinkAdvice', { n: f.count })),
            relinkUnits(f),
            canRetry && f.reason
              ? retryControl([f.reason], f.count, t('failures.retryRelinked'), 'failures.confirmRelinkedQuestion')
              : null,
          ]
        : null,
      action === 'none' ? h('p', { class: 'failure__advice' }, t('failures.noRetryAdvice')) : null,
      action === 'retry' && canRetry && f.reason ? retryControl([f.reason], f.count, t('failures.retryThese')) : null,
    );
  }

  async function refresh() {
    try {
      const res = await api(`/v1/posts/${postId}/failures`);
      if (!res.items.length) return replace(body, emptyState(t('failures.none')));
      const retryable = res.items.filter((f) => (f.action ?? 'retry') === 'retry' && f.reason);
      const retryableCount = retryable.reduce((n, f) => n + f.count, 0);
      replace(
        body,
        h('p', { class: 'small' }, t('failures.total', { n: res.total })),
        h('ul', { class: 'failure-list' }, res.items.map(group)),
        !canRetry
          ? h('p', { class: 'hint' }, t('failures.viewerHint'))
          : retryable.length > 1
            ? retryControl(
                retryable.map((f) => f.reason),
                retryableCount,
                t('failures.retryAll'),
              )
            : null,
      );
    } catch (err) {
      replace(body, errorBox(err));
    }
  }

  refresh();
  return { el, refresh };
}
