import type { View } from '../app';
import { h, replace, when, type Child } from '../dom';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const isObject = (v: Json): v is { [key: string]: Json } => v !== null && typeof v === 'object' && !Array.isArray(v);
const isPrimitive = (v: Json) => v === null || typeof v !== 'object';

function label(key: string): string {
  const spaced = key.replace(/[_-]+/g, ' ').replace(/([a-z])([A-Z])/g, '$1 $2');
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

function format(v: Json): string {
  if (v === null) return '—';
  if (typeof v === 'number') return Number.isInteger(v) ? v.toLocaleString() : v.toLocaleString(undefined, { maximumFractionDigits: 2 });
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

/**
 * Renders any report shape readably: plain fields as a definition list, arrays
 * of records as tables, nested records as sub-sections. The bench writes the
 * report; this page does not need to know its exact schema.
 */
function renderValue(value: Json, depth: number, caption: string): Child {
  if (isPrimitive(value)) return h('p', null, format(value));
  if (Array.isArray(value)) {
    if (value.length > 0 && value.every(isObject)) {
      const columns = [...new Set(value.flatMap((r) => Object.keys(r)))];
      return h(
        'div',
        { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
        h(
          'table',
          null,
          h('caption', { class: 'visually-hidden' }, caption),
          h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col' }, label(c))))),
          h(
            'tbody',
            null,
            value.map((r) => h('tr', null, columns.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, format(r[c] ?? null)) : h('td', null, format(r[c] ?? null)))))),
          ),
        ),
      );
    }
    return h('ul', null, value.map((v) => h('li', null, isPrimitive(v) ? format(v) : renderValue(v, depth + 1, caption))));
  }
  const entries = Object.entries(value);
  const plain = entries.filter(([, v]) => isPrimitive(v));
  const nested = entries.filter(([, v]) => !isPrimitive(v));
  const heading = (text: string) => (depth === 0 ? h('h2', null, text) : h('h3', null, text));
  return [
    plain.length ? h('dl', { class: 'facts' }, plain.map(([k, v]) => h('div', null, h('dt', null, label(k)), h('dd', null, format(v))))) : null,
    nested.map(([k, v]) => h('section', { class: depth === 0 ? 'card' : 'subsection' }, heading(label(k)), renderValue(v, depth + 1, label(k)))),
  ];
}

// The bench report, schema 1 (bench/lib/types.ts). Declared here, not imported:
// the web app talks HTTP only, and reads just what it shows.
interface MinMedMax {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}
interface HttpCase {
  readonly id: string;
  readonly label: string;
  readonly group: string;
  readonly note?: string;
  readonly method: string;
  readonly path: string;
  readonly credentialBytes: number;
  readonly summary: {
    readonly rps: MinMedMax;
    readonly ratio: MinMedMax | null;
    readonly p50: number;
    readonly p99: number;
    readonly serverCpuUsPerReq: number;
    readonly non2xx: number;
    readonly errors: number;
    readonly loadBound: boolean;
  };
}
interface MicroCase {
  readonly id: string;
  readonly group: string;
  readonly label: string;
  readonly alg?: string;
  readonly nsPerOp: MinMedMax;
  readonly opsPerSec: number;
}
interface ReportV1 {
  readonly schema: 1;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly options: { readonly quick: boolean; readonly durationSeconds: number; readonly rounds: number; readonly connections: number };
  readonly machine: { readonly cpuModel: string; readonly cores: number; readonly node: string; readonly os: string; readonly sharedNote?: string };
  readonly http: HttpCase[];
  readonly skipped: { readonly label: string; readonly reason: string }[];
  readonly micro: { readonly results: MicroCase[]; readonly tokenSizes?: { alg: string; tokenBytes: number; headerBytes: number }[]; readonly sessionCookieBytes?: number } | null;
  readonly warnings: string[];
}

const isReportV1 = (v: Json): boolean =>
  isObject(v) && v.schema === 1 && Array.isArray(v.http) && isObject(v.machine ?? null) && isObject(v.options ?? null);

const num = (n: number, digits = 0) => n.toLocaleString(undefined, { maximumFractionDigits: digits, minimumFractionDigits: digits });

