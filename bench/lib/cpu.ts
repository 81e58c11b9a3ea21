import { readFileSync } from 'node:fs';
import os from 'node:os';

/**
 * CPU accounting around a measurement, Linux only (elsewhere the figures are NaN and print as
 * '-'): how busy the whole machine was (/proc/stat), how much of it was this Node process
 * (process.cpuUsage) and how much the PostgreSQL backends serving the benchmark used
 * (/proc/<pid>/stat, when the server runs on this machine). On a 2-core machine the client and
 * PostgreSQL share the cores, so this says whether a result is CPU-bound and on which side;
 * whatever remains (host - node - backends) is WAL writer, checkpointer, kernel and anything else
 * running on the machine.
 */
const CLOCK_TICKS_PER_S = 100; // USER_HZ, 100 on every mainstream Linux build

export interface CpuSample {
  atNs: bigint;
  process: NodeJS.CpuUsage;
  host: { busy: number; total: number } | undefined;
  backendPids: number[];
  backendTicks: Map<number, number>;
}

export interface CpuReport {
  wallS: number;
  /** Busy core-seconds of the whole machine. */
  hostBusyS: number;
  /** CPU seconds of this Node process. */
  nodeS: number;
  /** CPU seconds of the sampled PostgreSQL backends. */
  backendsS: number;
}

const CORES = os.cpus().length;

/** Machine CPU busy, as a percentage of all cores (100 = every core saturated). */
export const hostBusyPct = (cpu: CpuReport): number => (100 * cpu.hostBusyS) / (cpu.wallS * CORES);
/** Node's CPU time as a percentage of one core. */
export const nodePct = (cpu: CpuReport): number => (100 * cpu.nodeS) / cpu.wallS;
/** The benchmark's PostgreSQL backends' CPU time as a percentage of one core. */
export const backendsPct = (cpu: CpuReport): number => (100 * cpu.backendsS) / cpu.wallS;
/** Busy CPU accounted to neither (WAL writer, checkpointer, kernel, other processes), % of one core. */
export const otherPct = (cpu: CpuReport): number => (100 * (cpu.hostBusyS - cpu.nodeS - cpu.backendsS)) / cpu.wallS;

/** Sums reports of several runs. */
export function addCpu(reports: CpuReport[]): CpuReport {
  return reports.reduce(
    (sum, report) => ({
      wallS: sum.wallS + report.wallS,
      hostBusyS: sum.hostBusyS + report.hostBusyS,
      nodeS: sum.nodeS + report.nodeS,
      backendsS: sum.backendsS + report.backendsS,
    }),
    { wallS: 0, hostBusyS: 0, nodeS: 0, backendsS: 0 },
  );
}

function readHost(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const total = fields.slice(0, 8).reduce((sum, value) => sum + value, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** utime + stime of each process, in clock ticks; processes that cannot be read are left out. */
function readTicks(pids: number[]): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks.set(pid, Number(fields[11]) + Number(fields[12]));
    } catch {
      // Not on this machine, or the backend has gone.
    }
  }
  return ticks;
}

/** CPU ticks used between two readings by the processes seen in both; NaN when there are none. */
function ticksBetween(start: Map<number, number>, end: Map<number, number>): number {
  let sum = 0;
  let seen = 0;
  for (const [pid, before] of start) {
    const after = end.get(pid);
    if (after === undefined || after < before) continue; // gone (or a reused pid) during the run
    sum += after - before;
    seen += 1;
  }
  return seen > 0 ? sum : Number.NaN;
}

export function sampleCpu(backendPids: number[] = []): CpuSample {
  return {
    atNs: process.hrtime.bigint(),
    process: process.cpuUsage(),
    host: readHost(),
    backendPids,
    backendTicks: readTicks(backendPids),
  };
}

export function cpuSince(start: CpuSample): CpuReport {
  const used = process.cpuUsage(start.process);
  const end = sampleCpu(start.backendPids);
  const wallS = Number(end.atNs - start.atNs) / 1e9;
  // /proc/stat counts ticks summed over cores; scale its busy share to core-seconds of this wall time.
  const hostBusyS =
    start.host && end.host && end.host.total > start.host.total
      ? ((end.host.busy - start.host.busy) / (end.host.total - start.host.total)) * wallS * CORES
      : Number.NaN;
  return {
    wallS,
    hostBusyS,
    nodeS: (used.user + used.system) / 1e6,
    backendsS: ticksBetween(start.backendTicks, end.backendTicks) / CLOCK_TICKS_PER_S,
  };
}

/**
 * Waits, up to a shared time budget, until the machine has been quiet (busy below
 * `thresholdPct` of all cores) for one second, so that a measurement does not start in the middle
 * of someone else's work. Returns the busy % of the last one-second window.
 */
export class QuietGate {
  waitedS = 0;
  busyStarts = 0;

  constructor(
    private budgetS: number,
    private readonly thresholdPct: number,
  ) {}

  async wait(): Promise<number> {
    for (;;) {
      const start = readHost();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const end = readHost();
      if (!start || !end || end.total <= start.total) return Number.NaN;
      const busyPct = (100 * (end.busy - start.busy)) / (end.total - start.total);
      if (busyPct < this.thresholdPct) return busyPct;
      if (this.budgetS < 1) {
        this.busyStarts += 1;
        return busyPct;
      }
      this.budgetS -= 1;
      this.waitedS += 1;
    }
  }
}
