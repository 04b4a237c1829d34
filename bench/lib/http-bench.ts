/**
 * HTTP benchmark: every case's server in its own process, the load generator in
 * another, rounds interleaved round-robin (the starting case rotates each round),
 * and each throughput divided by the baseline's in the same round.
 */
import { BASELINE_ID, type CaseContext, type CaseDriver, type HttpCase, type SidecarName } from './cases.js';
import type { LoadGenerator } from './load.js';
import { ServerStartError } from '../../test/harness/ports.js';
import { LOOPBACK, processCpuSeconds, startServer, type ServerHandle } from './proc.js';
import { median, minMedMax } from './stats.js';
import type { HttpCaseResult, HttpRound, LoadScenario, RequestSpec, SkippedCase } from './types.js';

export interface HttpBenchSettings {
  rounds: number;
  durationSeconds: number;
  warmupSeconds: number;
  connections: number;
}

/** A shared service the runner started, charged to the cases that need it. */
export interface Sidecar {
  name: SidecarName;
  /** CPU seconds it has used so far (what serves requests: PostgreSQL's client backends). */
  cpuSeconds: () => number | null;
  /** Commands it has executed so far, where it counts them exactly (Redis). */
  commands?: () => Promise<number>;
}

export interface HttpBenchEnv {
  ctx: CaseContext;
  load: LoadGenerator;
  /** Shared services whose CPU is charged to the cases that need them. */
  sidecars: Sidecar[];
  progress: (line: string) => void;
}

interface Live {
  c: HttpCase;
  /** The first node: logins and sanity checks go here. */
  server: ServerHandle;
  /** Every node, the first included; the load is spread over all of them. */
  servers: ServerHandle[];
  driver: CaseDriver;
  sample: RequestSpec;
  rounds: Omit<HttpRound, 'ratio'>[];
}

function requestBytes(r: RequestSpec, port: number): number {
  const lines = [`${r.method} ${r.path} HTTP/1.1`, `Host: ${LOOPBACK}:${port}`];
  for (const [k, v] of Object.entries(r.headers)) lines.push(`${k}: ${v}`);
  if (r.body !== undefined) lines.push(`Content-Length: ${Buffer.byteLength(r.body)}`);
  return Buffer.byteLength(lines.join('\r\n') + '\r\n\r\n') + (r.body === undefined ? 0 : Buffer.byteLength(r.body));
}

/** The credential as it travels: the cookie or authorization header line, else the body. */
function credentialBytes(r: RequestSpec): number {
  for (const [k, v] of Object.entries(r.headers)) {
    if (k.toLowerCase() === 'cookie' || k.toLowerCase() === 'authorization') return Buffer.byteLength(`${k}: ${v}`);
  }
  return r.body === undefined ? 0 : Buffer.byteLength(r.body);
}

function sampleRequest(s: LoadScenario): RequestSpec {
  if (s.kind === 'static') return s.request;
  return { ...s.request, body: JSON.stringify({ [s.field]: s.tokens[0] ?? '' }) };
}

