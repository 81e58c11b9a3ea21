/** The orgs context's read model: the tree with ancestor paths (ul_orgs). */
export { ORGS_PROJECTION, orgsProjection } from './orgs-projection';
export { OrgDirectory, SUBTREE_MAX, openChildCount, orgSummary, subtreeOrgIds, treeVersion, type OrgSummary } from './org-directory';
export { ORGS_MIGRATIONS } from './schema';
export { orgTree, ORG_TREE_MAX, type OrgTreeNode } from './org-tree';
