/**
 * Turns a BenchReport into the Markdown report and its SVG charts, with the
 * article's claims beside the measured figures and issue 5's goals checked.
 */
import { BASELINE_ID, NODES, PACED_RATE } from './cases.js';
import { sig } from './stats.js';
import { COLORS, barChart, type Bar } from './svg.js';
import type { BenchReport, HttpCaseResult, MicroResult } from './types.js';

/** The article's figures (000_b1adbdb8f6d0e597.txt), quoted. */
export const ARTICLE_CLAIMS = {
  sessionLookupMs: 15,
  jwtVerifyMs: 20,
  jwtRps: 1_000_000,
  sessionRps: 500_000,
  sessionIdBytes: 32,
} as const;

export interface Charts {
  http: string | null;
  verify: string | null;
  sessions: string | null;
}

const us = (ns: number): string => {
  const v = ns / 1000;
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
};
/** A duration given in ns, in µs or ms, whichever reads better. */
const dur = (ns: number): string => (ns >= 1e6 ? `${sig(ns / 1e6, 3)} ms` : `${us(ns)} µs`);
const n0 = (x: number): string => Math.round(x).toLocaleString('en-US');
/** A ratio: two decimals, or two significant figures below 0.1 (Better Auth's 0.017). */
const r2 = (x: number): string => (x !== 0 && Math.abs(x) < 0.1 ? String(sig(x, 2)) : x.toFixed(2));
const x2 = (x: number): string => `${r2(x)}×`;
const cell = (s: string): string => s.replace(/\|/g, '\\|');

function byId(r: BenchReport, id: string): HttpCaseResult | undefined {
  return r.http.find((c) => c.id === id);
}
function micro(r: BenchReport, id: string): MicroResult | undefined {
  return r.micro?.results.find((m) => m.id === id);
}

