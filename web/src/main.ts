import './styles.css';
import { auth, setRenderer, navigate, type View } from './app';
import type { AuthState } from './auth-client';
import { h, replace } from './dom';
import { renderSignIn } from './pages/signin';
import { renderDashboard } from './pages/dashboard';
import { renderDebugger } from './pages/debugger';
import { renderBench } from './pages/bench';

const main = document.getElementById('main') as HTMLElement;
let view: View | null = null;
let shownKey = '';

/** Which screen the auth state calls for on `/`: a change of key means a new page. */
function stateKey(s: AuthState): string {
  if (s.status === 'signed_in') return `in:${s.mode}:${s.user.id}:${s.user.role}`;
  if (s.status === 'signed_out') return `out:${s.reason ?? ''}:${s.detail ?? ''}`;
  return 'loading';
}

function renderLoading(root: HTMLElement): View {
  replace(root, h('section', { class: 'card narrow' }, h('h1', { tabindex: -1 }, 'Frontdesk'), h('p', { role: 'status' }, 'Checking your sign-in…')));
  return { title: 'Frontdesk' };
}

function renderNotFound(root: HTMLElement): View {
  replace(
    root,
    h('section', { class: 'card narrow' }, h('h1', { tabindex: -1 }, 'Page not found'), h('p', null, h('a', { href: '/', 'data-link': true }, 'Go to the start page'))),
  );
  return { title: 'Not found · Frontdesk' };
}

function render(focus: boolean): void {
  view?.cleanup?.();
  const path = location.pathname.replace(/\/+$/, '') || '/';
  const state = auth.state;
  shownKey = path === '/' ? stateKey(state) : path;
  if (path === '/debugger') view = renderDebugger(main);
  else if (path === '/bench') view = renderBench(main);
  else if (path === '/') {
    if (state.status === 'signed_in') view = renderDashboard(main, state);
    else if (state.status === 'signed_out') view = renderSignIn(main, state.reason, state.detail);
    else view = renderLoading(main);
  } else view = renderNotFound(main);
  document.title = view.title;
  for (const a of document.querySelectorAll<HTMLAnchorElement>('.site-footer a[data-link]')) {
    if (a.pathname === path) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  // After a navigation or a sign-in change, put screen-reader and keyboard users at
  // the new page's heading. Not on first load, so Tab still lands on Username.
  if (focus) main.querySelector<HTMLElement>('h1')?.focus();
}

setRenderer(render);

auth.subscribe((state) => {
  const path = location.pathname.replace(/\/+$/, '') || '/';
  if (path === '/' && stateKey(state) !== shownKey) {
    const hadFocus = document.activeElement !== null && document.activeElement !== document.body;
    render(hadFocus || shownKey !== 'loading');
  } else view?.update?.();
});

document.addEventListener('click', (event) => {
  const a = (event.target as Element | null)?.closest?.('a[data-link]');
  if (!(a instanceof HTMLAnchorElement)) return;
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  if (a.origin !== location.origin) return;
  event.preventDefault();
  navigate(a.pathname);
});

window.addEventListener('popstate', () => render(true));

render(false);
auth.start().catch(() => {
  main.prepend(h('p', { class: 'notice error', role: 'alert' }, 'Could not reach the Frontdesk server to restore your sign-in. Check the connection and reload.'));
});
