import type { View } from '../app';
import { h, replace, type Child } from '../dom';

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
      replace(
        body,
        h('section', { class: 'card' }, h('p', null, h('a', { href: '/bench/report.md' }, 'Read the full report (Markdown)'))),
        renderValue(report, 0, 'Results'),
      );
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
