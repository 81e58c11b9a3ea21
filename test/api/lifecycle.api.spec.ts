import { catchUpLeaderboards } from '../../src/projections/earning';
import { periodsOf } from '../../src/domain/shared';
import { waitForFeedEnd } from '../support/feed';
import { startLedgerApp, testNationalId, type Answer, type LedgerApp } from '../support/ledger-app';
import { testTimeout } from '../support/wait-for';

/**
 * The member lifecycle and the changes of the union tree over HTTP, on real PostgreSQL and Redis:
 * transfers (points follow, leaderboards of the current periods move, past periods stay), parked
 * members, leaving and reinstating, tree moves (counts and leaderboards follow from that moment),
 * merges, closing, online joining, and the scope of each route (a sibling unit's admin sees nothing).
 *
 * Tree: p-1 → c-1 → (u-a, u-b), p-1 → c-2 → u-c; p-9 → u-z elsewhere.
 */

const DAY_MS = 24 * 3600 * 1000;
let offsetMs = 0;
const clock = (): Date => new Date(Date.now() + offsetMs);
let app: LedgerApp;
let counter = 0;
const key = (): string => `lc-${(counter += 1)}`;
const system = { type: 'system', id: 'lifecycle-setup' };
const tokens: Record<string, string> = {};

async function enrol(serial: number, name: string, orgId: string): Promise<string> {
  const nationalId = testNationalId(serial);
  const idHmac = app.ledger.vault.idHmac(nationalId);
  const memberId = app.ledger.vault.memberIdFor(idHmac);
  const piiCipher = await app.ledger.vault.seal(memberId, { idNumber: nationalId, phone: `1390000${String(serial).padStart(4, '0')}` });
  await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId, name, idHmac, piiCipher }, { commandId: `enrol:${idHmac}`, actor: system });
  await app.ledger.members.execute(memberId, { type: 'ActivateMember', name }, { commandId: `activate:${memberId}`, actor: system });
  return memberId;
}

const checkIn = (memberId: string) => app.ledger.members.execute(memberId, { type: 'CheckIn' }, { commandId: `checkin:${memberId}:${key()}`, actor: { type: 'member', id: memberId } });

async function settle(): Promise<void> {
  await waitForFeedEnd(app.ledger.db);
  await app.ledger.catchUpReadModels();
  await catchUpLeaderboards(app.ledger.store, app.ledger.db, app.ledger.leaderboards);
}

const call = (method: string, path: string, as: string, body?: unknown): Promise<Answer> =>
  app.call(method, path, { token: tokens[as]!, key: key(), ...(method === 'GET' ? {} : { body: body ?? {} }) });

function expectError(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
}

function expectOk(answer: Answer): Record<string, unknown> {
  expect({ status: answer.status, body: answer.body }).toEqual({ status: 200, body: expect.anything() });
  return answer.body;
}

/** The member's points on a board, null when absent. */
async function score(orgId: string, period: 'week' | 'all', at: Date, memberId: string): Promise<number | null> {
  const periodKey = period === 'all' ? '' : periodsOf(at).week;
  const { rank, points } = await app.ledger.leaderboards.rankOf(orgId, period, periodKey, memberId);
  return rank === null ? null : points;
}

/** Seven days ago: always in the previous ISO week, whose boards are still kept (older weeks' are not written). */
const lastWeek = (): Date => new Date(Date.now() - 7 * DAY_MS);

let m1: string;
let m2: string;
let m3: string;
let m4: string;

