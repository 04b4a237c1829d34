/**
 * Hand-made SVG bar charts: horizontal bars, optional min–max whiskers, an
 * optional reference line, linear or log scale. No dependencies, readable as text.
 */

export interface Bar {
  label: string;
  value: number;
  min?: number;
  max?: number;
  /** Fill colour; defaults by position. */
  color?: string;
  /** Text after the bar; defaults to the value. */
  annotation?: string;
}

export interface BarChartOptions {
  title: string;
  subtitle?: string;
  bars: Bar[];
  /** Axis caption, e.g. "× bare Fastify". */
  unit: string;
  log?: boolean;
  reference?: { value: number; label: string };
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

export const COLORS = {
  baseline: '#8a8f98',
  frontdesk: '#2f6fdf',
  peer: '#e08a2c',
  floor: '#4aa36c',
  other: '#7b61c9',
} as const;

function niceTicks(max: number): number[] {
  const raw = max / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [0];
  // Up to the first tick at or beyond max, so the longest bar and whisker fit.
  while ((ticks[ticks.length - 1] ?? 0) < max) ticks.push(Number((ticks.length * step).toPrecision(6)));
  return ticks;
}

function fmt(x: number): string {
  if (x === 0) return '0';
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US');
  return Number(x.toPrecision(3)).toString();
}

export function barChart(o: BarChartOptions): string {
  const labelW = 330;
  const plotW = 420;
  const rightPad = 170;
  const rowH = 26;
  const top = o.subtitle === undefined ? 44 : 62;
  const width = labelW + plotW + rightPad;
  const height = top + o.bars.length * rowH + 46;
  const values = o.bars.flatMap((b) => [b.value, b.max ?? b.value]).filter((v) => Number.isFinite(v) && v > 0);
  const maxV = Math.max(...values, o.reference?.value ?? 0, Number.MIN_VALUE);
  const minV = Math.min(...values, o.reference?.value ?? Infinity);
  let x: (v: number) => number;
  let ticks: number[];
  if (o.log === true) {
    const lo = 10 ** Math.floor(Math.log10(minV));
    const hi = 10 ** Math.ceil(Math.log10(maxV));
    x = (v) => labelW + ((Math.log10(Math.max(v, lo)) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * plotW;
    ticks = [];
    for (let t = lo; t <= hi * 1.0001; t *= 10) ticks.push(t);
  } else {
    ticks = niceTicks(maxV);
    const hi = ticks[ticks.length - 1] ?? maxV;
    x = (v) => labelW + (v / hi) * plotW;
  }
  const palette = Object.values(COLORS);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif" font-size="12">`,
    `<title>${esc(o.title)}</title>`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="12" y="22" font-size="15" font-weight="600" fill="#1d2129">${esc(o.title)}</text>`,
  );
  if (o.subtitle !== undefined) out.push(`<text x="12" y="42" fill="#5b616b">${esc(o.subtitle)}</text>`);
  const plotBottom = top + o.bars.length * rowH;
  for (const t of ticks) {
    const tx = x(t).toFixed(1);
    out.push(
      `<line x1="${tx}" y1="${top - 4}" x2="${tx}" y2="${plotBottom}" stroke="#e3e6ea"/>`,
      `<text x="${tx}" y="${plotBottom + 16}" text-anchor="middle" fill="#5b616b">${fmt(t)}</text>`,
    );
  }
  out.push(`<text x="${labelW + plotW / 2}" y="${plotBottom + 34}" text-anchor="middle" fill="#1d2129">${esc(o.unit)}${o.log === true ? ' (log scale)' : ''}</text>`);
  o.bars.forEach((b, i) => {
    const y = top + i * rowH;
    const color = b.color ?? palette[i % palette.length] ?? '#555';
    const w = Math.max(1, x(b.value) - labelW);
    out.push(
      `<text x="${labelW - 8}" y="${y + rowH / 2 + 4}" text-anchor="end" fill="#1d2129">${esc(b.label)}</text>`,
      `<rect x="${labelW}" y="${y + 5}" width="${w.toFixed(1)}" height="${rowH - 10}" fill="${color}" rx="2"><title>${esc(`${b.label}: ${fmt(b.value)}`)}</title></rect>`,
    );
    if (b.min !== undefined && b.max !== undefined && b.max > b.min) {
      const cy = y + rowH / 2;
      const x1 = x(b.min).toFixed(1);
      const x2 = x(b.max).toFixed(1);
      out.push(
        `<line x1="${x1}" y1="${cy}" x2="${x2}" y2="${cy}" stroke="#1d2129" stroke-width="1.2"/>`,
        `<line x1="${x1}" y1="${cy - 5}" x2="${x1}" y2="${cy + 5}" stroke="#1d2129" stroke-width="1.2"/>`,
        `<line x1="${x2}" y1="${cy - 5}" x2="${x2}" y2="${cy + 5}" stroke="#1d2129" stroke-width="1.2"/>`,
      );
    }
    const ax = Math.max(x(b.value), b.max !== undefined ? x(b.max) : 0) + 6;
    out.push(`<text x="${ax.toFixed(1)}" y="${y + rowH / 2 + 4}" fill="#1d2129">${esc(b.annotation ?? fmt(b.value))}</text>`);
  });
  if (o.reference !== undefined) {
    const rx = x(o.reference.value).toFixed(1);
    out.push(
      `<line x1="${rx}" y1="${top - 8}" x2="${rx}" y2="${plotBottom}" stroke="#c0392b" stroke-dasharray="4 3"/>`,
      `<text x="${rx}" y="${top - 10}" text-anchor="middle" fill="#c0392b">${esc(o.reference.label)}</text>`,
    );
  }
  out.push('</svg>');
  return out.join('\n') + '\n';
}