/** One request before any load: a case that does not answer 2xx is skipped, never measured. */
async function sanityCheck(server: ServerHandle, r: RequestSpec): Promise<string | null> {
  const res = await fetch(server.origin + r.path, {
    method: r.method,
    headers: r.headers,
    ...(r.body === undefined ? {} : { body: r.body }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return res.ok ? null : `sanity request answered HTTP ${res.status}: ${text.slice(0, 200)}`;
}

const lastLine = (text: string): string =>
  (text.split('\n').filter((l) => l.trim() !== '').pop() ?? '').trim().slice(0, 300);
const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';

/** The server's own last words say why (a config error, a missing store) better than "exit code 1". */
function startFailure(err: unknown): string {
  const said = err instanceof ServerStartError ? lastLine(err.output) : '';
  return `server did not start: ${firstLine(err)}${said === '' ? '' : ` — it said: ${said}`}`;
}

async function bringUp(c: HttpCase, ctx: CaseContext): Promise<Live | string> {
  const reason = c.unavailable?.(ctx) ?? null;
  if (reason !== null) return reason;
  const servers: ServerHandle[] = [];
  try {
    // The first node alone runs the migrations; the others then start together.
    servers.push(await startServer(c.server(ctx)));
    const rest = await Promise.allSettled(Array.from({ length: (c.nodes ?? 1) - 1 }, () => startServer(c.server(ctx))));
    for (const r of rest) if (r.status === 'fulfilled') servers.push(r.value);
    const failed = rest.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  } catch (err) {
    await Promise.all(servers.map((x) => x.stop()));
    return startFailure(err);
  }
  const server = servers[0] as ServerHandle;
  try {
    const announced = server.announced;
    const driver: CaseDriver =
      c.prepare !== undefined
        ? await c.prepare(server, ctx)
        : announced !== null
          ? { scenario: () => Promise.resolve({ kind: 'static', request: announced }) }
          : (() => {
              throw new Error('server announced no request and the case has no prepare()');
            })();
    const first = await driver.scenario();
    if (first.kind === 'static') {
      const bad = await sanityCheck(server, first.request);
      if (bad !== null) throw new Error(bad);
    }
    // Hand the first scenario back for round 1 (refresh pools must not be drained twice).
    let pending: LoadScenario | null = first;
    const wrapped: CaseDriver = {
      scenario: () => {
        const s = pending;
        pending = null;
        return s !== null ? Promise.resolve(s) : driver.scenario();
      },
      ...(driver.after === undefined ? {} : { after: driver.after.bind(driver) }),
      ...(driver.background === undefined ? {} : { background: driver.background.bind(driver) }),
    };
    return { c, server, servers, driver: wrapped, sample: sampleRequest(first), rounds: [] };
  } catch (err) {
    await Promise.all(servers.map((x) => x.stop()));
    return `setup failed: ${firstLine(err)}`;
  }
}

function summarise(l: Live, baseline: Live | undefined): HttpCaseResult {
  const rounds: HttpRound[] = l.rounds.map((r) => {
    const b = baseline?.rounds.find((x) => x.round === r.round);
    return { ...r, ratio: b !== undefined && b.rps > 0 ? r.rps / b.rps : null };
  });
  const ratios = rounds.map((r) => r.ratio).filter((x): x is number => x !== null);
  // Server CPU per request of the baseline over this case's, round by round: what the
  // throughput ratio would be if both were CPU-bound on an otherwise idle core.
  const cpuRatios = l.rounds.flatMap((r) => {
    const b = baseline?.rounds.find((x) => x.round === r.round);
    return b !== undefined && b.requests > 0 && r.requests > 0 && r.serverCpuS > 0
      ? [b.serverCpuS / b.requests / (r.serverCpuS / r.requests)]
      : [];
  });
  // CPU microseconds per request: the cost that contention on shared cores moves least.
  const perReq = (cpuS: number, r: Omit<HttpRound, 'ratio'>): number => (r.requests > 0 ? (cpuS / r.requests) * 1e6 : 0);
  const sidecarNames = [...new Set(l.rounds.flatMap((r) => Object.keys(r.sidecarCpuS)))];
  const sidecarCpuUsPerReq: Record<string, number> = {};
  for (const name of sidecarNames) {
    sidecarCpuUsPerReq[name] = median(l.rounds.map((r) => perReq(r.sidecarCpuS[name] ?? 0, r)));
  }
  const sidecarCommandsPerReq: Record<string, number> = {};
  for (const name of new Set(l.rounds.flatMap((r) => Object.keys(r.sidecarCommands)))) {
    sidecarCommandsPerReq[name] = median(l.rounds.map((r) => (r.requests > 0 ? (r.sidecarCommands[name] ?? 0) / r.requests : 0)));
  }
  return {
    id: l.c.id,
    label: l.c.label,
    group: l.c.group,
    ...(l.c.note === undefined ? {} : { note: l.c.note }),
    method: l.sample.method,
    path: l.sample.path,
    nodes: l.servers.length,
    rate: l.c.rate ?? null,
    credentialBytes: credentialBytes(l.sample),
    requestBytes: requestBytes(l.sample, l.server.port),
    rounds,
    summary: {
      rps: minMedMax(rounds.map((r) => r.rps)),
      ratio: ratios.length > 0 ? minMedMax(ratios) : null,
      cpuRatio: cpuRatios.length > 0 ? minMedMax(cpuRatios) : null,
      p50: median(rounds.map((r) => r.latency.p50)),
      p99: median(rounds.map((r) => r.latency.p99)),
      serverCpuS: median(rounds.map((r) => r.serverCpuS)),
      loadCpuS: median(rounds.map((r) => r.loadCpuS)),
      serverCpuUsPerReq: median(l.rounds.map((r) => perReq(r.serverCpuS, r))),
      sidecarCpuUsPerReq,
      sidecarCommandsPerReq,
      non2xx: rounds.reduce((a, r) => a + r.non2xx, 0),
      errors: rounds.reduce((a, r) => a + r.errors + r.timeouts, 0),
      loadBound: median(l.rounds.map((r) => r.loadCpuS / r.durationS)) >= 0.9,
    },
  };
}

export async function runHttpBench(
  cases: readonly HttpCase[],
  s: HttpBenchSettings,
  env: HttpBenchEnv,
): Promise<{ results: HttpCaseResult[]; skipped: SkippedCase[] }> {
  const skipped: SkippedCase[] = [];
  const live: Live[] = [];
  try {
    // Started together: start-up is mostly module loading and waiting, and nothing is measured yet.
    env.progress(`starting ${cases.length} servers`);
    const started = await Promise.all(cases.map(async (c) => ({ c, r: await bringUp(c, env.ctx) })));
    for (const { c, r } of started) {
      if (typeof r === 'string') {
        env.progress(`  skipped ${c.id}: ${r}`);
        skipped.push({ id: c.id, label: c.label, reason: r });
      } else live.push(r);
    }
    if (!live.some((l) => l.c.id === BASELINE_ID)) throw new Error(`the baseline (${BASELINE_ID}) could not run: no ratios possible`);

    const total = s.rounds * live.length;
    let done = 0;
    for (let round = 1; round <= s.rounds; round++) {
      const shift = (round - 1) % live.length;
      const order = [...live.slice(shift), ...live.slice(0, shift)];
      for (const l of order) {
        const scenario = await l.driver.scenario();
        const sidecars = env.sidecars.filter((x) => l.c.needs.includes(x.name));
        const sidecarCpu = (x: Sidecar): number => x.cpuSeconds() ?? Number.NaN;
        const serversCpu = (): number => l.servers.reduce((sum, x) => sum + (processCpuSeconds(x.pid) ?? Number.NaN), 0);
        const counted = sidecars.filter((x) => x.commands !== undefined);
        const readCommands = (): Promise<number[]> =>
          Promise.all(counted.map((x) => (x.commands === undefined ? Promise.resolve(Number.NaN) : x.commands())));
        let commands0: Promise<number[]> = Promise.resolve([]);
        let server0 = 0;
        let side0: number[] = [];
        let stopBackground: (() => Promise<string>) | undefined;
        const result = await env.load.run(
          {
            urls: l.servers.map((x) => x.origin),
            connections: s.connections,
            ...(l.c.rate === undefined ? {} : { rate: l.c.rate }),
            warmupSeconds: s.warmupSeconds,
            durationSeconds: s.durationSeconds,
            scenario,
          },
          () => {
            server0 = serversCpu();
            side0 = sidecars.map(sidecarCpu);
            // Asynchronous: a round trip late, a handful of requests out of thousands.
            commands0 = readCommands();
            stopBackground = l.driver.background?.();
          },
        );
        const background = stopBackground === undefined ? undefined : await stopBackground();
        const serverCpuS = serversCpu() - server0;
        const sidecarCpuS: Record<string, number> = {};
        sidecars.forEach((x, i) => {
          sidecarCpuS[x.name] = sidecarCpu(x) - (side0[i] ?? Number.NaN);
        });
        const [before, after] = [await commands0, await readCommands()];
        const sidecarCommands: Record<string, number> = {};
        counted.forEach((x, i) => {
          sidecarCommands[x.name] = (after[i] ?? Number.NaN) - (before[i] ?? Number.NaN);
        });
        l.driver.after?.(result);
        l.rounds.push({
          round,
          requests: result.requests,
          durationS: result.durationS,
          rps: result.rps,
          latency: result.latency,
          non2xx: result.non2xx,
          errors: result.errors,
          timeouts: result.timeouts,
          serverCpuS,
          loadCpuS: result.loadCpuS,
          sidecarCpuS,
          sidecarCommands,
          bytesPerResponse: result.requests > 0 ? result.bytesRead / result.requests : 0,
          ...(background === undefined ? {} : { background }),
        });
        done++;
        const bad = result.non2xx + result.errors + result.timeouts;
        const pool =
          scenario.kind === 'refresh-chain' ? `  refresh pool ${scenario.tokens.length}→${result.leftoverTokens?.length ?? 0}` : '';
        env.progress(
          `[round ${round}/${s.rounds}] ${String(done).padStart(String(total).length)}/${total} ${l.c.id.padEnd(32)} ` +
            `${Math.round(result.rps).toLocaleString('en-US').padStart(8)} req/s  p50 ${result.latency.p50.toFixed(2)} ms  p99 ${result.latency.p99.toFixed(2)} ms  ` +
            `cpu server ${serverCpuS.toFixed(2)} s, load ${result.loadCpuS.toFixed(2)} s${pool}${background === undefined ? '' : `  ${background}`}${bad > 0 ? `  (${bad} non-2xx/errors!)` : ''}`,
        );
      }
    }
    const baseline = live.find((l) => l.c.id === BASELINE_ID);
    return { results: live.map((l) => summarise(l, baseline)), skipped };
  } finally {
    await Promise.all(live.flatMap((l) => l.servers.map((x) => x.stop())));
  }
}
