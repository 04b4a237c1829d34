/** Where a command writes; tests and the entry point pass process streams. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Reads all of standard input (for `-` arguments and --password-stdin). */
  stdin(): Promise<string>;
  env: Record<string, string | undefined>;
  /** Milliseconds since the epoch; the one place the CLI reads the clock. */
  now(): number;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
  err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  env: process.env,
  now: () => Date.now(),
};

/** A two-column block: names padded to the widest. */
export function table(rows: [string, string][], indent = '  '): string {
  const w = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${indent}${k.padEnd(w)}  ${v}`).join('\n');
}

/** Rows under a header line, columns padded. */
export function grid(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [fmt(header), ...rows.map(fmt)].join('\n');
}

export function relative(ms: number, nowMs: number): string {
  const d = Math.round((ms - nowMs) / 1000);
  const a = Math.abs(d);
  const span = a < 120 ? `${a} s` : a < 7200 ? `${Math.round(a / 60)} min` : a < 172_800 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86_400)} days`;
  return d >= 0 ? `in ${span}` : `${span} ago`;
}
