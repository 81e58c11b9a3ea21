import { createHash } from 'node:crypto';
import type { EventStore } from '../../eventstore/event-store';
import {
  checkNationalId,
  checkPhone,
  decideJoin,
  evolveJoin,
  initialJoinState,
  joinStream,
  type JoinEvent,
  type JoinState,
  type MemberState,
  type UnitFacts,
} from '../../domain/members';
import { ORG_ID } from '../../domain/orgs';
import { DomainError } from '../../domain/shared';
import type { Database } from '../../infra/database';
import type { PiiVault } from '../../infra/pii';
import { LIFECYCLE_PAGE_MAX, membersOfUnit, pendingRequests, type MemberRequestRow } from '../../projections/members';
import { CommandHandler, type CommandMeta } from '../command-handler';
import type { MemberMover, OrgAccess, OrgService, Principal } from '../orgs';
import { enrolCommandId } from './member-import';
import type { MemberService } from './member-service';

/**
 * The member's lifecycle as admins and members drive it: transfers (requested by the member or
 * the sending unit's admin, decided by the receiving unit's admin), parking at the upper-level
 * union, leaving and reinstating, and online applications to join, which an approval turns into
 * an enrolment through the roster's path. Scope: an admin acts on members of their subtree; a
 * member or application outside it is not found (404), like one that does not exist. A transfer
 * is decided by admins of the receiving unit's subtree, whoever's subtree the member is in now.
 */

export interface MemberLifecycleDeps {
  store: EventStore;
  db: Database;
  members: MemberService;
  orgs: Pick<OrgService, 'readOrg'>;
  access: Pick<OrgAccess, 'isWithin'>;
  vault: () => PiiVault;
  clock?: () => Date;
}

export interface JoinApplicationInput {
  orgId: string;
  name: string;
  nationalId: string;
  phone: string;
}

/** Members moved by a merge at once (each its own command on its own stream). */
const MERGE_CONCURRENCY = 8;
/** A merge moves at most this many members in one request; a larger unit is merged by an operator in parts. */
export const MERGE_MEMBERS_MAX = 50_000;

/** A short id for a record a command creates, the same for every retry of that command. */
function idFrom(meta: CommandMeta, kind: string): string {
  return `${kind}-${createHash('sha256').update(meta.commandId, 'utf8').digest('hex').slice(0, 24)}`;
}

/** Requests declined when their unit closes, at most, of each kind (transfers, applications). */
const DECLINE_ON_CLOSE_MAX = 50_000;
/** A request decided (or withdrawn) before the close's decline reached it. */
const ALREADY_DECIDED = /^(TRANSFER\.NOT_PENDING|JOIN\.ALREADY_[A-Z]+)$/;

/** The events that end a pending transfer, by which a retried decision is found. */
const DECISIONS = new Set(['MemberTransferred', 'MemberTransferDeclined', 'MemberTransferWithdrawn']);

function notFound(): DomainError {
  return new DomainError('MEMBER.NOT_FOUND', 'no such member', 404);
}

export class MemberLifecycle implements MemberMover {
  private readonly joins: CommandHandler<JoinState, JoinEvent>;

  constructor(private readonly deps: MemberLifecycleDeps) {
    this.joins = new CommandHandler(
      deps.store,
      { name: 'join application', initialState: initialJoinState, evolve: evolveJoin },
      { cacheEntries: 10_000, ...(deps.clock ? { clock: deps.clock } : {}) },
    );
  }

  private async unit(orgId: string): Promise<UnitFacts & { level: string | null }> {
    const state = ORG_ID.test(orgId) ? await this.deps.orgs.readOrg(orgId) : undefined;
    return { orgId, registered: state?.registered ?? false, closed: state?.closed ?? false, level: state?.level ?? null };
  }

  /** The member, when the admin's subtree holds their union; MEMBER.NOT_FOUND otherwise. */
  private async memberInScope(caller: Principal, memberId: string): Promise<MemberState> {
    if (!ORG_ID.test(memberId)) throw notFound();
    const { state } = await this.deps.members.load(memberId);
    if (state.status === 'none') throw notFound();
    if (caller.role === 'member' ? caller.sub !== memberId : !(await this.deps.access.isWithin(state.orgId, caller.org))) throw notFound();
    return state;
  }

  /** Units a member can be transferred into: grassroots unions (parking is the one way up). */
  private async receivingUnit(toOrgId: string): Promise<UnitFacts> {
    const unit = await this.unit(toOrgId);
    if (unit.registered && unit.level !== 'grassroots') {
      throw new DomainError('TRANSFER.NOT_GRASSROOTS', `members are transferred to a grassroots union; ${toOrgId} is a ${unit.level}`, 422);
    }
    return unit;
  }

