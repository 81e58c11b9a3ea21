import { DomainError } from '../shared';
import { MAX_LIFECYCLE_REASON_LENGTH, type UnitFacts } from './member-lifecycle';

/**
 * An online application to join a union (入会), stream `join-<applicationId>`: the applicant's
 * details sealed in the vault (the same sealed record a roster import makes), then one decision by
 * an admin of the unit. An approval is followed by the member's enrolment through the roster's
 * path (EnrolMember on the member's stream), which the application layer runs after it.
 */

export type JoinEvent =
  | {
      type: 'JoinApplied';
      data: { applicationId: string; orgId: string; memberId: string; name: string; idHmac: string; piiCipher: string; applicantId: string };
    }
  | { type: 'JoinApproved'; data: { applicationId: string; orgId: string; memberId: string; byAdminId: string } }
  | { type: 'JoinDeclined'; data: { applicationId: string; orgId: string; memberId: string; byAdminId: string; reason: string } };

export const joinStream = (applicationId: string): string => `join-${applicationId}`;

export interface JoinState {
  status: 'none' | 'pending' | 'approved' | 'declined';
  applicationId: string;
  orgId: string;
  memberId: string;
  name: string;
  idHmac: string;
  piiCipher: string;
}

export const initialJoinState: JoinState = { status: 'none', applicationId: '', orgId: '', memberId: '', name: '', idHmac: '', piiCipher: '' };

export function evolveJoin(state: JoinState, event: JoinEvent): JoinState {
  switch (event.type) {
    case 'JoinApplied': {
      const { applicationId, orgId, memberId, name, idHmac, piiCipher } = event.data;
      return { status: 'pending', applicationId, orgId, memberId, name, idHmac, piiCipher };
    }
    case 'JoinApproved':
      return { ...state, status: 'approved' };
    case 'JoinDeclined':
      return { ...state, status: 'declined' };
    default: {
      const unknown: never = event;
      throw new Error(`unknown join event ${(unknown as { type: string }).type}`);
    }
  }
}

export type JoinCommand =
  | {
      type: 'ApplyToJoin';
      applicationId: string;
      unit: UnitFacts;
      memberId: string;
      name: string;
      idHmac: string;
      piiCipher: string;
      applicantId: string;
      /** True when a member with this national ID number is already enrolled. */
      alreadyMember: boolean;
    }
  | { type: 'ApproveJoin'; unit: UnitFacts; adminId: string; alreadyMember: boolean }
  | { type: 'DeclineJoin'; adminId: string; reason: string };

function requirePending(state: JoinState): void {
  if (state.status === 'none') throw new DomainError('JOIN.NOT_FOUND', 'no such application', 404);
  if (state.status !== 'pending') throw new DomainError(`JOIN.ALREADY_${state.status.toUpperCase()}`, `the application is already ${state.status}`, 409);
}

export function decideJoin(state: JoinState, command: JoinCommand): JoinEvent[] {
  switch (command.type) {
    case 'ApplyToJoin': {
      if (state.status !== 'none') throw new DomainError('JOIN.DUPLICATE', 'an application with this id exists', 409);
      const name = command.name.trim();
      if (name.length === 0 || name.length > 50) throw new DomainError('JOIN.NAME_INVALID', 'a name of 1 to 50 characters', 400);
      if (!command.unit.registered) throw new DomainError('ORG.NOT_FOUND', `no organisation ${command.unit.orgId}`, 422);
      if (command.unit.closed) throw new DomainError('ORG.CLOSED', `organisation ${command.unit.orgId} is closed`, 422);
      if (command.alreadyMember) throw new DomainError('JOIN.ALREADY_MEMBER', 'a member with this national ID number is already enrolled', 409);
      const { applicationId, memberId, idHmac, piiCipher, applicantId } = command;
      return [{ type: 'JoinApplied', data: { applicationId, orgId: command.unit.orgId, memberId, name, idHmac, piiCipher, applicantId } }];
    }
    case 'ApproveJoin':
      requirePending(state);
      if (command.unit.closed) throw new DomainError('ORG.CLOSED', `organisation ${state.orgId} is closed`, 422);
      if (command.alreadyMember) throw new DomainError('JOIN.ALREADY_MEMBER', 'a member with this national ID number is already enrolled', 409);
      return [{ type: 'JoinApproved', data: { applicationId: state.applicationId, orgId: state.orgId, memberId: state.memberId, byAdminId: command.adminId } }];
    case 'DeclineJoin': {
      requirePending(state);
      const reason = command.reason.trim();
      if (reason.length === 0 || reason.length > MAX_LIFECYCLE_REASON_LENGTH) {
        throw new DomainError('JOIN.REASON_INVALID', `a reason of 1 to ${MAX_LIFECYCLE_REASON_LENGTH} characters`, 400);
      }
      return [{ type: 'JoinDeclined', data: { applicationId: state.applicationId, orgId: state.orgId, memberId: state.memberId, byAdminId: command.adminId, reason } }];
    }
    default: {
      const unknown: never = command;
      throw new Error(`unknown join command ${(unknown as { type: string }).type}`);
    }
  }
}
