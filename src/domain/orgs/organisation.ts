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
export type OrganisationEvent = OrganisationRegistered;

export const orgStream = (orgId: string): string => `org-${orgId}`;
export const ORG_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export interface OrgState {
  registered: boolean;
  orgId: string;
  name: string;
  parentId: string | null;
  level: OrgLevel | null;
}

export const initialOrgState: OrgState = { registered: false, orgId: '', name: '', parentId: null, level: null };

export function evolveOrg(state: OrgState, event: OrganisationEvent): OrgState {
  switch (event.type) {
    case 'OrganisationRegistered':
      return { registered: true, ...event.data };
    default: {
      const unknown: never = event.type;
      throw new Error(`unknown organisation event ${String(unknown)}`);
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
    if (parent.level === null || ORG_LEVELS.indexOf(parent.level) >= levelIndex) {
      throw new DomainError('ORG.PARENT_INVALID', `a ${command.level} cannot sit under a ${parent.level}`, 422);
    }
  }
  return [{ type: 'OrganisationRegistered', data: { orgId: command.orgId, name, parentId: command.parentId, level: command.level } }];
}
