import { DomainError } from '../shared';

/**
 * Maker-checker (stream `proposal-<proposalId>`). Money that moves by an admin's decision (budget
 * funding and allocation, disbursement batches, voucher campaigns and returns above the threshold)
 * and merchant admission and suspension are proposed by one admin and take effect only when a
 * finance approver of the same or a higher union, who is not the proposer, approves. The proposal
 * names the action; the application carries it out after the approval and records the outcome
 * here, so the proposal's stream tells the whole story with both actors named.
 */

export const PROPOSAL_KINDS = [
  'budget.fund',
  'budget.allocate',
  'budget.return',
  'disbursement.batch',
  'voucher.campaign',
  'merchant.admit',
  'merchant.suspend',
] as const;
export type ProposalKind = (typeof PROPOSAL_KINDS)[number];

/** What the approved proposal does: plain JSON, interpreted by the application for its kind. */
export type ProposalAction = Record<string, string | number | null>;

export interface Actor {
  id: string;
  role: string;
  orgId: string;
}

export type ProposalOutcome = { status: 'done' } | { status: 'refused'; code: string; message: string };

export type ProposalEvent =
  | {
      type: 'ProposalMade';
      data: {
        proposalId: string;
        kind: ProposalKind;
        /** The union whose money or merchant it concerns: approvers must cover it. */
        orgId: string;
        action: ProposalAction;
        /** The amount it moves, when it moves money. */
        amountFen: number | null;
        summary: string;
        proposedBy: Actor;
        expiresAtMs: number;
      };
    }
  | { type: 'ProposalApproved'; data: { proposalId: string; approvedBy: Actor; proposedBy: Actor } }
  | { type: 'ProposalRejected'; data: { proposalId: string; rejectedBy: Actor; proposedBy: Actor; reason: string } }
  | { type: 'ProposalExpired'; data: { proposalId: string; expiresAtMs: number } }
  | { type: 'ProposalExecuted'; data: { proposalId: string; outcome: ProposalOutcome } };

export const proposalStream = (proposalId: string): string => `proposal-${proposalId}`;

export interface ProposalState {
  status: 'none' | 'pending' | 'approved' | 'rejected' | 'expired';
  proposalId: string;
  kind: ProposalKind | null;
  orgId: string;
  action: ProposalAction;
  amountFen: number | null;
  proposedBy: Actor | null;
  approvedBy: Actor | null;
  expiresAtMs: number;
  outcome: ProposalOutcome | null;
}

export const initialProposalState: ProposalState = {
  status: 'none',
  proposalId: '',
  kind: null,
  orgId: '',
  action: {},
  amountFen: null,
  proposedBy: null,
  approvedBy: null,
  expiresAtMs: 0,
  outcome: null,
};

export function evolveProposal(state: ProposalState, event: ProposalEvent): ProposalState {
  switch (event.type) {
    case 'ProposalMade': {
      const { proposalId, kind, orgId, action, amountFen, proposedBy, expiresAtMs } = event.data;
      return { ...state, status: 'pending', proposalId, kind, orgId, action, amountFen, proposedBy, expiresAtMs };
    }
    case 'ProposalApproved':
      return { ...state, status: 'approved', approvedBy: event.data.approvedBy };
    case 'ProposalRejected':
      return { ...state, status: 'rejected' };
    case 'ProposalExpired':
      return { ...state, status: 'expired' };
    case 'ProposalExecuted':
      return { ...state, outcome: event.data.outcome };
    default: {
      const unknown: never = event;
      throw new Error(`unknown proposal event ${(unknown as { type: string }).type}`);
    }
  }
}

export const DEFAULT_PROPOSAL_TTL_MS = 7 * 24 * 60 * 60 * 1000;
export const MAX_PROPOSAL_TTL_MS = 90 * 24 * 60 * 60 * 1000;
export const APPROVER_ROLE = 'finance';

export function makeProposal(
  state: ProposalState,
  command: { proposalId: string; kind: ProposalKind; orgId: string; action: ProposalAction; amountFen: number | null; summary: string; proposedBy: Actor; ttlMs?: number },
  now: Date,
): ProposalEvent[] {
  if (state.status !== 'none') throw new DomainError('PROPOSAL.EXISTS', 'a proposal with this id exists', 409, { proposalId: command.proposalId });
  const ttlMs = command.ttlMs ?? DEFAULT_PROPOSAL_TTL_MS;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 60_000 || ttlMs > MAX_PROPOSAL_TTL_MS) {
    throw new DomainError('PROPOSAL.TTL_INVALID', 'a proposal lives from one minute to 90 days', 400);
  }
  const { ttlMs: _ttl, ...rest } = command;
  return [{ type: 'ProposalMade', data: { ...rest, expiresAtMs: now.getTime() + ttlMs } }];
}

/**
 * `covers`: the approver's union is the proposal's union or above it (the application walks the
 * union tree; the decision stays pure).
 */
function requireDecider(state: ProposalState, decider: Actor, covers: boolean): void {
  if (state.status === 'none') throw new DomainError('PROPOSAL.NOT_FOUND', 'no such proposal', 404);
  if (decider.role !== APPROVER_ROLE || !covers) {
    throw new DomainError('PROPOSAL.NOT_AN_APPROVER', 'only a finance approver of the same or a higher union decides on this proposal', 403, {
      orgId: state.orgId,
    });
  }
  if (state.proposedBy?.id === decider.id) {
    throw new DomainError('PROPOSAL.SELF_APPROVAL', 'the proposer cannot decide on their own proposal', 403, { proposalId: state.proposalId });
  }
  if (state.status !== 'pending') {
    throw new DomainError('PROPOSAL.NOT_PENDING', `the proposal is ${state.status}`, 409, { proposalId: state.proposalId, status: state.status });
  }
}

export function approveProposal(state: ProposalState, command: { approver: Actor; covers: boolean }): ProposalEvent[] {
  requireDecider(state, command.approver, command.covers);
  return [{ type: 'ProposalApproved', data: { proposalId: state.proposalId, approvedBy: command.approver, proposedBy: state.proposedBy! } }];
}

export const MAX_REASON_CHARS = 500;

export function rejectProposal(state: ProposalState, command: { rejecter: Actor; covers: boolean; reason: string }): ProposalEvent[] {
  requireDecider(state, command.rejecter, command.covers);
  const reason = command.reason.trim();
  if (reason.length === 0 || reason.length > MAX_REASON_CHARS) {
    throw new DomainError('PROPOSAL.REASON_REQUIRED', `a rejection gives its reason (1 to ${MAX_REASON_CHARS} characters)`, 400);
  }
  return [{ type: 'ProposalRejected', data: { proposalId: state.proposalId, rejectedBy: command.rejecter, proposedBy: state.proposedBy!, reason } }];
}

/** The result of carrying out an approved proposal, recorded once. */
export function recordOutcome(state: ProposalState, outcome: ProposalOutcome): ProposalEvent[] {
  if (state.status !== 'approved' || state.outcome !== null) return [];
  return [{ type: 'ProposalExecuted', data: { proposalId: state.proposalId, outcome } }];
}

/** A pending proposal past its expiry expires, whatever the command that noticed. */
export function dueProposal(state: ProposalState, now: Date): ProposalEvent[] {
  if (state.status === 'pending' && now.getTime() >= state.expiresAtMs) {
    return [{ type: 'ProposalExpired', data: { proposalId: state.proposalId, expiresAtMs: state.expiresAtMs } }];
  }
  return [];
}
