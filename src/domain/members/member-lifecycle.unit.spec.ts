import fc from 'fast-check';
import { deciderSpec } from '../../../test/support/given-when-then';
import { DEFAULT_RULES, type RuleSet } from '../earning';
import { decide, decideJoin, evolve, evolveJoin, fold, initialJoinState, initialState, type Context, type JoinEvent, type MemberCommand, type MemberEvent, type UnitFacts } from '.';

const member = deciderSpec({ initialState, evolve, decide });
const join = deciderSpec({ initialState: initialJoinState, evolve: evolveJoin, decide: (state, command: Parameters<typeof decideJoin>[1]) => decideJoin(state, command) });

const M = 'm1';
const ctx: Context = { now: new Date('2026-11-23T10:00:00+08:00'), rules: { version: 1, ...DEFAULT_RULES } as RuleSet };
const unit = (orgId: string, facts: Partial<UnitFacts> = {}): UnitFacts => ({ orgId, registered: true, closed: false, ...facts });

const enrolled: MemberEvent = { type: 'MemberEnrolled', data: { memberId: M, orgId: 'u-a', name: '张三', idHmac: 'h', piiCipher: 'c' } };
const activated: MemberEvent = { type: 'MemberActivated', data: { memberId: M, orgId: 'u-a', day: '2026-11-01' } };
const requested: MemberEvent = { type: 'MemberTransferRequested', data: { memberId: M, transferId: 't1', fromOrgId: 'u-a', toOrgId: 'u-c', byAdminId: 'admin-a' } };
const transferred: MemberEvent = {
  type: 'MemberTransferred',
  data: { memberId: M, transferId: 't1', fromOrgId: 'u-a', toOrgId: 'u-c', byAdminId: 'admin-c', reason: 'transfer' },
};
const left: MemberEvent = { type: 'MemberLeft', data: { memberId: M, orgId: 'u-a', byAdminId: 'admin-a', reason: '退会' } };
const parked: MemberEvent = { type: 'MemberParked', data: { memberId: M, fromOrgId: 'u-a', toOrgId: 'c-1', byAdminId: 'admin-a', reason: '离职' } };

