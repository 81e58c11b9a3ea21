import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { runCli } from '../../cli/main';
import { memberStream } from '../../domain/members';
import { UnionLedger } from '../../composition-root';
import { loadConfig } from '../../config/config';
import type { EventStore } from '../../eventstore/event-store';
import { verifyHashChains } from '../../eventstore/postgres/verify';
import type { PiiKeys, PiiVault } from '../../infra/pii';
import type { RuleBook } from '../earning';
import type { ImportReport, RowResult } from '../import-report';
import { importOrganisations, type OrgService } from '../orgs';
import { importMembers } from './member-import';
import type { MemberService } from './member-service';

// ---------------------------------------------------------------- helpers

/** A synthetic ID number (never a real person's): 17 digits and the GB 11643 check character computed here. */
function syntheticId(first17: string): string {
  let sum = 0;
  for (let index = 0; index < 17; index += 1) sum += Number(first17[index]) * (2 ** (17 - index) % 11);
  return first17 + '10X98765432'[sum % 11]!;
}
/** The n-th synthetic member: distinct ID (sequence number n) and phone. */
const idOf = (n: number): string => syntheticId(`11010119850615${String(n).padStart(3, '0')}`);
const phoneOf = (n: number): string => `139${String(10_000_000 + n).padStart(8, '0')}`;

const actor = { type: 'admin', id: 'test-admin' };
const chunksOf = (text: string, size: number): Buffer[] => {
  const bytes = Buffer.from(text, 'utf8');
  const chunks: Buffer[] = [];
  for (let start = 0; start < bytes.length; start += size) chunks.push(bytes.subarray(start, start + size));
  return chunks;
};
const byLine = (report: ImportReport): Map<number, RowResult> => new Map(report.rows.map((row) => [row.line, row]));

const ORGS_CSV = [
  'id,name,parent_id,level',
  'js,江苏省总工会,,province',
  'nj,南京市总工会,js,city',
  'xw,玄武区总工会,nj,district',
  'xw-a,"玄武区 ""甲"" 公司工会",xw,grassroots',
  'nj-b,南京乙公司工会,nj,grassroots',
].join('\r\n');

// ---------------------------------------------------------------- importers

