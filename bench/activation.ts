/**
 * Activation timing benchmark: `npm run bench:activation` (see docs/BENCHMARKS.md).
 *
 * Does the answer to POST /v1/activation/start take the same time whether or not the national ID
 * and name matched? In a fresh ul_bench_<random> database, ActivationService.start (what the
 * route calls, without HTTP and its noise) is timed for three kinds of start, interleaved round by
 * round in a rotating order so that drift and warm-up fall on all three alike:
 *   - match:       an enrolled member, the right name (records SmsRequested: the relay's work)
 *   - wrong name:  an enrolled member, another name (records SmsWithheld)
 *   - unknown:     a valid ID number nobody enrolled (records SmsWithheld)
 * The baseline is the wrong-name start, the probe an attacker would use; the result is each kind
 * against it (median and mean). No relay or SMS worker runs: the answer never waits on them.
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { ActivationService } from '../src/application/identity';
import { UnionLedger } from '../src/composition-root';
import { createBenchDatabase, resolvePostgres } from './lib/database';
import { msSince, summarise } from './lib/stats';
import { fmtInt, fmtMs, fmtRatio, formatTable } from './lib/table';

const USAGE = `Usage: node dist/bench/activation.js [options]
  --rounds=N    measured rounds (one start of each kind per round)   [500]
  --warmup=N    rounds before measuring                              [100]
  --members=N   enrolled members the starts name                     [100]
  --keep        keep the ul_bench_* database
Servers: DATABASE_URL, else PostgreSQL on 127.0.0.1:5432, else an embedded one.`;

const log = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};

const SYSTEM = { type: 'system', id: 'bench-activation' };
const KINDS = ['match', 'wrong name', 'unknown'] as const;
type Kind = (typeof KINDS)[number];

/** A valid national ID number (GB 11643 check character) for `serial`. */
function nationalId(serial: number): string {
  const first17 = `1101011990${String(1 + (serial % 12)).padStart(2, '0')}${String(1 + (serial % 28)).padStart(2, '0')}${String(serial % 1000).padStart(3, '0')}`;
  const weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  const sum = [...first17].reduce((total, digit, index) => total + Number(digit) * weights[index]!, 0);
  return first17 + '10X98765432'[sum % 11]!;
}

function parse(argv: string[]): { rounds: number; warmup: number; members: number; keep: boolean } {
  const { values } = parseArgs({ args: argv, options: { rounds: { type: 'string' }, warmup: { type: 'string' }, members: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean' } } });
  if (values.help) {
    log(USAGE);
    process.exit(0);
  }
  const int = (text: string | undefined, fallback: number, flag: string): number => {
    const value = Number(text ?? fallback);
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`--${flag} needs a whole number\n${USAGE}`);
    return value;
  };
  const members = int(values.members, 100, 'members');
  // Serials of unknown people start after the members'; the ID generator repeats every 1,000.
  if (members > 500) throw new Error(`--members: at most 500\n${USAGE}`);
  return { rounds: int(values.rounds, 500, 'rounds'), warmup: int(values.warmup, 100, 'warmup'), members, keep: values.keep ?? false };
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const server = await resolvePostgres(log);
  const database = await createBenchDatabase(server.adminUrl, 8);
  const ledger = new UnionLedger({ config: { eventStore: 'postgres', kurrentDbUrl: undefined, redisKeyPrefix: 'ul-bench-activation:' }, db: database.db, piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) }, listen: false });
  try {
    log(`activation timing: ${server.description}; database ${database.name}; ${args.members} members, ${args.warmup} warm-up and ${args.rounds} measured rounds`);
    await ledger.orgs.registerOrganisation({ orgId: 'bench-p', name: 'Province', parentId: null, level: 'province' }, { commandId: 'org:bench-p', actor: SYSTEM });
    await ledger.orgs.registerOrganisation({ orgId: 'bench-u', name: 'Union', parentId: 'bench-p', level: 'grassroots' }, { commandId: 'org:bench-u', actor: SYSTEM });
    const people: Array<{ nationalId: string; name: string }> = [];
    for (let index = 0; index < args.members; index += 1) {
      const id = nationalId(index);
      const idHmac = ledger.vault.idHmac(id);
      const memberId = ledger.vault.memberIdFor(idHmac);
      const piiCipher = await ledger.vault.seal(memberId, { idNumber: id, phone: `1390000${String(index).padStart(4, '0')}` });
      const name = `会员${index}`;
      await ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'bench-u', name, idHmac, piiCipher }, { commandId: `enrol:${index}`, actor: SYSTEM });
      people.push({ nationalId: id, name });
    }
    const activation = new ActivationService({ db: database.db, store: ledger.store, members: ledger.members, vault: ledger.vault, sms: ledger.sms });
    let login = 0;
    // A fresh login each start: a login may start once a minute.
    const start = async (kind: Kind, round: number): Promise<number> => {
      const person = people[round % people.length]!;
      const [id, name] = kind === 'unknown' ? [nationalId(args.members + (round % (1000 - args.members))), '无名'] : [person.nationalId, kind === 'match' ? person.name : `${person.name}甲`];
      const loginKey = randomBytes(32).toString('hex');
      login += 1;
      const began = process.hrtime.bigint();
      await activation.start(loginKey, id, name);
      return msSince(began);
    };
    const latencies: Record<Kind, number[]> = { match: [], 'wrong name': [], unknown: [] };
    for (let round = 0; round < args.warmup + args.rounds; round += 1) {
      // Rotate the order each round: none of the kinds always runs first (or last).
      for (let step = 0; step < KINDS.length; step += 1) {
        const kind = KINDS[(round + step) % KINDS.length]!;
        const ms = await start(kind, round);
        if (round >= args.warmup) latencies[kind].push(ms);
      }
    }
    const baseline = summarise(latencies['wrong name']);
    const rows = KINDS.map((kind) => {
      const summary = summarise(latencies[kind]);
      return [kind, fmtInt(summary.count), fmtMs(summary.p50), fmtMs(summary.mean), fmtMs(summary.p99), fmtRatio(summary.p50 / baseline.p50), fmtRatio(summary.mean / baseline.mean)];
    });
    log(formatTable(['start', 'calls', 'p50 ms', 'mean ms', 'p99 ms', 'p50 / wrong name', 'mean / wrong name'], rows));
    const events = await database.db.one<{ requested: number; withheld: number }>(
      "SELECT count(*) FILTER (WHERE event_type = 'SmsRequested')::int AS requested, count(*) FILTER (WHERE event_type = 'SmsWithheld')::int AS withheld FROM ul_events",
    );
    log(`${fmtInt(login)} starts; the log holds ${fmtInt(events.requested)} SmsRequested and ${fmtInt(events.withheld)} SmsWithheld`);
  } finally {
    await ledger.close();
    await database.close({ keep: args.keep });
    await server.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