function table(caption: string, head: string[], rows: Child[][]): HTMLElement {
  return h(
    'div',
    { class: 'table-wrap', tabindex: 0, role: 'region', 'aria-label': caption },
    h(
      'table',
      null,
      h('caption', null, caption),
      h('thead', null, h('tr', null, head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows.map((r) => h('tr', null, r.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', null, c)))))),
    ),
  );
}

function renderReport(r: ReportV1): Child {
  const facts = h(
    'dl',
    { class: 'facts' },
    h('div', null, h('dt', null, 'Run'), h('dd', null, `${when(r.startedAt)}${r.options.quick ? ' (quick)' : ''}`)),
    h('div', null, h('dt', null, 'Machine'), h('dd', null, `${r.machine.cpuModel}, ${r.machine.cores} cores`)),
    h('div', null, h('dt', null, 'Node'), h('dd', null, r.machine.node)),
    h('div', null, h('dt', null, 'Rounds'), h('dd', null, `${r.options.rounds} × ${r.options.durationSeconds} s, ${r.options.connections} connections`)),
  );
  const http = r.http.length
    ? table(
        'HTTP throughput and latency (median over rounds)',
        ['Case', 'Request', 'Requests/s', 'vs baseline', 'p50 ms', 'p99 ms', 'Server CPU µs/req', 'Credential bytes'],
        r.http.map((c) => [
          h('span', null, c.label, c.note ? h('span', { class: 'muted' }, ` — ${c.note}`) : null),
          h('code', null, `${c.method} ${c.path}`),
          `${num(c.summary.rps.median)} (${num(c.summary.rps.min)}–${num(c.summary.rps.max)})${c.summary.loadBound ? ' †' : ''}`,
          c.summary.ratio ? `${num(c.summary.ratio.median, 2)}×` : '—',
          num(c.summary.p50, 1),
          num(c.summary.p99, 1),
          num(c.summary.serverCpuUsPerReq, 1),
          c.credentialBytes ? num(c.credentialBytes) : '—',
        ]),
      )
    : null;
  const loadBound = r.http.some((c) => c.summary.loadBound)
    ? h('p', { class: 'muted' }, '† The load generator used most of a core: the server may be faster than shown.')
    : null;
  const micro = r.micro?.results.length
    ? table(
        'Micro-benchmarks',
        ['Operation', 'Group', 'Algorithm', 'µs per op (median)', 'Ops/s'],
        r.micro.results.map((m) => [m.label, m.group, m.alg ?? '—', num(m.nsPerOp.median / 1000, 2), num(m.opsPerSec)]),
      )
    : null;
  const sizes = r.micro?.tokenSizes?.length
    ? table(
        'What each request carries',
        ['Credential', 'Token bytes', 'Header bytes'],
        [
          ...r.micro.tokenSizes.map((t): Child[] => [`Access token (${t.alg})`, num(t.tokenBytes), num(t.headerBytes)]),
          ...(r.micro.sessionCookieBytes ? [['Session cookie', '—', num(r.micro.sessionCookieBytes)] as Child[]] : []),
        ],
      )
    : null;
  return [
    h('section', { class: 'card', 'aria-labelledby': 'bench-run' }, h('h2', { id: 'bench-run' }, 'This run'), facts, h('p', null, h('a', { href: '/bench/report.md' }, 'Read the full report (Markdown)'))),
    http ? h('section', { class: 'card', 'aria-labelledby': 'bench-http' }, h('h2', { id: 'bench-http' }, 'HTTP'), http, loadBound) : null,
    micro || sizes ? h('section', { class: 'card', 'aria-labelledby': 'bench-micro' }, h('h2', { id: 'bench-micro' }, 'Inside the server'), micro, sizes) : null,
    r.skipped.length || r.warnings.length
      ? h(
          'section',
          { class: 'card', 'aria-labelledby': 'bench-notes' },
          h('h2', { id: 'bench-notes' }, 'Notes'),
          h('ul', null, r.warnings.map((w) => h('li', null, w)), r.skipped.map((k) => h('li', null, `Skipped ${k.label}: ${k.reason}`))),
        )
      : null,
  ];
}

export function renderBench(root: HTMLElement): View {
  const body = h('div', { 'aria-live': 'polite' }, h('p', { role: 'status' }, 'Loading the latest benchmark report…'));
  replace(
    root,
    h(
      'div',
      { class: 'bench' },
      h(
        'section',
        { class: 'card' },
        h('h1', { id: 'bench-title', tabindex: -1 }, 'Benchmarks'),
        h('p', { class: 'lead' }, 'Throughput and latency of each mode, from the latest run of the benchmark suite on this server.'),
      ),
      body,
    ),
  );
  let alive = true;
  fetch('/bench/latest.json', { credentials: 'omit', headers: { Accept: 'application/json' } })
    .then(async (res) => {
      if (!alive) return;
      if (res.status === 404) {
        replace(
          body,
          h('section', { class: 'card' }, h('p', { 'data-testid': 'bench-empty' }, 'No benchmark report yet.'), h('p', { class: 'muted' }, 'Run the benchmarks to produce one; this page shows the latest report.')),
        );
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const report = (await res.json()) as Json;
      if (!alive) return;
      if (isReportV1(report)) replace(body, renderReport(report as unknown as ReportV1));
      else {
        // A report shape this page does not know yet: still readable, generically.
        replace(
          body,
          h('section', { class: 'card' }, h('p', null, h('a', { href: '/bench/report.md' }, 'Read the full report (Markdown)'))),
          renderValue(report, 0, 'Results'),
        );
      }
    })
    .catch((e: unknown) => {
      if (alive) replace(body, h('p', { class: 'notice error', role: 'alert' }, `Could not load the benchmark report: ${(e as Error).message}`));
    });
  return {
    title: 'Benchmarks · Frontdesk',
    cleanup: () => {
      alive = false;
    },
  };
}