describe('transfers', () => {
  it('records a request by the sending unit’s admin, naming them', () => {
    member.given([enrolled, activated]).when({ type: 'RequestTransfer', transferId: 't1', to: unit('u-c'), adminId: 'admin-a' }, ctx).then([requested]);
  });

  it('records a request by the member themselves, naming no admin', () => {
    member
      .given([enrolled])
      .when({ type: 'RequestTransfer', transferId: 't1', to: unit('u-c'), adminId: null }, ctx)
      .then([{ type: 'MemberTransferRequested', data: { ...requested.data, byAdminId: null } } as MemberEvent]);
  });

  it.each([
    ['another transfer is pending', [enrolled, requested], 't2', unit('u-b'), 'TRANSFER.PENDING'],
    ['the unit is the member’s own', [enrolled], 't2', unit('u-a'), 'TRANSFER.SAME_UNIT'],
    ['the unit is closed', [enrolled], 't2', unit('u-c', { closed: true }), 'ORG.CLOSED'],
    ['the unit does not exist', [enrolled], 't2', unit('u-x', { registered: false }), 'ORG.NOT_FOUND'],
    ['the member left', [enrolled, left], 't2', unit('u-c'), 'MEMBER.LEFT'],
    ['there is no member', [], 't2', unit('u-c'), 'MEMBER.NOT_FOUND'],
    ['the id was used', [enrolled, requested, transferred], 't1', unit('u-b'), 'TRANSFER.DUPLICATE'],
  ] as const)('refuses a request when %s', (_label, given, transferId, to, code) => {
    member.given([...given]).when({ type: 'RequestTransfer', transferId, to, adminId: 'admin-a' }, ctx).thenFails(code);
  });

  it('moves the member when the receiving unit accepts: the union changes, the balances stay', () => {
    const { state } = member.given([enrolled, activated, requested]).when({ type: 'AcceptTransfer', transferId: 't1', to: unit('u-c'), adminId: 'admin-c' }, ctx).result();
    expect(state).toMatchObject({ orgId: 'u-c', pendingTransfer: null, available: 0 });
    member.given([enrolled, activated, requested]).when({ type: 'AcceptTransfer', transferId: 't1', to: unit('u-c'), adminId: 'admin-c' }, ctx).then([transferred]);
  });

  it('refuses to accept a transfer that is not pending, or into a unit closed meanwhile', () => {
    member.given([enrolled, requested, transferred]).when({ type: 'AcceptTransfer', transferId: 't1', to: unit('u-c'), adminId: 'admin-c' }, ctx).thenFails('TRANSFER.NOT_PENDING');
    member.given([enrolled, requested]).when({ type: 'AcceptTransfer', transferId: 't1', to: unit('u-c', { closed: true }), adminId: 'admin-c' }, ctx).thenFails('ORG.CLOSED');
  });

  it('declines with a reason; the member stays and may ask again', () => {
    const declined: MemberEvent = {
      type: 'MemberTransferDeclined',
      data: { memberId: M, transferId: 't1', fromOrgId: 'u-a', toOrgId: 'u-c', byAdminId: 'admin-c', reason: '名额已满' },
    };
    member.given([enrolled, requested]).when({ type: 'DeclineTransfer', transferId: 't1', adminId: 'admin-c', reason: ' 名额已满 ' }, ctx).then([declined]);
    member.given([enrolled, requested, declined]).when({ type: 'RequestTransfer', transferId: 't2', to: unit('u-b'), adminId: null }, ctx).then([expect.objectContaining({ type: 'MemberTransferRequested' })]);
    member.given([enrolled, requested]).when({ type: 'DeclineTransfer', transferId: 't1', adminId: 'admin-c', reason: '' }, ctx).thenFails('MEMBER.REASON_INVALID');
  });

  it('is withdrawn by the requesting side while pending; the member stays and may ask again', () => {
    const withdrawn: MemberEvent = { type: 'MemberTransferWithdrawn', data: { memberId: M, transferId: 't1', fromOrgId: 'u-a', toOrgId: 'u-c', byAdminId: null } };
    member.given([enrolled, requested]).when({ type: 'WithdrawTransfer', transferId: 't1', adminId: null }, ctx).then([withdrawn]);
    member.given([enrolled, requested]).when({ type: 'WithdrawTransfer', transferId: 't1', adminId: 'admin-a' }, ctx).then([{ ...withdrawn, data: { ...withdrawn.data, byAdminId: 'admin-a' } } as MemberEvent]);
    const { state } = member.given([enrolled, requested, withdrawn]).when({ type: 'RequestTransfer', transferId: 't2', to: unit('u-b'), adminId: null }, ctx).result();
    expect(state).toMatchObject({ orgId: 'u-a', pendingTransfer: { transferId: 't2', toOrgId: 'u-b' } });
    // Nothing to withdraw: another id, a decided transfer, a withdrawn one; and a withdrawn transfer cannot be accepted.
    member.given([enrolled, requested]).when({ type: 'WithdrawTransfer', transferId: 't9', adminId: null }, ctx).thenFails('TRANSFER.NOT_PENDING');
    member.given([enrolled, requested, transferred]).when({ type: 'WithdrawTransfer', transferId: 't1', adminId: null }, ctx).thenFails('TRANSFER.NOT_PENDING');
    member.given([enrolled, requested, withdrawn]).when({ type: 'WithdrawTransfer', transferId: 't1', adminId: null }, ctx).thenFails('TRANSFER.NOT_PENDING');
    member.given([enrolled, requested, withdrawn]).when({ type: 'AcceptTransfer', transferId: 't1', to: unit('u-c'), adminId: 'admin-c' }, ctx).thenFails('TRANSFER.NOT_PENDING');
  });

  it('moves every member of a merged unit once, whatever they had asked for', () => {
    const merged = member.given([enrolled, requested]).when({ type: 'TransferByMerge', transferId: 'merge-1', to: unit('u-b'), adminId: 'admin-p' }, ctx);
    const { events, state } = merged.result();
    expect(events).toEqual([
      { type: 'MemberTransferred', data: { memberId: M, transferId: 'merge-1', fromOrgId: 'u-a', toOrgId: 'u-b', byAdminId: 'admin-p', reason: 'merge' } },
    ]);
    expect(state.pendingTransfer).toEqual({ transferId: 't1', toOrgId: 'u-c' });
    member.given([enrolled, ...events]).when({ type: 'TransferByMerge', transferId: 'merge-1', to: unit('u-b'), adminId: 'admin-p' }, ctx).then([]);
  });
});

