import { api } from '../api.js';
import { errorBox } from '../components.js';
import { h, replace, sleep } from '../dom.js';
import { decimal, label, num, t, time } from '../i18n.js';

const STATES = ['waiting', 'active', 'delayed', 'failed'];
const REFRESH_MS = 2_000;

/** A failed count is red only when there is something to look at: 0 is the good case. */
function statClass(state, n) {
  return `stat stat--${state}${state === 'failed' && n > 0 ? ' stat--alert' : ''}`;
}

function queueCard(name, counts) {
  return h(
    'section',
    { class: 'card queue', 'aria-labelledby': `q-${name}` },
    h('h2', { id: `q-${name}` }, t(`queues.${name}`)),
    h('p', { class: 'hint' }, t(`queues.${name}Hint`)),
    h(
      'dl',
      { class: 'stats' },
      STATES.map((s) =>
        h(
          'div',
          { class: statClass(s, counts[s] ?? 0), dataset: { state: s } },
          h('dt', {}, label('queue', s)),
          h('dd', {}, num(counts[s] ?? 0)),
        ),
      ),
    ),
    name === 'deliveries' ? h('p', { class: 'hint small' }, t('queues.deliveriesFailedHint')) : null,
  );
}

function windowRow(key, w) {
  return h(
    'div',
    { class: 'throughput__row' },
    h('dt', {}, t(key)),
    h(
      'dd',
      {},
      h('strong', {}, t('queues.perSecond', { rate: decimal(w.perSecond) })),
      h('span', { class: 'small muted' }, ` · ${t('queues.finished', { published: w.published, failed: w.failed, skipped: w.skipped })}`),
    ),
  );
}

/** BullMQ counts (deliveries' failed: the ledger's, in your scope) and store-side throughput, refreshed every 2 s while the tab is visible. */
export function queuesView(main) {
  const ac = new AbortController();
  const body = h('div', { class: 'queues' });
  const stamp = h('p', { class: 'small muted', 'aria-live': 'off' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, t('queues.title')), stamp), body);

  async function tick() {
    const [counts, tp] = await Promise.all([api('/v1/queues', { signal: ac.signal }), api('/v1/queues/throughput', { signal: ac.signal })]);
    replace(
      body,
      queueCard('deliveries', counts.deliveries),
      queueCard('fanout', counts.fanout),
      h(
        'section',
        { class: 'card throughput', 'aria-labelledby': 'q-throughput' },
        h('h2', { id: 'q-throughput' }, t('queues.throughput')),
        h('p', { class: 'hint' }, t('queues.throughputHint')),
        h('dl', {}, windowRow('queues.lastMinute', tp.lastMinute), windowRow('queues.last5Minutes', tp.last5Minutes)),
      ),
    );
    replace(stamp, t('queues.updatedAt', { at: time(new Date()) }));
  }

  (async () => {
    while (!ac.signal.aborted) {
      if (document.visibilityState === 'visible') {
        try {
          await tick();
        } catch (err) {
          if (ac.signal.aborted) return;
          replace(body, errorBox(err));
        }
      }
      await sleep(REFRESH_MS, ac.signal);
    }
  })();
  return () => ac.abort();
}
