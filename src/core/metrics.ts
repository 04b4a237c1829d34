/**
 * Counters exposed at /metrics in the Prometheus text format. Kept in the
 * core as plain numbers so the hot path pays one property increment.
 */
export class Metrics {
  readonly counters = new Map<string, number>();
  private readonly help = new Map<string, string>();

  describe(name: string, help: string): void {
    this.help.set(name, help);
  }

  inc(name: string, labels = '', by = 1): void {
    const key = labels ? `${name}{${labels}}` : name;
    this.counters.set(key, (this.counters.get(key) ?? 0) + by);
  }

  /** Renders counters plus the gauges given (name → value). */
  render(gauges: Record<string, number> = {}): string {
    const lines: string[] = [];
    const seen = new Set<string>();
    const header = (name: string, type: string) => {
      if (seen.has(name)) return;
      seen.add(name);
      const h = this.help.get(name);
      if (h) lines.push(`# HELP ${name} ${h}`);
      lines.push(`# TYPE ${name} ${type}`);
    };
    for (const [key, v] of [...this.counters].sort(([a], [b]) => a.localeCompare(b))) {
      header(key.replace(/\{.*$/, ''), 'counter');
      lines.push(`${key} ${v}`);
    }
    for (const [name, v] of Object.entries(gauges)) {
      header(name.replace(/\{.*$/, ''), 'gauge');
      lines.push(`${name} ${v}`);
    }
    return lines.join('\n') + '\n';
  }
}
