import type { Principal } from '../../application/orgs';
import type { UnionLedger } from '../../composition-root';
import { AppError } from './errors';

/**
 * The root of the part of the tree a list answers for: the organisation asked for, when the
 * caller may see it, else the caller's own (admins and finance approvers) or the whole ledger
 * (auditors: null). An organisation outside the caller's subtree answers 404 ORG.NOT_FOUND, like
 * an unknown one, so a list never tells an admin what a sibling's tree holds.
 */
export async function listRoot(ledger: UnionLedger, principal: Principal, orgId: string | undefined): Promise<string | null> {
  if (orgId === undefined) return principal.role === 'auditor' ? null : principal.org;
  const path = await ledger.orgAccess.pathOf(orgId);
  const visible = path !== null && (principal.role === 'auditor' || path.includes(principal.org));
  if (!visible) throw AppError.notFound('ORG.NOT_FOUND', `no organisation ${orgId} in your part of the union tree`, { orgId });
  return orgId;
}
