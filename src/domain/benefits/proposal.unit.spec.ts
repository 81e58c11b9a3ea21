import { commandSpec } from '../../../test/support/given-when-then';
import {
  DEFAULT_PROPOSAL_TTL_MS,
  MAX_PROPOSAL_TTL_MS,
  MAX_REASON_CHARS,
  approveProposal,
  dueProposal,
  evolveProposal,
  initialProposalState,
  makeProposal,
  recordOutcome,
  rejectProposal,
  type Actor,
  type ProposalEvent,
  type ProposalState,
} from '.';

const proposal = commandSpec(initialProposalState, evolveProposal);

const sh = (local: string): Date => new Date(`${local.replace(' ', 'T')}:00+08:00`);
const MADE_AT = sh('2026-09-01 10:00');

const maker: Actor = { id: 'admin-1', role: 'admin', orgId: 'c1' };
const financeMaker: Actor = { id: 'fin-0', role: 'finance', orgId: 'c1' };
const approver: Actor = { id: 'fin-1', role: 'finance', orgId: 'root' };
const clerk: Actor = { id: 'clerk-1', role: 'admin', orgId: 'root' };

const action = { programmeId: 'p26', fromOrgId: 'c1', toOrgId: 'g1', amountFen: 30_000 };
const made = (proposedBy: Actor = maker): ProposalEvent => ({
  type: 'ProposalMade',
  data: {
    proposalId: 'pr-1',
    kind: 'budget.allocate',
    orgId: 'c1',
    action,
    amountFen: 30_000,
    summary: '¥300.00 from c1 to g1',
    proposedBy,
    expiresAtMs: MADE_AT.getTime() + DEFAULT_PROPOSAL_TTL_MS,
  },
});
const approved: ProposalEvent = { type: 'ProposalApproved', data: { proposalId: 'pr-1', approvedBy: approver, proposedBy: maker } };

type Command = (state: ProposalState) => ProposalEvent[];
const approve = (by: Actor, covers = true): Command => (state) => approveProposal(state, { approver: by, covers });
const reject = (by: Actor, reason = 'the amount is too high', covers = true): Command => (state) => rejectProposal(state, { rejecter: by, covers, reason });

describe('makeProposal', () => {
  const make = (ttlMs?: number): Command => (state) =>
    makeProposal(state, { proposalId: 'pr-1', kind: 'budget.allocate', orgId: 'c1', action, amountFen: 30_000, summary: '¥300.00 from c1 to g1', proposedBy: maker, ...(ttlMs === undefined ? {} : { ttlMs }) }, MADE_AT);

  it('records the proposal with both its action and an expiry a week away by default', () => {
    proposal.given([]).when(make()).then([made()]);
  });

  it('takes a lifetime of one minute to 90 days, and refuses any other as PROPOSAL.TTL_INVALID', () => {
    expect(proposal.given([]).when(make(60_000)).result().state.expiresAtMs).toBe(MADE_AT.getTime() + 60_000);
    expect(proposal.given([]).when(make(MAX_PROPOSAL_TTL_MS)).result().state.expiresAtMs).toBe(MADE_AT.getTime() + MAX_PROPOSAL_TTL_MS);
    for (const ttlMs of [59_999, MAX_PROPOSAL_TTL_MS + 1, 60_000.5, Number.NaN]) proposal.given([]).when(make(ttlMs)).thenFails('PROPOSAL.TTL_INVALID');
  });

  it('refuses a second proposal with the same id as PROPOSAL.EXISTS', () => {
    proposal.given([made()]).when(make()).thenFails('PROPOSAL.EXISTS');
  });
});

