/**
 * The load generator's own process: receives LoadJobs over IPC, runs autocannon
 * (warm-up, then the measured run) against a loopback origin, and reports the
 * measured run with the CPU time this process spent on it.
 *
 * It lives in its own process so the generator's CPU is neither the runner's
 * nor the server's, and it stays alive across jobs (no start-up cost per run).
 */
import autocannon from 'autocannon';
import type { LoadJob, LoadRunResult, LoadScenario, LoadWorkerMessage } from './types.js';

function send(msg: LoadWorkerMessage): void {
  process.send?.(msg);
}

/** Refuses anything but a loopback origin: load tests never leave this machine. */
function assertLoopback(url: string): void {
  const { hostname, protocol } = new URL(url);
  const ok = protocol === 'http:' && (/^127\.\d+\.\d+\.\d+$/.test(hostname) || hostname === '[::1]' || hostname === 'localhost');
  if (!ok) throw new Error(`refusing to load ${url}: loopback targets only`);
}

interface Chain {
  pool: string[];
  field: string;
}

function requestsFor(scenario: LoadScenario, chain: Chain | null): autocannon.Request[] {
  const { method, path, headers, body } = scenario.request;
  if (scenario.kind === 'static' || chain === null) {
    return [{ method, path, headers, ...(body === undefined ? {} : { body }) }];
  }
  // A shared pool, not per-connection state: autocannon resets a connection's
  // context after each pass over its request list.
  return [
    {
      method,
      path,
      headers: { ...headers, 'content-type': 'application/json' },
      setupRequest: (req) => {
        const token = chain.pool.shift() ?? 'pool-exhausted';
        return { ...req, body: JSON.stringify({ [chain.field]: token }) };
      },
      onResponse: (status, resBody) => {
        if (status < 200 || status >= 300) return;
        try {
          const next = (JSON.parse(resBody) as Record<string, unknown>)[chain.field];
          if (typeof next === 'string') chain.pool.push(next);
        } catch {
          // A body without the next token ends that chain; the non-2xx count or the
          // pool running dry shows it in the results.
        }
      },
    },
  ];
}

async function runOnce(job: LoadJob, seconds: number, chain: Chain | null): Promise<autocannon.Result> {
  return autocannon({
    url: job.url,
    connections: job.connections,
    duration: seconds,
    pipelining: 1,
    timeout: 10,
    requests: requestsFor(job.scenario, chain),
  });
}

async function run(job: LoadJob): Promise<LoadRunResult> {
  assertLoopback(job.url);
  const chain = job.scenario.kind === 'refresh-chain' ? { pool: [...job.scenario.tokens], field: job.scenario.field } : null;
  if (job.warmupSeconds > 0) await runOnce(job, job.warmupSeconds, chain);
  send({ type: 'measure-start' });
  const cpu0 = process.cpuUsage();
  const r = await runOnce(job, job.durationSeconds, chain);
  const cpu = process.cpuUsage(cpu0);
  const durationS = r.duration > 0 ? r.duration : job.durationSeconds;
  return {
    requests: r.requests.total,
    durationS,
    rps: r.requests.total / durationS,
    latency: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, mean: r.latency.mean, max: r.latency.max },
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    bytesRead: r.throughput.total,
    loadCpuS: (cpu.user + cpu.system) / 1e6,
    ...(chain === null ? {} : { leftoverTokens: chain.pool }),
  };
}

process.on('message', (job: LoadJob) => {
  run(job).then(
    (result) => send({ type: 'result', result }),
    (err: unknown) => send({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
  );
});
process.on('disconnect', () => process.exit(0));
send({ type: 'ready' });