describe('roster import', () => {
  let database: TestDatabase;
  let ledger: UnionLedger;
  let store: EventStore;
  let orgService: OrgService;
  let memberService: MemberService;
  let rules: RuleBook;
  let keys: PiiKeys;
  let vault: PiiVault;

  const eventCount = async (): Promise<number> => (await database.db.one<{ n: number }>('SELECT count(*)::int AS n FROM ul_events')).n;
  const keyCount = async (): Promise<number> => (await database.db.one<{ n: number }>('SELECT count(*)::int AS n FROM ul_member_keys')).n;
  const members = (csv: string, concurrency = 4): Promise<ImportReport> =>
    importMembers([Buffer.from(csv, 'utf8')], { memberService, orgService, vault, rules }, { actor, concurrency });
  const orgs = (csv: string): Promise<ImportReport> => importOrganisations([Buffer.from(csv, 'utf8')], { orgService }, { actor });

  beforeEach(async () => {
    database = await createTestDatabase();
    // drop() ends the pool and at once drops the database WITH (FORCE); a connection still closing
    // then receives the server's FATAL, and pg-promise has already removed its pool error listener.
    // That expected error must not crash the test run.
    database.db.$pool.on('error', () => undefined);
    keys = { masterKey: randomBytes(32), hmacKey: randomBytes(32) };
    ledger = new UnionLedger({ config: loadConfig({}), db: database.db, piiKeys: keys, listen: false });
    ({ store, orgs: orgService, rules, members: memberService, vault } = ledger);
  });
  afterEach(async () => {
    await ledger.close();
    await database.drop();
  });

  describe('organisations', () => {
    it('applies the tree in file order and changes nothing when the file is imported again', async () => {
      const first = await orgs(ORGS_CSV);
      expect(first.fatal).toBeNull();
      expect(first.totals).toEqual({ rows: 5, applied: 5, unchanged: 0, rejected: 0 });
      expect((await orgService.readOrg('xw')).level).toBe('county'); // 'district' is a county-level unit.
      expect((await orgService.readOrg('xw-a')).name).toBe('玄武区 "甲" 公司工会');
      const events = await eventCount();

      const again = await orgs(ORGS_CSV);
      expect(again.totals).toEqual({ rows: 5, applied: 0, unchanged: 5, rejected: 0 });
      expect(await eventCount()).toBe(events);
    });

    it('rejects each kind of bad row with its code and writes nothing for it', async () => {
      const csv = [
        'id,name,parent_id,level',
        'js,江苏省总工会,,province', // 2 ok
        'sz-a,苏州甲公司工会,sz,grassroots', // 3 parent listed later
        'sz,苏州市总工会,js,city', // 4 ok
        'js,江苏省总工会,,province', // 5 duplicate in file
        'x1,某工会,nowhere,grassroots', // 6 unknown parent
        'x2,某工会,js,village', // 7 bad level
        'x3,某工会,,city', // 8 no parent for a city
        'x4,,js,city', // 9 empty name
        'bad id!,某工会,js,city', // 10 malformed id
        'x5,某工会,sz-a,city', // 11 parent was rejected (line 3)
        'x6,"unclosed,js,city', // 12 unterminated quote at the end of the file
      ].join('\n');
      const report = await orgs(csv);
      const rows = byLine(report);
      expect([...rows.values()].map((row) => [row.line, row.status, row.code])).toEqual([
        [2, 'applied', undefined],
        [3, 'rejected', 'ORG.PARENT_UNKNOWN'],
        [4, 'applied', undefined],
        [5, 'rejected', 'ORG.DUPLICATE_IN_FILE'],
        [6, 'rejected', 'ORG.PARENT_UNKNOWN'],
        [7, 'rejected', 'ORG.LEVEL_INVALID'],
        [8, 'rejected', 'ORG.PARENT_UNKNOWN'],
        [9, 'rejected', 'ORG.NAME_INVALID'],
        [10, 'rejected', 'ORG.ID_INVALID'],
        [11, 'rejected', 'ORG.PARENT_UNKNOWN'],
        [12, 'rejected', 'CSV.UNTERMINATED_QUOTE'],
      ]);
      expect(rows.get(3)!.message).toBe('parent organisation sz is listed later in the file (line 4); list parents before their children');
      expect(rows.get(5)!.message).toContain('already listed on line 2');
      expect(rows.get(11)!.message).toBe('parent organisation sz-a (line 3) was rejected');
      expect(await eventCount()).toBe(2);

      // A registered organisation imported with other details is refused, not overwritten.
      const changed = await orgs('id,name,parent_id,level\njs,江苏省总工会(新),,province\nsz,苏州市总工会,js,grassroots\n');
      expect(changed.rows.map((row) => row.code)).toEqual(['ORG.ALREADY_REGISTERED', 'ORG.ALREADY_REGISTERED']);
      expect(await eventCount()).toBe(2);
    });
  });

  describe('members', () => {
    beforeEach(async () => {
      const report = await orgs(ORGS_CSV);
      expect(report.totals.applied).toBe(5);
    });

    const goodRows = (from: number, count: number, org = 'xw-a'): string[] =>
      Array.from({ length: count }, (_, index) => `成员${from + index},${idOf(from + index)},${phoneOf(from + index)},${org}`);

    it('enrols good rows, reports in line order, and changes nothing on a re-run', async () => {
      const csv = ['name,national_id,phone,org_id', ...goodRows(1, 30), ...goodRows(31, 10, 'nj-b')].join('\n');
      const before = await eventCount();
      const first = await members(csv);
      expect(first.fatal).toBeNull();
      expect(first.totals).toEqual({ rows: 40, applied: 40, unchanged: 0, rejected: 0 });
      expect(first.rows.map((row) => row.line)).toEqual(Array.from({ length: 40 }, (_, index) => index + 2));
      const after = await eventCount();
      expect(after).toBeGreaterThanOrEqual(before + 40); // Plus the default earning rules, stored on first use.
      expect(await keyCount()).toBe(40);

      const memberId = vault.memberIdFor(vault.idHmac(idOf(7)));
      const { state } = await memberService.load(memberId);
      expect(state).toMatchObject({ status: 'enrolled', orgId: 'xw-a', name: '成员7' });
      expect(await vault.open(memberId, state.piiCipher)).toEqual({ idNumber: idOf(7), phone: phoneOf(7) });

      const again = await members(csv);
      expect(again.totals).toEqual({ rows: 40, applied: 0, unchanged: 40, rejected: 0 });
      expect(await eventCount()).toBe(after);
      expect(await keyCount()).toBe(40);
    });

    it('rejects each kind of bad row with its code and writes nothing for it', async () => {
      const good = idOf(1);
      const wrongCheck = good.slice(0, 17) + (good[17] === '0' ? '1' : '0');
      const csv = [
        'name,national_id,phone,org_id',
        `甲,${good},${phoneOf(1)},xw-a`, // 2 ok
        `乙,${good.slice(0, 15)},${phoneOf(2)},xw-a`, // 3 ID.FORMAT
        `丙,${wrongCheck},${phoneOf(3)},xw-a`, // 4 ID.CHECK_DIGIT
        `丁,${syntheticId('11010119850230004')},${phoneOf(4)},xw-a`, // 5 ID.BIRTH_DATE
        `戊,${idOf(5)},1381234567,xw-a`, // 6 PHONE.FORMAT
        `,${idOf(6)},${phoneOf(6)},xw-a`, // 7 MEMBER.NAME_INVALID
        `${'名'.repeat(51)},${idOf(7)},${phoneOf(7)},xw-a`, // 8 MEMBER.NAME_INVALID (too long)
        `己,${idOf(8)},${phoneOf(8)},nowhere`, // 9 ORG.UNKNOWN
        `庚,${idOf(9)},${phoneOf(9)},nj`, // 10 ORG.NOT_GRASSROOTS
        `辛,${good.toLowerCase()},${phoneOf(10)},xw-a`, // 11 MEMBER.DUPLICATE_IN_FILE
        `壬,${idOf(11)},${phoneOf(11)}`, // 12 CSV.FIELD_COUNT
        `癸,${idOf(12)},${phoneOf(12)},bad id`, // 13 ORG.ID_INVALID
        `子,${idOf(13)},+86 139-0000-0013,nj-b`, // 14 ok (phone normalised)
      ].join('\n');
      const before = await eventCount();
      const report = await members(csv);
      expect(report.rows.map((row) => [row.line, row.status, row.code])).toEqual([
        [2, 'applied', undefined],
        [3, 'rejected', 'ID.FORMAT'],
        [4, 'rejected', 'ID.CHECK_DIGIT'],
        [5, 'rejected', 'ID.BIRTH_DATE'],
        [6, 'rejected', 'PHONE.FORMAT'],
        [7, 'rejected', 'MEMBER.NAME_INVALID'],
        [8, 'rejected', 'MEMBER.NAME_INVALID'],
        [9, 'rejected', 'ORG.UNKNOWN'],
        [10, 'rejected', 'ORG.NOT_GRASSROOTS'],
        [11, 'rejected', 'MEMBER.DUPLICATE_IN_FILE'],
        [12, 'rejected', 'CSV.FIELD_COUNT'],
        [13, 'rejected', 'ORG.ID_INVALID'],
        [14, 'applied', undefined],
      ]);
      expect(byLine(report).get(11)!.message).toBe('the same national ID number is already on line 2');
      expect(byLine(report).get(4)!.message).toBe('national ID check digit is wrong');
      // Two enrolments (and the earning rules' first version); no stream, no key for a rejected row.
      expect((await eventCount()) - before).toBe(3);
      expect(await keyCount()).toBe(2);
      const streams = await database.db.map("SELECT DISTINCT stream_id FROM ul_events WHERE stream_id LIKE 'member-%'", [], (row: { stream_id: string }) => row.stream_id);
      expect(streams.sort()).toEqual([1, 13].map((n) => memberStream(vault.memberIdFor(vault.idHmac(idOf(n))))).sort());
      // The report never repeats an ID number or phone.
      const text = JSON.stringify(report);
      for (const secret of [good, wrongCheck, good.slice(0, 15), idOf(5), phoneOf(1), '1381234567']) expect(text).not.toContain(secret);

      // The same person with other details: refused by the member decider, nothing written.
      const changed = await members(`name,national_id,phone,org_id\n甲改名,${good},${phoneOf(1)},xw-a\n`);
      expect(changed.rows[0]).toMatchObject({ status: 'rejected', code: 'MEMBER.ALREADY_ENROLLED' });
      expect((await eventCount()) - before).toBe(3);
    });

    it('stores no plaintext ID number or phone anywhere in the database', async () => {
      const csv = ['name,national_id,phone,org_id', ...goodRows(1, 20)].join('\n');
      await members(csv);
      const tables = await database.db.map(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
        [],
        (row: { tablename: string }) => row.tablename,
      );
      expect(tables).toEqual(expect.arrayContaining(['ul_events', 'ul_member_keys']));
      let dump = '';
      for (const table of tables) {
        const rows = await database.db.map(`SELECT t::text AS row FROM "${table}" t`, [], (row: { row: string }) => row.row);
        dump += rows.join('\n');
      }
      // bytea columns render as hex: check the hex of the numbers too.
      for (let n = 1; n <= 20; n += 1) {
        const id = idOf(n);
        for (const needle of [id, id.slice(0, 17), id.slice(6, 18), phoneOf(n)]) {
          expect(dump).not.toContain(needle);
          expect(dump).not.toContain(Buffer.from(needle).toString('hex'));
        }
      }
      expect(dump).toContain('成员1'); // The names, which are not secret here, are stored: the dump is real.
    });

    it('crypto-shreds: the ID becomes unreadable, the ledger still reads and verifies, and a re-import does not revive the key', async () => {
      const csv = ['name,national_id,phone,org_id', ...goodRows(1, 5)].join('\n');
      await members(csv);
      const memberId = vault.memberIdFor(vault.idHmac(idOf(3)));
      const { state } = await memberService.load(memberId);
      expect(await vault.open(memberId, state.piiCipher)).toEqual({ idNumber: idOf(3), phone: phoneOf(3) });

      expect(await vault.shred(memberId)).toBe(true);
      expect(await vault.open(memberId, state.piiCipher)).toBeNull();
      const stream = await store.readStream(memberStream(memberId));
      expect(stream.map((event) => event.type)).toEqual(['MemberEnrolled']);
      expect(stream[0]!.data).toMatchObject({ name: '成员3', orgId: 'xw-a' });
      const verify = await verifyHashChains(database.db);
      expect(verify).toMatchObject({ ok: true, broken: [] });

      const again = await members(csv);
      expect(again.totals.unchanged).toBe(5);
      expect(await keyCount()).toBe(4);
      expect(await vault.open(memberId, state.piiCipher)).toBeNull();
    });

    it('imports concurrently from several importers without double enrolment', async () => {
      const csv = ['name,national_id,phone,org_id', ...goodRows(1, 25)].join('\n');
      // First use of the rule book stores the defaults; concurrent first uses collide in RuleBook, so warm it once.
      await rules.currentRules();
      const reports = await Promise.all([members(csv, 8), members(csv, 8), members(csv, 3)]);
      const applied = reports.reduce((sum, report) => sum + report.totals.applied, 0);
      expect(applied).toBe(25);
      for (const report of reports) expect(report.totals.rejected).toBe(0);
      expect(await keyCount()).toBe(25);
      const enrolled = await database.db.one<{ n: number }>("SELECT count(*)::int AS n FROM ul_events WHERE event_type = 'MemberEnrolled'");
      expect(enrolled.n).toBe(25);
    });

    it('reports progress as rows done and the fraction of bytes read', async () => {
      const csv = ['name,national_id,phone,org_id', ...goodRows(1, 10)].join('\n');
      const calls: Array<[number, number]> = [];
      await importMembers(chunksOf(csv, 64), { memberService, orgService, vault, rules }, {
        actor,
        sizeBytes: Buffer.byteLength(csv),
        concurrency: 2,
        onProgress: (rowsDone, fraction) => calls.push([rowsDone, fraction]),
      });
      expect(calls.at(-1)).toEqual([10, 1]);
      for (let index = 1; index < calls.length; index += 1) {
        expect(calls[index]![0]).toBeGreaterThanOrEqual(calls[index - 1]![0]);
        expect(calls[index]![1]).toBeGreaterThanOrEqual(calls[index - 1]![1]);
      }
    });
  });

  describe('union-ledger import (CLI)', () => {
    let dir: string;
    const saved: Record<string, string | undefined> = {};

    async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
      const writes = { stdout: '', stderr: '' };
      const savedOut = process.stdout.write.bind(process.stdout);
      const savedErr = process.stderr.write.bind(process.stderr);
      process.stdout.write = ((chunk: string | Uint8Array) => ((writes.stdout += chunk.toString()), true)) as typeof process.stdout.write;
      process.stderr.write = ((chunk: string | Uint8Array) => ((writes.stderr += chunk.toString()), true)) as typeof process.stderr.write;
      try {
        process.exitCode = 0;
        await runCli(['node', 'union-ledger', ...args]);
        return { code: Number(process.exitCode ?? 0), ...writes };
      } finally {
        process.stdout.write = savedOut;
        process.stderr.write = savedErr;
        process.exitCode = 0;
      }
    }

    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ul-import-'));
      for (const name of ['DATABASE_URL', 'PII_MASTER_KEY', 'PII_HMAC_KEY', 'DATA_DIR']) saved[name] = process.env[name];
      process.env.DATABASE_URL = database.url;
      process.env.PII_MASTER_KEY = keys.masterKey.toString('base64');
      process.env.PII_HMAC_KEY = keys.hmacKey.toString('base64');
      process.env.DATA_DIR = dir;
    });
    afterEach(() => {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('imports orgs then members, prints rejected rows and a summary, and exits 1 when some were rejected', async () => {
      fs.writeFileSync(path.join(dir, 'orgs.csv'), ORGS_CSV);
      const orgRun = await cli('import', 'orgs', path.join(dir, 'orgs.csv'));
      expect(orgRun.code).toBe(0);
      expect(orgRun.stdout).toMatch(/orgs: 5 rows: 5 applied, 0 unchanged, 0 rejected/);

      const bad = idOf(2).slice(0, 17) + (idOf(2)[17] === '0' ? '1' : '0');
      const csv = ['name,national_id,phone,org_id', `甲,${idOf(1)},${phoneOf(1)},xw-a`, `乙,${bad},${phoneOf(2)},xw-a`, `丙,${idOf(3)},${phoneOf(3)},xw-a`].join('\n');
      fs.writeFileSync(path.join(dir, 'members.csv'), csv);
      const reportFile = path.join(dir, 'report.csv');
      const run = await cli('import', 'members', path.join(dir, 'members.csv'), '--report', reportFile);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(1);
      expect(run.stdout).toContain('line 3: ID.CHECK_DIGIT national ID check digit is wrong');
      expect(run.stdout).toMatch(/members: 3 rows: 2 applied, 0 unchanged, 1 rejected/);
      expect(fs.readFileSync(reportFile, 'utf8')).toBe(
        'line,status,code,message\n2,applied,,\n3,rejected,ID.CHECK_DIGIT,national ID check digit is wrong\n4,applied,,\n',
      );
      for (const secret of [idOf(1), bad, phoneOf(1)]) expect(run.stdout + run.stderr).not.toContain(secret);

      // The CLI used the same keys, so the test's vault finds the members it enrolled.
      const { state } = await memberService.load(vault.memberIdFor(vault.idHmac(idOf(3))));
      expect(state.name).toBe('丙');

      const good = ['name,national_id,phone,org_id', `甲,${idOf(1)},${phoneOf(1)},xw-a`].join('\n');
      fs.writeFileSync(path.join(dir, 'good.csv'), good);
      const rerun = await cli('import', 'members', path.join(dir, 'good.csv'));
      expect(rerun.code).toBe(0);
      expect(rerun.stdout).toMatch(/members: 1 rows: 0 applied, 1 unchanged, 0 rejected/);
    });

    it('exits 2 for a file it cannot read, or one that is not UTF-8', async () => {
      const missing = await cli('import', 'members', path.join(dir, 'missing.csv'));
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('cannot read');

      fs.writeFileSync(path.join(dir, 'gbk.csv'), Buffer.concat([Buffer.from('id,name,parent_id,level\nx,'), Buffer.from([0xd5, 0xc5]), Buffer.from(',,province\n')]));
      const gbk = await cli('import', 'orgs', path.join(dir, 'gbk.csv'));
      expect(gbk.code).toBe(2);
      expect(gbk.stderr).toContain('CSV.ENCODING');
    });
  });
});
