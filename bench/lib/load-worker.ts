/**
 * The load generator's own process: receives LoadJobs over IPC, runs autocannon
 * (warm-up, then the measured run) against loopback origins, and reports the
 * measured run with the CPU time this process spent on it.
 *
 * It lives in its own process so the generator's CPU is neither the runner's
 * nor the server's, and it stays alive across jobs (no start-up cost per run).
 */
import http from 'node:http';
import autocannon from 'autocannon';
import type { LatencySummary, LoadJob, LoadRunResult, LoadScenario, LoadWorkerMessage } from './types.js';

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

/**
 * Durations of the 2xx responses of one run, in ms with hrtime precision:
 * autocannon's own histogram keeps whole milliseconds, too coarse for a p99
 * that sits at 1–3 ms.
 */
class Latencies {
  private values = new Float64Array(1 << 16);
  private n = 0;

  record(ms: number): void {
    if (this.n === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.n++] = ms;
  }

  summary(): LatencySummary {
    const v = this.values.subarray(0, this.n).sort();
    const at = (q: number): number => (v.length === 0 ? 0 : (v[Math.min(v.length - 1, Math.ceil(q * v.length) - 1)] ?? 0));
    let sum = 0;
    for (const x of v) sum += x;
    return { p50: at(0.5), p90: at(0.9), p99: at(0.99), mean: v.length === 0 ? 0 : sum / v.length, max: v.length === 0 ? 0 : (v[v.length - 1] ?? 0) };
  }
}

async function runOnce(job: LoadJob, seconds: number, chain: Chain | null, latencies?: Latencies): Promise<autocannon.Result> {
  return new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        // autocannon takes an array of targets (lib/run.js, one per connection round-robin);
        // @types/autocannon only knows a string.
        url: job.urls as unknown as string,
        connections: job.connections,
        duration: seconds,
        pipelining: 1,
        timeout: 10,
        requests: requestsFor(job.scenario, chain),
      },
      (err: unknown, result: autocannon.Result) =>
        err ? reject(err instanceof Error ? err : new Error(`autocannon failed: ${JSON.stringify(err)}`)) : resolve(result),
    );
    if (latencies !== undefined) {
      instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
        if (status >= 200 && status < 300) latencies.record(ms);
      });
    }
  });
}

/** What one run counted, whichever generator ran it. */
interface Counted {
  requests: number;
  durationS: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  bytesRead: number;
}

async function closedLoop(job: LoadJob, seconds: number, chain: Chain | null, latencies?: Latencies): Promise<Counted> {
  const r = await runOnce(job, seconds, chain, latencies);
  return {
    requests: r.requests.total,
    durationS: r.duration > 0 ? r.duration : seconds,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    bytesRead: r.throughput.total,
  };
}

/**
 * An open-loop load at a steady rate: request k leaves at t0 + k/rate whatever the
 * answers before it did, over at most `connections` keep-alive sockets. autocannon's
 * own rate option sends each second's quota back to back and then waits, which
 * measures a queue, not the server. A request's latency runs from the tick that sent
 * it (at most ~1 ms after its slot) to its last byte, time waiting for a socket included.
 */
async function pacedLoop(job: LoadJob, rate: number, seconds: number, latencies?: Latencies): Promise<Counted> {
  if (job.scenario.kind !== 'static') throw new Error('a paced run replays a static request');
  const { method, path, headers, body } = job.scenario.request;
  const agents = job.urls.map(() => new http.Agent({ keepAlive: true, maxSockets: Math.max(1, Math.floor(job.connections / job.urls.length)) }));
  const targets = job.urls.map((u) => new URL(u));
  const total = Math.round(rate * seconds);
  const c: Counted = { requests: 0, durationS: seconds, non2xx: 0, errors: 0, timeouts: 0, bytesRead: 0 };
  let sent = 0;
  let settled = 0;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const finish = (): void => {
      if (++settled === total) resolve();
    };
    const fire = (i: number): void => {
      const target = targets[i % targets.length] as URL;
      const start = performance.now();
      const req = http.request(
        { host: target.hostname, port: target.port, method, path, headers, agent: agents[i % agents.length], timeout: 10_000 },
        (res) => {
          let bytes = 0;
          res.on('data', (chunk: Buffer) => (bytes += chunk.length));
          res.on('end', () => {
            const status = res.statusCode ?? 0;
            c.requests++;
            c.bytesRead += bytes;
            if (status >= 200 && status < 300) latencies?.record(performance.now() - start);
            else c.non2xx++;
            finish();
          });
        },
      );
      req.on('timeout', () => {
        c.timeouts++;
        req.destroy();
      });
      req.on('error', () => {
        c.errors++;
        finish();
      });
      req.end(body);
    };
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((performance.now() - t0) * rate) / 1000));
      while (sent < due) fire(sent++);
      if (sent >= total) clearInterval(timer);
    }, 1);
  });
  c.durationS = (performance.now() - t0) / 1000;
  for (const a of agents) a.destroy();
  return c;
}

async function run(job: LoadJob): Promise<LoadRunResult> {
  for (const url of job.urls) assertLoopback(url);
  const chain = job.scenario.kind === 'refresh-chain' ? { pool: [...job.scenario.tokens], field: job.scenario.field } : null;
  const once = (seconds: number, latencies?: Latencies): Promise<Counted> =>
    job.rate === undefined ? closedLoop(job, seconds, chain, latencies) : pacedLoop(job, job.rate, seconds, latencies);
  if (job.warmupSeconds > 0) await once(job.warmupSeconds);
  send({ type: 'measure-start' });
  const latencies = new Latencies();
  const cpu0 = process.cpuUsage();
  const r = await once(job.durationSeconds, latencies);
  const cpu = process.cpuUsage(cpu0);
  return {
    ...r,
    rps: r.requests / r.durationS,
    latency: latencies.summary(),
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
