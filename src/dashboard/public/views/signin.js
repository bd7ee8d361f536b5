import { api, session } from '../api.js';
import { h, replace } from '../dom.js';
import { t } from '../i18n.js';

/** Sign in with an API key (any role). The key is checked with /v1/me before it is kept. */
export function signInView(main, { onSignedIn }) {
  const input = h('input', {
    id: 'api-key',
    name: 'api-key',
    type: 'password',
    autocomplete: 'off',
    spellcheck: 'false',
    required: true,
    'aria-describedby': 'api-key-hint',
  });
  const message = h('p', { class: 'error', role: 'alert', hidden: true });
  const button = h('button', { type: 'submit', class: 'btn btn--primary btn--block' }, t('signin.submit'));
  const form = h(
    'form',
    { class: 'card signin', novalidate: true },
    h('h1', {}, t('signin.title')),
    h('p', { class: 'lead' }, t('signin.lead')),
    h('label', { for: 'api-key' }, t('signin.keyLabel')),
    input,
    h('p', { id: 'api-key-hint', class: 'hint' }, t('signin.keyHint')),
    message,
    button,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const key = input.value.trim();
    message.hidden = true;
    if (!key) {
      replace(message, t('signin.empty'));
      message.hidden = false;
      input.focus();
      return;
    }
    button.disabled = true;
    try {
      const who = await api('/v1/me', { key });
      session.set(key);
      onSignedIn(who);
    } catch (err) {
      replace(message, err.status === 401 ? t('signin.rejected') : t('error.load', { message: err.message }));
      message.hidden = false;
      input.select();
    } finally {
      button.disabled = false;
    }
  });
  main.replaceChildren(h('div', { class: 'signin-wrap' }, form));
  input.focus();
  return () => {};
}
