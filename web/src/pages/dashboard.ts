import { auth, handToDebugger, type View } from '../app';
import { ApiError, type Activity, type Mode, type User } from '../auth-client';
import { h, replace, when, uid } from '../dom';
import { clock, decodeJwt, prettyJson } from '../jwt';
import { renderAdmin } from './admin';

const MODE_LABEL: Record<Mode, string> = { session: 'Session', jwt: 'JWT', hybrid: 'Hybrid' };

interface SessionRow {
  readonly id: string;
  readonly mode: Mode;
  readonly created_at: string | number;
  readonly last_used_at?: string | number | null;
  readonly user_agent?: string | null;
  readonly current: boolean;
}

/** "Chrome on Linux" from a user-agent string; the raw string stays in the title. */
export function describeAgent(ua: string | null | undefined): string {
  if (!ua) return 'Unknown device';
  const browser = /Edg\//.test(ua)
    ? 'Edge'
    : /Firefox\//.test(ua)
      ? 'Firefox'
      : /HeadlessChrome\//.test(ua)
        ? 'Headless Chrome'
        : /Chrom(e|ium)\//.test(ua)
          ? 'Chrome'
          : /Safari\//.test(ua)
            ? 'Safari'
            : /curl\//.test(ua)
              ? 'curl'
              : /node|undici/i.test(ua)
                ? 'Node.js'
                : ua.split(/[\s/]/)[0] || 'Unknown client';
  const os = /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Mac OS X/.test(ua) ? 'macOS' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}

/** Cookie names the page's JavaScript can see, values shortened: HttpOnly ones never appear. */
function visibleCookies(): string[] {
  return document.cookie
    .split(';')
    .map((c) => c.trim())
    .filter(Boolean)
    .map((c) => {
      const eq = c.indexOf('=');
      const name = eq < 0 ? c : c.slice(0, eq);
      const value = eq < 0 ? '' : c.slice(eq + 1);
      return `${name}=${value.length > 6 ? `${value.slice(0, 4)}…` : value}`;
    });
}

function errorMessage(e: unknown): string {
  return e instanceof ApiError ? `${e.message} (${e.code})` : 'Could not reach the server.';
}

