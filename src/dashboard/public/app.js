import { api, session } from './api.js';
import { h, replace } from './dom.js';
import { getLang, label, num, setLang, t } from './i18n.js';
import { approvalsCount, approvalsView, canApprove } from './views/approvals.js';
import { canCompose, composeView } from './views/compose.js';
import { connectionsView } from './views/connections.js';
import { pagesView } from './views/pages.js';
import { postDetailView } from './views/post-detail.js';
import { postsView } from './views/posts.js';
import { queuesView } from './views/queues.js';
import { canReorganise, reorganiseView } from './views/reorganise.js';
import { signInView } from './views/signin.js';

/**
 * Hash routes: `#/posts`, `#/posts/<id>`, `#/compose`, `#/compose/<rejected post id>` (resubmit),
 * `#/approvals`, `#/pages`, `#/connections`, `#/queues`, `#/reorganise`. Each view returns its cleanup.
 */
const ROUTES = [
  { re: /^#\/posts\/([0-9a-fA-F-]{36})$/, view: postDetailView, nav: 'posts' },
  { re: /^#\/compose(?:\/([0-9a-fA-F-]{36}))?$/, view: composeView, nav: 'compose' },
  { re: /^#\/approvals$/, view: approvalsView, nav: 'approvals' },
  { re: /^#\/pages$/, view: pagesView, nav: 'pages' },
  { re: /^#\/connections$/, view: connectionsView, nav: 'connections' },
  { re: /^#\/queues$/, view: queuesView, nav: 'queues' },
  { re: /^#\/reorganise$/, view: reorganiseView, nav: 'reorganise' },
  { re: /^#\/posts$/, view: postsView, nav: 'posts' },
];
const NAV = [
  { id: 'posts', href: '#/posts' },
  // Editors and admins write posts; approvers and admins decide on them (the server checks both).
  { id: 'compose', href: '#/compose', show: canCompose },
  { id: 'approvals', href: '#/approvals', show: canApprove, count: true },
  { id: 'pages', href: '#/pages' },
  // Every key: coverage reads are scoped to the key's subtree; the connect-link buttons are for admins.
  { id: 'connections', href: '#/connections' },
  { id: 'queues', href: '#/queues' },
  // Only for an admin key over the whole tree (the server checks it too); other keys never see the link.
  { id: 'reorganise', href: '#/reorganise', show: canReorganise },
];

const header = document.getElementById('top');
const main = document.getElementById('main');
let me = null;
let cleanup = null;
let lastHash = null;

function languageButton() {
  const other = getLang() === 'vi' ? 'en' : 'vi';
  return h(
    'button',
    {
      type: 'button',
      class: 'btn btn--ghost btn--small lang',
      lang: other,
      'aria-label': t('lang.switchLabel'),
      onclick: () => {
        setLang(other);
        render(true);
      },
    },
    t('lang.switchTo'),
  );
}

function renderHeader(active) {
  const skip = h('button', { type: 'button', class: 'skip', onclick: () => main.focus() }, t('nav.skip'));
  const brand = h(
    'a',
    { class: 'brand', href: '#/posts' },
    h('span', { class: 'brand__mark', 'aria-hidden': 'true' }),
    h('span', {}, h('strong', {}, t('app.name')), h('small', {}, t('app.tagline'))),
  );
  const tools = h('div', { class: 'top__tools' }, languageButton());
  if (me) {
    tools.prepend(
      h(
        'span',
        { class: 'who', title: me.unit.name },
        h('span', { class: 'who__name' }, me.name),
        h('span', { class: 'who__role' }, `${label('role', me.role)} · ${me.unit.name}`),
      ),
    );
    tools.append(h('button', { type: 'button', class: 'btn btn--ghost btn--small', onclick: signOut }, t('nav.signOut')));
  }
  const nav = me
    ? h(
        'nav',
        { class: 'nav', 'aria-label': t('nav.label') },
        NAV.filter((n) => !n.show || n.show(me)).map((n) =>
          h(
            'a',
            { href: n.href, class: 'nav__link', 'aria-current': n.id === active ? 'page' : null },
            t(`nav.${n.id}`),
            n.count ? approvalsBadge : null,
          ),
        ),
      )
    : null;
  replace(header, skip, h('div', { class: 'top__bar' }, brand, tools), nav);
  if (me) refreshApprovals();
}

/** The count of posts and edits awaiting this key's approval, next to "Chờ duyệt". */
const approvalsBadge = h('span', { class: 'nav__count', hidden: true });
let countGeneration = 0;
async function refreshApprovals() {
  const mine = ++countGeneration;
  const n = await approvalsCount(me);
  if (mine !== countGeneration) return;
  approvalsBadge.hidden = !n;
  approvalsBadge.dataset.count = String(n ?? 0);
  replace(approvalsBadge, n ? num(n) : '');
  approvalsBadge.setAttribute('aria-label', n ? t('nav.approvalsCount', { n }) : '');
}
window.addEventListener('lantoa:approvals-changed', () => {
  if (me) refreshApprovals();
});

function signOut() {
  session.clear();
  me = null;
  location.hash = '#/posts';
  render(true);
}

async function render(force = false) {
  if (!force && location.hash === lastHash) return;
  lastHash = location.hash;
  cleanup?.();
  cleanup = null;
  if (!session.key) {
    renderHeader(null);
    document.title = t('app.title', { page: t('signin.title') });
    cleanup = signInView(main, {
      onSignedIn: (who) => {
        me = who;
        render(true);
      },
    });
    return;
  }
  if (!me) {
    try {
      me = await api('/v1/me');
    } catch {
      session.clear();
      return render(true);
    }
  }
  const route = ROUTES.find((r) => r.re.test(location.hash));
  if (!route) {
    location.replace('#/posts');
    return;
  }
  renderHeader(route.nav);
  document.title = t('app.title', { page: t(`nav.${route.nav}`) });
  const params = location.hash
    .match(route.re)
    .slice(1)
    .filter((p) => p !== undefined);
  main.replaceChildren();
  cleanup = route.view(main, { me, params });
}

window.addEventListener('hashchange', () => render());
window.addEventListener('lantoa:signedout', () => {
  me = null;
  render(true);
});
render(true);