  /** A transfer asked by the member (`caller` a member, of themselves) or by an admin of the member's union. */
  async requestTransfer(caller: Principal, memberId: string, toOrgId: string, meta: CommandMeta) {
    await this.memberInScope(caller, memberId);
    const to = await this.receivingUnit(toOrgId);
    const transferId = idFrom(meta, 'tr');
    const result = await this.deps.members.execute(
      memberId,
      { type: 'RequestTransfer', transferId, to, adminId: caller.role === 'member' ? null : caller.sub },
      meta,
    );
    return { transferId: result.state.pendingTransfer?.transferId ?? transferId, memberId, fromOrgId: result.state.orgId, toOrgId, status: 'pending' as const };
  }

  /** The pending transfer's receiving unit, when it lies in the admin's subtree; TRANSFER.NOT_FOUND otherwise. */
  private async pendingInScope(caller: Principal, memberId: string, transferId: string): Promise<{ state: MemberState; toOrgId: string }> {
    const { state } = ORG_ID.test(memberId) ? await this.deps.members.load(memberId) : { state: null };
    const pending = state?.pendingTransfer;
    if (!state || !pending || pending.transferId !== transferId || !(await this.deps.access.isWithin(pending.toOrgId, caller.org))) {
      throw new DomainError('TRANSFER.NOT_FOUND', 'no transfer of this member waits for your unit', 404, { transferId });
    }
    return { state, toOrgId: pending.toOrgId };
  }

  async acceptTransfer(caller: Principal, memberId: string, transferId: string, meta: CommandMeta) {
    const replay = await this.replayed(memberId, meta);
    if (replay) return replay;
    const { toOrgId } = await this.pendingInScope(caller, memberId, transferId);
    const result = await this.deps.members.execute(memberId, { type: 'AcceptTransfer', transferId, to: await this.unit(toOrgId), adminId: caller.sub }, meta);
    return { transferId, memberId, orgId: result.state.orgId, status: 'accepted' as const };
  }

  async declineTransfer(caller: Principal, memberId: string, transferId: string, reason: string, meta: CommandMeta) {
    const replay = await this.replayed(memberId, meta);
    if (replay) return replay;
    await this.pendingInScope(caller, memberId, transferId);
    const result = await this.deps.members.execute(memberId, { type: 'DeclineTransfer', transferId, adminId: caller.sub, reason }, meta);
    return { transferId, memberId, orgId: result.state.orgId, status: 'declined' as const };
  }

  /**
   * The member, or an admin of the member's union (the requesting side), takes back a transfer
   * still waiting for the receiving unit (TRANSFER.NOT_PENDING once it was decided).
   */
  async withdrawTransfer(caller: Principal, memberId: string, transferId: string, meta: CommandMeta) {
    const replay = await this.replayed(memberId, meta);
    if (replay) return replay;
    await this.memberInScope(caller, memberId);
    const result = await this.deps.members.execute(memberId, { type: 'WithdrawTransfer', transferId, adminId: caller.role === 'member' ? null : caller.sub }, meta);
    return { transferId, memberId, orgId: result.state.orgId, status: 'withdrawn' as const };
  }

  /**
   * A retried accept, decline or withdrawal (same command id) is answered from the member's
   * stream: after the first one the transfer no longer waits, so the checks would refuse it.
   */
  private async replayed(memberId: string, meta: CommandMeta): Promise<{ transferId: string; memberId: string; orgId: string; status: 'accepted' | 'declined' | 'withdrawn' } | null> {
    if (!ORG_ID.test(memberId)) return null;
    const events = await this.deps.store.readStream(`member-${memberId}`, { direction: 'backwards', maxCount: 64 });
    const done = events.find((event) => event.metadata.commandId === meta.commandId && DECISIONS.has(event.type));
    if (!done) return null;
    const data = done.data as { transferId: string; toOrgId: string; fromOrgId: string };
    if (done.type === 'MemberTransferred') return { transferId: data.transferId, memberId, orgId: data.toOrgId, status: 'accepted' };
    return { transferId: data.transferId, memberId, orgId: data.fromOrgId, status: done.type === 'MemberTransferDeclined' ? 'declined' : 'withdrawn' };
  }

