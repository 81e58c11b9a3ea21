import { parseArgs } from 'node:util';

/** Flags of `npm run bench:benefits` (bench/benefits.ts). */
export interface BenefitsArgs {
  /** Members in the fixture; the batch pays every one of them. */
  members: number;
  cities: number;
  counties: number;
  unions: number;
  /** Yuan each member of the batch receives, as the API writes amounts ("200.00"). */
  amount: string;
  /** Concurrent HTTP clients of the payment run (and of its health-probe baseline). */
  clients: number;
  /** Seconds of authorise + capture pairs over HTTP. */
  seconds: number;
  /** Seconds of each health-probe run (one before and one after the payments). */
  probeSeconds: number;
  /** Seconds of each plain-INSERT baseline run (one before and one after the batch, at 1 writer; one at 16). */
  baselineSeconds: number;
  /** Members per loading transaction of the bulk loader. */
  loadChunk: number;
  quietWait: number;
  quietThreshold: number;
  /** CPU-profile the benchmark process while it pays the batch, and print where the time went. */
  profile: boolean;
  keep: boolean;
}

export const BENEFITS_USAGE = `Usage: node dist/bench/benefits.js [options]
  --members=N          members in the fixture (enrolled and activated); the batch pays all of them [100000]
  --cities=N --counties=N --unions=N   the four-level tree under one province             [13, 100, 2000]
  --amount=YUAN        what the batch pays each member                                    [200.00]
  --clients=N          concurrent HTTP clients for the payments and the health probe      [16]
  --seconds=N          seconds of payment-code + authorise + capture over HTTP             [20]
  --probe-seconds=N    seconds of each GET /health run (before and after the payments)    [10]
  --baseline-seconds=N seconds of each plain-INSERT run (1 writer before and after the batch; 16 writers once) [10]
  --load-chunk=N       members per loading transaction of the bulk loader                   [2000]
  --quiet-wait=N       seconds the run may wait, in total, for an idle machine              [60]
  --quiet-threshold=P  a machine below P % busy (all cores) counts as idle                  [25]
  --profile            CPU-profile this process while it pays the batch (top functions and packages)
  --keep               keep the ul_bench_* database and the Redis keys
Servers: DATABASE_URL, else PostgreSQL on 127.0.0.1:5432, else an embedded one; REDIS_URL, else Redis
on 127.0.0.1:6379, else an embedded one. Needs \`npm run build\` (the HTTP clients run in a worker
thread from dist/bench/lib/http-load.js).`;

function positiveInt(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`--${flag} needs a positive integer, got "${text}"\n${BENEFITS_USAGE}`);
  return value;
}

function positiveSeconds(text: string, flag: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${flag} needs a positive number of seconds, got "${text}"\n${BENEFITS_USAGE}`);
  return value;
}

export function parseBenefitsArgs(argv: string[]): BenefitsArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      members: { type: 'string', default: '100000' },
      cities: { type: 'string', default: '13' },
      counties: { type: 'string', default: '100' },
      unions: { type: 'string', default: '2000' },
      amount: { type: 'string', default: '200.00' },
      clients: { type: 'string', default: '16' },
      seconds: { type: 'string', default: '20' },
      'probe-seconds': { type: 'string', default: '10' },
      'baseline-seconds': { type: 'string', default: '10' },
      'load-chunk': { type: 'string', default: '2000' },
      'quiet-wait': { type: 'string', default: '60' },
      'quiet-threshold': { type: 'string', default: '25' },
      profile: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(BENEFITS_USAGE);
    process.exit(0);
  }
  const cities = positiveInt(values.cities, 'cities');
  const counties = positiveInt(values.counties, 'counties');
  const unions = positiveInt(values.unions, 'unions');
  if (counties < cities || unions < counties) throw new Error(`need cities <= counties <= unions\n${BENEFITS_USAGE}`);
  if (!/^\d{1,9}\.\d{2}$/.test(values.amount) || Number(values.amount) <= 0) throw new Error(`--amount is yuan with two decimals, e.g. 200.00\n${BENEFITS_USAGE}`);
  return {
    members: positiveInt(values.members, 'members'),
    cities,
    counties,
    unions,
    amount: values.amount,
    clients: positiveInt(values.clients, 'clients'),
    seconds: positiveSeconds(values.seconds, 'seconds'),
    probeSeconds: positiveSeconds(values['probe-seconds'], 'probe-seconds'),
    baselineSeconds: positiveSeconds(values['baseline-seconds'], 'baseline-seconds'),
    loadChunk: Math.min(20_000, positiveInt(values['load-chunk'], 'load-chunk')),
    quietWait: Math.max(0, Number(values['quiet-wait']) || 0),
    quietThreshold: positiveInt(values['quiet-threshold'], 'quiet-threshold'),
    profile: values.profile,
    keep: values.keep,
  };
}
