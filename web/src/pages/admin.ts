import { auth } from '../app';
import { ApiError, type User } from '../auth-client';
import { h, replace } from '../dom';

interface UsersPage {
  readonly users: User[];
  readonly next_cursor: string | null;
}

function errorMessage(e: unknown): string {
  return e instanceof ApiError ? `${e.message} (${e.code})` : 'Could not reach the server.';
}

/** The admin section of the dashboard: users, wipe, key rotation. */
export function renderAdmin(me: User): { element: HTMLElement; cleanup: () => void } {
  const status = h('p', { role: 'status', class: 'status-line' });
  const say = (text: string) => {
    status.textContent = text;
  };

  // ------------------------------------------------------------ users
  const query = h('input', { id: 'admin-search', type: 'search', name: 'q', autocomplete: 'off' });
  const tbody = h('tbody');
  const table = h(
    'table',
    { 'aria-busy': 'true' },
    h('caption', { class: 'visually-hidden' }, 'Users'),
    h(
      'thead',
      null,
      h('tr', null, h('th', { scope: 'col' }, 'Username'), h('th', { scope: 'col' }, 'Name'), h('th', { scope: 'col' }, 'Role'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Actions')),
    ),
    tbody,
  );
  const more = h('button', { type: 'button', class: 'secondary small', hidden: true }, 'Load more');
  const summary = h('p', { class: 'muted', 'aria-live': 'polite' });
  let cursor: string | null = null;
  // Each load gets a number; an answer to an older one (the first list, arriving after a
  // search was sent) is dropped instead of overwriting the newer result.
  let latest = 0;

  const row = (u: User): HTMLTableRowElement => {
    const self = u.id === me.id;
    const role = h(
      'select',
      { 'aria-label': `Role of ${u.username}` },
      h('option', { value: 'user', selected: u.role === 'user' }, 'user'),
      h('option', { value: 'admin', selected: u.role === 'admin' }, 'admin'),
    );
    if (u.role !== 'user' && u.role !== 'admin') role.prepend(h('option', { value: u.role, selected: true }, u.role));
    const toggle = h('button', { type: 'button', class: 'secondary small', 'aria-label': `${u.disabled ? 'Enable' : 'Disable'} ${u.username}` }, u.disabled ? 'Enable' : 'Disable');
    const revoke = h('button', { type: 'button', class: 'secondary small', 'aria-label': `Force logout ${u.username}` }, 'Force logout');
    const tr = h(
      'tr',
      { 'data-user': u.id },
      h('th', { scope: 'row' }, u.username, self ? h('span', { class: 'muted' }, ' (you)') : null),
      h('td', null, u.name || '—'),
      h('td', null, role),
      h('td', null, u.disabled ? h('span', { class: 'badge danger' }, 'Disabled') : h('span', { class: 'badge ok' }, 'Active')),
      h('td', { class: 'row-actions' }, toggle, revoke),
    );
    const patch = (body: { role?: string; disabled?: boolean }, done: string) =>
      auth
        .json<{ user: User }>(`/admin/users/${encodeURIComponent(u.id)}`, { method: 'PATCH', body: JSON.stringify(body) })
        .then(({ user }) => {
          tr.replaceWith(row(user));
          say(done);
        })
        .catch((e: unknown) => say(`Could not update ${u.username}: ${errorMessage(e)}`));
    role.addEventListener('change', () => void patch({ role: role.value }, `${u.username} is now ${role.value}. Their older tokens no longer carry that role.`));
    toggle.addEventListener('click', () => {
      const disabled = !u.disabled;
      void patch({ disabled }, disabled ? `${u.username} is disabled and signed out everywhere.` : `${u.username} is enabled.`);
    });
    revoke.addEventListener('click', () => {
      auth
        .json<undefined>(`/admin/users/${encodeURIComponent(u.id)}/revoke`, { method: 'POST' })
        .then(() => say(`${u.username} was signed out everywhere.`))
        .catch((e: unknown) => say(`Could not sign ${u.username} out: ${errorMessage(e)}`));
    });
    return tr;
  };

  const load = async (append: boolean) => {
    const q = query.value.trim();
    const params = new URLSearchParams({ limit: '20' });
    if (q) params.set('q', q);
    if (append && cursor) params.set('cursor', cursor);
    const mine = ++latest;
    table.setAttribute('aria-busy', 'true');
    try {
      const page = await auth.json<UsersPage>(`/admin/users?${params.toString()}`);
      if (mine !== latest) return;
      if (!append) replace(tbody);
      tbody.append(...page.users.map(row));
      if (!append && page.users.length === 0) tbody.append(h('tr', null, h('td', { colspan: 5, class: 'muted' }, 'No users match.')));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      const shown = tbody.querySelectorAll('tr[data-user]').length;
      summary.textContent = `${shown}${cursor ? '+' : ''} ${shown === 1 ? 'user' : 'users'}${q ? ` matching “${q}”` : ''}.`;
    } catch (e) {
      if (mine === latest) say(`Could not load users: ${errorMessage(e)}`);
    } finally {
      if (mine === latest) table.setAttribute('aria-busy', 'false');
    }
  };
  more.addEventListener('click', () => void load(true));
  const search = h(
    'form',
    { class: 'inline-form', role: 'search' },
    h('label', { for: 'admin-search' }, 'Search users'),
    query,
    h('button', { type: 'submit', class: 'secondary' }, 'Search'),
  );
  search.addEventListener('submit', (event) => {
    event.preventDefault();
    void load(false);
  });

  // ------------------------------------------------------------ wipe and rotate
  const wipe = h('button', { type: 'button', class: 'danger' }, 'Wipe all sessions');
  const confirmBox = h(
    'div',
    { class: 'confirm', hidden: true },
    h('p', { id: 'wipe-warning' }, 'This signs out every user in every mode, you included.'),
  );
  const confirmWipe = h('button', { type: 'button', class: 'danger', 'aria-describedby': 'wipe-warning' }, 'Confirm wipe');
  const cancelWipe = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
  confirmBox.append(h('div', { class: 'actions' }, confirmWipe, cancelWipe));
  wipe.addEventListener('click', () => {
    confirmBox.hidden = false;
    confirmWipe.focus();
  });
  cancelWipe.addEventListener('click', () => {
    confirmBox.hidden = true;
    wipe.focus();
  });
  confirmWipe.addEventListener('click', () => {
    auth
      .json<undefined>('/admin/sessions/wipe', { method: 'POST' })
      .then(() => {
        say('Every session was wiped.');
        // Our own sign-in died with the rest: the next call finds out and explains it.
        return auth.fetch('/auth/me');
      })
      .catch((e: unknown) => say(`Could not wipe: ${errorMessage(e)}`));
  });
  const rotate = h('button', { type: 'button', class: 'secondary' }, 'Rotate signing keys');
  rotate.addEventListener('click', () => {
    auth
      .json<{ kid: string }>('/admin/keys/rotate', { method: 'POST' })
      .then(({ kid }) => say(`New signing key: kid ${kid}. Old public keys stay published until their tokens expire.`))
      .catch((e: unknown) => say(`Could not rotate keys: ${errorMessage(e)}`));
  });

  const element = h(
    'section',
    { class: 'card admin', 'aria-labelledby': 'admin-title' },
    h('h2', { id: 'admin-title' }, 'Admin'),
    status,
    h('h3', null, 'Users'),
    search,
    summary,
    h('div', { class: 'table-wrap' }, table),
    more,
    h('h3', null, 'Whole server'),
    h('div', { class: 'actions' }, wipe, rotate),
    confirmBox,
  );
  void load(false);
  return { element, cleanup: () => {} };
}
