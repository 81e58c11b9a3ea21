import { DomainError } from '../shared';
import { ORG_LEVELS, type OrganisationEvent, type OrgState } from './organisation';

/**
 * Changes to a registered organisation: rename, move under another parent, merge into another
 * unit, close. One pure function per change; each names the admin who decided. What a decision
 * needs beyond the organisation's own stream (the new parent, the count of members) comes in the
 * context, read by the application layer.
 */

export const MAX_CHANGE_REASON_LENGTH = 200;

export type OrgChangeCommand =
  | { type: 'RenameOrganisation'; name: string; adminId: string }
  | { type: 'MoveOrganisation'; toParentId: string; adminId: string }
  | { type: 'MergeOrganisation'; intoOrgId: string; adminId: string }
  | { type: 'CloseOrganisation'; reason: string; adminId: string };

export interface OrgChangeContext {
  /** The new parent (a move) or the unit merged into (a merge), folded from its stream. */
  other?: OrgState;
  /** The other organisation's path from the root, ending with it (a move: to refuse cycles). */
  otherPath?: readonly string[];
  /** Members whose union is this organisation now (close, merge: must be none). */
  memberCount?: number;
  /** Organisations registered directly under this one and not closed (close, merge: must be none). */
  childCount?: number;
}

function requireOpen(state: OrgState): void {
  if (!state.registered) throw new DomainError('ORG.NOT_FOUND', 'no such organisation', 404);
  if (state.closed) throw new DomainError('ORG.CLOSED', `organisation ${state.orgId} is closed`, 409, { orgId: state.orgId });
}

function requireEmpty(state: OrgState, ctx: OrgChangeContext): void {
  if (ctx.memberCount === undefined || ctx.childCount === undefined) throw new Error('invariant violated: closing needs the member and child counts');
  if (ctx.childCount > 0) {
    throw new DomainError('ORG.HAS_CHILDREN', `organisation ${state.orgId} still has ${ctx.childCount} organisations under it: move or close them first`, 409, {
      childCount: ctx.childCount,
    });
  }
  if (ctx.memberCount > 0) {
    throw new DomainError('ORG.HAS_MEMBERS', `organisation ${state.orgId} still has ${ctx.memberCount} members: transfer them first`, 409, {
      memberCount: ctx.memberCount,
    });
  }
}

export function rename(state: OrgState, command: Extract<OrgChangeCommand, { type: 'RenameOrganisation' }>): OrganisationEvent[] {
  requireOpen(state);
  const name = command.name.trim();
  if (name.length === 0 || name.length > 100) throw new DomainError('ORG.NAME_INVALID', 'organisation name: 1-100 characters', 400);
  if (name === state.name) return [];
  return [{ type: 'OrganisationRenamed', data: { orgId: state.orgId, name, previousName: state.name, byAdminId: command.adminId } }];
}

/**
 * Moves the organisation (and so its subtree) under another parent. The new parent must be open,
 * of a higher level, and not the organisation itself or anywhere below it (a cycle would cut the
 * subtree off the tree). A province has no parent to move from.
 */
export function move(state: OrgState, command: Extract<OrgChangeCommand, { type: 'MoveOrganisation' }>, ctx: OrgChangeContext): OrganisationEvent[] {
  requireOpen(state);
  if (state.parentId === null) throw new DomainError('ORG.MOVE_INVALID', 'a root organisation has no parent to move from', 422);
  if (state.parentId === command.toParentId) return [];
  const parent = ctx.other;
  if (!parent?.registered || !ctx.otherPath) {
    throw new DomainError('ORG.PARENT_UNKNOWN', `parent organisation ${command.toParentId} does not exist`, 422, { parentId: command.toParentId });
  }
  if (ctx.otherPath.includes(state.orgId)) {
    throw new DomainError('ORG.MOVE_CYCLE', `organisation ${command.toParentId} lies in the subtree of ${state.orgId}`, 422, { parentId: command.toParentId });
  }
  if (parent.closed) throw new DomainError('ORG.CLOSED', `parent organisation ${command.toParentId} is closed`, 422, { parentId: command.toParentId });
  if (state.level === null || parent.level === null || ORG_LEVELS.indexOf(parent.level) >= ORG_LEVELS.indexOf(state.level)) {
    throw new DomainError('ORG.PARENT_INVALID', `a ${state.level} cannot sit under a ${parent.level}`, 422);
  }
  return [{ type: 'OrganisationMoved', data: { orgId: state.orgId, fromParentId: state.parentId, toParentId: command.toParentId, byAdminId: command.adminId } }];
}

/**
 * Records the end of a merge: the application layer has transferred every member to `intoOrgId`
 * first (MemberTransferred, reason 'merge'), so the organisation must be empty now; it closes.
 */
export function merge(state: OrgState, command: Extract<OrgChangeCommand, { type: 'MergeOrganisation' }>, ctx: OrgChangeContext): OrganisationEvent[] {
  if (state.mergedInto === command.intoOrgId) return []; // A retried merge that already finished.
  requireOpen(state);
  if (command.intoOrgId === state.orgId) throw new DomainError('ORG.MERGE_INVALID', 'an organisation cannot be merged into itself', 422);
  checkMergeTarget(state, command.intoOrgId, ctx.other);
  requireEmpty(state, ctx);
  return [{ type: 'OrganisationMerged', data: { orgId: state.orgId, intoOrgId: command.intoOrgId, byAdminId: command.adminId } }];
}

/** The unit merged into takes members: open, and of the same level (members of a grassroots union go to a grassroots union). */
export function checkMergeTarget(state: OrgState, intoOrgId: string, into: OrgState | undefined): void {
  if (!into?.registered) throw new DomainError('ORG.MERGE_TARGET_UNKNOWN', `organisation ${intoOrgId} does not exist`, 422, { intoOrgId });
  if (into.closed) throw new DomainError('ORG.CLOSED', `organisation ${intoOrgId} is closed`, 422, { intoOrgId });
  if (into.level !== state.level) {
    throw new DomainError('ORG.MERGE_INVALID', `a ${state.level} merges into a ${state.level}, not a ${into.level}`, 422, { intoOrgId });
  }
}

export function close(state: OrgState, command: Extract<OrgChangeCommand, { type: 'CloseOrganisation' }>, ctx: OrgChangeContext): OrganisationEvent[] {
  requireOpen(state);
  const reason = command.reason.trim();
  if (reason.length === 0 || reason.length > MAX_CHANGE_REASON_LENGTH) {
    throw new DomainError('ORG.REASON_INVALID', `a reason of 1 to ${MAX_CHANGE_REASON_LENGTH} characters`, 400);
  }
  requireEmpty(state, ctx);
  return [{ type: 'OrganisationClosed', data: { orgId: state.orgId, reason, byAdminId: command.adminId } }];
}

export function decideOrgChange(state: OrgState, command: OrgChangeCommand, ctx: OrgChangeContext): OrganisationEvent[] {
  switch (command.type) {
    case 'RenameOrganisation':
      return rename(state, command);
    case 'MoveOrganisation':
      return move(state, command, ctx);
    case 'MergeOrganisation':
      return merge(state, command, ctx);
    case 'CloseOrganisation':
      return close(state, command, ctx);
    default: {
      const unknown: never = command;
      throw new Error(`unknown organisation command ${(unknown as { type: string }).type}`);
    }
  }
}
