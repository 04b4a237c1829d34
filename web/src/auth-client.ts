/**
 * Frontdesk browser client — the safe browser pattern in one file.
 *
 * Copy this file into your own app: it imports nothing and talks HTTP only.
 *
 * - The access token lives only in a private field of this object. It is never
 *   written to localStorage, sessionStorage, IndexedDB or a cookie, so an XSS
 *   payload that reads storage finds nothing, and the token dies with the page.
 * - The refresh token (hybrid) and the session ID (session) are HttpOnly cookies:
 *   this code cannot read them and never needs to. It reads only the
 *   `__Host-csrf` cookie, which is designed to be readable (double submit).
 * - On load, {@link AuthClient.start} calls `POST /auth/refresh` once, so a reload
 *   keeps a hybrid user signed in without the token ever touching storage.
 * - It refreshes shortly before expiry; on a 401 it refreshes once and retries;
 *   concurrent calls share one in-flight refresh.
 * - Tabs coordinate over a BroadcastChannel and Web Locks: one tab (the leader)
 *   refreshes on a timer and shares the new token; a refresh is serialised across
 *   tabs; signing out in one tab signs the others out.
 * - When the server ends the sign-in, the state says why (`refresh_reused`,
 *   `invalid_token`, `token_expired`, `unauthenticated`, `forbidden`).
 *
 * The only thing it keeps in storage is a hint of the *mode* last used
 * (`"session"`, `"jwt"` or `"hybrid"`, never a credential), so that on load it
 * knows which call restores the sign-in and can explain why a JWT-mode user was
 * signed out by a reload.
 *
 * @example
 * ```ts
 * const auth = new AuthClient();
 * auth.subscribe((state) => render(state));
 * await auth.start();                          // silent refresh on load
 * await auth.signIn('alice', 'correct horse', 'hybrid');
 * const me = await auth.json<{ user: User }>('/auth/me');
 * await auth.signOut();
 * ```
 */

/** How the browser is signed in (see the API contract, "Three ways to be signed in"). */
export type Mode = 'session' | 'jwt' | 'hybrid';

/** The public view of an account, as the server sends it. */
export interface User {
  readonly id: string;
  readonly username: string;
  readonly name?: string | null;
  readonly role: string;
  readonly disabled: boolean;
}

/**
 * Why the user is signed out. The first three are the client's own doing; the
 * rest are the server's error codes that ended the sign-in.
 */
export type EndReason =
  | 'signed_out' // this tab's Sign out
  | 'signed_out_elsewhere' // another tab signed out
  | 'jwt_forgotten' // JWT mode: the token was only in memory and the page was reloaded
  | 'refresh_reused'
  | 'invalid_token'
  | 'token_expired'
  | 'unauthenticated'
  | 'forbidden'
  | 'csrf';

export type AuthState =
  | { readonly status: 'loading' }
  | {
      readonly status: 'signed_out';
      readonly reason: EndReason | null;
      /** The server's own words when it ended the sign-in (e.g. "This account is disabled."). */
      readonly detail: string | null;
    }
  | { readonly status: 'signed_in'; readonly mode: Mode; readonly user: User };

/** One line of what the client did on the wire, for developers to watch. */
export interface Activity {
  readonly at: number;
  readonly kind: 'request' | 'refresh' | 'retry' | 'tabs' | 'signed-out';
  readonly text: string;
}

/** An error answer from the server: `{"error": {"code", "message"}}`. */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface AuthClientOptions {
  /** Origin of the Frontdesk server. Default: the page's own origin. */
  readonly origin?: string;
  /** Name of the readable CSRF cookie. Default `__Host-csrf`. */
  readonly csrfCookie?: string;
  /** BroadcastChannel and Web Lock name prefix. Default `frontdesk-auth`. */
  readonly channel?: string;
  /** localStorage key of the mode hint (never a credential). Default `frontdesk.mode`. */
  readonly hintKey?: string;
}

interface TokenBody {
  readonly access_token: string;
  readonly token_type: string;
  readonly expires_in: number;
}
interface LoginBody extends Partial<TokenBody> {
  readonly user: User;
  readonly mode: Mode;
}
interface MeBody {
  readonly user: User;
  readonly auth: { readonly mode: Mode; readonly expires_at?: string | number | null };
}

type TabMessage =
  | { readonly type: 'token'; readonly token: string; readonly expiresAt: number; readonly ttl: number; readonly user: User | null }
  | { readonly type: 'signed-in'; readonly mode: 'session'; readonly user: User }
  | { readonly type: 'signed-out'; readonly reason: EndReason; readonly detail: string | null };