export function renderDashboard(root: HTMLElement, state: { mode: Mode; user: User }): View {
  const { mode, user } = state;
  const timers: number[] = [];
  const cleanups: (() => void)[] = [];
  const status = h('p', { class: 'status-line', role: 'status' });
  const say = (text: string) => {
    status.textContent = text;
  };

  // ------------------------------------------------------------ who you are
  const signOut = h('button', { type: 'button', class: 'secondary' }, 'Sign out');
  const signOutAll = h('button', { type: 'button', class: 'danger' }, 'Sign out everywhere');
  signOut.addEventListener('click', () => {
    signOut.disabled = true;
    auth.signOut().catch((e: unknown) => say(`Sign out: ${errorMessage(e)}`));
  });
  signOutAll.addEventListener('click', () => {
    signOutAll.disabled = true;
    auth.signOutEverywhere().catch((e: unknown) => say(`Sign out everywhere: ${errorMessage(e)}`));
  });

  const summary = h(
    'section',
    { class: 'card summary', 'aria-labelledby': 'whoami' },
    h('div', null, h('h1', { id: 'whoami', tabindex: -1 }, 'Signed in as ', h('span', { class: 'username', 'data-testid': 'username' }, user.username))),
    h(
      'dl',
      { class: 'facts' },
      h('div', null, h('dt', null, 'Name'), h('dd', null, user.name || '—')),
      h('div', null, h('dt', null, 'Role'), h('dd', null, user.role)),
      h('div', null, h('dt', null, 'Mode'), h('dd', { 'data-testid': 'mode' }, MODE_LABEL[mode])),
    ),
    h('div', { class: 'actions' }, signOut, signOutAll),
    status,
  );

  // ------------------------------------------------------------ credential panel
  const credential = h('section', { class: 'card', 'aria-labelledby': 'cred-title' });
  const renderCredential = () => {
    timers.splice(0).forEach((t) => window.clearInterval(t));
    const cookies = visibleCookies();
    const cookieView = h(
      'div',
      { class: 'cookie-view' },
      h('h3', null, 'What JavaScript can see: ', h('code', null, 'document.cookie')),
      h('pre', { class: 'code', 'data-testid': 'document-cookie' }, cookies.length ? cookies.join('; ') : '(empty)'),
    );
    const parts: (Node | null)[] = [];
    if (mode === 'session') {
      parts.push(
        h(
          'p',
          null,
          'Your browser holds a session cookie, ',
          h('code', null, '__Host-session'),
          '. It is ',
          h('strong', null, 'HttpOnly'),
          ': the browser sends it with every request, but this page cannot read it, so a script injected into the page cannot steal it.',
        ),
        cookieView,
        h(
          'p',
          null,
          'There is no ',
          h('code', null, '__Host-session'),
          ' in that list. ',
          h('code', null, '__Host-csrf'),
          ' is readable on purpose: the page copies it into the ',
          h('code', null, 'X-CSRF-Token'),
          ' header of every change it makes, which another site cannot do.',
        ),
      );
    } else {
      const token = auth.accessToken;
      if (token === null) {
        parts.push(h('p', null, 'No access token is held right now.'));
      } else {
        const decoded = decodeJwt(token);
        const exp = typeof decoded.payload.exp === 'number' ? decoded.payload.exp * 1000 : auth.expiresAt;
        const countdown = h('span', { role: 'timer', 'data-testid': 'countdown' });
        const tick = () => {
          const left = Math.round((exp - Date.now()) / 1000);
          countdown.textContent = left > 0 ? `expires in ${clock(left)}` : 'expired';
        };
        tick();
        timers.push(window.setInterval(tick, 1000));
        const debugButton = h('button', { type: 'button', class: 'link-button' }, 'Open in the token debugger');
        debugButton.addEventListener('click', () => handToDebugger(token));
        parts.push(
          h(
            'p',
            null,
            'The access token is held ',
            h('strong', null, 'only in a JavaScript variable'),
            ' — not in localStorage, sessionStorage, IndexedDB or a cookie. ',
            mode === 'jwt'
              ? 'There is no refresh token: reloading this page forgets the token and signs you out.'
              : 'When it is about to expire, the client gets a new one with the refresh cookie.',
          ),
          h(
            'dl',
            { class: 'facts' },
            h('div', null, h('dt', null, 'Size'), h('dd', { 'data-testid': 'token-size' }, `${decoded.bytes} bytes`)),
            h('div', null, h('dt', null, 'Expiry'), h('dd', null, countdown, ` (${when(exp)})`)),
            h('div', null, h('dt', null, 'Algorithm'), h('dd', null, JSON.stringify(decoded.header.alg ?? null).replace(/^"|"$/g, ''))),
          ),
          h(
            'div',
            { class: 'split' },
            h('div', null, h('h3', null, 'Header'), h('pre', { class: 'code', 'data-testid': 'token-header' }, prettyJson(decoded.header))),
            h('div', null, h('h3', null, 'Payload'), h('pre', { class: 'code', 'data-testid': 'token-payload' }, prettyJson(decoded.payload))),
          ),
          debugButton,
        );
      }
      if (mode === 'hybrid') {
        parts.push(
          h(
            'p',
            null,
            'The refresh token is an ',
            h('strong', null, 'HttpOnly'),
            ' cookie, ',
            h('code', null, '__Secure-refresh'),
            ', sent only to ',
            h('code', null, '/auth'),
            '. This page cannot read it; it only asks the server to use it.',
          ),
        );
      }
      parts.push(cookieView);
    }
    replace(credential, h('h2', { id: 'cred-title' }, 'What your browser holds'), parts);
  };
  renderCredential();

  // ------------------------------------------------------------ try the API
  const meOut = h('pre', { class: 'code', 'data-testid': 'me-output' }, 'Not called yet.');
  const meStatus = h('p', { role: 'status', class: 'status-line' });
  const meButton = h('button', { type: 'button', class: 'primary' }, 'Call /auth/me');
  meButton.addEventListener('click', () => {
    meStatus.textContent = 'Calling…';
    auth
      .json<unknown>('/auth/me')
      .then((body) => {
        meOut.textContent = JSON.stringify(body, null, 2);
        meStatus.textContent = `GET /auth/me answered at ${new Date().toLocaleTimeString()}`;
      })
      .catch((e: unknown) => {
        meStatus.textContent = `GET /auth/me failed: ${errorMessage(e)}`;
      });
  });
  const log = h('ol', { class: 'activity' });
  cleanups.push(
    auth.onActivity((a: Activity) => {
      log.prepend(h('li', { class: `activity-${a.kind}` }, h('time', null, new Date(a.at).toLocaleTimeString()), ' ', a.text));
      while (log.children.length > 12) log.lastElementChild?.remove();
    }),
  );
  const api = h(
    'section',
    { class: 'card', 'aria-labelledby': 'api-title' },
    h('h2', { id: 'api-title' }, 'Try the API'),
    h('p', null, 'Call the server with the client library and watch it attach the credential, refresh and retry.'),
    h('div', { class: 'actions' }, meButton),
    meStatus,
    meOut,
    h('h3', { id: 'activity-title' }, 'Client activity'),
    h('div', { role: 'log', 'aria-labelledby': 'activity-title' }, log),
  );

  // ------------------------------------------------------------ sessions & devices
  const list = h('ul', { class: 'sessions', 'aria-labelledby': 'sessions-title' });
  const sessionsStatus = h('p', { role: 'status', class: 'status-line' });
  const loadSessions = async () => {
    try {
      const { sessions } = await auth.json<{ sessions: SessionRow[] }>('/auth/sessions');
      const rows = [...sessions].sort((a, b) => Number(b.current) - Number(a.current));
      replace(
        list,
        rows.map((s) => {
          const id = uid('session');
          const details = h(
            'div',
            { class: 'session-details', id },
            h('span', { class: 'session-device', title: s.user_agent ?? '' }, describeAgent(s.user_agent)),
            h('span', { class: `badge mode-${s.mode}` }, MODE_LABEL[s.mode] ?? s.mode),
            h('span', { class: 'muted' }, `signed in ${when(s.created_at)}, last used ${when(s.last_used_at ?? s.created_at)}`),
          );
          let action: HTMLElement;
          if (s.current) {
            action = h('strong', { class: 'this-device' }, 'This device');
          } else {
            const revoke = h('button', { type: 'button', class: 'secondary small', 'aria-describedby': id }, 'Revoke');
            revoke.addEventListener('click', () => {
              revoke.disabled = true;
              auth
                .json<undefined>(`/auth/sessions/${encodeURIComponent(s.id)}`, { method: 'DELETE' })
                .then(() => {
                  sessionsStatus.textContent = `Revoked ${describeAgent(s.user_agent)}: it is signed out.`;
                  return loadSessions();
                })
                .catch((e: unknown) => {
                  revoke.disabled = false;
                  sessionsStatus.textContent = `Could not revoke: ${errorMessage(e)}`;
                });
            });
            action = revoke;
          }
          return h('li', { class: s.current ? 'session current' : 'session', 'aria-current': s.current ? 'true' : null }, details, action);
        }),
      );
      if (rows.length === 0) replace(list, h('li', { class: 'muted' }, 'No sessions.'));
    } catch (e) {
      sessionsStatus.textContent = `Could not load sessions: ${errorMessage(e)}`;
    }
  };
  const reloadSessions = h('button', { type: 'button', class: 'secondary small' }, 'Refresh list');
  reloadSessions.addEventListener('click', () => void loadSessions());
  const sessionsSection = h(
    'section',
    { class: 'card', 'aria-labelledby': 'sessions-title' },
    h('div', { class: 'section-head' }, h('h2', { id: 'sessions-title' }, 'Sessions & devices'), reloadSessions),
    h('p', null, 'Every browser or app signed in to your account. Revoking one signs it out at its next request.'),
    list,
    sessionsStatus,
  );

  // ------------------------------------------------------------ change password
  const current = h('input', { id: 'current-password', type: 'password', autocomplete: 'current-password', required: true });
  const next = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, 'aria-describedby': 'new-password-hint' });
  const pwStatus = h('p', { role: 'status', class: 'status-line' });
  const pwForm = h(
    'form',
    { class: 'stack', novalidate: true },
    // For password managers: which account this new password belongs to.
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: user.username, readonly: true, hidden: true }),
    h('div', { class: 'field' }, h('label', { for: 'current-password' }, 'Current password'), current),
    h('div', { class: 'field' }, h('label', { for: 'new-password' }, 'New password'), next, h('p', { class: 'hint', id: 'new-password-hint' }, '8 to 256 characters.')),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Change password')),
    pwStatus,
  );
  pwForm.addEventListener('submit', (event) => {
    event.preventDefault();
    if (next.value.length < 8) {
      pwStatus.textContent = 'The new password needs at least 8 characters.';
      next.focus();
      return;
    }
    pwStatus.textContent = 'Changing…';
    auth
      .json<undefined>('/auth/password', { method: 'POST', body: JSON.stringify({ current_password: current.value, new_password: next.value }) })
      .then(() => {
        pwForm.reset();
        pwStatus.textContent = 'Password changed. Every other session and device was signed out; this one stays signed in.';
        return loadSessions();
      })
      .catch((e: unknown) => {
        pwStatus.textContent =
          e instanceof ApiError && e.code === 'invalid_credentials' ? 'The current password is wrong.' : `Could not change the password: ${errorMessage(e)}`;
      });
  });
  const passwordSection = h('section', { class: 'card', 'aria-labelledby': 'pw-title' }, h('h2', { id: 'pw-title' }, 'Change password'), pwForm);

  const admin = user.role === 'admin' ? renderAdmin(user) : null;
  if (admin) cleanups.push(admin.cleanup);

  replace(root, h('div', { class: 'dashboard' }, summary, credential, api, sessionsSection, passwordSection, admin?.element ?? null));
  void loadSessions();

  return {
    title: `${user.username} · Frontdesk`,
    update: renderCredential,
    cleanup: () => {
      timers.forEach((t) => window.clearInterval(t));
      cleanups.forEach((c) => c());
    },
  };
}
