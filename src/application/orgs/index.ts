/** The organisations context's use cases: registering the tree, imports, changes to it, and who may see which part of it. */
export { ORG_TREE_STREAM, OrgService, type RegisterOutcome } from './org-service';
export { OrgAccess, type Principal } from './org-access';
export { OrgChanges, type MemberMover, type OrgChangesDeps } from './org-changes';
export { importOrganisations, ORG_COLUMNS } from './org-import';
