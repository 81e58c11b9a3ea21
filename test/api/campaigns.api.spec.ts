import ExcelJS from 'exceljs';
import { startLedgerApp, testNationalId, type Answer, type LedgerApp } from '../support/ledger-app';
import { waitForFeedEnd } from '../support/feed';
import { testTimeout } from '../support/wait-for';

/**
 * Campaigns over HTTP on real PostgreSQL: creation, targets from the published CSV (a file with a
 * bad row refused whole, with the per-row report), progress per unit rolled up through the tree
 * and equal to a count done by SQL over the events, drill-down and ranks, the scope (an admin of
 * one unit sees nothing of a sibling), a rebuild giving the same progress, and milestones
 * recorded exactly once.
 */

const system = { type: 'system', id: 'campaigns-test' };
let app: LedgerApp;
let provinceAdmin: string;
let unitAdmin: string;
let siblingAdmin: string;
let otherAdmin: string;
let auditor: string;
let counter = 0;
const key = (): string => `cp-${(counter += 1)}`;
const HOUR = 3600_000;
const startsAt = new Date(Date.now() - HOUR).toISOString();
const endsAt = new Date(Date.now() + 30 * 24 * HOUR).toISOString();
const day = (offsetDays: number) => new Date(Date.now() + 8 * HOUR + offsetDays * 24 * HOUR).toISOString().slice(0, 10);
// Checked in per unit: u-a 6 of target 10, u-b 2 of 10, u-c 5 of 5 (and one member of u-a twice).
const CHECKED_IN: Record<string, number> = { 'u-a': 6, 'u-b': 2, 'u-c': 5, 'u-z': 3 };

interface Unit {
  orgId: string;
  done: number;
  target: number;
  percent: number | null;
  rank: number;
}
interface Progress {
  org: Unit & { next: unknown };
  children: Unit[];
  milestones: Array<{ percent: number; reached: { onTime: boolean } | null }>;
  [other: string]: unknown;
}

function expectOk(answer: Answer, status = 200): Progress {
  expect({ status: answer.status, body: answer.status === status ? {} : answer.body }).toEqual({ status, body: {} });
  return answer.body as unknown as Progress;
}

