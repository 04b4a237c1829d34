import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import type { MachineInfo } from './types.js';

/** The cgroup v2 CPU quota, e.g. "2 CPUs", or null when unlimited or unknown. */
function cgroupCpuLimit(): string | null {
  try {
    const [quota, period] = readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim().split(/\s+/);
    if (quota === undefined || quota === 'max' || period === undefined) return null;
    return `${(Number(quota) / Number(period)).toFixed(2)} CPUs`;
  } catch {
    return null; // not Linux, or cgroup v1: the report says "unknown"
  }
}

/** What the report states about the machine the numbers come from. */
export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    cgroupCpuLimit: cgroupCpuLimit(),
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    v8: process.versions.v8,
    os: `${osType()} ${release()}`,
    loadAvgStart: loadavg().map((x) => Math.round(x * 100) / 100),
    loadAvgEnd: [],
    sharedNote:
      'The load generator, every server under test and its Redis run on this same machine and share its cores; ' +
      'absolute req/s are therefore lower than on a dedicated server, and the ratios to bare Fastify in the same run are the figures to compare.',
  };
}
