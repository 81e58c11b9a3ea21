import { DomainError } from '../shared';
import type { MemberEvent, MemberState } from './member';

/**
 * The member's lifecycle in the union: transfers between units (转会), parking at the upper-level
 * union after leaving a job, leaving and reinstating. One pure function per command; every event
 * names the admin who decided (a member's own transfer request names none). What the decision
 * needs about the receiving unit comes in the context, folded from its stream by the caller.
 */

export const MAX_LIFECYCLE_REASON_LENGTH = 200;
const TRANSFER_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

/** What a lifecycle command needs to know of the unit it sends the member to. */
export interface UnitFacts {
  orgId: string;
  registered: boolean;
  closed: boolean;
}

export type LifecycleCommand =
  | { type: 'RequestTransfer'; transferId: string; to: UnitFacts; adminId: string | null }
  | { type: 'AcceptTransfer'; transferId: string; to: UnitFacts; adminId: string }
  | { type: 'DeclineTransfer'; transferId: string; adminId: string; reason: string }
  /** The requesting side changes its mind: the member (`adminId` null) or an admin of the member's union. */
  | { type: 'WithdrawTransfer'; transferId: string; adminId: string | null }
  /** A merge of the member's unit: the member goes to the unit merged into, without a request. */
  | { type: 'TransferByMerge'; transferId: string; to: UnitFacts; adminId: string }
  /** `to` is the upper-level union of the member's unit. */
  | { type: 'ParkMember'; to: UnitFacts; adminId: string; reason: string }
  | { type: 'LeaveUnion'; adminId: string; reason: string }
  | { type: 'ReinstateMember'; adminId: string; reason: string };

type Of<Type extends LifecycleCommand['type']> = Extract<LifecycleCommand, { type: Type }>;

function requireMember(state: MemberState): void {
  if (state.status === 'none') throw new DomainError('MEMBER.NOT_FOUND', 'no such member', 404);
}

function requireIn(state: MemberState): void {
  requireMember(state);
  if (state.left) throw new DomainError('MEMBER.LEFT', 'the member has left the union', 409);
}

function checkReason(reason: string): string {
  const trimmed = reason.trim();
  if (trimmed.length === 0 || trimmed.length > MAX_LIFECYCLE_REASON_LENGTH) {
    throw new DomainError('MEMBER.REASON_INVALID', `a reason of 1 to ${MAX_LIFECYCLE_REASON_LENGTH} characters`, 400);
  }
  return trimmed;
}

function requireOpenUnit(to: UnitFacts): void {
  if (!to.registered) throw new DomainError('ORG.NOT_FOUND', `no organisation ${to.orgId}`, 422, { orgId: to.orgId });
  if (to.closed) throw new DomainError('ORG.CLOSED', `organisation ${to.orgId} is closed`, 422, { orgId: to.orgId });
}

export function requestTransfer(state: MemberState, command: Of<'RequestTransfer'>): MemberEvent[] {
  requireIn(state);
  const { transferId, to, adminId } = command;
  if (!TRANSFER_ID.test(transferId)) throw new DomainError('TRANSFER.ID_INVALID', 'a transfer id: 1-128 letters, digits, _ . : or -', 400);
  if (state.transfers.has(transferId)) {
    if (state.pendingTransfer?.transferId === transferId && state.pendingTransfer.toOrgId === to.orgId) return []; // Asked again: still waiting.
    throw new DomainError('TRANSFER.DUPLICATE', 'a transfer with this id exists', 409, { transferId });
  }
  if (state.pendingTransfer) {
    throw new DomainError('TRANSFER.PENDING', 'the member already has a transfer waiting for a decision', 409, { transferId: state.pendingTransfer.transferId });
  }
  if (to.orgId === state.orgId) throw new DomainError('TRANSFER.SAME_UNIT', 'the member already belongs to this unit', 422);
  requireOpenUnit(to);
  return [{ type: 'MemberTransferRequested', data: { memberId: state.memberId, transferId, fromOrgId: state.orgId, toOrgId: to.orgId, byAdminId: adminId } }];
}

function requirePending(state: MemberState, transferId: string): { transferId: string; toOrgId: string } {
  const pending = state.pendingTransfer;
  if (!pending || pending.transferId !== transferId) {
    throw new DomainError('TRANSFER.NOT_PENDING', 'this transfer is not waiting for a decision', 409, { transferId });
  }
  return pending;
}