async function postCsv(path: string, token: string, csv: string): Promise<Answer> {
  const response = await fetch(`${app.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'idempotency-key': key(), 'content-type': 'text/csv' }, body: csv });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

async function catchUp(): Promise<void> {
  await waitForFeedEnd(app.ledger.db);
  await app.ledger.catchUpReadModels();
}

let serial = 0;
async function memberOf(orgId: string): Promise<string> {
  serial += 1;
  const idHmac = app.ledger.vault.keyedHash('campaigns-test-member:', String(serial));
  const memberId = app.ledger.vault.memberIdFor(idHmac);
  const piiCipher = await app.ledger.vault.seal(memberId, { idNumber: testNationalId(serial), phone: `1380000${String(serial).padStart(4, '0')}` });
  await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId, name: `会员${serial}`, idHmac, piiCipher }, { commandId: `enrol:${serial}`, actor: system });
  await app.ledger.members.execute(memberId, { type: 'ActivateMember', name: `会员${serial}` }, { commandId: `activate:${serial}`, actor: system });
  return memberId;
}

beforeAll(async () => {
  app = await startLedgerApp();
  for (const [orgId, name, parentId, level] of [
    ['js', '江苏省总工会', null, 'province'],
    ['js-nj', '南京市总工会', 'js', 'city'],
    ['js-sz', '苏州市总工会', 'js', 'city'],
    ['u-a', '单位A', 'js-nj', 'grassroots'],
    ['u-b', '单位B', 'js-nj', 'grassroots'],
    ['u-c', '单位C', 'js-sz', 'grassroots'],
    ['zj', '浙江省总工会', null, 'province'],
    ['u-z', '单位Z', 'zj', 'grassroots'],
  ] as const) {
    await app.ledger.orgs.registerOrganisation({ orgId, name, parentId, level }, { commandId: `org:${orgId}`, actor: system });
  }
  provinceAdmin = await app.token('admin-js', 'admin', 'js');
  unitAdmin = await app.token('admin-a', 'admin', 'u-a');
  siblingAdmin = await app.token('admin-b', 'admin', 'u-b');
  otherAdmin = await app.token('admin-zj', 'admin', 'zj');
  auditor = await app.token('auditor-1', 'auditor', 'js');
  await catchUp();
}, testTimeout());
afterAll(async () => {
  await app?.close();
});

describe('a campaign with per-unit targets', () => {
  const body = {
    campaignId: 'checkin-2026',
    name: '签到月',
    rootOrgId: 'js',
    measure: 'check-ins',
    startsAt,
    endsAt,
    milestones: [
      { percent: 20, by: day(7) },
      { percent: 50, by: day(14) },
      { percent: 90, by: day(28) },
    ],
  };

  it('is created by an admin of its root, and refused to others', async () => {
    expect((await app.call('POST', '/v1/admin/campaigns', { token: otherAdmin, key: key(), body })).body.code).toBe('ORG.FORBIDDEN');
    expect((await app.call('POST', '/v1/admin/campaigns', { token: auditor, key: key(), body })).status).toBe(403);
    const badMilestones = await app.call('POST', '/v1/admin/campaigns', { token: provinceAdmin, key: key(), body: { ...body, milestones: [{ percent: 50, by: day(7) }, { percent: 20, by: day(8) }] } });
    expect({ status: badMilestones.status, code: badMilestones.body.code }).toEqual({ status: 400, code: 'CAMPAIGN.MILESTONES_INVALID' });
    const created = expectOk(await app.call('POST', '/v1/admin/campaigns', { token: provinceAdmin, key: key(), body }), 201);
    expect(created).toMatchObject({ campaignId: 'checkin-2026', rootOrgId: 'js', measure: 'check-ins', targets: { version: 0, units: 0 } });
  });

  it('refuses a targets file with a bad row whole, with a report by line', async () => {
    const csv = ['seq,unit,members,target', '1,单位A,20,10', '2,u-b,20,30', '3,不存在,5,1', '4,js-nj,40,10', '5,u-z,5,5', '6,单位A,1,1'].join('\n');
    const answer = await postCsv('/v1/admin/campaigns/checkin-2026/targets', provinceAdmin, csv);
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 422, code: 'CAMPAIGN.TARGETS_REJECTED' });
    const report = (answer.body.details as { report: { totals: Record<string, number>; rejectedRows: Array<{ line: number; code: string }> } }).report;
    expect(report.rejectedRows.map((row) => [row.line, row.code])).toEqual([
      [2, 'TARGET.OVERLAP'],
      [3, 'TARGET.ABOVE_MEMBERS'],
      [4, 'TARGET.UNIT_UNKNOWN'],
      [6, 'TARGET.UNIT_UNKNOWN'],
      [7, 'TARGET.DUPLICATE_UNIT'],
    ]);
    expect(report.totals).toMatchObject({ rows: 6, rejected: 5 });
    expect(expectOk(await app.call('GET', '/v1/admin/campaigns/checkin-2026', { token: provinceAdmin })).targets).toMatchObject({ version: 0 });
  });

  it('takes the published table (Chinese header, units by name or id), once', async () => {
    const csv = '\ufeff序号,单位,会员数,目标数\r\n1,单位A,20,10\r\n2,u-b,20,10\r\n3,单位C,8,5\r\n';
    expect((await postCsv('/v1/admin/campaigns/checkin-2026/targets', unitAdmin, csv)).body.code).toBe('CAMPAIGN.FORBIDDEN');
    const answer = expectOk(await postCsv('/v1/admin/campaigns/checkin-2026/targets', provinceAdmin, csv));
    expect(answer).toMatchObject({ totals: { rows: 3, applied: 3, rejected: 0 }, targetsVersion: 1, totalTarget: 25 });
    const again = expectOk(await postCsv('/v1/admin/campaigns/checkin-2026/targets', provinceAdmin, csv));
    expect(again).toMatchObject({ totals: { rows: 3, applied: 0, unchanged: 3 }, targetsVersion: 1 });
  });

  it('counts each member once, per unit, rolled up, equal to a count over the events', async () => {
    const members: string[] = [];
    for (const [orgId, count] of Object.entries(CHECKED_IN)) {
      for (let index = 0; index < count; index += 1) {
        const memberId = await memberOf(orgId);
        members.push(memberId);
        await app.ledger.members.execute(memberId, { type: 'CheckIn' }, { commandId: `checkin:${memberId}`, actor: system });
      }
      await memberOf(orgId); // A member who never checks in.
    }
    await catchUp();
    const progress = expectOk(await app.call('GET', '/v1/admin/campaigns/checkin-2026/progress', { token: provinceAdmin }));
    expect(progress.org).toMatchObject({ orgId: 'js', done: 13, target: 25, percent: 52, next: { percent: 90, needed: 23, gap: 10 } });
    expect(progress.children.map((child) => [child.orgId, child.done, child.target, child.percent, child.rank])).toEqual([
      ['js-nj', 8, 20, 40, 2],
      ['js-sz', 5, 5, 100, 1],
    ]);
    const city = expectOk(await app.call('GET', '/v1/admin/campaigns/checkin-2026/progress?orgId=js-nj', { token: provinceAdmin }));
    expect(city.children.map((child) => [child.orgId, child.done, child.percent, child.rank])).toEqual([
      ['u-a', 6, 60, 1],
      ['u-b', 2, 20, 2],
    ]);
    // The same count by SQL over the stored events: distinct members with a CheckedIn after the
    // campaign's creation in the feed and within the period, by the union they enrolled in.
    const counted = await app.ledger.db.any<{ org_id: string; done: string }>(
      `WITH created AS (SELECT transaction_id, global_position FROM ul_events WHERE stream_id = 'campaign-checkin-2026' AND stream_revision = 0),
       units AS (SELECT data->>'memberId' AS member_id, data->>'orgId' AS org_id FROM ul_events WHERE event_type = 'MemberEnrolled')
       SELECT u.org_id, count(DISTINCT e.data->>'memberId') AS done
       FROM ul_events e, created c, units u
       WHERE e.event_type = 'CheckedIn' AND (e.transaction_id, e.global_position) > (c.transaction_id, c.global_position)
         AND e.recorded_at >= $1 AND e.recorded_at < $2 AND u.member_id = e.data->>'memberId'
       GROUP BY u.org_id ORDER BY u.org_id`,
      [startsAt, endsAt],
    );
    expect(Object.fromEntries(counted.map((row) => [row.org_id, Number(row.done)]))).toEqual(CHECKED_IN);
    // A second check-in the next day would not count twice; the same command again is a replay.
    await app.ledger.members.execute(members[0]!, { type: 'CheckIn' }, { commandId: `checkin:${members[0]}`, actor: system });
    await catchUp();
    expect(expectOk(await app.call('GET', '/v1/admin/campaigns/checkin-2026/progress', { token: auditor })).org.done).toBe(13);
  });

  it('shows an admin of one unit their unit only, and nothing of a sibling or of another province', async () => {
    const own = expectOk(await app.call('GET', '/v1/admin/campaigns/checkin-2026/progress', { token: unitAdmin }));
    expect(own.org).toMatchObject({ orgId: 'u-a', done: 6, target: 10 });
    expect(own.children).toEqual([]);
    for (const orgId of ['u-b', 'js-nj', 'js', 'u-c', 'u-z', 'nowhere']) {
      const answer = await app.call('GET', `/v1/admin/campaigns/checkin-2026/progress?orgId=${orgId}`, { token: unitAdmin });
      expect({ orgId, status: answer.status, code: answer.body.code }).toEqual({ orgId, status: 404, code: 'CAMPAIGN.ORG_NOT_FOUND' });
    }
    expect(expectOk(await app.call('GET', '/v1/admin/campaigns/checkin-2026/progress', { token: siblingAdmin })).org).toMatchObject({ orgId: 'u-b', done: 2 });
    for (const path of ['/v1/admin/campaigns/checkin-2026', '/v1/admin/campaigns/checkin-2026/progress']) {
      const answer = await app.call('GET', path, { token: otherAdmin });
      expect({ path, status: answer.status, code: answer.body.code }).toEqual({ path, status: 404, code: 'CAMPAIGN.NOT_FOUND' });
    }
    expect(expectOk(await app.call('GET', '/v1/admin/campaigns', { token: otherAdmin })).campaigns).toEqual([]);
    expect((expectOk(await app.call('GET', '/v1/admin/campaigns', { token: unitAdmin })).campaigns as Array<{ campaignId: string }>).map((row) => row.campaignId)).toEqual(['checkin-2026']);
    expect((await app.call('GET', '/v1/admin/campaigns?orgId=u-z', { token: unitAdmin })).status).toBe(404);
  });

  it('records each milestone crossed once, however often the check runs', async () => {
    expect(await app.ledger.campaigns.checkMilestones()).toBe(2);
    expect(await app.ledger.campaigns.checkMilestones()).toBe(0);
    await Promise.all([app.ledger.campaigns.checkMilestones(), app.ledger.campaigns.checkMilestones()]);
    const events = await app.ledger.store.readStream('campaign-checkin-2026');
    expect(events.filter((event) => event.type === 'CampaignMilestoneReached').map((event) => event.data['percent'])).toEqual([20, 50]);
    await catchUp();
    const progress = expectOk(await app.call('GET', '/v1/admin/campaigns/checkin-2026/progress', { token: provinceAdmin }));
    expect(progress.milestones.map((milestone) => [milestone.percent, milestone.reached?.onTime ?? null])).toEqual([
      [20, true],
      [50, true],
      [90, null],
    ]);
  });

  it('makes a weekly report once per week, with ranks and the change since last week, downloadable per subtree', async () => {
    const shanghai = new Date(Date.now() + 8 * HOUR);
    const monday = new Date(shanghai.getTime() + (((8 - shanghai.getUTCDay()) % 7 || 7) * 24 * HOUR)).toISOString().slice(0, 10);
    const nextMonday = new Date(Date.parse(`${monday}T00:00:00Z`) + 7 * 24 * HOUR).toISOString().slice(0, 10);
    expect(await app.ledger.campaigns.reports.generateWeekly(monday)).toEqual({ campaigns: 1, reports: 1, units: 6 });
    expect(await app.ledger.campaigns.reports.generateWeekly(monday)).toEqual({ campaigns: 1, reports: 0, units: 0 });
    // Two more check-ins in u-b during the week after.
    for (let index = 0; index < 2; index += 1) {
      const memberId = await memberOf('u-b');
      await app.ledger.members.execute(memberId, { type: 'CheckIn' }, { commandId: `checkin:${memberId}`, actor: system });
    }
    expect(await app.ledger.campaigns.reports.generateWeekly(nextMonday)).toEqual({ campaigns: 1, reports: 1, units: 6 });

    const listed = await app.call('GET', '/v1/admin/campaigns/checkin-2026/reports', { token: unitAdmin });
    expect((listed.body.reports as Array<Record<string, unknown>>).map((report) => [report.reportId, report.previousReportId])).toEqual([
      [nextMonday, monday],
      [monday, null],
    ]);
    const download = async (path: string, token: string) => {
      const response = await fetch(`${app.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      return { status: response.status, type: response.headers.get('content-type'), bytes: Buffer.from(await response.arrayBuffer()) };
    };
    const csv = await download(`/v1/admin/campaigns/checkin-2026/reports/${nextMonday}.csv`, provinceAdmin);
    expect({ status: csv.status, type: csv.type }).toEqual({ status: 200, type: 'text/csv; charset=utf-8' });
    const lines = csv.bytes.toString('utf8').replace(/^\ufeff/, '').trim().split('\r\n').map((line) => line.split(','));
    expect(lines[0]).toEqual(['序号', '单位', '单位编号', '上级', '层级', '会员数', '目标数', '完成数', '完成率%', '同级排名', '较上周']);
    // Tree order, best first among siblings: u-b's two new check-ins lift it to 40% and js-nj's change to +2.
    expect(lines.slice(1).map((cells) => [cells[2], cells[7], cells[8], cells[9], cells[10]])).toEqual([
      ['js', '15', '60', '1', '2'],
      ['js-sz', '5', '100', '1', '0'],
      ['u-c', '5', '100', '1', '0'],
      ['js-nj', '10', '50', '2', '2'],
      ['u-a', '6', '60', '1', '0'],
      ['u-b', '4', '40', '2', '2'],
    ]);
    // The unit's admin gets the unit's part only, and nothing of the sibling's.
    const own = await download(`/v1/admin/campaigns/checkin-2026/reports/${nextMonday}.csv`, unitAdmin);
    expect(own.bytes.toString('utf8').trim().split('\r\n').slice(1).map((line) => line.split(',')[2])).toEqual(['u-a']);
    expect((await download(`/v1/admin/campaigns/checkin-2026/reports/${nextMonday}.csv?orgId=u-b`, unitAdmin)).status).toBe(404);
    expect((await download(`/v1/admin/campaigns/checkin-2026/reports/${nextMonday}.csv`, otherAdmin)).status).toBe(404);
    expect((await download(`/v1/admin/campaigns/checkin-2026/reports/2020-01-06.csv`, provinceAdmin)).status).toBe(404);
    // The same rows as a workbook, and the chart of the province's cities.
    const xlsx = await download(`/v1/admin/campaigns/checkin-2026/reports/${nextMonday}.xlsx?orgId=js-nj`, provinceAdmin);
    expect(xlsx.status).toBe(200);
    const workbook = new ExcelJS.Workbook();
    await workbook.xlsx.load(xlsx.bytes as unknown as ArrayBuffer);
    const sheet = workbook.getWorksheet('进度')!;
    expect([3, 4, 5].map((row) => [sheet.getRow(row).getCell(3).value, sheet.getRow(row).getCell(8).value, sheet.getRow(row).getCell(11).value])).toEqual([
      ['js-nj', 10, 2],
      ['u-a', 6, 0],
      ['u-b', 4, 2],
    ]);
    const svg = await download(`/v1/admin/campaigns/checkin-2026/reports/${nextMonday}.svg`, auditor);
    expect({ status: svg.status, type: svg.type }).toEqual({ status: 200, type: 'image/svg+xml' });
    // A bar per city, best first, and the province's total as a line.
    expect(svg.bytes.toString('utf8')).toMatch(/^<svg[\s\S]*>苏州市总工会<[\s\S]*>南京市总工会<[\s\S]*合计 60%[\s\S]*<\/svg>$/);
    // Kept: the second download is the stored file, byte for byte.
    expect((await download(`/v1/admin/campaigns/checkin-2026/reports/${nextMonday}.xlsx?orgId=js-nj`, provinceAdmin)).bytes.equals(xlsx.bytes)).toBe(true);
  });

  it('counts the submissions of its own evaluation campaign, once per member', async () => {
    const created = await app.call('POST', '/v1/admin/campaigns', {
      token: provinceAdmin,
      key: key(),
      body: { campaignId: 'pingyi', name: '网上评议', rootOrgId: 'js-nj', measure: 'evaluations', evaluationCampaignId: 'pingyi-2026', startsAt, endsAt, milestones: [] },
    });
    expect(created.status).toBe(201);
    const evaluators = [await memberOf('u-a'), await memberOf('u-a'), await memberOf('u-b')];
    for (const [index, memberId] of evaluators.entries()) {
      const token = await app.token(memberId, 'member', index < 2 ? 'u-a' : 'u-b');
      for (const campaignId of ['pingyi-2026', 'another-evaluation']) {
        const answer = await app.call('POST', '/v1/me/evaluations', { token, key: key(), body: { campaignId, overall: 5 } });
        expect(answer.status).toBeLessThan(300);
      }
    }
    await catchUp();
    const progress = expectOk(await app.call('GET', '/v1/admin/campaigns/pingyi/progress', { token: provinceAdmin }));
    expect(progress.org).toMatchObject({ orgId: 'js-nj', done: 3, target: 0, percent: null, next: null });
    expect(progress.children.map((child) => [child.orgId, child.done])).toEqual([
      ['u-a', 2],
      ['u-b', 1],
    ]);
    // The campaign rooted at the city is the unit admin's too; the other province's admin sees neither.
    expect((expectOk(await app.call('GET', '/v1/admin/campaigns', { token: unitAdmin })).campaigns as Array<{ campaignId: string }>).map((row) => row.campaignId)).toEqual(['checkin-2026', 'pingyi']);
  });

  it('gives the same progress after a rebuild from event zero', async () => {
    const before = await Promise.all(['js', 'js-nj', 'js-sz'].map((orgId) => app.call('GET', `/v1/admin/campaigns/checkin-2026/progress?orgId=${orgId}`, { token: provinceAdmin })));
    await app.ledger.rebuildReadModels();
    const after = await Promise.all(['js', 'js-nj', 'js-sz'].map((orgId) => app.call('GET', `/v1/admin/campaigns/checkin-2026/progress?orgId=${orgId}`, { token: provinceAdmin })));
    expect(after.map((answer) => answer.body)).toEqual(before.map((answer) => answer.body));
  });
});

