import { checkMergeTarget, ORG_ID, type OrgState } from '../../domain/orgs';
import { DomainError } from '../../domain/shared';
import type { Database } from '../../infra/database';
import { openChildCount, orgSummary, type OrgSummary } from '../../projections/orgs';
import { unitMemberCount } from '../../projections/members';
import type { CommandMeta } from '../command-handler';
import type { OrgAccess, Principal } from './org-access';
import type { OrgService } from './org-service';

/**
 * Changes to the union tree by admins: rename, move (with the subtree), merge, close. An admin
 * changes only organisations of their own subtree; anything outside it is not found (404), as
 * if it did not exist. Moving, merging and closing are for the units below the admin's own.
 */

/** The members context's part of a merge, handed in by the composition root (the members context depends on this one, not the reverse). */
export interface MemberMover {
  /** Transfers every member whose union is `fromOrgId` to `intoOrgId` (MemberTransferred, reason 'merge'); returns how many moved. */
  transferAll(fromOrgId: string, intoOrgId: string, adminId: string, meta: CommandMeta): Promise<number>;
  /** Declines every transfer and application still waiting for `orgId` (it closed or merged away); returns how many. */
  declineAllInto(orgId: string, adminId: string, reason: string, meta: CommandMeta): Promise<number>;
}

export interface OrgChangesDeps {
  orgs: OrgService;
  access: OrgAccess;
  db: Database;
  members: MemberMover;
  /** Brings the orgs and members read models up to the end of the log (counts are read from them). */
  settle(): Promise<void>;
  /** Forgets cached paths in this process after a move (OrgAccess, OrgDirectory); other processes see the tree version change. */
  onTreeChanged(): void;
}

/** Rounds of transferring and counting again before a merge gives up on a unit that keeps getting members. */
const MERGE_ROUNDS = 3;

export class OrgChanges {
  constructor(private readonly deps: OrgChangesDeps) {}

  /** The organisation as an admin of its subtree sees it; ORG.NOT_FOUND (404) outside the caller's subtree. */
  async requireInScope(caller: Principal, orgId: string, options: { below?: boolean } = {}): Promise<OrgState> {
    if (caller.role !== 'admin' && caller.role !== 'auditor' && caller.role !== 'finance') throw new DomainError('ORG.NOT_FOUND', `no organisation ${orgId}`, 404);
    const path = ORG_ID.test(orgId) ? await this.deps.access.pathOf(orgId) : null;
    if (!path || (caller.role !== 'auditor' && !path.includes(caller.org))) throw new DomainError('ORG.NOT_FOUND', `no organisation ${orgId}`, 404);
    if (options.below && orgId === caller.org) {
      throw new DomainError('ORG.FORBIDDEN', 'an admin moves, merges and closes the organisations below their own; ask an admin above', 403);
    }
    return this.deps.orgs.readOrg(orgId);
  }

  async summary(caller: Principal, orgId: string): Promise<OrgSummary> {
    await this.requireInScope(caller, orgId);
    const summary = await orgSummary(this.deps.db, orgId);
    // Registered in its stream but not projected yet: the read model answers in a moment.
    if (!summary) throw new DomainError('ORG.NOT_FOUND', `no organisation ${orgId}`, 404);
    return summary;
  }

  async rename(caller: Principal, orgId: string, name: string, meta: CommandMeta): Promise<OrgState> {
    await this.requireInScope(caller, orgId);
    return (await this.deps.orgs.change(orgId, { type: 'RenameOrganisation', name, adminId: caller.sub }, {}, meta)).state;
  }

  async move(caller: Principal, orgId: string, toParentId: string, meta: CommandMeta): Promise<{ orgId: string; fromParentId: string | null; toParentId: string; moved: boolean }> {
    await this.requireInScope(caller, orgId, { below: true });
    const parentPath = ORG_ID.test(toParentId) ? await this.deps.access.pathOf(toParentId) : null;
    if (!parentPath?.includes(caller.org)) {
      throw new DomainError('ORG.PARENT_UNKNOWN', `parent organisation ${toParentId} does not exist in your part of the union tree`, 422, { parentId: toParentId });
    }
    const result = await this.deps.orgs.move(orgId, toParentId, caller.sub, meta);
    if (result.moved) this.deps.onTreeChanged();
    return { orgId, fromParentId: result.fromParentId, toParentId, moved: result.moved };
  }

  /**
   * Merges `orgId` into `intoOrgId`: every member of `orgId` is transferred (each a command of its
   * own, with an id from this command's, so a retry moves nobody twice), then the organisation
   * records the merge and closes, refused (ORG.HAS_MEMBERS) if members arrived meanwhile; last,
   * the transfers and applications still waiting for it are declined (they may ask `intoOrgId`).
   */
  async merge(caller: Principal, orgId: string, intoOrgId: string, meta: CommandMeta): Promise<{ orgId: string; intoOrgId: string; transferred: number; declined: number }> {
    const state = await this.requireInScope(caller, orgId, { below: true });
    const declineWaiting = (): Promise<number> => this.deps.members.declineAllInto(orgId, caller.sub, `接收单位已并入 ${intoOrgId}`, meta);
    // A retry of a finished merge: it finishes the declines a crash may have interrupted.
    if (state.mergedInto === intoOrgId) return { orgId, intoOrgId, transferred: 0, declined: await declineWaiting() };
    if (state.closed) throw new DomainError('ORG.CLOSED', `organisation ${orgId} is closed`, 409);
    if (intoOrgId === orgId) throw new DomainError('ORG.MERGE_INVALID', 'an organisation cannot be merged into itself', 422);
    const intoPath = ORG_ID.test(intoOrgId) ? await this.deps.access.pathOf(intoOrgId) : null;
    const into = intoPath?.includes(caller.org) ? await this.deps.orgs.readOrg(intoOrgId) : undefined;
    checkMergeTarget(state, intoOrgId, into);
    await this.deps.settle();
    const childCount = await openChildCount(this.deps.db, orgId);
    if (childCount > 0) throw new DomainError('ORG.HAS_CHILDREN', `organisation ${orgId} still has ${childCount} organisations under it: move or close them first`, 409, { childCount });
    let transferred = 0;
    let memberCount = 0;
    for (let round = 0; round < MERGE_ROUNDS; round += 1) {
      transferred += await this.deps.members.transferAll(orgId, intoOrgId, caller.sub, meta);
      await this.deps.settle();
      memberCount = await unitMemberCount(this.deps.db, orgId);
      if (memberCount === 0) break;
    }
    await this.deps.orgs.change(orgId, { type: 'MergeOrganisation', intoOrgId, adminId: caller.sub }, { other: into!, memberCount, childCount }, meta);
    return { orgId, intoOrgId, transferred, declined: await declineWaiting() };
  }

  /**
   * Closes a unit with no member and no open organisation under it (ORG.HAS_MEMBERS,
   * ORG.HAS_CHILDREN otherwise); then the transfers and applications still waiting for it are
   * declined, as nothing can be accepted into a closed unit (a retry finishes what a crash left).
   */
  async close(caller: Principal, orgId: string, reason: string, meta: CommandMeta): Promise<OrgState> {
    await this.requireInScope(caller, orgId, { below: true });
    await this.deps.settle();
    const [memberCount, childCount] = [await unitMemberCount(this.deps.db, orgId), await openChildCount(this.deps.db, orgId)];
    const { state } = await this.deps.orgs.change(orgId, { type: 'CloseOrganisation', reason, adminId: caller.sub }, { memberCount, childCount }, meta);
    await this.deps.members.declineAllInto(orgId, caller.sub, '接收单位已注销', meta);
    return state;
  }
}