describe('parking, leaving and reinstating', () => {
  it('parks a member at the upper-level union and takes them in by a transfer', () => {
    member.given([enrolled, activated]).when({ type: 'ParkMember', to: unit('c-1'), adminId: 'admin-a', reason: '离职' }, ctx).then([parked]);
    member.given([enrolled, parked]).when({ type: 'ParkMember', to: unit('c-1'), adminId: 'admin-a', reason: '离职' }, ctx).thenFails('MEMBER.ALREADY_PARKED');
    const { state } = member.given([enrolled, parked, { ...requested, data: { ...requested.data, fromOrgId: 'c-1' } }]).when(
      { type: 'AcceptTransfer', transferId: 't1', to: unit('u-c'), adminId: 'admin-c' },
      ctx,
    ).result();
    expect(state).toMatchObject({ orgId: 'u-c', parkedFrom: null });
  });

  it('stops earning while the member has left, and resumes on reinstatement', () => {
    member.given([enrolled, activated]).when({ type: 'LeaveUnion', adminId: 'admin-a', reason: '退会' }, ctx).then([left]);
    member.given([enrolled, activated, left]).when({ type: 'CheckIn' }, ctx).thenFails('MEMBER.LEFT');
    member.given([enrolled, activated, left]).when({ type: 'LeaveUnion', adminId: 'admin-a', reason: 'again' }, ctx).thenFails('MEMBER.ALREADY_LEFT');
    member.given([enrolled, activated]).when({ type: 'ReinstateMember', adminId: 'admin-a', reason: '恢复' }, ctx).thenFails('MEMBER.NOT_LEFT');
    const reinstated: MemberEvent = { type: 'MemberReinstated', data: { memberId: M, orgId: 'u-a', byAdminId: 'admin-a', reason: '恢复' } };
    member.given([enrolled, activated, left]).when({ type: 'ReinstateMember', adminId: 'admin-a', reason: '恢复' }, ctx).then([reinstated]);
    member.given([enrolled, activated, left, reinstated]).when({ type: 'CheckIn' }, ctx).then([expect.objectContaining({ type: 'CheckedIn' }), expect.objectContaining({ type: 'PointsGranted' })]);
  });

  it('keeps points and the member’s union consistent through any sequence of lifecycle commands (model)', () => {
    const units = ['u-a', 'u-b', 'u-c', 'c-1'];
    const command = fc.oneof(
      fc.record({ type: fc.constant('RequestTransfer' as const), transferId: fc.constantFrom('t1', 't2', 't3'), to: fc.constantFrom(...units).map((id) => unit(id)), adminId: fc.constant(null) }),
      fc.record({ type: fc.constant('AcceptTransfer' as const), transferId: fc.constantFrom('t1', 't2', 't3'), adminId: fc.constant('x') }),
      fc.record({ type: fc.constant('DeclineTransfer' as const), transferId: fc.constantFrom('t1', 't2', 't3'), adminId: fc.constant('x'), reason: fc.constant('r') }),
      fc.record({ type: fc.constant('WithdrawTransfer' as const), transferId: fc.constantFrom('t1', 't2', 't3'), adminId: fc.constantFrom(null, 'x') }),
      fc.record({ type: fc.constant('ParkMember' as const), to: fc.constant(unit('c-1')), adminId: fc.constant('x'), reason: fc.constant('r') }),
      fc.record({ type: fc.constant('LeaveUnion' as const), adminId: fc.constant('x'), reason: fc.constant('r') }),
      fc.record({ type: fc.constant('ReinstateMember' as const), adminId: fc.constant('x'), reason: fc.constant('r') }),
      fc.record({ type: fc.constant('CheckIn' as const) }),
    );
    fc.assert(
      fc.property(fc.array(command, { maxLength: 30 }), (commands) => {
        let events: MemberEvent[] = [enrolled, activated];
        let model = { orgId: 'u-a', left: false, pending: null as null | { transferId: string; toOrgId: string } };
        for (const [index, raw] of commands.entries()) {
          const state = fold(events);
          const command: MemberCommand =
            raw.type === 'AcceptTransfer' ? { ...raw, to: unit(state.pendingTransfer?.toOrgId ?? 'u-x') } : (raw as MemberCommand);
          let decided: MemberEvent[];
          try {
            decided = decide(state, command, { ...ctx, now: new Date(ctx.now.getTime() + index * 86_400_000) });
          } catch (error) {
            if ((error as { code?: string }).code === undefined) throw error;
            continue;
          }
          for (const event of decided) {
            if (event.type === 'MemberTransferRequested') model = { ...model, pending: { transferId: event.data.transferId, toOrgId: event.data.toOrgId } };
            if (event.type === 'MemberTransferDeclined' || event.type === 'MemberTransferWithdrawn') model = { ...model, pending: null };
            if (event.type === 'MemberTransferred') model = { ...model, orgId: event.data.toOrgId, pending: null };
            if (event.type === 'MemberParked') model = { ...model, orgId: event.data.toOrgId };
            if (event.type === 'MemberLeft') model = { ...model, left: true, pending: null };
            if (event.type === 'MemberReinstated') model = { ...model, left: false };
            // Transfers name the union the member really leaves, and never lead back into it.
            if (event.type === 'MemberTransferred') expect(event.data.fromOrgId).not.toBe(event.data.toOrgId);
            if (event.type === 'PointsGranted') expect(event.data.orgId).toBe(state.orgId);
          }
          events = [...events, ...decided];
        }
        const after = fold(events);
        expect({ orgId: after.orgId, left: after.left, pending: after.pendingTransfer }).toEqual(model);
        expect(after.available).toBe(after.lifetimeEarned);
      }),
      { numRuns: 200 },
    );
  });
});

