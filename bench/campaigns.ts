/**
 * Campaign progress benchmark: `npm run bench:campaigns` (see docs/BENCHMARKS.md, "Campaign progress").
 *
 *   1. A fresh ul_bench_<random> database.
 *   2. A province of C cities, K counties and U grassroots units registered through the orgs
 *      context; a check-ins campaign over it created and its targets imported from a CSV of U rows
 *      through the campaigns context (the real paths, timed).
 *   3. The counting rows of M members (default 1,000,000): the shortcut. Appending 2M events and
 *      projecting them would take the better part of an hour on this shared machine and measure
 *      the event store, not the dashboard; so the campaigns projection's own tables are filled by
 *      SQL (generate_series) with exactly the rows its apply() writes for such events (a unit per
 *      member, one counted row per member who checked in, the per-unit counts as their GROUP BY).
 *      The projection itself is measured on a sample of S members (default 20,000) whose
 *      MemberEnrolled and CheckedIn events go through the event store and the projection's
 *      catch-up, against a plain INSERT of the same rows (baseline), and the totals are checked.
 *   4. Dashboard refresh: every organisation's done/target/%/rank at every level (the rolled-up
 *      query over the current tree + ranks among siblings), R times; p50/p99 against a plain
 *      SELECT of the per-unit counts (baseline). Also the progress route's one-level answer.
 *   5. Weekly report for the province: snapshot of every organisation (with last week's change)
 *      and the root's CSV, XLSX and SVG, three weeks in a row; against a plain SELECT of the
 *      subtree and a plain INSERT of as many rows (baseline).
 *
 * Options: --members M (1000000) --units U (2000) --sample S (20000) --rounds R (200) --keep.
 */
import os from 'node:os';
import { readModels, UnionLedger } from '../src/composition-root';
import { memberStream } from '../src/domain/members';
import type { StreamAppend } from '../src/eventstore/event-store';
import { catchUpProjection } from '../src/projections';
import { campaignRow, campaignsProjection } from '../src/projections/campaigns';
import { rankAmongSiblings } from '../src/domain/campaigns';
import { createBenchDatabase, resolvePostgres } from './lib/database';
import { msSince, summarise } from './lib/stats';
import { fmtInt, fmtMs, fmtRatio, formatTable } from './lib/table';

const log = (line = ''): void => {
  process.stdout.write(`${line}\n`);
};
process.stdout.on('error', () => undefined);
const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

interface Args {
  members: number;
  units: number;
  sample: number;
  rounds: number;
  keep: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = { members: 1_000_000, units: 2_000, sample: 20_000, rounds: 200, keep: false };
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index];
    const value = (max: number): number => {
      const parsed = Number(argv[(index += 1)]);
      if (!Number.isSafeInteger(parsed) || parsed < 1 || parsed > max) throw new Error(`${flag} takes a whole number from 1 to ${max}`);
      return parsed;
    };
    if (flag === '--members') args.members = value(10_000_000);
    else if (flag === '--units') args.units = value(10_000);
    else if (flag === '--sample') args.sample = value(1_000_000);
    else if (flag === '--rounds') args.rounds = value(100_000);
    else if (flag === '--keep') args.keep = true;
    else throw new Error(`unknown option ${flag}: --members M --units U --sample S --rounds R --keep`);
  }
  return args;
}

const SYSTEM = { type: 'system', id: 'bench-campaigns' };
const ADMIN = { sub: 'bench-admin', role: 'admin' as const, org: 'bp' };
const AUDITOR = { sub: 'bench-auditor', role: 'auditor' as const, org: 'bp' };
const CITIES = 13;
const UNITS_PER_COUNTY = 13;
const CAMPAIGN = 'bench-checkins';
const APPEND_CHUNK = 500;

