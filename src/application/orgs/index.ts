/** The organisations context's use cases: registering the tree, imports, and who may see which part of it. */
export { OrgService, type RegisterOutcome } from './org-service';
export { OrgAccess, type Principal } from './org-access';
export { importOrganisations, ORG_COLUMNS } from './org-import';