beforeAll(async () => {
  app = await startLedgerApp({ clock });
  for (const [orgId, parentId, level] of [
    ['p-1', null, 'province'],
    ['c-1', 'p-1', 'city'],
    ['c-2', 'p-1', 'city'],
    ['u-a', 'c-1', 'grassroots'],
    ['u-b', 'c-1', 'grassroots'],
    ['u-c', 'c-2', 'grassroots'],
    ['p-9', null, 'province'],
    ['u-z', 'p-9', 'grassroots'],
  ] as const) {
    await app.ledger.orgs.registerOrganisation({ orgId, name: `Union ${orgId}`, parentId, level }, { commandId: `org:${orgId}`, actor: system });
  }
  for (const org of ['p-1', 'c-1', 'c-2', 'u-a', 'u-b', 'u-c', 'p-9']) tokens[org] = await app.token(`admin-${org}`, 'admin', org);
  tokens.auditor = await app.token('auditor-1', 'auditor', 'p-1');
  // m1 was activated and checked in seven days ago (last week), and checks in today.
  offsetMs = -7 * DAY_MS;
  m1 = await enrol(301, '甲', 'u-a');
  offsetMs = 0;
  await checkIn(m1);
  m2 = await enrol(302, '乙', 'u-a');
  m3 = await enrol(303, '丙', 'u-b');
  m4 = await enrol(304, '丁', 'u-a');
  tokens.m2 = await app.token(m2, 'member', 'u-a');
  tokens.visitor = await app.token('b'.repeat(64), 'visitor', '-');
  await settle();
}, testTimeout());
afterAll(async () => {
  await app?.close();
});

describe('a transfer between grassroots unions', () => {
  let transferId: string;

  it('is requested by the sending unit and invisible to a sibling unit’s admin', async () => {
    const requested = expectOk(await call('POST', `/v1/admin/members/${m1}/transfers`, 'u-a', { toOrgId: 'u-c' }));
    expect(requested).toEqual({ transferId: expect.stringMatching(/^tr-/), memberId: m1, fromOrgId: 'u-a', toOrgId: 'u-c', status: 'pending' });
    transferId = requested.transferId as string;
    await settle();
    // The sibling u-b sees nothing of u-a's or u-c's transfers, nor of u-a's members, and cannot decide.
    expectError(await call('GET', '/v1/admin/orgs/u-a/transfers?direction=outgoing', 'u-b'), 404, 'ORG.NOT_FOUND');
    expectError(await call('GET', '/v1/admin/orgs/u-c/transfers', 'u-b'), 404, 'ORG.NOT_FOUND');
    expectError(await call('GET', '/v1/admin/orgs/u-a/members', 'u-b'), 404, 'ORG.NOT_FOUND');
    expectError(await call('GET', '/v1/admin/orgs/u-a', 'u-b'), 404, 'ORG.NOT_FOUND');
    expectError(await call('POST', `/v1/admin/members/${m1}/transfers/${transferId}/acceptance`, 'u-b'), 404, 'TRANSFER.NOT_FOUND');
    expectError(await call('POST', `/v1/admin/members/${m1}/parking`, 'u-b', { reason: 'probe' }), 404, 'MEMBER.NOT_FOUND');
    // The sender cannot accept its own request: the receiving unit decides.
    expectError(await call('POST', `/v1/admin/members/${m1}/transfers/${transferId}/acceptance`, 'u-a'), 404, 'TRANSFER.NOT_FOUND');
    // Both ends see it in their inbox.
    const incoming = expectOk(await call('GET', '/v1/admin/orgs/u-c/transfers?limit=10', 'u-c'));
    expect(incoming.transfers).toEqual([expect.objectContaining({ requestId: transferId, memberId: m1, name: '甲', fromOrgId: 'u-a', toOrgId: 'u-c', requestedBy: 'admin-u-a' })]);
    const outgoing = expectOk(await call('GET', '/v1/admin/orgs/u-a/transfers?direction=outgoing', 'u-a'));
    expect((outgoing.transfers as Array<{ requestId: string }>).map((row) => row.requestId)).toEqual([transferId]);
  });

  it('moves the member with their points when the receiving unit accepts; the current week’s boards move, the past week’s stay', async () => {
    const before = (await app.ledger.members.load(m1)).state;
    const weekAtUa = await score('u-a', 'week', new Date(), m1);
    const pastAtUa = await score('u-a', 'week', lastWeek(), m1);
    const allAtUa = await score('u-a', 'all', new Date(), m1);
    const weekAtP1 = await score('p-1', 'week', new Date(), m1);
    expect(weekAtUa).toBeGreaterThan(0);
    expect(pastAtUa).toBeGreaterThan(0);
    const accepted = expectOk(await call('POST', `/v1/admin/members/${m1}/transfers/${transferId}/acceptance`, 'u-c'));
    expect(accepted).toEqual({ transferId, memberId: m1, orgId: 'u-c', status: 'accepted' });
    const after = (await app.ledger.members.load(m1)).state;
    expect({ orgId: after.orgId, available: after.available, lifetimeEarned: after.lifetimeEarned }).toEqual({
      orgId: 'u-c',
      available: before.available,
      lifetimeEarned: before.lifetimeEarned,
    });
    await settle();
    expect(await score('u-c', 'week', new Date(), m1)).toBe(weekAtUa);
    expect(await score('c-2', 'week', new Date(), m1)).toBe(weekAtUa);
    expect(await score('u-a', 'week', new Date(), m1)).toBeNull();
    expect(await score('c-1', 'week', new Date(), m1)).toBeNull();
    expect(await score('p-1', 'week', new Date(), m1)).toBe(weekAtP1); // The common ancestor keeps it.
    expect(await score('u-c', 'all', new Date(), m1)).toBe(allAtUa);
    expect(await score('u-a', 'all', new Date(), m1)).toBeNull();
    // Seven days ago the member earned at u-a: that week stays there.
    expect(await score('u-a', 'week', lastWeek(), m1)).toBe(pastAtUa);
    expect(await score('u-c', 'week', lastWeek(), m1)).toBeNull();
    // Points earned from now on go to the new unit's boards.
    expect((await app.ledger.members.load(m1)).state.orgId).toBe('u-c');
    const members = expectOk(await call('GET', '/v1/admin/orgs/u-c/members', 'u-c'));
    expect(members.members).toEqual([{ memberId: m1, name: '甲', status: 'active' }]);
    expect(expectOk(await call('GET', '/v1/admin/orgs/u-c/transfers', 'u-c')).transfers).toEqual([]);
  });
});