const UNSAFE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** 401 codes that mean "your credential no longer works" (not "wrong password"). */
const CREDENTIAL_CODES = new Set(['invalid_token', 'token_expired', 'unauthenticated', 'refresh_reused']);
const END_CODES = new Set<string>(['refresh_reused', 'invalid_token', 'token_expired', 'unauthenticated', 'forbidden', 'csrf']);

const reasonFrom = (code: string): EndReason =>
  END_CODES.has(code) ? (code as EndReason) : 'unauthenticated';

/** Reads the `{error: {code, message}}` body of a failed response (without consuming it). */
export async function readError(res: Response): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = (await res.clone().json()) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
  } catch {
    // Not JSON (a proxy's HTML page, an empty body): keep the status-based code.
  }
  return new ApiError(res.status, code, message);
}

export class AuthClient {
  readonly #origin: string;
  readonly #csrfCookie: string;
  readonly #lockPrefix: string;
  readonly #hintKey: string;
  readonly #channel: BroadcastChannel | null;

  #state: AuthState = { status: 'loading' };
  #mode: Mode | null = null;
  #user: User | null = null;
  /** The access token. Only ever held here. */
  #token: string | null = null;
  #expiresAt = 0;
  #ttl = 0;
  #timer: number | undefined;
  #leader = false;
  #inflight: Promise<boolean> | null = null;
  #started: Promise<AuthState> | null = null;
  readonly #listeners = new Set<(state: AuthState) => void>();
  readonly #activityListeners = new Set<(activity: Activity) => void>();

  constructor(options: AuthClientOptions = {}) {
    this.#origin = options.origin ?? location.origin;
    this.#csrfCookie = options.csrfCookie ?? '__Host-csrf';
    const name = options.channel ?? 'frontdesk-auth';
    this.#lockPrefix = name;
    this.#hintKey = options.hintKey ?? 'frontdesk.mode';
    this.#channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(name) : null;
    this.#channel?.addEventListener('message', (e: MessageEvent<TabMessage>) => this.#onTabMessage(e.data));
  }

  /** The current state. */
  get state(): AuthState {
    return this.#state;
  }

  /** The access token, for display (e.g. a debugger). Do not persist it. */
  get accessToken(): string | null {
    return this.#token;
  }

  /** When the access token expires, in ms since the epoch (0 when there is none). */
  get expiresAt(): number {
    return this.#expiresAt;
  }

