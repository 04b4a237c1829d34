/**
 * A tiny HTTP client for tests: JSON in and out, and a cookie jar that keeps
 * what the server set (Secure cookies included: the tests are the browser here).
 */
export interface Res<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
  cookies: string[];
}

export class Client {
  readonly jar = new Map<string, string>();
  constructor(
    readonly base: string,
    readonly defaults: Record<string, string> = {},
  ) {}

  cookieHeader(): string | undefined {
    if (this.jar.size === 0) return undefined;
    return [...this.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  }

  async req<T = Record<string, unknown>>(
    method: string,
    path: string,
    opts: { json?: unknown; raw?: string; headers?: Record<string, string>; bearer?: string; csrf?: boolean; noCookies?: boolean } = {},
  ): Promise<Res<T>> {
    const headers: Record<string, string> = { ...this.defaults, ...opts.headers };
    let body: string | undefined;
    if (opts.json !== undefined) {
      body = JSON.stringify(opts.json);
      headers['content-type'] ??= 'application/json';
    } else if (opts.raw !== undefined) {
      body = opts.raw;
      headers['content-type'] ??= 'application/json';
    }
    if (opts.bearer !== undefined) headers.authorization = `Bearer ${opts.bearer}`;
    const cookie = opts.noCookies ? undefined : this.cookieHeader();
    if (cookie) headers.cookie = cookie;
    if (opts.csrf) {
      const c = this.jar.get('__Host-csrf');
      if (c) headers['x-csrf-token'] = c;
    }
    const res = await fetch(this.base + path, { method, headers, ...(body !== undefined && { body }) });
    const cookies = res.headers.getSetCookie();
    for (const c of cookies) {
      const [pair] = c.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      const value = pair!.slice(eq + 1);
      if (/max-age=0/i.test(c) || value === '') this.jar.delete(name);
      else this.jar.set(name, value);
    }
    const text = await res.text();
    let parsed: unknown = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: parsed as T, cookies };
  }

  get<T = Record<string, unknown>>(path: string, opts?: Parameters<Client['req']>[2]) {
    return this.req<T>('GET', path, opts);
  }
  post<T = Record<string, unknown>>(path: string, json?: unknown, opts: Parameters<Client['req']>[2] = {}) {
    return this.req<T>('POST', path, { ...opts, ...(json !== undefined && { json }) });
  }
}

/** The attributes of one Set-Cookie line, lower-cased names, as a map. */
export function cookieAttributes(line: string): { name: string; value: string; attrs: Map<string, string> } {
  const [pair, ...rest] = line.split(';').map((s) => s.trim());
  const eq = pair!.indexOf('=');
  const attrs = new Map<string, string>();
  for (const a of rest) {
    const i = a.indexOf('=');
    attrs.set((i < 0 ? a : a.slice(0, i)).toLowerCase(), i < 0 ? '' : a.slice(i + 1));
  }
  return { name: pair!.slice(0, eq), value: pair!.slice(eq + 1), attrs };
}