  /** The member left their job: parked at the upper-level union of their unit until a new unit takes them in. */
  async park(caller: Principal, memberId: string, reason: string, meta: CommandMeta) {
    const state = await this.memberInScope(caller, memberId);
    const unit = await this.deps.orgs.readOrg(state.orgId);
    if (unit.parentId === null) throw new DomainError('MEMBER.PARK_INVALID', 'the member belongs to a root organisation: there is no upper-level union', 422);
    const target = state.parkedFrom !== null ? state.orgId : unit.parentId;
    const result = await this.deps.members.execute(memberId, { type: 'ParkMember', to: await this.unit(target), adminId: caller.sub, reason }, meta);
    return { memberId, orgId: result.state.orgId, parkedFrom: result.state.parkedFrom };
  }

  async leave(caller: Principal, memberId: string, reason: string, meta: CommandMeta) {
    await this.memberInScope(caller, memberId);
    const result = await this.deps.members.execute(memberId, { type: 'LeaveUnion', adminId: caller.sub, reason }, meta);
    return { memberId, orgId: result.state.orgId, left: result.state.left };
  }

  async reinstate(caller: Principal, memberId: string, reason: string, meta: CommandMeta) {
    await this.memberInScope(caller, memberId);
    const result = await this.deps.members.execute(memberId, { type: 'ReinstateMember', adminId: caller.sub, reason }, meta);
    return { memberId, orgId: result.state.orgId, left: result.state.left };
  }

  /** MemberMover: the members whose union is `fromOrgId` (the members read model, page by page) go to `intoOrgId`. */
  async transferAll(fromOrgId: string, intoOrgId: string, adminId: string, meta: CommandMeta): Promise<number> {
    const to = await this.unit(intoOrgId);
    const transferId = idFrom(meta, 'merge');
    let moved = 0;
    let after: string | null = null;
    for (let page = 0; page * LIFECYCLE_PAGE_MAX < MERGE_MEMBERS_MAX; page += 1) {
      const { rows, next } = await membersOfUnit(this.deps.db, fromOrgId, { afterMemberId: after, limit: LIFECYCLE_PAGE_MAX });
      for (let index = 0; index < rows.length; index += MERGE_CONCURRENCY) {
        const results = await Promise.all(
          rows.slice(index, index + MERGE_CONCURRENCY).map((row) =>
            this.deps.members.execute(row.memberId, { type: 'TransferByMerge', transferId, to, adminId }, { ...meta, commandId: `${meta.commandId}:${row.memberId}` }),
          ),
        );
        moved += results.filter((result) => result.events.length > 0 && !result.replayed).length;
      }
      if (next === null) return moved;
      after = next;
    }
    throw new DomainError('ORG.MERGE_TOO_LARGE', `a merge moves at most ${MERGE_MEMBERS_MAX} members in one request`, 422);
  }

  /**
   * MemberMover: the transfers and applications still waiting for a unit that has just closed or
   * merged away are declined (by the admin who closed it, with `reason`), each a command of its
   * own with an id from this command's, so a retry declines nothing twice: nobody waits on a unit
   * that will never decide. At most DECLINE_ON_CLOSE_MAX of each; returns how many were declined.
   */
  async declineAllInto(orgId: string, adminId: string, reason: string, meta: CommandMeta): Promise<number> {
    let declined = 0;
    for (const kind of ['transfer', 'join'] as const) {
      let after: bigint | null = null;
      for (let page = 0; page * LIFECYCLE_PAGE_MAX < DECLINE_ON_CLOSE_MAX; page += 1) {
        const { rows, next } = await pendingRequests(this.deps.db, { kind, orgId, direction: 'incoming', after, limit: LIFECYCLE_PAGE_MAX });
        for (const row of rows) {
          const decline = { ...meta, commandId: `${meta.commandId}:decline:${row.requestId}` };
          try {
            const result =
              kind === 'transfer'
                ? await this.deps.members.execute(row.memberId, { type: 'DeclineTransfer', transferId: row.requestId, adminId, reason }, decline)
                : await this.joins.handle(joinStream(row.requestId), (state) => decideJoin(state, { type: 'DeclineJoin', adminId, reason }), decline);
            if (result.events.length > 0 && !result.replayed) declined += 1;
          } catch (error) {
            // Decided or withdrawn since the read model saw it: nothing left to decline.
            if (!(error instanceof DomainError && ALREADY_DECIDED.test(error.code))) throw error;
          }
        }
        if (next === null) break;
        after = BigInt(next);
      }
    }
    return declined;
  }

  // ---------------------------------------------------------------- joining online

