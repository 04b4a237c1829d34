import { auth, type View } from '../app';
import { ApiError, type EndReason, type Mode } from '../auth-client';
import { h, replace } from '../dom';

/** Why the user is looking at the sign-in page, in words a user understands. */
export const REASON_TEXT: Record<EndReason, string> = {
  signed_out: 'You signed out.',
  signed_out_elsewhere: 'You signed out in another tab, so this tab signed out too.',
  jwt_forgotten:
    'You were signed in with JWT mode. That token lived only in the memory of the page, so reloading the page (or opening a new tab) forgot it and signed you out. Session and Hybrid modes survive a reload.',
  refresh_reused:
    'You were signed out for your safety: an old refresh token was used a second time, which can mean someone copied it. Every device that shared this sign-in was signed out. Sign in again, and change your password if this was not you.',
  invalid_token:
    'You were signed out because your sign-in was revoked: you signed out everywhere, changed your password, revoked this device from another one, or an administrator ended it.',
  unauthenticated:
    'You were signed out because your sign-in ended on the server: it was revoked from another device or by an administrator, or it expired.',
  token_expired: 'You were signed out because your sign-in expired.',
  forbidden: 'You were signed out because this account has been disabled. Contact an administrator.',
  csrf: 'You were signed out because a security check (the CSRF token) failed. Sign in again.',
};

const MODES: { value: Mode; label: string; hint: string }[] = [
  { value: 'session', label: 'Session', hint: 'An opaque session ID in an HttpOnly cookie; the server looks it up on every request.' },
  { value: 'jwt', label: 'JWT', hint: 'A signed access token kept in this page’s memory only. A reload forgets it.' },
  {
    value: 'hybrid',
    label: 'Hybrid',
    hint: 'Recommended: a short-lived access token in memory and a refresh token in an HttpOnly cookie. Survives reloads.',
  },
];

function errorText(e: unknown, creating: boolean): string {
  if (!(e instanceof ApiError)) return 'Could not reach the server. Check the connection and try again.';
  switch (e.code) {
    case 'invalid_credentials':
      return 'Wrong username or password.';
    case 'conflict':
      return creating ? 'That username is taken. Choose another one, or sign in.' : e.message;
    case 'rate_limited':
      return `Too many attempts. ${e.message}`;
    case 'forbidden':
      return `This account cannot sign in: ${e.message}`;
    default:
      return e.message;
  }
}

/** Reasons the client decided on its own: the server has nothing to add to them. */
const OWN_REASONS = new Set<EndReason>(['signed_out', 'signed_out_elsewhere', 'jwt_forgotten']);

export function renderSignIn(root: HTMLElement, reason: EndReason | null, detail: string | null = null): View {
  const username = h('input', { id: 'username', name: 'username', autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false', required: true });
  const password = h('input', {
    id: 'password',
    name: 'password',
    type: 'password',
    autocomplete: 'current-password',
    required: true,
    'aria-describedby': 'password-hint',
  });
  const name = h('input', { id: 'name', name: 'name', autocomplete: 'name', 'aria-describedby': 'name-hint' });
  const error = h('p', { class: 'form-error', id: 'form-error', role: 'alert' });
  const signInButton = h('button', { type: 'submit', class: 'primary', value: 'signin' }, 'Sign in');
  const createButton = h('button', { type: 'submit', class: 'secondary', value: 'create' }, 'Create account');

  const modeRadios = MODES.map((m) =>
    h(
      'div',
      { class: 'mode-option' },
      h('input', { type: 'radio', name: 'mode', id: `mode-${m.value}`, value: m.value, checked: m.value === 'hybrid', 'aria-describedby': `mode-${m.value}-hint` }),
      h('label', { for: `mode-${m.value}` }, m.label),
      h('p', { class: 'hint', id: `mode-${m.value}-hint` }, m.hint),
    ),
  );

  const form = h(
    'form',
    { class: 'signin-form', novalidate: true, 'aria-describedby': 'form-error' },
    h('div', { class: 'field' }, h('label', { for: 'username' }, 'Username'), username),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'password' }, 'Password'),
      password,
      h('p', { class: 'hint', id: 'password-hint' }, 'At least 8 characters.'),
    ),
    h('fieldset', { class: 'modes' }, h('legend', null, 'Mode'), modeRadios),
    h(
      'div',
      { class: 'field' },
      h('label', { for: 'name' }, 'Name'),
      name,
      h('p', { class: 'hint', id: 'name-hint' }, 'Optional, used only when you create an account.'),
    ),
    error,
    h('div', { class: 'actions' }, signInButton, createButton),
  );

  const setBusy = (busy: boolean) => {
    signInButton.disabled = busy;
    createButton.disabled = busy;
    form.setAttribute('aria-busy', String(busy));
  };

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const creating = event.submitter === createButton;
    const mode = (new FormData(form).get('mode') as Mode | null) ?? 'hybrid';
    const u = username.value.trim();
    const p = password.value;
    error.textContent = '';
    if (u === '' || p === '') {
      error.textContent = u === '' ? 'Enter your username.' : 'Enter your password.';
      (u === '' ? username : password).focus();
      return;
    }
    if (creating && p.length < 8) {
      error.textContent = 'Choose a password of at least 8 characters.';
      password.focus();
      return;
    }
    setBusy(true);
    const run = async () => {
      if (creating) await auth.register(u, p, name.value.trim() || undefined);
      await auth.signIn(u, p, mode);
    };
    run().catch((e: unknown) => {
      setBusy(false);
      error.textContent = errorText(e, creating);
      password.select();
    });
  });

  const notice =
    reason === null
      ? null
      : h(
          'div',
          { class: `notice ${reason === 'signed_out' ? 'info' : 'warn'}`, role: reason === 'signed_out' ? 'status' : 'alert' },
          h('p', null, REASON_TEXT[reason]),
          detail && !OWN_REASONS.has(reason) ? h('p', { class: 'detail' }, `The server said: “${detail}”`) : null,
        );

  replace(
    root,
    h(
      'section',
      { class: 'card narrow', 'aria-labelledby': 'signin-title' },
      h('h1', { id: 'signin-title', tabindex: -1 }, 'Sign in to Frontdesk'),
      notice,
      h('p', { class: 'lead' }, 'Sign in with a session, a JWT or the hybrid of both, and see exactly what your browser holds.'),
      form,
    ),
  );
  return { title: 'Sign in · Frontdesk' };
}
