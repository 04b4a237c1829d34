/**
 * `npm run bench [-- options]`: the session-vs-JWT comparison, measured on this
 * machine. Per-operation costs first, then every HTTP case (own server process,
 * own load-generator process, interleaved rounds), then the report:
 * bench/results/<timestamp>.json, .md and SVG charts, copied to latest.*.
 *
 * Options:
 *   --quick              about a minute: short runs, 1 s warm-up, 2 rounds, a subset of cases
 *   --duration S         measured seconds per case and round (default 10; quick 2)
 *   --warmup S           warm-up seconds per case and round (default 3; quick 1)
 *   --rounds N           interleaved rounds, at least 2 (default 3; quick 2)
 *   --connections N      concurrent connections (default 50)
 *   --only id,id         only these HTTP cases (the baseline always runs)
 *   --no-micro / --no-http   skip one half
 *   --out DIR            where results go (default bench/results)
 *   --no-build           do not build Frontdesk's server (by default: when dist/ is missing or,
 *                        except with --quick, older than src/)
 *   --list               print the HTTP cases and exit
 */
import { fork, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startPostgres, type PostgresServer } from '../test/harness/postgres.js';
import { redisCommand, startRedis, type RedisServer } from '../test/harness/redis.js';
import { BASELINE_ID, CASES, type CaseContext } from './lib/cases.js';
import { frontdeskStaleness, frontdeskUnavailable } from './lib/frontdesk.js';
import { runHttpBench, type Sidecar } from './lib/http-bench.js';
import { LoadGenerator } from './lib/load.js';
import { machineInfo } from './lib/machine.js';
import { childrenCpuSeconds, processCpuSeconds } from './lib/proc.js';
import type { MicroSuiteOptions } from './lib/micro-suite.js';
import { renderCharts, renderMarkdown } from './lib/report.js';
import type { BenchOptions, BenchReport, MicroReport } from './lib/types.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const t0 = Date.now();
const progress = (line: string): void => {
  process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);
};

function parseArgs(argv: readonly string[]): BenchOptions & { list: boolean; build: boolean } {
  const quick = argv.includes('--quick');
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, dflt: number, min: number): number => {
    const raw = value(name);
    if (raw === undefined) return dflt;
    const n = Number(raw);
    if (!Number.isFinite(n) || n < min) throw new Error(`${name} must be a number ≥ ${min}, got ${raw}`);
    return n;
  };
  const known = new Set([
    '--quick', '--duration', '--warmup', '--rounds', '--connections', '--only', '--no-micro', '--no-http', '--out', '--list', '--no-build',
  ]);
  argv.forEach((a, i) => {
    const prev = argv[i - 1];
    const isValue = prev !== undefined && ['--duration', '--warmup', '--rounds', '--connections', '--only', '--out'].includes(prev);
    if (!isValue && !known.has(a)) throw new Error(`unknown option ${a} (see the header of bench/run.ts)`);
  });
  const only = value('--only');
  return {
    quick,
    durationSeconds: num('--duration', quick ? 2 : 10, 1),
    warmupSeconds: num('--warmup', quick ? 1 : 3, 0),
    rounds: Math.floor(num('--rounds', quick ? 2 : 3, 2)),
    connections: Math.floor(num('--connections', 50, 1)),
    only: only === undefined ? null : only.split(',').map((s) => s.trim()),
    micro: !argv.includes('--no-micro'),
    http: !argv.includes('--no-http'),
    outDir: resolve(value('--out') ?? join(ROOT, 'bench', 'results')),
    list: argv.includes('--list'),
    build: !argv.includes('--no-build'),
  };
}

/**
 * Builds the server (tsc only: the web app is not measured) when dist/ is missing
 * or older than src/, so `npm run bench` never measures a stale build silently.
 * `--quick` builds only a missing dist/ (to stay near a minute) and warns if stale.
 * Type errors elsewhere do not stop tsc from emitting: that is reported, not fatal.
 */