export function renderCharts(r: BenchReport): Charts {
  const http =
    r.http.length === 0
      ? null
      : barChart({
          title: 'Throughput relative to bare Fastify (same run)',
          subtitle: `median of ${r.options.rounds} interleaved rounds, min–max whiskers; ${r.options.connections} connections, ${r.machine.cores} cores shared with the load generator`,
          unit: '× bare Fastify req/s',
          reference: { value: 1, label: 'bare Fastify' },
          bars: [...r.http]
            .filter((c) => c.summary.ratio !== null)
            .sort((a, b) => (b.summary.ratio?.median ?? 0) - (a.summary.ratio?.median ?? 0))
            .map(
              (c): Bar => ({
                label: c.label.replace(/`/g, ''),
                value: c.summary.ratio?.median ?? 0,
                min: c.summary.ratio?.min ?? 0,
                max: c.summary.ratio?.max ?? 0,
                color: COLORS[c.group],
                annotation: `${x2(c.summary.ratio?.median ?? 0)}  ${n0(c.summary.rps.median)}/s`,
              }),
            ),
        });
  const verifyRows = r.micro?.results.filter((m) => m.group === 'verify') ?? [];
  const verify =
    verifyRows.length === 0
      ? null
      : barChart({
          title: 'Access-token verification cost per call',
          subtitle: 'µs per verify, median of samples; node:crypto floor green, Frontdesk blue, fast-jwt orange, jose purple',
          unit: 'µs per verification',
          log: true,
          reference: { value: ARTICLE_CLAIMS.jwtVerifyMs * 1000, label: "article's 20 ms" },
          bars: verifyRows.map(
            (m): Bar => ({
              label: `${m.alg ?? ''} · ${m.id.startsWith('crypto') ? 'node:crypto floor' : m.label}`,
              value: m.nsPerOp.median / 1000,
              color: m.id.startsWith('crypto')
                ? COLORS.floor
                : m.id.startsWith('frontdesk')
                  ? COLORS.frontdesk
                  : m.id.startsWith('jose')
                    ? COLORS.other
                    : COLORS.peer,
              annotation: dur(m.nsPerOp.median),
            }),
          ),
        });
  const sessRows = r.micro?.results.filter((m) => m.group === 'session' || m.group === 'password') ?? [];
  const sessions =
    sessRows.length === 0
      ? null
      : barChart({
          title: 'Session-store and password costs per operation',
          subtitle: 'µs per operation (concurrent rows: wall time divided by operations in flight)',
          unit: 'µs per operation',
          log: true,
          reference: { value: ARTICLE_CLAIMS.sessionLookupMs * 1000, label: "article's 15 ms" },
          bars: sessRows.map(
            (m): Bar => ({
              label: m.label.length > 52 ? `${m.label.slice(0, 50)}…` : m.label,
              value: m.nsPerOp.median / 1000,
              color: m.group === 'password' ? COLORS.other : COLORS.floor,
              annotation: dur(m.nsPerOp.median),
            }),
          ),
        });
  return { http, verify, sessions };
}

function goals(r: BenchReport): string[] {
  const ratio = (id: string): number | null => byId(r, id)?.summary.ratio?.median ?? null;
  const rps = (id: string): number | null => byId(r, id)?.summary.rps.median ?? null;
  const lines: string[] = ['| Goal (issue 5) | Measured | Met |', '|---|---|---|'];
  const add = (goal: string, value: number | null, target: number, fmt: (v: number) => string, atMost = false): void => {
    if (value === null) lines.push(`| ${goal} | not measured in this run | – |`);
    else lines.push(`| ${goal} | ${fmt(value)} | ${(atMost ? value <= target : value >= target) ? 'yes' : `**no** (${fmt(value)} vs ${fmt(target)})`} |`);
  };
  const best = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));
  add('`GET /auth/me` jwt and hybrid ≥ 0.85× bare Fastify (the lower of the two)', best(ratio('frontdesk-jwt'), ratio('frontdesk-hybrid')), 0.85, x2);
  add('session on SQLite ≥ 0.65×', ratio('frontdesk-session-sqlite'), 0.65, x2);
  add('session on Redis ≥ 0.55×', ratio('frontdesk-session-redis'), 0.55, x2);
  const fd = rps('frontdesk-session-sqlite');
  const ba = rps('better-auth');
  add('≥ 10× Better Auth `get-session` (Frontdesk session on SQLite vs it)', fd !== null && ba !== null ? fd / ba : null, 10, x2);
  const fr = rps('frontdesk-session-redis');
  const es = rps('express-session-redis');
  add('≥ 4× express-session + connect-redis (Frontdesk session on Redis vs it)', fr !== null && es !== null ? fr / es : null, 4, x2);
  const cold = micro(r, 'frontdesk.eddsa.cold');
  const floor = micro(r, 'crypto.eddsa');
  add(
    'first verification of an unseen token ≤ 1.15× node:crypto Ed25519 verify',
    cold && floor ? cold.nsPerOp.median / floor.nsPerOp.median : null,
    1.15,
    x2,
    true,
  );
  const p99Ratio = (idleId: string, burstId: string): number | null => {
    const idle = byId(r, idleId)?.summary.p99 ?? null;
    const burst = byId(r, burstId)?.summary.p99 ?? null;
    return idle !== null && burst !== null && idle > 0 ? burst / idle : null;
  };
  add(
    `p99 of \`GET /auth/me\` (jwt) during a login burst ≤ 2× its idle p99 (paced at ${PACED_RATE.toLocaleString('en-US')} req/s)`,
    p99Ratio('frontdesk-jwt-paced', 'frontdesk-jwt-paced-login-burst'),
    2,
    x2,
    true,
  );
  const control = p99Ratio('frontdesk-jwt-paced', 'frontdesk-jwt-paced-busy-core');
  if (control !== null) {
    lines.push(`| *control, not a goal: the same paced p99 beside a process spinning on one core, no login* | ${x2(control)} | – |`);
  }
  const saturated = p99Ratio('frontdesk-jwt', 'frontdesk-jwt-login-burst');
  if (saturated !== null) {
    lines.push(
      `| *the same at full load (${r.options.connections} connections, not a goal)*: argon2 takes one of the ${r.machine.cores} cores, so throughput drops and queueing lengthens p99 | ${x2(saturated)} | – |`,
    );
  }
  return lines;
}

function claims(r: BenchReport): string[] {
  const lines = ['| The article says | Measured here |', '|---|---|'];
  const sq = micro(r, 'sqlite.pk-get');
  const rd = micro(r, 'redis.get');
  const pgm = micro(r, 'postgres.pk-get');
  const lookups = [
    sq && `SQLite ${us(sq.nsPerOp.median)} µs`,
    rd && `Redis GET round trip ${us(rd.nsPerOp.median)} µs`,
    pgm && `PostgreSQL round trip ${us(pgm.nsPerOp.median)} µs`,
  ].filter(Boolean);
  const slowestLookup = Math.max(sq?.nsPerOp.median ?? 0, rd?.nsPerOp.median ?? 0, pgm?.nsPerOp.median ?? 0);
  lines.push(
    `| "A request that needs a session lookup costs roughly 15ms against a Redis or database store" | ${
      lookups.length > 0
        ? `${lookups.join('; ')} — the claim is ${n0((ARTICLE_CLAIMS.sessionLookupMs * 1e6) / slowestLookup)}× the slowest of these`
        : 'not measured'
    } |`,
  );
  const verifies = ['eddsa', 'es256', 'rs256', 'hs256']
    .map((a) => micro(r, `fast-jwt.${a}.nocache`))
    .filter((m): m is MicroResult => m !== undefined);
  const slowest = Math.max(...verifies.map((m) => m.nsPerOp.median));
  const hit = micro(r, 'frontdesk.eddsa.hit') ?? micro(r, 'fast-jwt.eddsa.hit');
  lines.push(
    `| "verifying a JWT signature costs around 20ms" | ${
      verifies.length > 0
        ? `${verifies.map((m) => `${m.alg ?? ''} ${us(m.nsPerOp.median)} µs`).join(', ')} (fast-jwt, no cache) — the claim is ${n0((ARTICLE_CLAIMS.jwtVerifyMs * 1e6) / slowest)}× the slowest. ` +
          `A first verify does cost more than a local lookup${sq ? ` (${sig(slowest / sq.nsPerOp.median, 2)}× a SQLite lookup)` : ''}, but a verified token is cached: ${hit ? `${us(hit.nsPerOp.median)} µs for ${hit.label}` : 'not measured'}`
        : 'not measured'
    } |`,
  );
  const jwtRow = byId(r, 'frontdesk-jwt') ?? byId(r, 'fastify-fast-jwt-cache');
  const sessRow = byId(r, 'frontdesk-session-redis') ?? byId(r, 'floor-redis') ?? byId(r, 'express-session-redis');
  const base = byId(r, BASELINE_ID);
  lines.push(
    `| "JWT-based systems … around 1M requests/sec across distributed servers versus roughly 500K req/sec for centralized session stores" | One node on this machine: ${jwtRow ? `${jwtRow.label} ${n0(jwtRow.summary.rps.median)} req/s` : 'JWT row not measured'}; ${sessRow ? `${sessRow.label} ${n0(sessRow.summary.rps.median)} req/s` : 'session row not measured'}; the bare framework ${base ? `${n0(base.summary.rps.median)} req/s` : 'not measured'}. The totals depend on the node count, not the token format: see the scaling model below. |`,
  );
  const ts = r.micro?.tokenSizes.find((t) => t.alg === 'EdDSA');
  lines.push(
    `| "Payload size on the wire: tiny (just an ID, ~32 bytes)" vs "larger" for JWTs | ${r.micro ? `session cookie header ${r.micro.sessionCookieBytes} B; ${r.micro.tokenSizes.map((t) => `${t.alg} Bearer header ${t.headerBytes} B`).join(', ')}${ts ? ` — an EdDSA token is ${sig(ts.headerBytes / r.micro.sessionCookieBytes, 2)}× the cookie, per request` : ''}` : 'not measured'} |`,
  );
  return lines;
}

const SHARED: Record<string, string> = { redis: 'Redis', postgres: 'PostgreSQL' };

/** One node against several sharing PostgreSQL + Redis, mode by mode. */
function nodes(r: BenchReport): string[] {
  const pairs: [string, string][] = [
    ['frontdesk-jwt', 'frontdesk-nodes-jwt'],
    ['frontdesk-hybrid', 'frontdesk-nodes-hybrid'],
    ['frontdesk-session-redis', 'frontdesk-nodes-session'],
    ['frontdesk-refresh', 'frontdesk-nodes-refresh'],
  ];
  const rows = pairs.flatMap((ids) => ids.map((id) => byId(r, id)).filter((c): c is HttpCaseResult => c !== undefined));
  if (!rows.some((c) => c.nodes > 1)) return ['Not measured in this run (no several-node case ran).'];
  const side = (c: HttpCaseResult, name: string): string => {
    const v = c.summary.sidecarCpuUsPerReq[name];
    return v === undefined ? '–' : v.toFixed(1);
  };
  const commands = (c: HttpCaseResult): string => {
    const v = c.summary.sidecarCommandsPerReq.redis;
    return v === undefined ? '–' : v.toFixed(v < 0.01 ? 4 : 2);
  };
  const out = [
    `The several-node rows start ${NODES} Frontdesk processes on one PostgreSQL and one Redis and spread the ${r.options.connections} connections over them round-robin. ` +
      `On this ${r.machine.cores}-core machine the nodes, the stores and the load generator share the same cores, so ${NODES} nodes cannot serve more than one: ` +
      'what these rows show is the cost of a request with the shared stores behind it, and which modes put work on the shared stores per request. ' +
      'Server CPU is summed over the nodes (each request is served by one of them); it is higher than on one node because three processes on two cores each wake for fewer requests at a time and take turns on the cores. Redis commands are counted exactly (`INFO stats`), background traffic included ' +
      '(pub/sub, health checks); PostgreSQL CPU is that of its client backends, without autovacuum, checkpointer or WAL writer.',
    '',
    '| Case | nodes | req/s, all nodes | × bare Fastify | p99 ms | server CPU µs/req | Redis commands/req | Redis CPU µs/req | PostgreSQL CPU µs/req |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const c of rows) {
    const s = c.summary;
    out.push(
      `| ${cell(c.label)} | ${c.nodes} | ${n0(s.rps.median)} | ${s.ratio ? x2(s.ratio.median) : '–'} | ${s.p99.toFixed(2)} | ${s.serverCpuUsPerReq.toFixed(1)} | ${commands(c)} | ${side(c, 'redis')} | ${side(c, 'postgres')} |`,
    );
  }
  return out;
}

function scaling(r: BenchReport): string[] {
  const out: string[] = [];
  // Rows that put work on a shared store per request: a Redis command per request, or
  // (PostgreSQL, not counted) measurable backend CPU. Background traffic alone is no row.
  const perRequest = (c: HttpCaseResult, name: string, us: number): boolean => {
    const commands = c.summary.sidecarCommandsPerReq[name];
    return commands !== undefined ? commands >= 0.1 : us >= 0.5;
  };
  const shared = r.http.flatMap((c) =>
    Object.entries(c.summary.sidecarCpuUsPerReq)
      .filter(([name, us]) => perRequest(c, name, us))
      .map(([name, us]) => ({ c, name, us })),
  );
  if (shared.length === 0) return ['Not measured in this run (no case used Redis or PostgreSQL per request).'];
  out.push(
    'Redis executes commands on one thread, so one Redis core saturates at about 1 s ÷ (Redis CPU per request); PostgreSQL spreads over cores, and the figure is per core it has. ' +
      'A node with one core of its own serves about 1 s ÷ (server CPU per request). Both CPU figures are measured in the HTTP rounds above, ' +
      'and CPU per request is the figure a busy shared machine distorts least. Their quotient is how many one-core nodes one core of the shared store keeps up with. ' +
      'A jwt or hybrid `GET /auth/me` touches no shared component per request (revocations arrive as events; see the several-node rows), so its total grows with the number of nodes ' +
      'until the network or the load balancer limits it: the article\'s "1M vs 500K" is a statement about node counts, not token formats.',
    '',
    '| Case | shared component | its CPU per request | one core of it saturates at | one node core serves | one-core nodes per core of it | req/s measured here (shared cores) |',
    '|---|---|---|---|---|---|---|',
  );
  for (const { c, name, us: sideUs } of shared) {
    const nodeUs = c.summary.serverCpuUsPerReq;
    out.push(
      `| ${cell(c.label)} | ${SHARED[name] ?? name} | ${sideUs.toFixed(1)} µs | ${n0(1e6 / sideUs)} req/s | ${n0(1e6 / nodeUs)} req/s | ${sig(nodeUs / sideUs, 2)} | ${n0(c.summary.rps.median)} |`,
    );
  }
  out.push(
    '',
    'CPU is read from /proc in 10 ms ticks: short (`--quick`) runs make it coarse. PostgreSQL\'s figure is its client backends\' CPU. ' +
      'On several nodes the server CPU per request is summed over the nodes, as each request is served by one of them.',
  );
  const c50 = micro(r, 'redis.get.c50');
  if (c50) out.push(`For scale: one Node client with 50 GETs in flight reached ${n0(c50.opsPerSec)} GET/s against that Redis (client-bound).`);
  const pgc = micro(r, 'postgres.pk-get.c50');
  if (pgc) out.push(`PostgreSQL: ${n0(pgc.opsPerSec)} primary-key lookups/s from one Node process with 50 in flight over 10 connections.`);
  return out;
}

export function renderMarkdown(r: BenchReport, chartFiles: { http?: string; verify?: string; sessions?: string }): string {
  const m = r.machine;
  const o = r.options;
  const L: string[] = [];
  L.push(`# Frontdesk benchmark${o.quick ? ' (quick)' : ''} — ${r.startedAt}`, '');
  if (o.quick) L.push('> **Quick run**: short durations, one warm-up, two rounds, a subset of cases. A smoke test, not figures to quote.', '');
  L.push(
    '## Machine',
    '',
    `- CPU: ${m.cpuModel}, ${m.cores} cores${m.cgroupCpuLimit === null ? '' : ` (cgroup limit ${m.cgroupCpuLimit})`}, ${m.memoryGiB} GiB`,
    `- Node ${m.node} (V8 ${m.v8}), ${m.os}`,
    `- Load average at start ${m.loadAvgStart.join(' / ')}, at end ${m.loadAvgEnd.join(' / ')}`,
    `- **${m.sharedNote}**`,
    '',
    '## Method',
    '',
    `Each HTTP case runs its server in its own process; the load generator (autocannon, ${o.connections} connections, no pipelining, loopback only) runs in another. ` +
      `Every case gets a ${o.warmupSeconds} s warm-up and a ${o.durationSeconds} s measured run per round, ${o.rounds} rounds interleaved round-robin (the starting case rotates each round). ` +
      'Figures are the median over rounds (min–max in brackets); each throughput is also divided by the bare Fastify route measured in the same round. ' +
      'A several-node case starts that many server processes and spreads the connections over them; a paced case sends a fixed rate instead of as many requests as the server answers. ' +
      'Latency is each 2xx response\'s own duration, timed by the load generator with hrtime. ' +
      'CPU is read from /proc for the server processes, Redis and PostgreSQL (with its backends), and from `process.cpuUsage()` in the load generator, over the measured run only. ' +
      'Server CPU per request moves least when the machine is busy; req/s and latency move most. ' +
      'Per-operation costs are measured in one process after a warm-up: the median of several timed samples.',
    '',
  );
  for (const w of r.warnings) L.push(`> ⚠ ${w}`, '');

  L.push('## End to end: one request per credential', '');
  if (r.http.length > 0) {
    L.push(
      '| Case | req/s median (min–max) | × bare Fastify | p50 / p99 ms | server CPU µs/req | × bare by CPU cost ² | CPU s server / load gen | credential bytes | non-2xx / errors |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    const order = [...r.http].sort((a, b) => b.summary.rps.median - a.summary.rps.median);
    for (const c of order) {
      const s = c.summary;
      const side = Object.entries(s.sidecarCpuUsPerReq)
        .map(([k, v]) => ` + ${k} ${v.toFixed(1)}`)
        .join('');
      L.push(
        `| ${cell(c.label)}${s.loadBound ? ' ¹' : ''} | ${n0(s.rps.median)} (${n0(s.rps.min)}–${n0(s.rps.max)}) | ${s.ratio ? `${x2(s.ratio.median)} (${r2(s.ratio.min)}–${r2(s.ratio.max)})` : '–'} | ${s.p50.toFixed(2)} / ${s.p99.toFixed(2)} | ${s.serverCpuUsPerReq.toFixed(1)}${side} | ${s.cpuRatio ? x2(s.cpuRatio.median) : '–'} | ${s.serverCpuS.toFixed(2)} / ${s.loadCpuS.toFixed(2)} | ${c.credentialBytes} | ${s.non2xx} / ${s.errors} |`,
      );
    }
    if (r.http.some((c) => c.summary.loadBound)) {
      L.push('', '¹ The load generator used ≥ 90 % of a core: this server may be faster than shown, and its ratio is compressed towards 1.');
    }
    L.push(
      '',
      '² Bare Fastify\'s server CPU per request divided by this case\'s (median of per-round ratios): the throughput ratio the two would have if each had a core to itself (Redis CPU not included). ' +
        'It moves least when the machine is busy; the req/s ratio is the one the goals are stated in.',
    );
    const notes = r.http.filter((c) => c.note !== undefined);
    if (notes.length > 0) L.push('', ...notes.map((c) => `- *${c.label}*: ${c.note ?? ''}`));
    for (const c of r.http.filter((x) => x.rounds.some((y) => y.background !== undefined))) {
      L.push(`- *${c.label}*, beside the load: ${c.rounds.map((y) => `round ${y.round}: ${y.background ?? 'nothing'}`).join('; ')}.`);
    }
    if (chartFiles.http) L.push('', `![Throughput relative to bare Fastify](${chartFiles.http})`);
  } else L.push('No HTTP case ran.');
  if (r.skipped.length > 0) {
    L.push('', 'Not run:', '', ...r.skipped.map((s) => `- ${s.label} (\`${s.id}\`): ${s.reason}`));
  }
  L.push('', '## Goals', '', ...goals(r), '');

  L.push(
    "## The article's claims, measured",
    '',
    ...claims(r),
    '',
    '### Several nodes on PostgreSQL + Redis',
    '',
    ...nodes(r),
    '',
    '### Scaling model: how many nodes before the shared store saturates',
    '',
    ...scaling(r),
    '',
  );

  if (r.micro) {
    const mr = r.micro;
    L.push('## Per operation', '', '### Access-token verification (µs per call; × the node:crypto floor of the same algorithm)', '');
    L.push(
      '| Algorithm | node:crypto floor | Frontdesk, token never seen | Frontdesk, cached | fast-jwt, no cache | fast-jwt, cache on, token never seen | fast-jwt, cache hit | jose `jwtVerify` |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const alg of ['EdDSA', 'ES256', 'RS256', 'HS256']) {
      const a = alg.toLowerCase();
      const floor = micro(r, `crypto.${a}`);
      if (!floor) continue;
      const f = (id: string): string => {
        const x = micro(r, id);
        return x ? `${us(x.nsPerOp.median)} (${x2(x.nsPerOp.median / floor.nsPerOp.median)})` : '–';
      };
      L.push(`| ${alg} | ${us(floor.nsPerOp.median)} | ${f(`frontdesk.${a}.cold`)} | ${f(`frontdesk.${a}.hit`)} | ${f(`fast-jwt.${a}.nocache`)} | ${f(`fast-jwt.${a}.miss`)} | ${f(`fast-jwt.${a}.hit`)} | ${f(`jose.${a}`)} |`);
    }
    L.push('', `Floors: ${['EdDSA: Ed25519 verify', 'ES256: ECDSA P-256 verify', 'RS256: RSA-2048 PKCS#1 v1.5 SHA-256 verify', 'HS256: HMAC-SHA256 + timingSafeEqual'].join('; ')}, each over the same signing input as the tokens.`);
    if (chartFiles.verify) L.push('', `![Verification cost](${chartFiles.verify})`);
    L.push('', '### Sessions and passwords', '', '| Operation | time per op, median (min–max) | ops/s |', '|---|---|---|');
    for (const x of mr.results.filter((y) => y.group !== 'verify')) {
      L.push(`| ${cell(x.label)} | ${dur(x.nsPerOp.median)} (${dur(x.nsPerOp.min)} – ${dur(x.nsPerOp.max)}) | ${n0(x.opsPerSec)} |`);
    }
    const notes = mr.results.filter((y) => y.note !== undefined);
    if (notes.length > 0) L.push('', ...notes.map((y) => `- *${y.label}*: ${y.note ?? ''}`));
    if (mr.skipped.length > 0) L.push('', ...mr.skipped.map((s) => `- Not run: \`${s.id}\` — ${s.reason}`));
    if (chartFiles.sessions) L.push('', `![Session and password costs](${chartFiles.sessions})`);
    L.push('', '## Bytes on the wire', '', '| Credential | bytes per request |', '|---|---|');
    L.push(`| Session cookie, \`cookie: __Host-session=<256-bit ID>\` | ${mr.sessionCookieBytes} |`);
    for (const t of mr.tokenSizes) L.push(`| ${t.alg} access token, \`authorization: Bearer …\` (token alone ${t.tokenBytes}) | ${t.headerBytes} |`);
    if (r.http.length > 0) {
      L.push('', 'Per HTTP case, as sent and received:', '', '| Case | request bytes | credential bytes | response bytes |', '|---|---|---|---|');
      for (const c of r.http) {
        L.push(`| ${cell(c.label)} | ${c.requestBytes} | ${c.credentialBytes} | ${Math.round(c.rounds[0]?.bytesPerResponse ?? 0)} |`);
      }
    }
  }
  L.push('', '---', '', `Produced by \`npm run bench${o.quick ? ' -- --quick' : ''}\` (bench/run.ts). Raw figures: the JSON file of the same name.`, '');
  return L.join('\n');
}