describe('approveProposal', () => {
  it('is approved by a finance approver of the same or a higher union who is not the proposer', () => {
    const { events, state } = proposal.given([made()]).when(approve(approver)).result();
    expect(events).toEqual([approved]);
    expect(state).toMatchObject({ status: 'approved', approvedBy: approver, proposedBy: maker });
  });

  it('refuses the proposer as PROPOSAL.SELF_APPROVAL, even a finance proposer', () => {
    proposal.given([made(financeMaker)]).when(approve(financeMaker)).thenFails('PROPOSAL.SELF_APPROVAL', { proposalId: 'pr-1' });
    proposal.given([made(financeMaker)]).when(reject(financeMaker)).thenFails('PROPOSAL.SELF_APPROVAL');
  });

  it('refuses someone who is not a finance approver, or whose union does not cover the proposal, as PROPOSAL.NOT_AN_APPROVER', () => {
    proposal.given([made()]).when(approve(clerk)).thenFails('PROPOSAL.NOT_AN_APPROVER', { orgId: 'c1' });
    proposal.given([made()]).when(approve(approver, false)).thenFails('PROPOSAL.NOT_AN_APPROVER');
  });

  it('refuses a decided proposal as PROPOSAL.NOT_PENDING, with its status', () => {
    const other: Actor = { id: 'fin-2', role: 'finance', orgId: 'root' };
    proposal.given([made(), approved]).when(approve(other)).thenFails('PROPOSAL.NOT_PENDING', { proposalId: 'pr-1', status: 'approved' });
    proposal.given([made(), approved]).when(reject(other)).thenFails('PROPOSAL.NOT_PENDING');
  });

  it('refuses an unknown proposal as PROPOSAL.NOT_FOUND', () => {
    proposal.given([]).when(approve(approver)).thenFails('PROPOSAL.NOT_FOUND');
  });
});

describe('rejectProposal', () => {
  it('records the rejection with its trimmed reason', () => {
    const { events, state } = proposal.given([made()]).when(reject(approver, '  not this year ')).result();
    expect(events).toEqual([{ type: 'ProposalRejected', data: { proposalId: 'pr-1', rejectedBy: approver, proposedBy: maker, reason: 'not this year' } }]);
    expect(state.status).toBe('rejected');
  });

  it('refuses a rejection without a reason, or with one too long, as PROPOSAL.REASON_REQUIRED', () => {
    proposal.given([made()]).when(reject(approver, '   ')).thenFails('PROPOSAL.REASON_REQUIRED');
    proposal.given([made()]).when(reject(approver, 'x'.repeat(MAX_REASON_CHARS + 1))).thenFails('PROPOSAL.REASON_REQUIRED');
    proposal.given([made()]).when(reject(approver, 'x'.repeat(MAX_REASON_CHARS))).result();
  });

  it('refuses a rejecter who is not an approver as PROPOSAL.NOT_AN_APPROVER', () => {
    proposal.given([made()]).when(reject(clerk)).thenFails('PROPOSAL.NOT_AN_APPROVER');
  });
});

describe('dueProposal', () => {
  const expiresAtMs = MADE_AT.getTime() + DEFAULT_PROPOSAL_TTL_MS;
  const due = (nowMs: number): Command => (state) => dueProposal(state, new Date(nowMs));
  const expired: ProposalEvent = { type: 'ProposalExpired', data: { proposalId: 'pr-1', expiresAtMs } };

  it('expires a pending proposal at its expiry, not a millisecond before', () => {
    proposal.given([made()]).when(due(expiresAtMs - 1)).then([]);
    proposal.given([made()]).when(due(expiresAtMs)).then([expired]);
  });

  it('leaves a decided proposal alone, and an expired one is no longer approved: PROPOSAL.NOT_PENDING', () => {
    proposal.given([made(), approved]).when(due(expiresAtMs + 1)).then([]);
    proposal.given([made(), expired]).when(due(expiresAtMs + 1)).then([]);
    proposal.given([made(), expired]).when(approve(approver)).thenFails('PROPOSAL.NOT_PENDING', { proposalId: 'pr-1', status: 'expired' });
  });
});

describe('recordOutcome', () => {
  it("records an approved proposal's outcome once", () => {
    const done: ProposalEvent = { type: 'ProposalExecuted', data: { proposalId: 'pr-1', outcome: { status: 'done' } } };
    proposal.given([made(), approved]).when((state) => recordOutcome(state, { status: 'done' })).then([done]);
    proposal.given([made(), approved, done]).when((state) => recordOutcome(state, { status: 'done' })).then([]);
    const refused = { status: 'refused' as const, code: 'BUDGET.INSUFFICIENT', message: 'the budget of c1 holds less than the amount' };
    expect(proposal.given([made(), approved]).when((state) => recordOutcome(state, refused)).result().state.outcome).toEqual(refused);
  });

  it('records nothing for a proposal that was not approved', () => {
    proposal.given([made()]).when((state) => recordOutcome(state, { status: 'done' })).then([]);
    proposal.given([]).when((state) => recordOutcome(state, { status: 'done' })).then([]);
  });
});
