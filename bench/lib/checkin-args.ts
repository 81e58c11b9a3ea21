import { parseArgs } from 'node:util';

/** Flags of `npm run bench:checkin` (bench/checkin.ts). */
export interface CheckinArgs {
  members: number;
  cities: number;
  counties: number;
  unions: number;
  /** Concurrent clients; each level gets a command run and a plain-INSERT run of `seconds`. */
  concurrency: number[];
  seconds: number;
  quizzes: number;
  /** Sequential requests per leaderboard measurement. */
  leaderboardRequests: number;
  /** Members per loading transaction of the bulk loader. */
  loadChunk: number;
  quietWait: number;
  quietThreshold: number;
  /** Compare the loader with the real command path and recompute every hash chain. */
  verify: boolean;
  /** Run the service under `node --cpu-prof` and print where its CPU went. */
  profile: boolean;
  keep: boolean;
  /** Reuse a fixture kept by an earlier --keep run (its Redis key prefix is stored in the database). */
  database: string | undefined;
  /** The service's main.js (default: dist/src/main.js of this build): another build, for a before/after with one benchmark. */
  serviceMain: string | undefined;
  /** The service's DATABASE_POOL_MAX (its default, 20, when not given). */
  poolMax: number | undefined;
}

export const CHECKIN_USAGE = `Usage: node dist/bench/checkin.js [options]
  --members=N          members in the fixture (enrolled, activated, 100 points each)   [1000000]
  --cities=N --counties=N --unions=N   the four-level tree under one province       [13, 100, 2000]
  --concurrency=A,B    concurrent HTTP clients (and INSERT writers), one run each     [4,16]
  --seconds=N          seconds per measured run (commands, then plain INSERTs)        [20]
  --quizzes=N          quizzes published before the load                               [5]
  --leaderboard-requests=N  sequential requests per leaderboard measurement           [2000]
  --load-chunk=N       members per loading transaction of the bulk loader              [2000]
  --quiet-wait=N       seconds the run may wait, in total, for an idle machine         [60]
  --quiet-threshold=P  a machine below P % busy (all cores) counts as idle             [25]
  --verify             check the loader: the real command path must store the same events,
                       and verifyHashChains must pass on the whole fixture (slow at 1M)
  --profile            run the service with --cpu-prof and print its top functions and packages
  --keep               keep the database and the Redis keys (prints how to reuse them)
  --database=NAME      reuse a fixture kept with --keep (skips the build)
  --service-main=PATH  run this main.js as the service (another build's dist/src/main.js: before/after
                       with the same benchmark code)                                   [dist/src/main.js]
  --pool-max=N         the service's DATABASE_POOL_MAX                                  [the service's default, 20]
Servers: DATABASE_URL, else PostgreSQL on 127.0.0.1:5432; REDIS_URL, else Redis on 127.0.0.1:6379
(keys under a prefix of the run's own, passed to the service as REDIS_KEY_PREFIX). Needs \`npm run build\` (runs dist/src/main.js as the service).`;

function positiveInts(text: string, flag: string): number[] {
  const values = text.split(',').map((part) => Number(part.trim()));
  if (values.length === 0 || values.some((value) => !Number.isSafeInteger(value) || value <= 0)) {
    throw new Error(`--${flag} needs positive integers, got "${text}"\n${CHECKIN_USAGE}`);
  }
  return values;
}

const positiveInt = (text: string, flag: string): number => positiveInts(text, flag)[0]!;

export function parseCheckinArgs(argv: string[]): CheckinArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      members: { type: 'string', default: '1000000' },
      cities: { type: 'string', default: '13' },
      counties: { type: 'string', default: '100' },
      unions: { type: 'string', default: '2000' },
      concurrency: { type: 'string', default: '4,16' },
      seconds: { type: 'string', default: '20' },
      quizzes: { type: 'string', default: '5' },
      'leaderboard-requests': { type: 'string', default: '2000' },
      'load-chunk': { type: 'string', default: '2000' },
      'quiet-wait': { type: 'string', default: '60' },
      'quiet-threshold': { type: 'string', default: '25' },
      verify: { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      database: { type: 'string' },
      'service-main': { type: 'string' },
      'pool-max': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(CHECKIN_USAGE);
    process.exit(0);
  }
  const cities = positiveInt(values.cities, 'cities');
  const counties = positiveInt(values.counties, 'counties');
  const unions = positiveInt(values.unions, 'unions');
  if (counties < cities || unions < counties) throw new Error(`need cities <= counties <= unions\n${CHECKIN_USAGE}`);
  if (values.database !== undefined && !/^ul_bench_[a-z0-9_]+$/.test(values.database)) {
    throw new Error(`--database must name a ul_bench_* database\n${CHECKIN_USAGE}`);
  }
  const seconds = Number(values.seconds);
  if (!Number.isFinite(seconds) || seconds <= 0) throw new Error(`--seconds must be positive\n${CHECKIN_USAGE}`);
  return {
    members: positiveInt(values.members, 'members'),
    cities,
    counties,
    unions,
    concurrency: positiveInts(values.concurrency, 'concurrency'),
    seconds,
    quizzes: positiveInt(values.quizzes, 'quizzes'),
    leaderboardRequests: positiveInt(values['leaderboard-requests'], 'leaderboard-requests'),
    loadChunk: Math.min(20_000, positiveInt(values['load-chunk'], 'load-chunk')),
    quietWait: Math.max(0, Number(values['quiet-wait']) || 0),
    quietThreshold: positiveInt(values['quiet-threshold'], 'quiet-threshold'),
    verify: values.verify,
    profile: values.profile,
    keep: values.keep,
    database: values.database,
    serviceMain: values['service-main'],
    poolMax: values['pool-max'] === undefined ? undefined : positiveInt(values['pool-max'], 'pool-max'),
  };
}
