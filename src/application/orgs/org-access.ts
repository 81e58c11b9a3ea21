import { DomainError } from '../../domain/shared';
import type { Role } from '../identity';
import type { OrgDirectory } from '../../projections/orgs';

export interface Principal {
  sub: string;
  role: Role;
  org: string;
}

/**
 * Who may see which part of the union tree: a member sees their own units (their grassroots union
 * and its ancestors), an admin their subtree, an auditor everything.
 */
export class OrgAccess {
  constructor(private readonly directory: OrgDirectory) {}

  async assertCanView(principal: Principal, orgId: string): Promise<void> {
    const path = await this.directory.pathOf(orgId);
    if (!path) throw new DomainError('ORG.NOT_FOUND', `no organisation ${orgId}`, 404);
    if (principal.role === 'auditor') return;
    if ((principal.role === 'admin' || principal.role === 'finance') && path.includes(principal.org)) return;
    if (principal.role === 'member') {
      const own = await this.directory.pathOf(principal.org);
      if (own?.includes(orgId)) return;
    }
    throw new DomainError('ORG.FORBIDDEN', `organisation ${orgId} is outside your part of the union tree`, 403);
  }

  /** True for an admin of a root organisation (a province), who may change ledger-wide settings. */
  async isRootAdmin(principal: Principal): Promise<boolean> {
    if (principal.role !== 'admin') return false;
    const path = await this.directory.pathOf(principal.org);
    return path !== null && path.length === 1;
  }
}
