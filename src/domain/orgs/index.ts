/** The organisations context: the union tree (province → city → county/district → grassroots). */
export {
  ORG_ID,
  ORG_LEVELS,
  decideRegister,
  evolveOrg,
  initialOrgState,
  orgStream,
  type OrgLevel,
  type OrgState,
  type OrganisationEvent,
  type OrganisationRegistered,
  type RegisterOrganisation,
} from './organisation';
