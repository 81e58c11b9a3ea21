import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * The real service (`node dist/src/main.js`) as a child process of the benchmark: started with the
 * environment given, its URL taken from the "listening on" log line (PORT=0 picks a free port),
 * its output kept (the last lines, for an error report), stopped with SIGTERM.
 */
export interface ServiceProcess {
  url: string;
  pid: number;
  /** The last lines the service logged (stdout and stderr). */
  logTail(): string[];
  /** Lines logged at error level since the start. */
  errorLines(): string[];
  stop(): Promise<number | null>;
}

const ANSI = /\x1b\[[0-9;]*m/g; // eslint-disable-line no-control-regex
const TAIL_LINES = 200;

export async function startService(
  env: Record<string, string>,
  options: { mainJs?: string; startTimeoutMs?: number; nodeArgs?: string[] } = {},
): Promise<ServiceProcess> {
  const mainJs = options.mainJs ?? path.resolve(__dirname, '../../src/main.js');
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), mainJs], {
    env: { PATH: process.env.PATH ?? '', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const errors: string[] = [];
  let exited: number | null | undefined;
  const exitPromise = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      exited = code;
      resolve(code);
    });
  });

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the service did not log "listening on" within ${options.startTimeoutMs ?? 60_000} ms:\n${tail.join('\n')}`)), options.startTimeoutMs ?? 60_000);
    const onLine = (raw: string): void => {
      const line = raw.replace(ANSI, '');
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      // pino JSON lines by their level alone (an info line may name a route such as /v1/admin/jobs/failed);
      // text lines (a crash before the logger exists) by ERROR or "failed".
      if (line.startsWith('{') ? /"level":"(error|fatal)"/.test(line) : /\bERROR\b|failed/.test(line)) errors.push(line);
      const match = /listening on (https?:\/\/\S+?)\s/.exec(`${line} `);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!.replace('[::1]', '127.0.0.1'));
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let pending = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        pending += chunk;
        const lines = pending.split('\n');
        pending = lines.pop() ?? '';
        lines.forEach(onLine);
      });
    }
    void exitPromise.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the service exited with code ${code} before listening:\n${tail.join('\n')}`));
    });
  });

  return {
    url,
    pid: child.pid!,
    logTail: () => [...tail],
    errorLines: () => [...errors],
    async stop() {
      if (exited !== undefined) return exited;
      child.kill('SIGTERM');
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), 20_000).unref());
      const result = await Promise.race([exitPromise, timeout]);
      if (result === 'timeout') {
        child.kill('SIGKILL');
        return exitPromise;
      }
      return result;
    },
  };
}

/** utime + stime of a process in seconds (Linux /proc), NaN when it cannot be read. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ = 100
  } catch {
    return Number.NaN;
  }
}

/** Summed CPU seconds of several processes; those that cannot be read are left out. */
export function processesCpuSeconds(pids: number[]): Map<number, number> {
  const seconds = new Map<number, number>();
  for (const pid of pids) {
    const value = processCpuSeconds(pid);
    if (Number.isFinite(value)) seconds.set(pid, value);
  }
  return seconds;
}

/** CPU seconds used between two readings by the processes present in both. */
export function cpuSecondsBetween(start: Map<number, number>, end: Map<number, number>): number {
  let sum = 0;
  for (const [pid, before] of start) {
    const after = end.get(pid);
    if (after !== undefined && after >= before) sum += after - before;
  }
  return sum;
}
