import { DomainError } from '../shared';

/**
 * Organisations of the union tree (stream `org-<orgId>`): province → city → county/district →
 * grassroots union. Members belong to a grassroots union; admins are scoped to a subtree.
 */

export const ORG_LEVELS = ['province', 'city', 'county', 'grassroots'] as const;
export type OrgLevel = (typeof ORG_LEVELS)[number];

export interface OrganisationRegistered {
  type: 'OrganisationRegistered';
  data: { orgId: string; name: string; parentId: string | null; level: OrgLevel };
}
/** The organisation's new name (its id, stream and place in the tree stay). */
export interface OrganisationRenamed {
  type: 'OrganisationRenamed';
  data: { orgId: string; name: string; previousName: string; byAdminId: string };
}

/** The organisation, with its whole subtree, now sits under another parent. */
export interface OrganisationMoved {
  type: 'OrganisationMoved';
  data: { orgId: string; fromParentId: string; toParentId: string; byAdminId: string };
}

/** The organisation's members were transferred to `intoOrgId`, and the organisation closed. */
export interface OrganisationMerged {
  type: 'OrganisationMerged';
  data: { orgId: string; intoOrgId: string; byAdminId: string };
}

/** The organisation is closed: no member, no child, no new member or child from now on. */
export interface OrganisationClosed {
  type: 'OrganisationClosed';
  data: { orgId: string; reason: string; byAdminId: string };
}

export type OrganisationEvent = OrganisationRegistered | OrganisationRenamed | OrganisationMoved | OrganisationMerged | OrganisationClosed;
export type OrganisationChange = Exclude<OrganisationEvent, OrganisationRegistered>;
/** Event types that change an organisation's place in the tree (and so the path of its subtree). */
export const TREE_CHANGING_EVENTS = ['OrganisationMoved'] as const;

export const orgStream = (orgId: string): string => `org-${orgId}`;
export const ORG_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export interface OrgState {
  registered: boolean;
  orgId: string;
  name: string;
  parentId: string | null;
  level: OrgLevel | null;
  /** Closed (on its own or by a merge): it takes no member and no child any more. */
  closed: boolean;
  /** The organisation its members went to, when it was merged. */
  mergedInto: string | null;
}

export const initialOrgState: OrgState = { registered: false, orgId: '', name: '', parentId: null, level: null, closed: false, mergedInto: null };

export function evolveOrg(state: OrgState, event: OrganisationEvent): OrgState {
  switch (event.type) {
    case 'OrganisationRegistered':
      return { ...initialOrgState, registered: true, ...event.data };
    case 'OrganisationRenamed':
      return { ...state, name: event.data.name };
    case 'OrganisationMoved':
      return { ...state, parentId: event.data.toParentId };
    case 'OrganisationMerged':
      return { ...state, closed: true, mergedInto: event.data.intoOrgId };
    case 'OrganisationClosed':
      return { ...state, closed: true };
    default: {
      const unknown: never = event;
      throw new Error(`unknown organisation event ${(unknown as { type: string }).type}`);
    }
  }
}

export interface RegisterOrganisation {
  orgId: string;
  name: string;
  parentId: string | null;
  level: OrgLevel;
}

/**
 * Registers an organisation under a parent of a higher level (a province has no parent). Registering
 * the same organisation again with the same details changes nothing; different details conflict.
 */
export function decideRegister(state: OrgState, command: RegisterOrganisation, parent: OrgState | null): OrganisationEvent[] {
  if (!ORG_ID.test(command.orgId)) throw new DomainError('ORG.ID_INVALID', 'organisation id: 1-64 letters, digits, _ or -', 400);
  const name = command.name.trim();
  if (name.length === 0 || name.length > 100) throw new DomainError('ORG.NAME_INVALID', 'organisation name: 1-100 characters', 400);
  if (!(ORG_LEVELS as readonly string[]).includes(command.level)) {
    throw new DomainError('ORG.LEVEL_INVALID', `level must be one of ${ORG_LEVELS.join(', ')}`, 400);
  }
  if (state.registered) {
    if (state.name === name && state.parentId === command.parentId && state.level === command.level) return [];
    throw new DomainError('ORG.ALREADY_REGISTERED', `organisation ${command.orgId} exists with other details`, 409);
  }
  const levelIndex = ORG_LEVELS.indexOf(command.level);
  if (levelIndex === 0) {
    if (command.parentId !== null) throw new DomainError('ORG.PARENT_INVALID', 'a province has no parent', 422);
  } else {
    if (command.parentId === null || !parent?.registered) {
      throw new DomainError('ORG.PARENT_UNKNOWN', `parent organisation ${command.parentId ?? '(none)'} does not exist`, 422);
    }
    // Levels only go down the tree; a grassroots union may sit directly under a city or a county.
    if (parent.closed) throw new DomainError('ORG.CLOSED', `parent organisation ${command.parentId} is closed`, 422);
    if (parent.level === null || ORG_LEVELS.indexOf(parent.level) >= levelIndex) {
      throw new DomainError('ORG.PARENT_INVALID', `a ${command.level} cannot sit under a ${parent.level}`, 422);
    }
  }
  return [{ type: 'OrganisationRegistered', data: { orgId: command.orgId, name, parentId: command.parentId, level: command.level } }];
}