function ensureBuilt(warnings: string[], onlyIfMissing: boolean): void {
  if (frontdeskUnavailable(ROOT) === null && (onlyIfMissing || frontdeskStaleness(ROOT) === null)) return;
  progress('building Frontdesk (tsc -p tsconfig.build.json)');
  const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) {
    const first = `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim() !== '') ?? `exit ${String(r.status)}`;
    warnings.push(`\`tsc -p tsconfig.build.json\` reported errors (first: ${first.trim()}); the Frontdesk rows measure what it emitted.`);
  }
}

/** The peers have their own package.json; install it on first use (CI, a fresh clone). */
function ensurePeers(): void {
  const dir = join(ROOT, 'bench', 'peers');
  if (existsSync(join(dir, 'node_modules', '.package-lock.json'))) return;
  progress('installing bench/peers (npm ci, once)');
  const r = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: dir, stdio: ['ignore', 2, 2] });
  if (r.status !== 0) throw new Error(`npm ci in bench/peers failed (exit ${String(r.status)})`);
}

async function runMicro(o: MicroSuiteOptions): Promise<MicroReport> {
  return new Promise<MicroReport>((resolvePromise, reject) => {
    const child = fork(fileURLToPath(new URL('./lib/micro-suite.ts', import.meta.url)), [JSON.stringify(o)], {
      cwd: ROOT,
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let report: MicroReport | null = null;
    child.on('message', (m: MicroReport) => {
      report = m;
    });
    child.once('exit', (code) => (report !== null ? resolvePromise(report) : reject(new Error(`micro-benchmarks exited with ${String(code)}`))));
  });
}

async function redisPid(url: string): Promise<number> {
  const info = await redisCommand(Number(new URL(url).port), ['INFO', 'server']);
  const m = /process_id:(\d+)/.exec(info);
  if (!m?.[1]) throw new Error('redis INFO has no process_id');
  return Number(m[1]);
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.list) {
    for (const c of CASES) process.stdout.write(`${c.id.padEnd(28)} ${c.quick ? 'quick' : '     '}  ${c.label}\n`);
    return;
  }
  const { list: _list, build, ...options } = opts;
  const startedAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const machine = machineInfo();
  const warnings: string[] = [];
  if (machine.loadAvgStart[0] !== undefined && machine.loadAvgStart[0] > machine.cores * 0.5) {
    warnings.push(`The machine was busy when the run started (load average ${machine.loadAvgStart[0]} on ${machine.cores} cores): figures are noisier than usual.`);
  }
  const cases = CASES.filter((c) => c.id === BASELINE_ID || (options.only !== null ? options.only.includes(c.id) : !options.quick || c.quick));
  if (options.only !== null) {
    const unknown = options.only.filter((id) => !CASES.some((c) => c.id === id));
    if (unknown.length > 0) throw new Error(`unknown case(s): ${unknown.join(', ')} (see --list)`);
  }
  if (options.http && cases.some((c) => c.group !== 'frontdesk')) ensurePeers();
  if (build && (options.micro || (options.http && cases.some((c) => c.group === 'frontdesk')))) ensureBuilt(warnings, options.quick);
  const stale = frontdeskStaleness(ROOT);
  if (stale !== null) warnings.push(stale);
  progress(
    `bench ${options.quick ? '--quick ' : ''}on ${machine.cpuModel}, ${machine.cores} cores, Node ${machine.node}: ` +
      `${options.http ? `${cases.length} HTTP cases × ${options.rounds} rounds of ${options.warmupSeconds}+${options.durationSeconds} s` : 'no HTTP'}` +
      `${options.micro ? ', micro-benchmarks' : ''}`,
  );

  let redis: RedisServer | null = null;
  let postgres: PostgresServer | null = null;
  const load = new LoadGenerator(ROOT);
  let micro: MicroReport | null = null;
  let http: Awaited<ReturnType<typeof runHttpBench>> = { results: [], skipped: [] };
  try {
    const httpNeeds = (name: 'redis' | 'postgres'): boolean => options.http && cases.some((c) => c.needs.includes(name));
    if (httpNeeds('redis') || options.micro) {
      progress('starting redis-server');
      redis = await startRedis();
    }
    // The micro-benchmarks' PostgreSQL rows are left out of --quick (start-up time).
    if (httpNeeds('postgres') || (options.micro && !options.quick)) {
      progress('starting PostgreSQL');
      try {
        postgres = await startPostgres();
      } catch (err) {
        warnings.push(`PostgreSQL could not start, its rows are missing: ${(err instanceof Error ? err.message : String(err)).split('\n')[0] ?? ''}`);
      }
    }
    if (options.micro) {
      progress('micro-benchmarks');
      micro = await runMicro({
        quick: options.quick,
        root: ROOT,
        redisUrl: redis?.url ?? null,
        postgresUrl: options.quick ? null : (postgres?.url ?? null),
      });
    }
    if (options.http) {
      const ctx: CaseContext = {
        root: ROOT,
        peersDir: join(ROOT, 'bench', 'peers'),
        connections: options.connections,
        redisUrl: redis?.url ?? null,
        postgresUrl: postgres?.url ?? null,
      };
      const sidecars: Sidecar[] = [];
      if (redis !== null) {
        const pid = await redisPid(redis.url);
        const port = Number(new URL(redis.url).port);
        sidecars.push({
          name: 'redis',
          cpuSeconds: () => processCpuSeconds(pid),
          commands: async () => Number(/total_commands_processed:(\d+)/.exec(await redisCommand(port, ['INFO', 'stats']))?.[1] ?? Number.NaN),
        });
      }
      const pg = postgres;
      // Client backends only (`postgres: <user> <db> <client>`): the work of answering
      // the nodes' queries, without checkpointer, WAL writer or autovacuum.
      if (pg !== null) sidecars.push({ name: 'postgres', cpuSeconds: () => childrenCpuSeconds(pg.pid, /^postgres: \S+ frontdesk /) });
      http = await runHttpBench(cases, options, { ctx, load, sidecars, progress });
    }
  } finally {
    load.close();
    await postgres?.stop();
    await redis?.stop();
  }

  machine.loadAvgEnd = loadavg().map((x) => Math.round(x * 100) / 100);
  const report: BenchReport = {
    schema: 1,
    startedAt,
    finishedAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    options,
    machine,
    baselineId: BASELINE_ID,
    http: http.results,
    skipped: http.skipped,
    micro,
    warnings,
  };
  const flagged = report.http.filter((c) => c.summary.non2xx + c.summary.errors > 0);
  for (const c of flagged) warnings.push(`${c.label}: ${c.summary.non2xx} non-2xx responses and ${c.summary.errors} errors during measured runs.`);

  mkdirSync(options.outDir, { recursive: true });
  const stem = `${startedAt.replace(/:/g, '-')}${options.quick ? '-quick' : ''}`;
  const latest = options.quick ? 'latest-quick' : 'latest';
  const charts = renderCharts(report);
  const chartNames: { http?: string; verify?: string; sessions?: string } = {};
  const latestNames: typeof chartNames = {};
  for (const key of ['http', 'verify', 'sessions'] as const) {
    const svg = charts[key];
    if (svg === null) continue;
    chartNames[key] = `${stem}-${key}.svg`;
    latestNames[key] = `${latest}-${key}.svg`;
    writeFileSync(join(options.outDir, chartNames[key]), svg);
    copyFileSync(join(options.outDir, chartNames[key]), join(options.outDir, latestNames[key]));
  }
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(join(options.outDir, `${stem}.json`), json);
  writeFileSync(join(options.outDir, `${latest}.json`), json);
  writeFileSync(join(options.outDir, `${stem}.md`), renderMarkdown(report, chartNames));
  writeFileSync(join(options.outDir, `${latest}.md`), renderMarkdown(report, latestNames));
  progress(`report: ${join(options.outDir, `${stem}.md`)} (and ${latest}.md, ${latest}.json)`);
  for (const w of warnings) progress(`warning: ${w}`);
}

// Ctrl-C: exit through process.on('exit') so the harness kills every server it started.
process.on('SIGINT', () => process.exit(130));
process.on('SIGTERM', () => process.exit(143));
main().then(
  () => process.exit(0),
  (err: unknown) => {
    progress(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