export function acceptTransfer(state: MemberState, command: Of<'AcceptTransfer'>): MemberEvent[] {
  requireIn(state);
  const pending = requirePending(state, command.transferId);
  if (command.to.orgId !== pending.toOrgId) throw new Error('invariant violated: a transfer is accepted into the unit it was requested for');
  // Parked (or merged) into the very unit asked for since the request: there is nowhere to move; decline it.
  if (pending.toOrgId === state.orgId) throw new DomainError('TRANSFER.SAME_UNIT', 'the member already belongs to this unit', 422);
  requireOpenUnit(command.to);
  return [
    {
      type: 'MemberTransferred',
      data: { memberId: state.memberId, transferId: pending.transferId, fromOrgId: state.orgId, toOrgId: pending.toOrgId, byAdminId: command.adminId, reason: 'transfer' },
    },
  ];
}

export function declineTransfer(state: MemberState, command: Of<'DeclineTransfer'>): MemberEvent[] {
  requireMember(state);
  const pending = requirePending(state, command.transferId);
  const reason = checkReason(command.reason);
  return [
    {
      type: 'MemberTransferDeclined',
      data: { memberId: state.memberId, transferId: pending.transferId, fromOrgId: state.orgId, toOrgId: pending.toOrgId, byAdminId: command.adminId, reason },
    },
  ];
}

/**
 * The member (or an admin of their union) takes back a transfer still waiting for the receiving
 * unit: it is no longer pending, the member stays, and may ask again with another id.
 */
export function withdrawTransfer(state: MemberState, command: Of<'WithdrawTransfer'>): MemberEvent[] {
  requireMember(state);
  const pending = requirePending(state, command.transferId);
  return [
    {
      type: 'MemberTransferWithdrawn',
      data: { memberId: state.memberId, transferId: pending.transferId, fromOrgId: state.orgId, toOrgId: pending.toOrgId, byAdminId: command.adminId },
    },
  ];
}

export function transferByMerge(state: MemberState, command: Of<'TransferByMerge'>): MemberEvent[] {
  requireMember(state);
  if (state.transfers.has(command.transferId)) return []; // This merge moved the member already.
  if (state.orgId === command.to.orgId) return [];
  requireOpenUnit(command.to);
  return [
    {
      type: 'MemberTransferred',
      data: { memberId: state.memberId, transferId: command.transferId, fromOrgId: state.orgId, toOrgId: command.to.orgId, byAdminId: command.adminId, reason: 'merge' },
    },
  ];
}

export function park(state: MemberState, command: Of<'ParkMember'>): MemberEvent[] {
  requireIn(state);
  if (state.parkedFrom !== null) throw new DomainError('MEMBER.ALREADY_PARKED', `the member is already parked at ${state.orgId}`, 409);
  requireOpenUnit(command.to);
  const reason = checkReason(command.reason);
  return [{ type: 'MemberParked', data: { memberId: state.memberId, fromOrgId: state.orgId, toOrgId: command.to.orgId, byAdminId: command.adminId, reason } }];
}

export function leave(state: MemberState, command: Of<'LeaveUnion'>): MemberEvent[] {
  requireMember(state);
  if (state.left) throw new DomainError('MEMBER.ALREADY_LEFT', 'the member has already left the union', 409);
  const reason = checkReason(command.reason);
  return [{ type: 'MemberLeft', data: { memberId: state.memberId, orgId: state.orgId, byAdminId: command.adminId, reason } }];
}

export function reinstate(state: MemberState, command: Of<'ReinstateMember'>): MemberEvent[] {
  requireMember(state);
  if (!state.left) throw new DomainError('MEMBER.NOT_LEFT', 'the member has not left the union', 409);
  const reason = checkReason(command.reason);
  return [{ type: 'MemberReinstated', data: { memberId: state.memberId, orgId: state.orgId, byAdminId: command.adminId, reason } }];
}

export function decideLifecycle(state: MemberState, command: LifecycleCommand): MemberEvent[] {
  switch (command.type) {
    case 'RequestTransfer':
      return requestTransfer(state, command);
    case 'AcceptTransfer':
      return acceptTransfer(state, command);
    case 'DeclineTransfer':
      return declineTransfer(state, command);
    case 'WithdrawTransfer':
      return withdrawTransfer(state, command);
    case 'TransferByMerge':
      return transferByMerge(state, command);
    case 'ParkMember':
      return park(state, command);
    case 'LeaveUnion':
      return leave(state, command);
    case 'ReinstateMember':
      return reinstate(state, command);
    default: {
      const unknown: never = command;
      throw new Error(`unknown lifecycle command ${(unknown as { type: string }).type}`);
    }
  }
}
