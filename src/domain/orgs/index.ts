/** The organisations context: the union tree (province → city → county/district → grassroots). */
export {
  ORG_ID,
  ORG_LEVELS,
  TREE_CHANGING_EVENTS,
  decideRegister,
  evolveOrg,
  initialOrgState,
  orgStream,
  type OrgLevel,
  type OrgState,
  type OrganisationChange,
  type OrganisationClosed,
  type OrganisationEvent,
  type OrganisationMerged,
  type OrganisationMoved,
  type OrganisationRegistered,
  type OrganisationRenamed,
  type RegisterOrganisation,
} from './organisation';
export { MAX_CHANGE_REASON_LENGTH, checkMergeTarget, decideOrgChange, type OrgChangeCommand, type OrgChangeContext } from './org-changes';
