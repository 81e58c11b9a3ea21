import { randomBytes } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { testNationalId } from '../../../test/support/ledger-app';
import { UnionLedger } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { importStream } from '../../domain/imports';
import type { EventStore, StreamAppend } from '../../eventstore/event-store';
import { verifyHashChains } from '../../eventstore/postgres/verify';
import { importProgress, importRejections } from '../../projections/imports';
import { importMembers } from '../members';
import { ImportFiles } from './import-files';
import { RosterImports } from './roster-imports';

/**
 * Roster imports run as jobs, against real PostgreSQL: the exact counts and report of a file with
 * bad rows of every kind, and a run that crashes or stops between chunks and is run again.
 */

const admin = { sub: 'admin-nj', role: 'admin' as const, org: 'nj' };
const system = { type: 'system', id: 'test' };
const ROWS = 2_400;

/** The n-th good row: distinct ID numbers and phones, all in nj-u1. */
const idOf = (n: number): string => testNationalId(n);
const goodRow = (n: number): string => `会员${n},${idOf(n)},139${String(10_000_000 + n).padStart(8, '0')},nj-u1`;

/**
 * 2,400 rows; the bad ones, by line (the header is line 1, row n is on line n + 2):
 *  line 12: check digit wrong; line 600: phone malformed; line 1,001: repeats line 2's ID;
 *  line 1,500: an unknown union; line 2,000: a union outside the uploader's subtree; line 2,300: a
 *  city, not a grassroots union; line 2,401: the member enrolled earlier with another name.
 *  Lines 3 and 4 were enrolled earlier by the synchronous importer with the same details: unchanged.
 */
function rosterFile(): string {
  const lines = ['name,national_id,phone,org_id'];
  for (let n = 0; n < ROWS; n += 1) {
    const line = n + 2;
    if (line === 12) {
      const id = idOf(n);
      lines.push(`会员${n},${id.slice(0, 17)}${id.endsWith('0') ? '1' : '0'},13900000000,nj-u1`);
    } else if (line === 600) lines.push(`会员${n},${idOf(n)},12345,nj-u1`);
    else if (line === 1_001) lines.push(`会员${n},${idOf(0)},13900000001,nj-u1`);
    else if (line === 1_500) lines.push(`会员${n},${idOf(n)},13900000002,nowhere`);
    else if (line === 2_000) lines.push(`会员${n},${idOf(n)},13900000003,sz-u1`);
    else if (line === 2_300) lines.push(`会员${n},${idOf(n)},13900000004,nj`);
    else lines.push(goodRow(n));
  }
  return lines.join('\n');
}

const EXPECTED_REJECTIONS = [
  [12, 'ID.CHECK_DIGIT'],
  [600, 'PHONE.FORMAT'],
  [1_001, 'MEMBER.DUPLICATE_IN_FILE'],
  [1_500, 'ORG.UNKNOWN'],
  [2_000, 'ORG.FORBIDDEN'],
  [2_300, 'ORG.NOT_GRASSROOTS'],
  [2_401, 'MEMBER.ALREADY_ENROLLED'],
];

