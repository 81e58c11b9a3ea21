/**
 * `npm run bench:capacity`: the per-command costs the capacity model (docs/SCALING.md) multiplies.
 *
 * On a private PostgreSQL primary with a streaming standby (test/support/pg-standby.ts: the WAL
 * position is then this run's alone, which it is not on a shared server), it measures:
 *
 * 1. WAL bytes per member enrolled and activated, per check-in appended (the events), and per
 *    check-in projected (the read models' rows and checkpoints), from pg_current_wal_lsn() deltas;
 *    next to the same run's baseline, a plain single-row INSERT of a 600-byte JSON row per commit.
 * 2. Check-ins per second at the given concurrency through the command path (no HTTP) with p50 /
 *    p99, against plain INSERTs per second at the same concurrency in the same run.
 * 3. The standby's replay lag while the check-ins run (bytes behind, from pg_stat_replication).
 * 4. Redis memory per member: the leaderboards (MEMORY USAGE over every key of the run, after
 *    catchUpLeaderboards), a rate-limit bucket, a read-your-writes mark.
 *
 * Options: --members=N (default 2000), --concurrency=N (default 16).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import Redis from 'ioredis';
import { MIGRATIONS, UnionLedger } from '../src/composition-root';
import { loadConfig } from '../src/config/config';
import { closeDatabase, connectDatabase, type Database } from '../src/infra/database';
import { migrate } from '../src/infra/migrations';
import { padLsn, RedisWriteMarks } from '../src/infra/read-replica';
import { catchUpLeaderboards, Leaderboards } from '../src/projections/earning';
import { startReplicatedPostgres } from '../test/support/pg-standby';
import { takeToken } from '../src/api/common/rate-limit';
import { clearRedis } from './lib/redis';
import { msSince, summarise } from './lib/stats';
import { fmtInt, fmtMs, fmtRatio, formatTable } from './lib/table';

function option(name: string, fallback: number): number {
  const raw = process.argv.find((arg) => arg.startsWith(`--${name}=`))?.split('=')[1];
  const value = raw === undefined ? fallback : Number(raw);
  if (!Number.isSafeInteger(value) || value < 1 || value > 1_000_000) throw new Error(`--${name} must be a positive integer`);
  return value;
}

const lsnBytes = (lsn: string): bigint => BigInt(`0x${padLsn(lsn)}`);

async function walNow(db: Database): Promise<bigint> {
  return lsnBytes((await db.one<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).lsn);
}

/** Runs `work(i)` for i in [0, count) with `concurrency` at a time; returns each call's latency in ms. */
async function pool(count: number, concurrency: number, work: (index: number) => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let index = next++; index < count; index = next++) {
        const started = process.hrtime.bigint();
        await work(index);
        latencies.push(msSince(started));
      }
    }),
  );
  return latencies;
}