  /** Calls `listener` on every change: sign-in, sign-out, new access token. Returns an unsubscribe. */
  subscribe(listener: (state: AuthState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls `listener` for each request, refresh, retry and tab message. Returns an unsubscribe. */
  onActivity(listener: (activity: Activity) => void): () => void {
    this.#activityListeners.add(listener);
    return () => this.#activityListeners.delete(listener);
  }

  /**
   * Restores the sign-in once per page: `POST /auth/refresh` for hybrid (the
   * HttpOnly refresh cookie rides along), `GET /auth/me` for a session.
   * Calling it again returns the same promise.
   */
  start(): Promise<AuthState> {
    return (this.#started ??= this.#restore().catch((e: unknown) => {
      // Network down or a 5xx: the sign-in is unknown, not ended. Say signed out
      // without a reason (the UI must not blame the user) and let the caller see why.
      if (this.#state.status === 'loading') this.#end(null, false);
      throw e;
    }));
  }

  /** Signs in with the chosen mode. Throws {@link ApiError} (e.g. `invalid_credentials`). */
  async signIn(username: string, password: string, mode: Mode): Promise<User> {
    this.#clear();
    const res = await this.#send('/auth/login', {
      method: 'POST',
      body: JSON.stringify({ username, password, mode }),
    }, false);
    if (!res.ok) throw await readError(res);
    const body = (await res.json()) as LoginBody;
    this.#mode = body.mode;
    this.#user = body.user;
    if (body.access_token !== undefined && body.expires_in !== undefined) {
      this.#setToken(body.access_token, body.expires_in);
    }
    this.#writeHint(body.mode);
    this.#set({ status: 'signed_in', mode: body.mode, user: body.user });
    if (body.mode === 'hybrid' && this.#token) {
      this.#post({ type: 'token', token: this.#token, expiresAt: this.#expiresAt, ttl: this.#ttl, user: body.user });
    } else if (body.mode === 'session') {
      this.#post({ type: 'signed-in', mode: 'session', user: body.user });
    }
    return body.user;
  }

  /** Creates an account. Does not sign in. Throws {@link ApiError} (e.g. `conflict`). */
  async register(username: string, password: string, name?: string): Promise<User> {
    const payload: Record<string, string> = { username, password };
    if (name) payload.name = name;
    const res = await this.#send('/auth/register', { method: 'POST', body: JSON.stringify(payload) }, false);
    if (!res.ok) throw await readError(res);
    return ((await res.json()) as { user: User }).user;
  }

  /** Signs out this sign-in (and, through the BroadcastChannel, the other tabs). */
  async signOut(): Promise<void> {
    await this.#endWith('/auth/logout');
  }

  /** Ends every session, family and access token of the user, on every device. */
  async signOutEverywhere(): Promise<void> {
    await this.#endWith('/auth/logout-all');
  }

  /**
   * `fetch` with the credential attached: `Authorization: Bearer` when a token is
   * held, the session cookie otherwise, and `X-CSRF-Token` on unsafe methods.
   * On a 401 that means "credential no longer works" it refreshes once (hybrid)
   * and retries once; if that fails the state becomes signed out with the reason.
   * Bodies must be replayable (a string, Blob or FormData), since a retry resends them.
   */
  async fetch(input: string, init: RequestInit = {}): Promise<Response> {
    if (this.#mode === 'hybrid' && this.#token !== null && Date.now() >= this.#expiresAt - 1000) {
      // The timer may have been throttled (background tab): refresh before, not after, a 401.
      await this.refresh();
    }
    const sentWith = this.#token;
    const modeAtSend = this.#mode;
    const res = await this.#send(input, init, true);
    if (res.status !== 401 || !this.#isOwn(input)) return res;
    const first = await readError(res);
    if (!CREDENTIAL_CODES.has(first.code)) return res;
    if (modeAtSend === 'hybrid') {
      this.#log('retry', `${first.code} → refreshing once, then retrying`);
      // Another call (or tab) may have refreshed while this request was in flight.
      const ok = this.#token !== null && this.#token !== sentWith ? true : await this.refresh();
      if (!ok) return res;
      const again = await this.#send(input, init, true);
      if (again.status === 401) {
        const second = await readError(again);
        if (CREDENTIAL_CODES.has(second.code)) this.#end(reasonFrom(second.code), this.#isSignedIn(), second.message);
      }
      return again;
    }
    if (modeAtSend !== null && this.#mode === modeAtSend) {
      // A JWT is this tab's own; a dead session cookie is every tab's news.
      this.#end(reasonFrom(first.code), this.#isSignedIn() && modeAtSend !== 'jwt', first.message);
    }
    return res;
  }

  /**
   * {@link AuthClient.fetch} that parses JSON and throws {@link ApiError} on failure.
   * Resolves `undefined` for a 204.
   */
  async json<T>(input: string, init: RequestInit = {}): Promise<T> {
    const res = await this.fetch(input, init);
    if (!res.ok) throw await readError(res);
    if (res.status === 204) return undefined as T;
    return (await res.json()) as T;
  }

  /**
   * Gets a new access token with the refresh cookie. Concurrent callers in this
   * tab share one request; across tabs a Web Lock serialises it, and a tab that
   * waited adopts the token another tab just obtained instead of refreshing again.
   * Resolves `false` when the server ended the sign-in (the state then says why);
   * rejects when it could not answer (network, 429, 503), leaving the sign-in as is.
   */
  refresh(): Promise<boolean> {
    if (this.#inflight) return this.#inflight;
    const stale = this.#token;
    this.#inflight = this.#withLock('refresh', () => {
      if (this.#token !== null && this.#token !== stale && Date.now() < this.#expiresAt - 1000) {
        this.#log('tabs', 'another tab refreshed already: using its token');
        return Promise.resolve(true);
      }
      return this.#doRefresh();
    }).finally(() => {
      this.#inflight = null;
    });
    return this.#inflight;
  }

  // ---------------------------------------------------------------- internals

  async #restore(): Promise<AuthState> {
    this.#electLeader();
    const hint = this.#readHint();
    if (hint === 'jwt') {
      // The JWT lived only in the previous page's memory: nothing can bring it back.
      this.#writeHint(null);
      this.#end('jwt_forgotten', false);
      return this.#state;
    }
    if (this.#readCookie(this.#csrfCookie) === null) {
      // Both cookie modes set the CSRF cookie; without it no call can succeed.
      if (hint !== null) this.#writeHint(null);
      this.#end(null, false);
      return this.#state;
    }
    if (hint === 'session') return this.#restoreSession();
    if (this.#isSignedIn()) return this.#state; // another tab shared its token meanwhile
    const ok = await this.refresh();
    if (ok) {
      await this.#loadMe();
      return this.#state;
    }
    if (hint === null && !this.#isSignedIn()) return this.#restoreSession();
    return this.#state;
  }

  /** Read through a method: the state changes across awaits, which narrowing cannot see. */
  #isSignedIn(): boolean {
    return this.#state.status === 'signed_in';
  }

  async #restoreSession(): Promise<AuthState> {
    this.#mode = 'session';
    await this.#loadMe();
    return this.#state;
  }

  async #loadMe(): Promise<void> {
    try {
      const me = await this.json<MeBody>('/auth/me');
      this.#user = me.user;
      this.#mode = me.auth.mode;
      this.#writeHint(me.auth.mode);
      this.#set({ status: 'signed_in', mode: me.auth.mode, user: me.user });
    } catch (e) {
      // A credential failure already ended the sign-in inside fetch(); anything
      // else (network, 503) leaves us signed out without blaming the user.
      if (this.#state.status !== 'signed_out') this.#end(null, false);
      if (!(e instanceof ApiError)) throw e;
    }
  }

  async #doRefresh(): Promise<boolean> {
    const res = await this.#send('/auth/refresh', { method: 'POST' }, false);
    if (res.ok) {
      const body = (await res.json()) as TokenBody;
      this.#mode = 'hybrid';
      this.#setToken(body.access_token, body.expires_in);
      this.#writeHint('hybrid');
      this.#log('refresh', `new access token, expires in ${body.expires_in} s`);
      this.#post({ type: 'token', token: body.access_token, expiresAt: this.#expiresAt, ttl: this.#ttl, user: this.#user });
      if (this.#user) this.#set({ status: 'signed_in', mode: 'hybrid', user: this.#user });
      else this.#emit();
      return true;
    }
    const err = await readError(res);
    this.#log('refresh', `refused: ${err.code}`);
    if (res.status === 401 || res.status === 403) {
      // The family is gone (revoked, expired, reused), and the cookie is shared by
      // every tab: tell them why. A reuse is news even from a tab that was only
      // restoring, since the others hold the same, now revoked, family.
      this.#end(reasonFrom(err.code), this.#isSignedIn() || err.code === 'refresh_reused', err.message);
      return false;
    }
    // 429, 503…: the sign-in may well be intact; say so by failing, not by signing out.
    throw err;
  }

  async #endWith(path: string): Promise<void> {
    const mode = this.#mode;
    try {
      const res = await this.fetch(path, { method: 'POST' });
      if (!res.ok && res.status !== 401) throw await readError(res);
    } finally {
      this.#end('signed_out', mode !== 'jwt');
    }
  }

  #send(input: string, init: RequestInit, withToken: boolean): Promise<Response> {
    const url = new URL(input, this.#origin);
    const own = url.origin === this.#origin;
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = new Headers(init.headers);
    if (own) {
      // Never send the token or the CSRF value to another origin.
      if (withToken && this.#token !== null && !headers.has('Authorization')) {
        headers.set('Authorization', `Bearer ${this.#token}`);
      }
      const csrf = UNSAFE_METHODS.has(method) ? this.#readCookie(this.#csrfCookie) : null;
      if (csrf !== null) headers.set('X-CSRF-Token', csrf);
    }
    if (typeof init.body === 'string' && !headers.has('Content-Type')) headers.set('Content-Type', 'application/json');
    return fetch(url, { ...init, method, headers, credentials: own ? 'same-origin' : 'omit' }).then((res) => {
      this.#log('request', `${method} ${url.pathname}${url.search} → ${res.status}`);
      return res;
    });
  }

  #isOwn(input: string): boolean {
    return new URL(input, this.#origin).origin === this.#origin;
  }

  #setToken(token: string, expiresIn: number): void {
    this.#token = token;
    this.#ttl = expiresIn * 1000;
    this.#expiresAt = Date.now() + this.#ttl;
    this.#schedule();
  }

  /**
   * Hybrid: the leader tab refreshes at 75 % of the lifetime, at most 30 s
   * before expiry. JWT: there is no refresh, so the sign-in ends at expiry.
   */
  #schedule(): void {
    window.clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#token === null) return;
    const now = Date.now();
    if (this.#mode === 'jwt') {
      this.#timer = window.setTimeout(() => this.#end('token_expired', false), Math.max(0, this.#expiresAt - now));
      return;
    }
    if (this.#mode !== 'hybrid' || !this.#leader) return;
    const early = Math.min(30_000, this.#ttl * 0.25);
    const token = this.#token;
    this.#timer = window.setTimeout(() => {
      if (this.#token !== token) return;
      this.refresh().catch((e: unknown) => {
        // Not fatal: the next call refreshes before it sends (see fetch()).
        this.#log('refresh', `failed (${e instanceof ApiError ? e.code : 'network'}); the next call will try again`);
      });
    }, Math.max(0, this.#expiresAt - early - now));
  }

  #electLeader(): void {
    const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
    if (!locks) {
      this.#leader = true; // no Web Locks: every tab refreshes for itself
      return;
    }
    // Held for the life of the page; the next tab in the queue takes over when it closes.
    void locks.request(`${this.#lockPrefix}:leader`, () => {
      this.#leader = true;
      this.#schedule();
      return new Promise<void>(() => {});
    });
  }

  async #withLock<T>(name: string, task: () => Promise<T>): Promise<T> {
    const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
    if (!locks) return task();
    return locks.request(`${this.#lockPrefix}:${name}`, task);
  }

  #onTabMessage(msg: TabMessage): void {
    switch (msg.type) {
      case 'token': {
        if (this.#mode === 'jwt' && this.#token !== null) return; // a JWT tab has its own sign-in
        this.#log('tabs', 'another tab shared a new access token');
        this.#mode = 'hybrid';
        this.#token = msg.token;
        this.#expiresAt = msg.expiresAt;
        this.#ttl = msg.ttl;
        this.#user = msg.user ?? this.#user;
        this.#schedule();
        if (this.#user) this.#set({ status: 'signed_in', mode: 'hybrid', user: this.#user });
        else if (this.#state.status !== 'loading') void this.#loadMe();
        else this.#emit();
        return;
      }
      case 'signed-in':
        if (this.#mode === 'jwt' && this.#token !== null) return;
        this.#log('tabs', 'another tab signed in with a session');
        this.#clear();
        this.#mode = 'session';
        this.#user = msg.user;
        this.#set({ status: 'signed_in', mode: 'session', user: msg.user });
        return;
      case 'signed-out':
        if (this.#state.status !== 'signed_in' && this.#state.status !== 'loading') return;
        // The server ending a cookie sign-in does not end this tab's own JWT; a user's Sign out does.
        if (this.#mode === 'jwt' && this.#token !== null && msg.reason !== 'signed_out_elsewhere') return;
        this.#log('tabs', 'another tab signed out');
        this.#end(msg.reason, false, msg.detail);
        return;
    }
  }

  #end(reason: EndReason | null, broadcast: boolean, detail: string | null = null): void {
    const wasSignedIn = this.#state.status === 'signed_in';
    this.#clear();
    if (reason !== 'jwt_forgotten') this.#writeHint(null);
    if (wasSignedIn && reason !== null) this.#log('signed-out', reason);
    this.#set({ status: 'signed_out', reason, detail });
    if (broadcast && reason !== null) {
      this.#post({ type: 'signed-out', reason: reason === 'signed_out' ? 'signed_out_elsewhere' : reason, detail });
    }
  }

  #clear(): void {
    window.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#token = null;
    this.#expiresAt = 0;
    this.#ttl = 0;
    this.#mode = null;
    this.#user = null;
  }

  #set(state: AuthState): void {
    this.#state = state;
    this.#emit();
  }

  #emit(): void {
    for (const listener of this.#listeners) listener(this.#state);
  }

  #log(kind: Activity['kind'], text: string): void {
    const entry: Activity = { at: Date.now(), kind, text };
    for (const listener of this.#activityListeners) listener(entry);
  }

  #post(msg: TabMessage): void {
    this.#channel?.postMessage(msg);
  }

  #readCookie(name: string): string | null {
    for (const part of document.cookie.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
    }
    return null;
  }

  #readHint(): Mode | null {
    try {
      const v = localStorage.getItem(this.#hintKey);
      return v === 'session' || v === 'jwt' || v === 'hybrid' ? v : null;
    } catch {
      return null; // storage disabled: we only lose the hint, never the sign-in
    }
  }

  #writeHint(mode: Mode | null): void {
    try {
      if (mode === null) localStorage.removeItem(this.#hintKey);
      else localStorage.setItem(this.#hintKey, mode);
    } catch {
      // Storage disabled (private mode, policy): the hint is a convenience only.
    }
  }
}