describe('a member’s own transfer request, parking and taking in', () => {
  it('is declined by the receiving unit, and refused to anything but a grassroots union', async () => {
    expectError(await call('POST', '/v1/me/transfers', 'm2', { toOrgId: 'c-2' }), 422, 'TRANSFER.NOT_GRASSROOTS');
    const requested = expectOk(await call('POST', '/v1/me/transfers', 'm2', { toOrgId: 'u-b' }));
    expect(requested.status).toBe('pending');
    expectError(await call('POST', '/v1/me/transfers', 'm2', { toOrgId: 'u-c' }), 409, 'TRANSFER.PENDING');
    const declined = expectOk(await call('POST', `/v1/admin/members/${m2}/transfers/${requested.transferId as string}/rejection`, 'u-b', { reason: '不符合条件' }));
    expect(declined).toMatchObject({ status: 'declined', orgId: 'u-a' });
    expect((await app.ledger.members.load(m2)).state.orgId).toBe('u-a');
  });

  it('is withdrawn by the member, or the sending unit, before the receiving unit decides; the member stays and may ask again', async () => {
    const incoming = async () => {
      await settle();
      return (expectOk(await call('GET', '/v1/admin/orgs/u-c/transfers', 'u-c')).transfers as Array<{ requestId: string }>).map((row) => row.requestId);
    };
    const requested = expectOk(await call('POST', '/v1/me/transfers', 'm2', { toOrgId: 'u-c' }));
    const transferId = requested.transferId as string;
    expect(await incoming()).toContain(transferId);
    // The receiving unit decides; taking the request back is the requesting side's (the member is not in u-c's subtree).
    expectError(await call('POST', `/v1/admin/members/${m2}/transfers/${transferId}/withdrawal`, 'u-c'), 404, 'MEMBER.NOT_FOUND');
    const withdrawKey = key();
    const withdraw = () => app.call('POST', `/v1/me/transfers/${transferId}/withdrawal`, { token: tokens.m2!, key: withdrawKey, body: {} });
    expect(expectOk(await withdraw())).toEqual({ transferId, memberId: m2, orgId: 'u-a', status: 'withdrawn' });
    // The same request retried is answered the same; another is refused, and the receiving unit finds nothing to accept.
    expect(expectOk(await withdraw())).toEqual({ transferId, memberId: m2, orgId: 'u-a', status: 'withdrawn' });
    expectError(await call('POST', `/v1/me/transfers/${transferId}/withdrawal`, 'm2'), 409, 'TRANSFER.NOT_PENDING');
    expectError(await call('POST', `/v1/admin/members/${m2}/transfers/${transferId}/acceptance`, 'u-c'), 404, 'TRANSFER.NOT_FOUND');
    expect(await incoming()).not.toContain(transferId);
    const row = await app.ledger.db.one<{ status: string; decided_by: string }>(`SELECT status, decided_by FROM ul_member_requests WHERE kind = 'transfer' AND request_id = $1`, [transferId]);
    expect(row).toEqual({ status: 'withdrawn', decided_by: `member:${m2}` });

    // Asked by the sending unit's admin, and taken back by it.
    const byAdmin = expectOk(await call('POST', `/v1/admin/members/${m2}/transfers`, 'u-a', { toOrgId: 'u-c' }));
    expect(expectOk(await call('POST', `/v1/admin/members/${m2}/transfers/${byAdmin.transferId as string}/withdrawal`, 'u-a'))).toMatchObject({ status: 'withdrawn', orgId: 'u-a' });
    expect((await app.ledger.members.load(m2)).state).toMatchObject({ orgId: 'u-a', pendingTransfer: null });
  });

  it('parks a member who left their job at the upper-level union until a new unit takes them in', async () => {
    const parked = expectOk(await call('POST', `/v1/admin/members/${m2}/parking`, 'u-a', { reason: '离职' }));
    expect(parked).toEqual({ memberId: m2, orgId: 'c-1', parkedFrom: 'u-a' });
    await settle();
    expect(expectOk(await call('GET', '/v1/admin/orgs/c-1', 'c-1'))).toMatchObject({ ownMembers: 1 });
    // The unit it left no longer lists it; its admin no longer sees the member.
    expect((expectOk(await call('GET', '/v1/admin/orgs/u-a/members', 'u-a')).members as Array<{ memberId: string }>).map((row) => row.memberId)).not.toContain(m2);
    expectError(await call('POST', `/v1/admin/members/${m2}/leaving`, 'u-a', { reason: 'probe' }), 404, 'MEMBER.NOT_FOUND');
    // The member asks the new unit; its admin takes them in.
    const requested = expectOk(await call('POST', '/v1/me/transfers', 'm2', { toOrgId: 'u-b' }));
    const accepted = expectOk(await call('POST', `/v1/admin/members/${m2}/transfers/${requested.transferId as string}/acceptance`, 'u-b'));
    expect(accepted.orgId).toBe('u-b');
    expect((await app.ledger.members.load(m2)).state).toMatchObject({ orgId: 'u-b', parkedFrom: null });
  });

  it('records leaving and reinstating; a member who left earns nothing', async () => {
    expectOk(await call('POST', `/v1/admin/members/${m3}/leaving`, 'u-b', { reason: '退会' }));
    await expect(checkIn(m3)).rejects.toMatchObject({ code: 'MEMBER.LEFT' });
    expectError(await call('POST', `/v1/admin/members/${m3}/leaving`, 'u-b', { reason: 'again' }), 409, 'MEMBER.ALREADY_LEFT');
    await settle();
    expect(expectOk(await call('GET', '/v1/admin/orgs/u-b', 'u-b')).members).toMatchObject({ left: 1 });
    expect(expectOk(await call('POST', `/v1/admin/members/${m3}/reinstatement`, 'u-b', { reason: '恢复' }))).toMatchObject({ left: false });
    await settle();
    expect(expectOk(await call('GET', '/v1/admin/orgs/u-b', 'u-b')).members).toMatchObject({ left: 0, active: 2 });
  });
});

