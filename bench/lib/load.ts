import { addCpu, cpuSince, sampleCpu, type CpuReport } from './cpu';
import { msSince } from './stats';

/**
 * Closed-loop load: `concurrency` async loops share one pool; each awaits its operation, records
 * the latency and starts the next one until the deadline. An operation returns how many units
 * (rows, events) it wrote, so throughput can be counted in operations and in units.
 */
export type Operation = (worker: number, iteration: number) => Promise<number>;

export interface LoadResult {
  operations: number;
  units: number;
  elapsedS: number;
  latenciesMs: number[];
  cpu: CpuReport;
}

export async function runLoad(options: {
  concurrency: number;
  durationMs: number;
  operation: Operation;
  /** PostgreSQL backend pids whose CPU time to report (see cpu.ts). */
  backendPids?: number[];
}): Promise<LoadResult> {
  const { concurrency, durationMs, operation } = options;
  const latenciesMs: number[] = [];
  let units = 0;
  const cpu = sampleCpu(options.backendPids);
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(durationMs * 1e6));
  const worker = async (index: number): Promise<void> => {
    for (let iteration = 0; process.hrtime.bigint() < deadline; iteration += 1) {
      const t0 = process.hrtime.bigint();
      const written = await operation(index, iteration);
      latenciesMs.push(msSince(t0));
      units += written;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, index) => worker(index)));
  const elapsedS = msSince(start) / 1000;
  return { operations: latenciesMs.length, units, elapsedS, latenciesMs, cpu: cpuSince(cpu) };
}

/** Several runs of the same load, merged: throughput is the mean of the runs' rates. */
export interface MergedResult {
  opsPerS: number;
  unitsPerS: number;
  operations: number;
  latenciesMs: number[];
  runs: LoadResult[];
  cpu: CpuReport;
}

export function mergeRuns(runs: LoadResult[]): MergedResult {
  const n = runs.length;
  return {
    opsPerS: runs.reduce((sum, run) => sum + run.operations / run.elapsedS, 0) / n,
    unitsPerS: runs.reduce((sum, run) => sum + run.units / run.elapsedS, 0) / n,
    operations: runs.reduce((sum, run) => sum + run.operations, 0),
    latenciesMs: runs.flatMap((run) => run.latenciesMs),
    runs,
    cpu: addCpu(runs.map((run) => run.cpu)),
  };
}