  /** An application to join `orgId` (a grassroots union), by a visitor: the details sealed in the vault under the member id they would get. */
  async applyToJoin(caller: Principal, input: JoinApplicationInput, meta: CommandMeta) {
    const id = checkNationalId(input.nationalId, this.deps.clock?.() ?? new Date());
    if (!id.ok) throw new DomainError(id.code, id.message, 400);
    const phone = checkPhone(input.phone);
    if (!phone.ok) throw new DomainError(phone.code, phone.message, 400);
    const unit = await this.unit(input.orgId);
    if (unit.registered && unit.level !== 'grassroots') throw new DomainError('JOIN.NOT_GRASSROOTS', `members join a grassroots union; ${input.orgId} is a ${unit.level}`, 422);
    const vault = this.deps.vault();
    const idHmac = vault.idHmac(id.value);
    const memberId = vault.memberIdFor(idHmac);
    const applicationId = idFrom(meta, 'join');
    const alreadyMember = (await this.deps.members.load(memberId)).state.status !== 'none';
    const existing = (await this.joins.load(joinStream(applicationId))).state;
    // A retry keeps the first sealed copy; a new application seals once.
    const piiCipher = existing.status !== 'none' ? existing.piiCipher : await vault.seal(memberId, { idNumber: id.value, phone: phone.value });
    const result = await this.joins.handle(
      joinStream(applicationId),
      (state) =>
        decideJoin(state, { type: 'ApplyToJoin', applicationId, unit, memberId, name: input.name, idHmac, piiCipher, applicantId: caller.sub, alreadyMember }),
      meta,
    );
    return { applicationId, orgId: result.state.orgId, status: result.state.status };
  }

  private async joinInScope(caller: Principal, applicationId: string): Promise<JoinState> {
    const state = /^join-[0-9a-f]{24}$/.test(applicationId) ? (await this.joins.load(joinStream(applicationId))).state : initialJoinState;
    if (state.status === 'none' || !(await this.deps.access.isWithin(state.orgId, caller.org))) {
      throw new DomainError('JOIN.NOT_FOUND', 'no such application in your part of the union tree', 404, { applicationId });
    }
    return state;
  }

  /**
   * Approves an application, then enrols the member through the roster's path (EnrolMember with the
   * command id a roster import of the same row would use, so importing them later changes
   * nothing). A retry after a crash between the two finishes the enrolment.
   */
  async approveJoin(caller: Principal, applicationId: string, meta: CommandMeta) {
    const application = await this.joinInScope(caller, applicationId);
    const unit = await this.unit(application.orgId);
    const alreadyMember = application.status === 'pending' && (await this.deps.members.load(application.memberId)).state.status !== 'none';
    const result = await this.joins.handle(joinStream(applicationId), (state) => decideJoin(state, { type: 'ApproveJoin', unit, adminId: caller.sub, alreadyMember }), meta);
    const { memberId, orgId, name, idHmac, piiCipher } = result.state;
    await this.deps.members.execute(
      memberId,
      { type: 'EnrolMember', memberId, orgId, name, idHmac, piiCipher },
      { commandId: enrolCommandId(idHmac, orgId, name), actor: meta.actor, ...(meta.correlationId ? { correlationId: meta.correlationId } : {}) },
    );
    return { applicationId, memberId, orgId, status: result.state.status };
  }

  async declineJoin(caller: Principal, applicationId: string, reason: string, meta: CommandMeta) {
    await this.joinInScope(caller, applicationId);
    const result = await this.joins.handle(joinStream(applicationId), (state) => decideJoin(state, { type: 'DeclineJoin', adminId: caller.sub, reason }), meta);
    return { applicationId, orgId: result.state.orgId, status: result.state.status };
  }

  // ---------------------------------------------------------------- the approvals inbox

  /** A unit's pending transfers or applications (keyset pages in feed order), for an admin of its subtree. */
  async pending(
    caller: Principal,
    options: { kind: 'transfer' | 'join'; orgId: string; direction: 'incoming' | 'outgoing'; after: bigint | null; limit: number },
  ): Promise<{ rows: MemberRequestRow[]; next: string | null }> {
    await this.requireUnitInScope(caller, options.orgId);
    return pendingRequests(this.deps.db, { ...options, limit: Math.min(options.limit, LIFECYCLE_PAGE_MAX) });
  }

  async unitMembers(caller: Principal, orgId: string, options: { afterMemberId: string | null; limit: number }) {
    await this.requireUnitInScope(caller, orgId);
    return membersOfUnit(this.deps.db, orgId, options);
  }

  private async requireUnitInScope(caller: Principal, orgId: string): Promise<void> {
    const inScope = ORG_ID.test(orgId) && (caller.role === 'auditor' ? (await this.deps.orgs.readOrg(orgId)).registered : await this.deps.access.isWithin(orgId, caller.org));
    if (!inScope) throw new DomainError('ORG.NOT_FOUND', `no organisation ${orgId}`, 404);
  }
}
