/**
 * Shapes shared by the bench runner, its load-generator child and its report.
 * Everything here is plain JSON: it crosses process boundaries and lands in
 * `bench/results/<timestamp>.json`.
 */

/** One HTTP request, replayed by every connection of the load generator. */
export interface RequestSpec {
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: string;
}

/**
 * What the load generator sends.
 * - `static`: the same request over and over (a cookie or a Bearer token).
 * - `refresh-chain`: `POST` with a body `{[field]: token}`; each response carries
 *   the next token in `field`, which goes back into a shared pool. A token is
 *   never presented twice, so rotation (and its reuse detection) is exercised
 *   the way a real client would.
 */
export type LoadScenario =
  | { kind: 'static'; request: RequestSpec }
  | { kind: 'refresh-chain'; request: RequestSpec; field: string; tokens: string[] };

/**
 * A job for the load-generator child. Every URL must be a loopback origin; with
 * several (one per node), autocannon spreads the connections over them round-robin.
 */
export interface LoadJob {
  urls: string[];
  connections: number;
  /** Requests per second across all connections; absent: as fast as the server answers. */
  rate?: number;
  warmupSeconds: number;
  durationSeconds: number;
  scenario: LoadScenario;
}

export interface LatencySummary {
  /** Milliseconds, from each 2xx response's hrtime duration (not autocannon's whole-ms histogram). */
  p50: number;
  p90: number;
  p99: number;
  mean: number;
  max: number;
}

/** The measured part of one load run (warm-up excluded). */
export interface LoadRunResult {
  requests: number;
  durationS: number;
  rps: number;
  latency: LatencySummary;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Response bytes (status line, headers and body) read during the measured run. */
  bytesRead: number;
  /** CPU seconds (user + system) the load generator spent during the measured run. */
  loadCpuS: number;
  /** refresh-chain only: tokens still unused at the end, good for the next run. */
  leftoverTokens?: string[];
}

/** Messages from the load-generator child to the runner. */
export type LoadWorkerMessage =
  | { type: 'ready' }
  | { type: 'measure-start' }
  | { type: 'result'; result: LoadRunResult }
  | { type: 'error'; message: string };

export interface MinMedMax {
  min: number;
  median: number;
  max: number;
}

/** One (case, round) of an HTTP benchmark. */
export interface HttpRound {
  round: number;
  requests: number;
  durationS: number;
  rps: number;
  latency: LatencySummary;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Summed over the case's server processes (nodes). */
  serverCpuS: number;
  loadCpuS: number;
  /** CPU of shared services the case uses (redis-server; PostgreSQL's client backends), by name. */
  sidecarCpuS: Record<string, number>;
  /** Commands those services executed during the measured run, where counted (Redis). */
  sidecarCommands: Record<string, number>;
  /** This round's throughput divided by the baseline's in the same round. */
  ratio: number | null;
  bytesPerResponse: number;
  /** What ran beside the load, if anything (a login burst). */
  background?: string;
}

export type CaseGroup = 'baseline' | 'peer' | 'floor' | 'frontdesk';

export interface HttpCaseResult {
  id: string;
  label: string;
  group: CaseGroup;
  note?: string;
  method: string;
  path: string;
  /** Server processes sharing the load (1 unless the case runs several nodes). */
  nodes: number;
  /** The paced request rate, or null when the load ran as fast as the server answered. */
  rate: number | null;
  /** Bytes of the credential header as sent (`cookie: …` or `authorization: …`), 0 if none. */
  credentialBytes: number;
  /** Bytes of the whole request as autocannon sends it (request line, headers, body). */
  requestBytes: number;
  rounds: HttpRound[];
  summary: {
    rps: MinMedMax;
    /** Median over rounds of the per-round ratio to the baseline. */
    ratio: MinMedMax | null;
    /**
     * Baseline server CPU per request ÷ this case's, per round: the ratio the two
     * would have if both were CPU-bound, less moved by a busy machine than req/s.
     */
    cpuRatio: MinMedMax | null;
    p50: number;
    p99: number;
    serverCpuS: number;
    loadCpuS: number;
    /** Server CPU microseconds per request (median over rounds): the cost that contention moves least. */
    serverCpuUsPerReq: number;
    sidecarCpuUsPerReq: Record<string, number>;
    /** Median over rounds of commands per request (Redis): background traffic shows as a small fraction. */
    sidecarCommandsPerReq: Record<string, number>;
    non2xx: number;
    errors: number;
    /** True when the load generator used ≥ 90 % of a core: the server may be faster than shown. */
    loadBound: boolean;
  };
}

export interface SkippedCase {
  id: string;
  label: string;
  reason: string;
}

export interface MicroResult {
  id: string;
  group: string;
  label: string;
  alg?: string;
  nsPerOp: MinMedMax;
  opsPerSec: number;
  samples: number;
  opsPerSample: number;
  note?: string;
}

export interface MicroSkip {
  id: string;
  reason: string;
}

export interface TokenSize {
  alg: string;
  /** The compact JWS. */
  tokenBytes: number;
  /** `authorization: Bearer <token>` as a header line. */
  headerBytes: number;
}

export interface MicroReport {
  results: MicroResult[];
  skipped: MicroSkip[];
  tokenSizes: TokenSize[];
  /** The session credential for comparison: `cookie: __Host-session=<id>`. */
  sessionCookieBytes: number;
}

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  cgroupCpuLimit: string | null;
  memoryGiB: number;
  node: string;
  v8: string;
  os: string;
  loadAvgStart: number[];
  loadAvgEnd: number[];
  sharedNote: string;
}

export interface BenchOptions {
  quick: boolean;
  durationSeconds: number;
  warmupSeconds: number;
  rounds: number;
  connections: number;
  only: string[] | null;
  micro: boolean;
  http: boolean;
  outDir: string;
}

export interface BenchReport {
  schema: 1;
  startedAt: string;
  finishedAt: string;
  options: BenchOptions;
  machine: MachineInfo;
  baselineId: string;
  http: HttpCaseResult[];
  skipped: SkippedCase[];
  micro: MicroReport | null;
  warnings: string[];
}