async function main(): Promise<void> {
  const members = option('members', 2_000);
  const concurrency = option('concurrency', 16);
  const log = (line: string) => process.stdout.write(`${line}\n`);
  log(`bench:capacity: ${members} members, concurrency ${concurrency}; load average ${os.loadavg().map((value) => value.toFixed(2)).join(' ')}; ${os.cpus().length} CPUs`);
  const pair = await startReplicatedPostgres({ fsync: true });
  const redis = new Redis(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
  const prefix = `ul-bench-capacity-${randomBytes(4).toString('hex')}:`;
  let db: Database | undefined;
  let ledger: UnionLedger | undefined;
  try {
    await pair.sql('primary', 'CREATE DATABASE capacity');
    db = connectDatabase({ url: pair.primaryUrl('capacity'), poolMax: concurrency + 4, applicationName: 'bench-capacity' });
    await migrate(db, MIGRATIONS);
    ledger = new UnionLedger({ config: loadConfig({ DATABASE_URL: pair.primaryUrl('capacity'), REDIS_KEY_PREFIX: prefix }), db, piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) }, listen: false });
    const system = { type: 'system', id: 'bench-capacity' };
    // A province → city → county → union path: a grant lands on 4 levels × 4 periods of leaderboards.
    const tree: Array<[string, string | null, 'province' | 'city' | 'county' | 'grassroots']> = [
      ['cap-p', null, 'province'],
      ['cap-c', 'cap-p', 'city'],
      ['cap-d', 'cap-c', 'county'],
      ['cap-u', 'cap-d', 'grassroots'],
    ];
    for (const [orgId, parentId, level] of tree) await ledger.orgs.registerOrganisation({ orgId, name: orgId, parentId, level }, { commandId: `org:${orgId}`, actor: system });
    const ids: string[] = [];
    const vault = ledger.vault;
    const onboardFrom = await walNow(db);
    await pool(members, concurrency, async (index) => {
      const nationalId = `1101051990${String(index).padStart(7, '0')}X`;
      const idHmac = vault.idHmac(nationalId);
      const memberId = vault.memberIdFor(idHmac);
      ids[index] = memberId;
      const piiCipher = await vault.seal(memberId, { idNumber: nationalId, phone: `139${String(index).padStart(8, '0')}` });
      await ledger!.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'cap-u', name: `成员${index}`, idHmac, piiCipher }, { commandId: `enrol:${index}`, actor: system });
      await ledger!.members.execute(memberId, { type: 'ActivateMember', name: `成员${index}` }, { commandId: `activate:${index}`, actor: system });
    });
    const onboardTo = await walNow(db);
    await ledger.catchUpReadModels();

    // The standby's distance from the primary, sampled while the check-ins run.
    let maxLagBytes = 0n;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const row = await db!.oneOrNone<{ lag: string | null }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint::text AS lag FROM pg_stat_replication LIMIT 1');
        if (row?.lag) maxLagBytes = BigInt(row.lag) > maxLagBytes ? BigInt(row.lag) : maxLagBytes;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    const checkInFrom = await walNow(db);
    const eventsFrom = Number((await db.one<{ count: string }>('SELECT count(*) FROM ul_events')).count);
    const started = process.hrtime.bigint();
    const latencies = await pool(members, concurrency, async (index) => {
      await ledger!.members.execute(ids[index]!, { type: 'CheckIn' }, { commandId: `checkin:${index}`, actor: { type: 'member', id: ids[index]! } });
    });
    const checkInSeconds = msSince(started) / 1000;
    const checkInTo = await walNow(db);
    sampling = false;
    await sampler;
    const eventsPerCheckIn = (Number((await db.one<{ count: string }>('SELECT count(*) FROM ul_events')).count) - eventsFrom) / members;
    await ledger.catchUpReadModels();
    const projectedTo = await walNow(db);

    // Baseline in the same run and cluster: a plain single-row INSERT of a 600-byte JSON row per commit.
    await db.none('CREATE TABLE bench_insert (id bigserial PRIMARY KEY, stream text NOT NULL, data jsonb NOT NULL)');
    const payload = JSON.stringify({ memberId: 'x'.repeat(40), note: 'y'.repeat(520) });
    const insertFrom = await walNow(db);
    const insertStarted = process.hrtime.bigint();
    const insertLatencies = await pool(members, concurrency, async (index) => {
      await db!.none('INSERT INTO bench_insert (stream, data) VALUES ($1, $2)', [`s-${index}`, payload]);
    });
    const insertSeconds = msSince(insertStarted) / 1000;
    const insertTo = await walNow(db);

    // Redis memory: the leaderboards of these members, one rate-limit bucket, one write mark.
    const leaderboards = new Leaderboards(redis, prefix);
    await catchUpLeaderboards(ledger.store, db, leaderboards);
    await leaderboards.close();
    let leaderboardBytes = 0;
    let leaderboardKeys = 0;
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}lb:*`, 'COUNT', 1000);
      for (const key of keys) {
        leaderboardBytes += Number((await redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0);
        leaderboardKeys += 1;
      }
      cursor = next;
    } while (cursor !== '0');
    await takeToken(redis, `${prefix}ratelimit:${ids[0]!}`, 20, 40);
    const bucketBytes = Number(await redis.call('MEMORY', 'USAGE', `${prefix}ratelimit:${ids[0]!}`, 'SAMPLES', '0'));
    await new RedisWriteMarks(redis, prefix, 60_000).raise(ids[0]!, padLsn('0/1'));
    const markBytes = Number(await redis.call('MEMORY', 'USAGE', `${prefix}ryw:${ids[0]!}`, 'SAMPLES', '0'));

    const perMember = (from: bigint, to: bigint) => Number(to - from) / members;
    const insertWal = perMember(insertFrom, insertTo);
    const checkIns = summarise(latencies);
    const inserts = summarise(insertLatencies);
    log('');
    log(
      formatTable(
        ['WAL bytes per …', 'bytes', 'vs plain INSERT (600 B JSON row, own commit)'],
        [
          ['member enrolled + activated (2 commands, sealed personal data)', fmtInt(perMember(onboardFrom, onboardTo)), fmtRatio(perMember(onboardFrom, onboardTo) / insertWal)],
          [`check-in appended (${eventsPerCheckIn.toFixed(1)} events)`, fmtInt(perMember(checkInFrom, checkInTo)), fmtRatio(perMember(checkInFrom, checkInTo) / insertWal)],
          ['check-in projected (read models + checkpoints, batched)', fmtInt(perMember(checkInTo, projectedTo)), fmtRatio(perMember(checkInTo, projectedTo) / insertWal)],
          ['plain INSERT', fmtInt(insertWal), '1.00x'],
        ],
      ),
    );
    log('');
    log(
      formatTable(
        ['path', 'per second', 'p50 ms', 'p99 ms', 'ratio'],
        [
          [`check-in (command path, ${concurrency} at once)`, fmtInt(members / checkInSeconds), fmtMs(checkIns.p50), fmtMs(checkIns.p99), fmtRatio(members / checkInSeconds / (members / insertSeconds))],
          [`plain INSERT (${concurrency} at once)`, fmtInt(members / insertSeconds), fmtMs(inserts.p50), fmtMs(inserts.p99), '1.00x'],
        ],
      ),
    );
    log('');
    log(`standby replay lag during the check-ins: at most ${fmtInt(Number(maxLagBytes))} WAL bytes behind`);
    log(
      `Redis: leaderboards ${fmtInt(leaderboardBytes)} bytes in ${leaderboardKeys} keys = ${fmtInt(leaderboardBytes / members)} bytes per member ` +
        `(4 levels x 4 periods); a rate-limit bucket ${fmtInt(bucketBytes)} bytes; a read-your-writes mark ${fmtInt(markBytes)} bytes`,
    );
    log(`load average at the end ${os.loadavg().map((value) => value.toFixed(2)).join(' ')}`);
  } finally {
    await ledger?.close();
    if (db) await closeDatabase(db);
    await clearRedis(redis, prefix).catch(() => undefined);
    redis.disconnect();
    await pair.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
