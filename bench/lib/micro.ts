/**
 * In-process micro-benchmarks: warm up, calibrate a batch size so one sample
 * lasts about `sampleMs`, then time several samples and keep min/median/max
 * nanoseconds per operation.
 */
import type { MinMedMax } from './types.js';
import { minMedMax } from './stats.js';

export interface MicroSettings {
  warmupMs: number;
  sampleMs: number;
  samples: number;
}

export type Op = { sync: () => unknown } | { async: () => Promise<unknown> };

export interface MicroStats {
  nsPerOp: MinMedMax;
  opsPerSec: number;
  samples: number;
  opsPerSample: number;
}

// Results land here so the JIT cannot drop the work as dead code.
let sink: unknown;
export const keep = (): unknown => sink;

async function batch(op: Op, n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  if ('sync' in op) {
    const f = op.sync;
    for (let i = 0; i < n; i++) sink = f();
  } else {
    const f = op.async;
    for (let i = 0; i < n; i++) sink = await f();
  }
  return Number(process.hrtime.bigint() - t0);
}

export async function measure(op: Op, s: MicroSettings): Promise<MicroStats> {
  // Warm-up doubles as calibration: grow the batch until it takes a measurable time.
  let n = 1;
  let elapsedNs = 0;
  const warmupEnd = Date.now() + s.warmupMs;
  let lastNs = await batch(op, n);
  while (Date.now() < warmupEnd || lastNs < 1e6) {
    elapsedNs += lastNs;
    if (lastNs < (s.sampleMs * 1e6) / 4) n *= 2;
    lastNs = await batch(op, n);
    if (elapsedNs > s.warmupMs * 4e6) break; // an op slower than the warm-up itself
  }
  const perOp = lastNs / n;
  const opsPerSample = Math.max(1, Math.round((s.sampleMs * 1e6) / perOp));
  const ns: number[] = [];
  for (let i = 0; i < s.samples; i++) ns.push((await batch(op, opsPerSample)) / opsPerSample);
  const nsPerOp = minMedMax(ns);
  return { nsPerOp, opsPerSec: 1e9 / nsPerOp.median, samples: s.samples, opsPerSample };
}