const cityOf = (county: number): string => `bp-c${county % CITIES}`;
const countyOf = (unit: number): number => Math.floor(unit / UNITS_PER_COUNTY);
const unitId = (unit: number): string => `bp-u${unit}`;

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const server = await resolvePostgres(log);
  const bench = await createBenchDatabase(server.adminUrl, 8);
  const ledger = new UnionLedger({ config: { eventStore: 'postgres', kurrentDbUrl: undefined, redisKeyPrefix: 'ul-bench-campaigns:' }, db: bench.db, listen: false });
  const db = bench.db;
  const counties = Math.ceil(args.units / UNITS_PER_COUNTY);
  try {
    log(`# Campaign progress: ${fmtInt(args.members)} members in ${fmtInt(args.units)} units (${counties} counties, ${CITIES} cities, 1 province)`);
    log(`database ${bench.name} (${server.description}); load average at start ${os.loadavg().map((value) => value.toFixed(2)).join(' ')} on ${os.cpus().length} cores`);

    // ---------------------------------------------------------------- the tree, the campaign, the targets
    let t0 = process.hrtime.bigint();
    const register = (orgId: string, name: string, parentId: string | null, level: 'province' | 'city' | 'county' | 'grassroots') =>
      ledger.orgs.registerOrganisation({ orgId, name, parentId, level }, { commandId: `org:${orgId}`, actor: SYSTEM });
    await register('bp', '基准省总工会', null, 'province');
    for (let city = 0; city < CITIES; city += 1) await register(`bp-c${city}`, `基准市${city}总工会`, 'bp', 'city');
    for (let county = 0; county < counties; county += 1) await register(`bp-k${county}`, `基准县${county}总工会`, cityOf(county), 'county');
    for (let unit = 0; unit < args.units; unit += 1) await register(unitId(unit), `基层单位${unit}`, `bp-k${countyOf(unit)}`, 'grassroots');
    for (const projection of readModels()) await catchUpProjection(ledger.store, db, projection);
    const orgCount = 1 + CITIES + counties + args.units;
    log(`tree: ${fmtInt(orgCount)} organisations registered through the orgs context in ${seconds(msSince(t0))}`);

    const nowMs = Date.now();
    await ledger.campaigns.create(
      ADMIN,
      {
        campaignId: CAMPAIGN,
        name: '基准签到',
        rootOrgId: 'bp',
        measure: 'check-ins',
        startsAtMs: nowMs - 3600_000,
        endsAtMs: nowMs + 60 * 86_400_000,
        milestones: [
          { percent: 20, byDay: new Date(nowMs + 8 * 3600_000 + 10 * 86_400_000).toISOString().slice(0, 10) },
          { percent: 50, byDay: new Date(nowMs + 8 * 3600_000 + 30 * 86_400_000).toISOString().slice(0, 10) },
        ],
      },
      'create',
    );
    const perUnit = Math.ceil(args.members / args.units);
    const csv = ['seq,unit,members,target', ...Array.from({ length: args.units }, (_, unit) => `${unit + 1},${unit % 2 === 0 ? unitId(unit) : `基层单位${unit}`},${perUnit},${Math.floor(perUnit * 0.8)}`)].join('\n');
    t0 = process.hrtime.bigint();
    const imported = await ledger.campaigns.importTargets(ADMIN, CAMPAIGN, Buffer.from(csv), 'targets');
    const importMs = msSince(t0);
    await catchUpProjection(ledger.store, db, campaignsProjection());
    log(`targets: ${fmtInt(imported.totals.applied)} rows (half by name, half by id) imported through the campaigns context in ${seconds(importMs)}; total target ${fmtInt(imported.totalTarget ?? 0)}`);

    // ---------------------------------------------------------------- the counting rows (shortcut) and the projection on a sample
    t0 = process.hrtime.bigint();
    // Member g sits in unit g % U as its (g / U)-th member; a unit's first done(u) members checked in.
    await db.none(`INSERT INTO ul_campaign_member_units (member_id, org_id) SELECT 'bm-' || g, 'bp-u' || (g % $1) FROM generate_series(0, $2 - 1) AS g`, [args.units, args.members]);
    await db.none(
      `INSERT INTO ul_campaign_counted (campaign_id, member_id, org_id)
       SELECT $3, 'bm-' || g, 'bp-u' || (g % $1) FROM generate_series(0, $2 - 1) AS g
       WHERE g / $1 < ((g % $1) * 7919) % ($2 / $1 + 1)`,
      [args.units, args.members, CAMPAIGN],
    );
    await db.none(
      `INSERT INTO ul_campaign_done (campaign_id, org_id, done) SELECT campaign_id, org_id, count(*) FROM ul_campaign_counted WHERE campaign_id = $1 GROUP BY 1, 2
       ON CONFLICT (campaign_id, org_id) DO UPDATE SET done = ul_campaign_done.done + excluded.done`,
      [CAMPAIGN],
    );
    await db.none('ANALYZE ul_campaign_member_units; ANALYZE ul_campaign_counted; ANALYZE ul_campaign_done; ANALYZE ul_campaign_targets; ANALYZE ul_orgs');
    const bulk = await db.one<{ counted: string }>('SELECT count(*) AS counted FROM ul_campaign_counted');
    log(`counting rows (shortcut, SQL): ${fmtInt(args.members)} members' units, ${fmtInt(Number(bulk.counted))} counted members, ${fmtInt(args.units)} unit counts in ${seconds(msSince(t0))}`);

    // The sample: real events through the store, then the projection's catch-up.
    t0 = process.hrtime.bigint();
    const occurredAt = new Date().toISOString();
    const day = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
    for (let first = 0; first < args.sample; first += APPEND_CHUNK) {
      const appends: StreamAppend[] = [];
      for (let index = first; index < Math.min(args.sample, first + APPEND_CHUNK); index += 1) {
        const memberId = `bs-${index}`;
        const metadata = { occurredAt, commandId: `bench-sample-${index}`, actor: SYSTEM };
        appends.push({
          streamId: memberStream(memberId),
          expectedRevision: 'no_stream',
          events: [
            { type: 'MemberEnrolled', data: { memberId, orgId: unitId(index % args.units), name: `会员${index}`, idHmac: `bench-${index}`, piiCipher: 'bench-without-personal-data' }, metadata },
            { type: 'CheckedIn', data: { memberId, day, streak: 1 }, metadata },
          ],
        });
      }
      await ledger.store.appendToStreams(appends);
    }
    const appendMs = msSince(t0);
    const sampleFrom = BigInt((await db.one<{ position: string }>("SELECT position FROM ul_checkpoints WHERE name = 'campaigns'")).position);
    t0 = process.hrtime.bigint();
    const applied = await catchUpProjection(ledger.store, db, campaignsProjection());
    const projectMs = msSince(t0);
    // Where the projection's time goes: reading the same events alone, page by page as the catch-up does.
    t0 = process.hrtime.bigint();
    let read = 0;
    for (let after = sampleFrom, pages = 0; pages < 1_000_000; pages += 1) {
      const page = await ledger.store.readAll({ after, limit: 1000, eventTypes: campaignsProjection().eventTypes! });
      read += page.events.length;
      if (page.isEnd || page.nextAfter === after) break;
      after = page.nextAfter;
    }
    const readMs = msSince(t0);
    // Baseline: the same number of (campaign, member, unit) rows by plain INSERTs of 500 rows.
    await db.none('CREATE UNLOGGED TABLE bench_plain (campaign_id text, member_id text, org_id text, PRIMARY KEY (campaign_id, member_id))');
    t0 = process.hrtime.bigint();
    for (let first = 0; first < args.sample; first += APPEND_CHUNK) {
      const ids = Array.from({ length: Math.min(APPEND_CHUNK, args.sample - first) }, (_, offset) => first + offset);
      await db.none(`INSERT INTO bench_plain SELECT $1, * FROM unnest($2::text[], $3::text[])`, [CAMPAIGN, ids.map((index) => `bs-${index}`), ids.map((index) => unitId(index % args.units))]);
    }
    const plainMs = msSince(t0);
    const totals = await db.one<{ done: string; counted: string }>(
      'SELECT (SELECT sum(done) FROM ul_campaign_done WHERE campaign_id = $1) AS done, (SELECT count(*) FROM ul_campaign_counted WHERE campaign_id = $1) AS counted',
      [CAMPAIGN],
    );
    const exact = Number(totals.done) === Number(totals.counted) && Number(totals.counted) === Number(bulk.counted) + args.sample;
    log(`sample: ${fmtInt(args.sample)} members' MemberEnrolled + CheckedIn appended in ${seconds(appendMs)}; projected (${fmtInt(applied)} events) in ${seconds(projectMs)}`);
    log(
      formatTable(
        ['counting a sample', 'rows', 'time', 'rows/s', 'ratio'],
        [
          ['campaigns projection (catch-up: 2 events per member)', fmtInt(args.sample), fmtMs(projectMs), fmtInt((args.sample / projectMs) * 1000), fmtRatio(plainMs / projectMs)],
          ['baseline: plain INSERT, 500 rows a statement', fmtInt(args.sample), fmtMs(plainMs), fmtInt((args.sample / plainMs) * 1000), '1.00'],
          [`(reading the same ${fmtInt(read)} events alone, pages of 1,000)`, fmtInt(args.sample), fmtMs(readMs), fmtInt((args.sample / readMs) * 1000), fmtRatio(plainMs / readMs)],
        ],
      ),
    );
    log(`exact: sum of unit counts ${fmtInt(Number(totals.done))} = counted members ${fmtInt(Number(totals.counted))} = shortcut + sample: ${exact ? 'yes' : 'NO'}`);
    if (!exact) process.exitCode = 1;

    // ---------------------------------------------------------------- dashboard refresh
    const dashboard = async () => {
      const rows = await ledger.campaigns.dashboard(CAMPAIGN, 'bp');
      const siblings = new Map<string, typeof rows>();
      for (const row of rows) siblings.set(row.parentId ?? '', [...(siblings.get(row.parentId ?? '') ?? []), row]);
      let ranked = 0;
      for (const group of siblings.values()) ranked += rankAmongSiblings(group).size;
      return ranked;
    };
    const plain = async () => (await db.any('SELECT org_id, done FROM ul_campaign_done WHERE campaign_id = $1', [CAMPAIGN])).length;
    const oneLevel = async () => (await ledger.campaigns.progress(AUDITOR, CAMPAIGN, 'bp')).children.length;
    const everyOrg = await dashboard();
    if (everyOrg !== orgCount) throw new Error(`the dashboard listed ${everyOrg} organisations, not ${orgCount}`);
    const measure = async (operation: () => Promise<number>) => {
      for (let round = 0; round < 10; round += 1) await operation(); // Warm-up: plans, caches.
      const latencies: number[] = [];
      for (let round = 0; round < args.rounds; round += 1) {
        const started = process.hrtime.bigint();
        await operation();
        latencies.push(msSince(started));
      }
      return summarise(latencies);
    };
    const baseline = await measure(plain);
    const full = await measure(dashboard);
    const level = await measure(oneLevel);
    log();
    log(`dashboard refresh, ${args.rounds} rounds each after 10 of warm-up, one at a time; load average ${os.loadavg()[0]!.toFixed(2)}:`);
    log(
      formatTable(
        ['query', 'rows', 'p50', 'p99', 'max', 'p99 / baseline p99'],
        [
          ['every organisation at every level (rolled up + ranks)', fmtInt(orgCount), fmtMs(full.p50), fmtMs(full.p99), fmtMs(full.max), fmtRatio(full.p99 / baseline.p99)],
          ['progress of the province and its cities (GET …/progress)', fmtInt(1 + CITIES), fmtMs(level.p50), fmtMs(level.p99), fmtMs(level.max), fmtRatio(level.p99 / baseline.p99)],
          ['baseline: plain SELECT of the unit counts', fmtInt(args.units), fmtMs(baseline.p50), fmtMs(baseline.p99), fmtMs(baseline.max), '1.00'],
        ],
      ),
    );
    log(`dashboard p99 ${fmtMs(full.p99)}: ${full.p99 < 100 ? 'under' : 'OVER'} the 100 ms goal`);

    // ---------------------------------------------------------------- weekly report for the province
    const row = (await campaignRow(db, CAMPAIGN))!;
    // Report ids are Mondays (Asia/Shanghai): the next three.
    const shanghaiToday = Date.parse(`${new Date(nowMs + 8 * 3600_000).toISOString().slice(0, 10)}T00:00:00Z`);
    const firstMonday = shanghaiToday + (((8 - new Date(shanghaiToday).getUTCDay()) % 7 || 7) * 86_400_000);
    const reportRuns: Array<[string, number]> = [];
    for (let week = 0; week < 3; week += 1) {
      const reportId = new Date(firstMonday + week * 7 * 86_400_000).toISOString().slice(0, 10);
      // Some progress between the weeks, so the change since last week is not all zeros.
      await db.none('UPDATE ul_campaign_done SET done = done + (hashtext(org_id || $2) & 7) WHERE campaign_id = $1', [CAMPAIGN, reportId]);
      t0 = process.hrtime.bigint();
      const units = await ledger.campaigns.reports.generate(row, reportId);
      reportRuns.push([reportId, msSince(t0)]);
      if (units !== orgCount) throw new Error(`the report held ${units} organisations, not ${orgCount}`);
    }
    await db.none('CREATE UNLOGGED TABLE bench_plain_report (org_id text PRIMARY KEY, name text, done bigint)');
    t0 = process.hrtime.bigint();
    const subtree = await db.any<{ org_id: string; name: string }>(`SELECT org_id, name FROM ul_orgs WHERE path @> ARRAY['bp']`);
    await db.none('INSERT INTO bench_plain_report SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])', [subtree.map((org) => org.org_id), subtree.map((org) => org.name), subtree.map(() => 0)]);
    const plainReportMs = msSince(t0);
    const files = await db.any<{ format: string; bytes: number }>('SELECT format, length(content) AS bytes FROM ul_campaign_report_files WHERE report_id = $1 ORDER BY format', [reportRuns[2]![0]]);
    t0 = process.hrtime.bigint();
    await ledger.campaigns.reports.file(ADMIN, CAMPAIGN, reportRuns[2]![0], 'xlsx', 'bp-c0');
    const cityXlsxMs = msSince(t0);
    log();
    log(`weekly report for the province (snapshot of ${fmtInt(orgCount)} organisations + the root's CSV, XLSX and SVG); load average ${os.loadavg()[0]!.toFixed(2)}:`);
    log(
      formatTable(
        ['run', 'time', 'time / baseline'],
        [
          ...reportRuns.map(([reportId, ms]) => [`report ${reportId}`, fmtMs(ms), fmtRatio(ms / plainReportMs)]),
          [`a city's XLSX on first download (rendered from the snapshot, kept)`, fmtMs(cityXlsxMs), fmtRatio(cityXlsxMs / plainReportMs)],
          ['baseline: plain SELECT of the subtree + plain INSERT of as many rows', fmtMs(plainReportMs), '1.00'],
        ],
      ),
    );
    log(`files of the last report: ${files.map((file) => `${file.format} ${fmtInt(file.bytes)} bytes`).join(', ')}`);
    const slowest = Math.max(...reportRuns.map(([, ms]) => ms));
    log(`weekly report, slowest of 3: ${seconds(slowest)}: ${slowest < 10_000 ? 'under' : 'OVER'} the 10 s goal`);
    log(`load average at the end ${os.loadavg().map((value) => value.toFixed(2)).join(' ')}`);
  } finally {
    await ledger.close();
    await bench.close({ keep: args.keep });
    await server.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