describe('online applications to join', () => {
  const applied: JoinEvent = {
    type: 'JoinApplied',
    data: { applicationId: 'j1', orgId: 'u-a', memberId: M, name: '张三', idHmac: 'h', piiCipher: 'sealed', applicantId: 'visitor-1' },
  };
  const apply = { type: 'ApplyToJoin' as const, applicationId: 'j1', unit: unit('u-a'), memberId: M, name: ' 张三 ', idHmac: 'h', piiCipher: 'sealed', applicantId: 'visitor-1', alreadyMember: false };

  it('records the application with the sealed details, then one decision by an admin', () => {
    join.given([]).when(apply, undefined).then([applied]);
    join.given([applied]).when({ type: 'ApproveJoin', unit: unit('u-a'), adminId: 'admin-a', alreadyMember: false }, undefined).then([
      { type: 'JoinApproved', data: { applicationId: 'j1', orgId: 'u-a', memberId: M, byAdminId: 'admin-a' } },
    ]);
    join.given([applied]).when({ type: 'DeclineJoin', adminId: 'admin-a', reason: '非本单位职工' }, undefined).then([
      { type: 'JoinDeclined', data: { applicationId: 'j1', orgId: 'u-a', memberId: M, byAdminId: 'admin-a', reason: '非本单位职工' } },
    ]);
  });

  it('refuses an applicant already a member, a closed unit, and a second decision', () => {
    join.given([]).when({ ...apply, alreadyMember: true }, undefined).thenFails('JOIN.ALREADY_MEMBER');
    join.given([]).when({ ...apply, unit: unit('u-a', { closed: true }) }, undefined).thenFails('ORG.CLOSED');
    join.given([applied]).when({ ...apply }, undefined).thenFails('JOIN.DUPLICATE');
    const approved: JoinEvent = { type: 'JoinApproved', data: { applicationId: 'j1', orgId: 'u-a', memberId: M, byAdminId: 'admin-a' } };
    join.given([applied, approved]).when({ type: 'DeclineJoin', adminId: 'admin-a', reason: 'late' }, undefined).thenFails('JOIN.ALREADY_APPROVED');
    join.given([]).when({ type: 'ApproveJoin', unit: unit('u-a'), adminId: 'admin-a', alreadyMember: false }, undefined).thenFails('JOIN.NOT_FOUND');
  });
});
