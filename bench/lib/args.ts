import { parseArgs } from 'node:util';

export interface BenchArgs {
  /** Length of one measured segment (baseline or subject), in seconds. */
  seconds: number;
  /** Warm-up before the first case, in seconds per side; each case also gets a short warm-up. */
  warmup: number;
  writers: number[];
  hotStreams: number;
  batchSize: number;
  batchWriters: number;
  multiStreams: number;
  multiWriters: number;
  readEvents: number;
  pageSizes: number[];
  fillBatch: number;
  fillWriters: number;
  quietWait: number;
  quietThreshold: number;
  keep: boolean;
  skipAppends: boolean;
  skipRead: boolean;
  /** Only the append cases whose label contains one of these (all when empty). */
  cases: string[];
}

const USAGE = `Usage: node dist/bench/eventstore.js [options]
  --seconds=N        seconds per measured segment (baseline, subject, baseline)   [3]
  --warmup=N         warm-up seconds per side before the first case               [2]
  --writers=1,4,16   concurrent writers for the one-event cases                   [1,4,16]
  --hot-streams=N    streams shared by the writers in the hot-stream case         [4]
  --batch=N          events per append in the batch case                          [10]
  --batch-writers=N  writers in the batch case                                    [16]
  --multi-streams=N  wallet streams per call in the multi-stream case (+1 budget) [500]
  --multi-writers=N  writers in the multi-stream case                             [4]
  --read-events=N    events in the log: filled before the append cases, then read [1000000]
  --page-sizes=A,B   readAll limits to time                                       [1000,5000]
  --fill-batch=N     events per append while filling the log (max 1000)           [1000]
  --fill-writers=N   concurrent appenders while filling the log                   [3]
  --quiet-wait=N     total seconds the run may wait for an idle machine           [60]
  --quiet-threshold=P  a machine below P % busy (all cores) counts as idle        [15]
  --skip-appends     skip the append cases;  --skip-read  skip the global read
  --cases=A,B        only the append cases whose label contains A or B (for A/B runs of one case)
  --keep             keep the ul_bench_* database instead of dropping it
Servers: DATABASE_URL, else PostgreSQL on 127.0.0.1:5432, else an embedded PostgreSQL.`;

function positiveNumbers(text: string, flag: string): number[] {
  const values = text.split(',').map((part) => Number(part.trim()));
  if (values.length === 0 || values.some((value) => !Number.isFinite(value) || value <= 0)) {
    throw new Error(`--${flag} needs positive numbers, got "${text}"\n${USAGE}`);
  }
  return values;
}

function positiveInt(text: string, flag: string): number {
  const [value] = positiveNumbers(text, flag);
  if (value === undefined || !Number.isInteger(value)) throw new Error(`--${flag} needs a positive integer\n${USAGE}`);
  return value;
}

export function parseBenchArgs(argv: string[]): BenchArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      seconds: { type: 'string', default: '3' },
      warmup: { type: 'string', default: '2' },
      writers: { type: 'string', default: '1,4,16' },
      'hot-streams': { type: 'string', default: '4' },
      batch: { type: 'string', default: '10' },
      'batch-writers': { type: 'string', default: '16' },
      'multi-streams': { type: 'string', default: '500' },
      'multi-writers': { type: 'string', default: '4' },
      'read-events': { type: 'string', default: '1000000' },
      'page-sizes': { type: 'string', default: '1000,5000' },
      'fill-batch': { type: 'string', default: '1000' },
      'fill-writers': { type: 'string', default: '3' },
      'quiet-wait': { type: 'string', default: '60' },
      'quiet-threshold': { type: 'string', default: '15' },
      keep: { type: 'boolean', default: false },
      'skip-appends': { type: 'boolean', default: false },
      'skip-read': { type: 'boolean', default: false },
      cases: { type: 'string', default: '' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  return {
    seconds: positiveNumbers(values.seconds, 'seconds')[0] ?? 3,
    warmup: Number(values.warmup) >= 0 ? Number(values.warmup) : 2,
    writers: positiveNumbers(values.writers, 'writers').map((value) => Math.floor(value)),
    hotStreams: positiveInt(values['hot-streams'], 'hot-streams'),
    batchSize: positiveInt(values.batch, 'batch'),
    batchWriters: positiveInt(values['batch-writers'], 'batch-writers'),
    multiStreams: positiveInt(values['multi-streams'], 'multi-streams'),
    multiWriters: positiveInt(values['multi-writers'], 'multi-writers'),
    readEvents: positiveInt(values['read-events'], 'read-events'),
    pageSizes: positiveNumbers(values['page-sizes'], 'page-sizes').map((value) => Math.floor(value)),
    fillBatch: Math.min(1000, positiveInt(values['fill-batch'], 'fill-batch')),
    fillWriters: positiveInt(values['fill-writers'], 'fill-writers'),
    quietWait: Number(values['quiet-wait']) >= 0 ? Number(values['quiet-wait']) : 60,
    quietThreshold: positiveNumbers(values['quiet-threshold'], 'quiet-threshold')[0] ?? 15,
    keep: values.keep,
    skipAppends: values['skip-appends'],
    skipRead: values['skip-read'],
    cases: values.cases
      .split(',')
      .map((part) => part.trim())
      .filter((part) => part.length > 0),
  };
}