describe('changes of the tree', () => {
  it('moves a unit with its subtree: counts, scope and the current week’s boards follow from that moment', async () => {
    await checkIn(m3);
    await settle();
    const c1Before = (expectOk(await call('GET', '/v1/admin/orgs/c-1', 'p-1')).members as { total: number }).total;
    const c2Before = (expectOk(await call('GET', '/v1/admin/orgs/c-2', 'p-1')).members as { total: number }).total;
    const m3Week = await score('u-b', 'week', new Date(), m3);
    expect(await score('c-1', 'week', new Date(), m3)).toBe(m3Week);
    // A unit cannot move itself (its admin asks above), nor under its own subtree.
    expectError(await call('POST', '/v1/admin/orgs/c-1/move', 'c-1', { parentId: 'p-1' }), 403, 'ORG.FORBIDDEN');
    expectError(await call('POST', '/v1/admin/orgs/c-1/move', 'p-1', { parentId: 'u-a' }), 422, 'ORG.MOVE_CYCLE');
    expectError(await call('POST', '/v1/admin/orgs/u-b/move', 'p-1', { parentId: 'u-z' }), 422, 'ORG.PARENT_UNKNOWN');
    expectOk(await call('GET', '/v1/admin/orgs/u-b', 'c-1'));
    expect(expectOk(await call('POST', '/v1/admin/orgs/u-b/move', 'p-1', { parentId: 'c-2' }))).toEqual({ orgId: 'u-b', fromParentId: 'c-1', toParentId: 'c-2', moved: true });
    // c-1's admin no longer sees u-b; c-2's does (the path caches were refreshed).
    expectError(await call('GET', '/v1/admin/orgs/u-b', 'c-1'), 404, 'ORG.NOT_FOUND');
    await settle();
    const moved = expectOk(await call('GET', '/v1/admin/orgs/u-b', 'c-2'));
    expect(moved).toMatchObject({ parentId: 'c-2', path: ['p-1', 'c-2', 'u-b'] });
    const unitTotal = (moved.members as { total: number }).total;
    expect((expectOk(await call('GET', '/v1/admin/orgs/c-1', 'p-1')).members as { total: number }).total).toBe(c1Before - unitTotal);
    expect((expectOk(await call('GET', '/v1/admin/orgs/c-2', 'p-1')).members as { total: number }).total).toBe(c2Before + unitTotal);
    expect(await score('c-2', 'week', new Date(), m3)).toBe(m3Week);
    expect(await score('c-1', 'week', new Date(), m3)).toBeNull();
    expect(await score('p-1', 'week', new Date(), m3)).toBe(m3Week);
    // Earned after the move: on the new path.
    offsetMs = DAY_MS; // Tomorrow (maybe next week: the score is read for that moment's week).
    await checkIn(m3);
    const tomorrow = clock();
    offsetMs = 0;
    await settle();
    expect(await score('c-2', 'week', tomorrow, m3)).toBe(await score('u-b', 'week', tomorrow, m3));
    expect(await score('c-1', 'week', tomorrow, m3)).toBeNull();
  });

  it('refuses to close a unit with members, merges it into another, then closes the emptied parent', async () => {
    expectError(await call('POST', '/v1/admin/orgs/u-a/close', 'c-1', { reason: '撤销' }), 409, 'ORG.HAS_MEMBERS');
    expectError(await call('POST', '/v1/admin/orgs/c-1/close', 'p-1', { reason: '撤销' }), 409, 'ORG.HAS_CHILDREN');
    expectError(await call('POST', '/v1/admin/orgs/u-a/merge', 'c-1', { intoOrgId: 'u-c' }), 422, 'ORG.MERGE_TARGET_UNKNOWN'); // u-c is outside c-1's subtree.
    // A transfer and an application waiting for u-a when it merges away: declined, so nobody waits on a unit that will never decide.
    const waiting = expectOk(await call('POST', `/v1/admin/members/${m3}/transfers`, 'p-1', { toOrgId: 'u-a' }));
    const applied = expectOk(await call('POST', '/v1/join-applications', 'visitor', { orgId: 'u-a', name: '己', nationalId: testNationalId(402), phone: '13912340402' }));
    await settle();
    const mergeKey = key();
    const merge = () => app.call('POST', '/v1/admin/orgs/u-a/merge', { token: tokens['p-1']!, key: mergeKey, body: { intoOrgId: 'u-c' } });
    const merged = expectOk(await merge());
    expect(merged).toEqual({ orgId: 'u-a', intoOrgId: 'u-c', transferred: 1, declined: 2 });
    expect((await app.ledger.members.load(m4)).state.orgId).toBe('u-c');
    expect((await app.ledger.members.load(m3)).state).toMatchObject({ orgId: 'u-b', pendingTransfer: null });
    await settle();
    const requests = await app.ledger.db.any<{ request_id: string; status: string; decided_by: string; reason: string }>(
      'SELECT request_id, status, decided_by, reason FROM ul_member_requests WHERE request_id IN ($1, $2) ORDER BY kind DESC',
      [waiting.transferId, applied.applicationId],
    );
    expect(requests).toEqual([
      { request_id: waiting.transferId, status: 'declined', decided_by: 'admin-p-1', reason: '接收单位已并入 u-c' },
      { request_id: applied.applicationId, status: 'declined', decided_by: 'admin-p-1', reason: '接收单位已并入 u-c' },
    ]);
    // The same request again is answered as it was (the idempotent replay), declining nothing twice.
    expect(expectOk(await merge())).toEqual(merged);
    await settle();
    expect(expectOk(await call('GET', '/v1/admin/orgs/u-a', 'p-1'))).toMatchObject({ closed: true, mergedInto: 'u-c', members: { total: 0 } });
    // A closed unit takes no one.
    expectError(await call('POST', `/v1/admin/members/${m4}/transfers`, 'p-1', { toOrgId: 'u-a' }), 422, 'ORG.CLOSED');
    const closed = expectOk(await call('POST', '/v1/admin/orgs/c-1/close', 'p-1', { reason: '机构调整' }));
    expect(closed).toMatchObject({ orgId: 'c-1', closed: true });
    // The console's tree shows the organisation as it stands: no closed unit, and u-c with the merged member.
    await settle();
    const tree = expectOk(await call('GET', '/v1/admin/org-tree?orgId=p-1', 'p-1')) as unknown as { orgs: Array<{ orgId: string; members: number }> };
    const listed = new Map(tree.orgs.map((org) => [org.orgId, org.members]));
    expect([listed.has('u-a'), listed.has('c-1'), listed.has('u-c')]).toEqual([false, false, true]);
    expect(expectOk(await call('POST', '/v1/admin/orgs/c-2/rename', 'p-1', { name: '第二市总工会' }))).toMatchObject({ name: '第二市总工会' });
  });
});