// Last: its campaign would otherwise show up in the lists and reports the tests above count.
describe('a campaign and member transfers (docs/ORGS.md)', () => {
  it('keeps what a member counted with the unit that earned it when the member transfers, and counts them at the new unit afterwards', async () => {
    // A campaign of activations: one member activates at u-b and then moves to u-a; another is
    // enrolled at u-b, moves to u-a, and activates there.
    const created = await app.call('POST', '/v1/admin/campaigns', {
      token: provinceAdmin,
      key: key(),
      body: { campaignId: 'moves-2026', name: '入会激活', rootOrgId: 'js', measure: 'activations', startsAt, endsAt, milestones: [] },
    });
    expect(created.status).toBe(201);
    await catchUp();
    const activatedFirst = await memberOf('u-b');
    serial += 1;
    const idHmac = app.ledger.vault.keyedHash('campaigns-test-member:', String(serial));
    const movedFirst = app.ledger.vault.memberIdFor(idHmac);
    const piiCipher = await app.ledger.vault.seal(movedFirst, { idNumber: testNationalId(serial), phone: `1380000${String(serial).padStart(4, '0')}` });
    await app.ledger.members.execute(movedFirst, { type: 'EnrolMember', memberId: movedFirst, orgId: 'u-b', name: `会员${serial}`, idHmac, piiCipher }, { commandId: `enrol:${serial}`, actor: system });
    await catchUp();
    for (const memberId of [activatedFirst, movedFirst]) {
      const requested = await app.call('POST', `/v1/admin/members/${memberId}/transfers`, { token: siblingAdmin, key: key(), body: { toOrgId: 'u-a' } });
      expect(requested.status).toBe(200);
      const accepted = await app.call('POST', `/v1/admin/members/${memberId}/transfers/${String(requested.body['transferId'])}/acceptance`, {
        token: unitAdmin,
        key: key(),
        body: {},
      });
      expect(accepted.status).toBe(200);
    }
    await app.ledger.members.execute(movedFirst, { type: 'ActivateMember', name: `会员${serial}` }, { commandId: `activate:${serial}`, actor: system });
    await catchUp();
    const city = expectOk(await app.call('GET', '/v1/admin/campaigns/moves-2026/progress?orgId=js-nj', { token: provinceAdmin }));
    expect(Object.fromEntries(city.children.map((child) => [child.orgId, child.done]))).toEqual({ 'u-a': 1, 'u-b': 1 });
  });
});
