import { DomainError } from '../../domain/shared';
import type { Role } from '../identity';
import { VersionedCache } from '../../infra/versioned-cache';
import type { OrgService } from './org-service';

export interface Principal {
  sub: string;
  role: Role;
  org: string;
}

/** Levels of the union tree are four (province to grassroots); this bounds a walk up a corrupt tree. */
const MAX_TREE_DEPTH = 16;
const PATH_CACHE_ENTRIES = 100_000;

/**
 * Who may see which part of the union tree: a member sees their own units (their grassroots union
 * and its ancestors), an admin their subtree, an auditor everything.
 *
 * Every decision reads the organisation streams (through OrgService, so the event store), never
 * the orgs read model: an authorisation must not depend on how far a projection has caught up
 * (a root admin's first upload, right after the root was registered, was refused for a second
 * or two). Paths are cached; an unknown organisation is not, and is asked again next time. A
 * path changes when the org or an ancestor moves, maybe in another process: the cache holds only
 * while the tree's version (the revision of the tree stream every move is decided on,
 * OrgService.treeVersion) is the one it was filled at. That check is one read of one event,
 * shared by concurrent calls and by the calls of `validityMs` (0: every call checks; the service
 * uses ORG_TREE_CHECK_MS, so another process's move is seen within that long).
 */
export class OrgAccess {
  private readonly paths: VersionedCache<readonly string[]>;

  constructor(
    private readonly orgs: Pick<OrgService, 'readOrg' | 'treeVersion'>,
    validityMs = 0,
  ) {
    this.paths = new VersionedCache(() => orgs.treeVersion(), PATH_CACHE_ENTRIES, validityMs);
  }

  /** Forgets every cached path (this process just moved an organisation). */
  invalidate(): void {
    this.paths.invalidate();
  }

  /** The org's ancestors from the root down, ending with the org; null when it is not registered. */
  async pathOf(orgId: string): Promise<readonly string[] | null> {
    await this.paths.check();
    const climbed: string[] = [];
    let above: readonly string[] = [];
    let current: string | null = orgId;
    for (let depth = 0; current !== null; depth += 1) {
      const cached = this.paths.get(current);
      if (cached) {
        above = cached;
        break;
      }
      if (depth >= MAX_TREE_DEPTH) throw new Error(`invariant violated: organisation ${orgId} is more than ${MAX_TREE_DEPTH} levels deep`);
      const state = await this.orgs.readOrg(current);
      if (!state.registered) return null;
      climbed.push(current);
      current = state.parentId;
    }
    // Every organisation climbed through gets its path cached: a parent's path is a prefix of its child's.
    let path = above;
    for (const id of climbed.reverse()) {
      path = [...path, id];
      this.paths.set(id, path);
    }
    return path;
  }

  /** True when `orgId` is `ancestorId` or lies below it. */
  async isWithin(orgId: string, ancestorId: string): Promise<boolean> {
    return (await this.pathOf(orgId))?.includes(ancestorId) ?? false;
  }

  async assertCanView(principal: Principal, orgId: string): Promise<void> {
    const path = await this.pathOf(orgId);
    if (!path) throw new DomainError('ORG.NOT_FOUND', `no organisation ${orgId}`, 404);
    if (principal.role === 'auditor') return;
    if ((principal.role === 'admin' || principal.role === 'finance') && path.includes(principal.org)) return;
    if (principal.role === 'member') {
      const own = await this.pathOf(principal.org);
      if (own?.includes(orgId)) return;
    }
    throw new DomainError('ORG.FORBIDDEN', `organisation ${orgId} is outside your part of the union tree`, 403);
  }

  /** True for an admin of a root organisation (a province), who may change ledger-wide settings. */
  async isRootAdmin(principal: Principal): Promise<boolean> {
    if (principal.role !== 'admin') return false;
    const path = await this.pathOf(principal.org);
    return path !== null && path.length === 1;
  }
}