describe('joining online (入会)', () => {
  it('seals the applicant’s details, shows the application to the unit’s admins only, and enrols the member on approval', async () => {
    const nationalId = testNationalId(401);
    const applied = expectOk(await call('POST', '/v1/join-applications', 'visitor', { orgId: 'u-c', name: '戊', nationalId, phone: '13912340401' }));
    expect(applied).toEqual({ applicationId: expect.stringMatching(/^join-[0-9a-f]{24}$/), orgId: 'u-c', status: 'pending' });
    const applicationId = applied.applicationId as string;
    await settle();
    expectError(await call('GET', '/v1/admin/orgs/u-c/join-applications', 'u-b'), 404, 'ORG.NOT_FOUND');
    expectError(await call('POST', `/v1/admin/join-applications/${applicationId}/approval`, 'u-b'), 404, 'JOIN.NOT_FOUND');
    const inbox = expectOk(await call('GET', '/v1/admin/orgs/u-c/join-applications', 'u-c'));
    expect(inbox.applications).toEqual([expect.objectContaining({ requestId: applicationId, name: '戊', toOrgId: 'u-c' })]);
    expect(JSON.stringify(inbox)).not.toContain(nationalId);
    // Nothing stored in plaintext: not the event, not the read model.
    const stored = JSON.stringify((await app.ledger.store.readStream(`join-${applicationId}`)).map((event) => event.data));
    expect(stored).not.toContain(nationalId);
    expect(stored).not.toContain('13912340401');
    const rows = await app.ledger.db.any('SELECT * FROM ul_member_requests WHERE request_id = $1', [applicationId]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(nationalId);
    const approved = expectOk(await call('POST', `/v1/admin/join-applications/${applicationId}/approval`, 'u-c'));
    expect(approved).toMatchObject({ applicationId, orgId: 'u-c', status: 'approved' });
    const member = (await app.ledger.members.load(approved.memberId as string)).state;
    expect(member).toMatchObject({ status: 'enrolled', orgId: 'u-c', name: '戊' });
    expect(await app.ledger.vault.open(member.memberId, member.piiCipher)).toEqual({ idNumber: nationalId, phone: '13912340401' });
    expectError(await call('POST', `/v1/admin/join-applications/${applicationId}/rejection`, 'u-c', { reason: 'late' }), 409, 'JOIN.ALREADY_APPROVED');
    // Applying again with the same ID number: already a member.
    expectError(await call('POST', '/v1/join-applications', 'visitor', { orgId: 'u-c', name: '戊', nationalId, phone: '13912340401' }), 409, 'JOIN.ALREADY_MEMBER');
  });
});