describe('roster imports as jobs', () => {
  let database: TestDatabase;
  let ledger: UnionLedger;

  const count = async (sql: string, values: unknown[] = []): Promise<number> => (await database.db.one<{ n: number }>(sql, values)).n;
  const enrolments = (): Promise<number> => count(`SELECT count(*)::int AS n FROM ul_events WHERE event_type = 'MemberEnrolled'`);
  /** Another process's RosterImports over the same database, its store wrapped so a test can act at a commit. */
  const importsWith = (store: EventStore): RosterImports =>
    new RosterImports({ store, db: database.db, vault: () => ledger.vault, members: ledger.members, orgs: ledger.orgs, orgAccess: ledger.orgAccess });
  /** The ledger's store, with `onCommit` run after each multi-stream commit (n counts from 1); it may throw, as a crash would. */
  const storeWith = (onCommit: (n: number) => void): EventStore => {
    let commits = 0;
    const inner = ledger.store;
    return new Proxy(inner, {
      get(target, property, receiver) {
        if (property === 'appendToStreams') {
          return async (appends: readonly StreamAppend[]) => {
            const result = await inner.appendToStreams(appends);
            commits += 1;
            onCommit(commits);
            return result;
          };
        }
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
  };

  beforeEach(async () => {
    database = await createTestDatabase();
    database.db.$pool.on('error', () => undefined);
    ledger = new UnionLedger({ config: loadConfig({}), db: database.db, piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) }, listen: false });
    const orgs: Array<[string, string | null, 'province' | 'city' | 'grassroots']> = [
      ['js', null, 'province'],
      ['nj', 'js', 'city'],
      ['sz', 'js', 'city'],
      ['nj-u1', 'nj', 'grassroots'],
      ['sz-u1', 'sz', 'grassroots'],
    ];
    for (const [orgId, parentId, level] of orgs) {
      await ledger.orgs.registerOrganisation({ orgId, name: orgId, parentId, level }, { commandId: `org-${orgId}`, actor: system });
    }
    // Enrolled before the upload by the synchronous importer: two rows of the file as they are
    // (unchanged), and the member of the file's last row under another name (refused).
    const earlier = ['name,national_id,phone,org_id', goodRow(1), goodRow(2), `别名,${idOf(ROWS - 1)},13900000009,nj-u1`].join('\n');
    const report = await importMembers(
      [Buffer.from(earlier)],
      { memberService: ledger.members, orgService: ledger.orgs, vault: ledger.vault, rules: ledger.rules },
      { actor: { type: 'admin', id: 'admin-nj' } },
    );
    expect(report.totals.applied).toBe(3);
  });
  afterEach(async () => {
    await ledger.close();
    await database.drop();
  });

  it('imports a file with bad rows: exact counts, the report by line and code, the sealed file gone', async () => {
    const csv = Buffer.from(rosterFile());
    const { importId, rowCount } = await ledger.rosterImports.request(admin, csv);
    expect(rowCount).toBe(ROWS);
    // The upload is stored sealed: not a single ID number of it in the clear.
    const stored = await database.db.one<{ sealed: Buffer }>('SELECT sealed FROM ul_import_files WHERE import_id = $1', [importId]);
    expect(stored.sealed.includes(Buffer.from(idOf(5)))).toBe(false);

    const result = await ledger.rosterImports.run(importId);
    expect(result).toEqual({ importId, status: 'completed', chunksDone: 5 });
    await ledger.catchUpReadModels();
    const progress = await importProgress(database.db, importId);
    expect(progress).toMatchObject({ state: 'completed', rowsTotal: ROWS, rowsDone: ROWS, applied: ROWS - 2 - 7, unchanged: 2, rejected: 7, orgScope: 'nj', uploaderId: 'admin-nj' });
    const report = await importRejections(database.db, importId, 0, 100);
    expect(report.map((row) => [row.line, row.code])).toEqual(EXPECTED_REJECTIONS);
    // The report names rows by line, never by their personal data.
    expect(JSON.stringify(report)).not.toMatch(/\d{17}[\dX]|139\d{8}/);
    expect(await enrolments()).toBe(3 + ROWS - 2 - 7);
    expect(await count('SELECT count(*)::int AS n FROM ul_import_files')).toBe(0);
    expect(await count(`SELECT count(*)::int AS n FROM ul_member_keys WHERE member_id = $1`, [`import:${importId}`])).toBe(0);
    // An enrolled member is the same as the synchronous importer makes: their ID number finds them, sealed data opens.
    const memberId = ledger.vault.memberIdFor(ledger.vault.idHmac(idOf(100)));
    const member = await ledger.members.load(memberId);
    expect(member.state).toMatchObject({ status: 'enrolled', orgId: 'nj-u1', name: '会员100' });
    expect(await ledger.vault.open(memberId, member.state.piiCipher)).toEqual({ idNumber: idOf(100), phone: '13910000100' });
    expect((await verifyHashChains(database.db)).ok).toBe(true);

    // Run again (a redelivered job): nothing changes.
    const events = await count('SELECT count(*)::int AS n FROM ul_events');
    expect(await ledger.rosterImports.run(importId)).toEqual({ importId, status: 'completed', chunksDone: 5 });
    expect(await count('SELECT count(*)::int AS n FROM ul_events')).toBe(events);
  });

  it('continues after a crash between chunks, and after a stop, without enrolling anyone twice', async () => {
    const { importId } = await ledger.rosterImports.request(admin, Buffer.from(rosterFile()));

    // A process that dies right after its second chunk's commit.
    const crashing = importsWith(
      storeWith((n) => {
        if (n === 2) throw new Error('the process died');
      }),
    );
    await expect(crashing.run(importId)).rejects.toThrow('the process died');
    expect((await ledger.rosterImports.load(importId)).chunksDone).toBe(2);

    // Another that is stopped (a worker closing) after its next chunk.
    const stopping = importsWith(
      storeWith((n) => {
        if (n === 1) void stopping.stop();
      }),
    );
    expect(await stopping.run(importId)).toEqual({ importId, status: 'stopped', chunksDone: 3 });

    // A third finishes it.
    expect(await importsWith(ledger.store).run(importId)).toEqual({ importId, status: 'completed', chunksDone: 5 });
    await ledger.catchUpReadModels();
    expect(await importProgress(database.db, importId)).toMatchObject({ state: 'completed', rowsDone: ROWS, applied: ROWS - 9, unchanged: 2, rejected: 7 });
    expect((await importRejections(database.db, importId, 0, 100)).map((row) => [row.line, row.code])).toEqual(EXPECTED_REJECTIONS);
    // Each member once: as many enrolments as members, and one event in each new member's stream.
    expect(await enrolments()).toBe(3 + ROWS - 9);
    expect(await count(`SELECT count(DISTINCT stream_id)::int AS n FROM ul_events WHERE event_type = 'MemberEnrolled'`)).toBe(3 + ROWS - 9);
    expect(await count(`SELECT count(*)::int AS n FROM ul_events WHERE stream_id = $1`, [importStream(importId)])).toBe(1 + 5 + 1);
  });

  it('discards a sealed upload whose import was never recorded, at once or an hour later, and keeps the files of real imports', async () => {
    const files = async (): Promise<string[]> => (await database.db.any<{ import_id: string }>('SELECT import_id FROM ul_import_files ORDER BY import_id')).map((row) => row.import_id);
    const csv = Buffer.from(rosterFile());
    // The append of ImportRequested fails: the request takes its file back with it.
    const failing = new Proxy(ledger.store, {
      get(target, property, receiver) {
        if (property === 'appendToStream' || property === 'appendToStreams') return async () => Promise.reject(new Error('PostgreSQL went away'));
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    await expect(importsWith(failing).request(admin, csv)).rejects.toThrow('PostgreSQL went away');
    expect(await files()).toEqual([]);
    // A process died between storing a file and recording its request; a real import waits for its worker.
    const orphan = '00000000-0000-4000-8000-000000000000';
    await new ImportFiles(database.db, () => ledger.vault).put(orphan, csv);
    const { importId } = await ledger.rosterImports.request(admin, csv);
    await ledger.catchUpReadModels();
    expect(await ledger.rosterImports.discardOrphanFiles()).toBe(0); // Younger than an hour: left alone.
    const anHourOn = new RosterImports({ store: ledger.store, db: database.db, vault: () => ledger.vault, members: ledger.members, orgs: ledger.orgs, orgAccess: ledger.orgAccess, clock: () => new Date(Date.now() + 61 * 60 * 1000) });
    expect(await anHourOn.discardOrphanFiles()).toBe(1);
    expect(await files()).toEqual([importId]);
    expect(await new ImportFiles(database.db, () => ledger.vault).get(orphan)).toBeNull();
  });

  it('refuses a file that cannot be read to its end, storing nothing', async () => {
    const broken = Buffer.concat([Buffer.from(`name,national_id,phone,org_id\n${goodRow(5)}\n`), Buffer.from([0xff, 0xfe, 0x0a])]);
    await expect(ledger.rosterImports.request(admin, broken)).rejects.toMatchObject({ code: 'CSV.ENCODING', httpStatus: 422 });
    expect(await count('SELECT count(*)::int AS n FROM ul_import_files')).toBe(0);
  });
});
