import { randomInt } from 'node:crypto';
import {
  BATCH_CHUNK,
  BENEFIT_ID,
  MAX_BATCH_MEMBERS,
  admitMerchant,
  allocateBudget,
  applyMerchant,
  approveBatch,
  approveProposal,
  batchStream,
  bindCard,
  cancelBatch,
  closeProgramme,
  draftBatch,
  dueWallet,
  evolveWallet,
  fundBudget,
  listItems,
  makeProposal,
  maskBankCard,
  merchantLine,
  merchantStream,
  normaliseBankCard,
  openProgramme,
  programmeStream,
  proposalStream,
  recordOutcome,
  reinstateMerchant,
  rejectProposal,
  requireAcceptsPayments,
  returnBudget,
  returnVoucherValue,
  sealBatch,
  settleDay,
  suspendMerchant,
  walletStream,
  authorisePayment,
  capturePayment,
  voidPayment,
  refundPayment,
  type Actor,
  type BatchItem,
  type BatchKind,
  type FundSource,
  type ProposalAction,
  type ProposalKind,
  type ProposalOutcome,
  type ProposalState,
  type VoucherTerms,
  type WalletEvent,
  type WalletState,
} from '../../domain/benefits';
import { DomainError, periodsOf, previousDay, splitFen } from '../../domain/shared';
import type { EventStore } from '../../eventstore/event-store';
import type { Database, Queryable } from '../../infra/database';
import type { PiiVault } from '../../infra/pii';
import {
  activeMembersOfUnit,
  batchResults,
  expiredAuthorisationHolders,
  expiredVoucherHolders,
  merchantLines,
  merchantPayments,
  merchantsOf,
  merchantsWithUnsettledLines,
  programmesToClose,
  pendingVoucherExpiries,
  proposalsInbox,
  settlementsOf,
  walletStatement,
} from '../../projections/benefits';
import { subtreeOrgIds } from '../../projections/orgs';
import { membersByIds } from '../../projections/members';
import type { Alongside, CommandMeta, CommandResult } from '../command-handler';
import { deterministicEventId } from '../event-ids';
import type { Role } from '../identity';
import type { OrgAccess, OrgService } from '../orgs';
import { BatchRunner } from './batch-runner';
import { BenefitHandlers } from './handlers';

/**
 * The benefits context's use cases. Every admin action is scoped to the caller's part of the
 * union tree; money moved by an admin's decision goes through a proposal that a finance approver
 * of the same or a higher union approves (the proposer never); an approved proposal is carried
 * out here and its outcome recorded on the proposal. Decisions are the domain's pure functions;
 * this layer reads what they need (the union tree, the read models for lists) and appends.
 */

export interface BenefitsSettings {
  /** Returns up the tree above this amount need a second person's approval (default ¥10,000.00). */
  approvalThresholdFen: number;
  /** How long a merchant's authorisation holds the money before it is voided (default 15 minutes). */
  authorisationTtlMs: number;
  /** How long a member's payment code can be used (default 60 seconds). */
  paymentCodeTtlMs: number;
  /** How long a proposal waits for a decision (default 7 days). */
  proposalTtlMs: number;
}

export const DEFAULT_BENEFITS_SETTINGS: BenefitsSettings = {
  approvalThresholdFen: 1_000_000,
  authorisationTtlMs: 15 * 60 * 1000,
  paymentCodeTtlMs: 60 * 1000,
  proposalTtlMs: 7 * 24 * 60 * 60 * 1000,
};

/** Who is asking: the verified token's subject, role and organisation (a merchant terminal's is its merchant). */
export interface Caller {
  sub: string;
  role: Role;
  org: string;
}

export interface BenefitsDeps {
  store: EventStore;
  db: Database;
  /** Where the list and statement queries read (a replica for HTTP reads, UnionLedger.reads); default `db`. */
  reads?: () => Queryable;
  vault: () => PiiVault;
  orgs: Pick<OrgService, 'readOrg'>;
  orgAccess: OrgAccess;
  settings?: Partial<BenefitsSettings>;
  clock?: () => Date;
  walletCacheEntries?: number;
  /** A background task (a batch run, a sweep) failed; it is retried by the next sweep. */
  onBackgroundError?(task: string, error: unknown): void;
}

/** Live payment codes a member may hold at once. */
const MAX_LIVE_CODES = 5;
/** Digits of a payment code (like WeChat Pay's 18-digit codes, read by the same scanners). */
const CODE_DIGITS = 18;
/** Items the sweeps take per round: bounded work per tick. */
const SWEEP_LIMIT = 500;
/** A CSV batch or a unit's listing may name at most this many members (a batch's own limit is enforced by the domain). */
const LIST_PAGE = BATCH_CHUNK;

const actorOf = (caller: Caller): Actor => ({ id: caller.sub, role: caller.role, orgId: caller.org });
const metaOf = (caller: Caller, key: string): CommandMeta => ({ commandId: `${caller.sub}:${key}`, actor: { type: caller.role, id: caller.sub } });
const SYSTEM_META = (commandId: string): CommandMeta => ({ commandId, actor: { type: 'system', id: 'benefits' } });

export interface ProposalView {
  proposalId: string;
  kind: ProposalKind;
  status: ProposalState['status'];
  orgId: string;
  amountFen: number | null;
  action: ProposalAction;
  proposedBy: Actor | null;
  approvedBy: Actor | null;
  expiresAtMs: number;
  outcome: ProposalOutcome | null;
}

const viewOf = (state: ProposalState): ProposalView => ({
  proposalId: state.proposalId,
  kind: state.kind!,
  status: state.status,
  orgId: state.orgId,
  amountFen: state.amountFen,
  action: state.action,
  proposedBy: state.proposedBy,
  approvedBy: state.approvedBy,
  expiresAtMs: state.expiresAtMs,
  outcome: state.outcome,
});

export class Benefits {
  readonly handlers: BenefitHandlers;
  readonly runner: BatchRunner;
  readonly settings: BenefitsSettings;
  private readonly clock: () => Date;
  private sweeper: NodeJS.Timeout | undefined;
  private stopSweeper: (() => Promise<void>) | undefined;

  constructor(private readonly deps: BenefitsDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.settings = { ...DEFAULT_BENEFITS_SETTINGS, ...deps.settings };
    this.handlers = new BenefitHandlers(deps.store, {
      ...(deps.clock ? { clock: deps.clock } : {}),
      ...(deps.walletCacheEntries ? { walletCacheEntries: deps.walletCacheEntries } : {}),
    });
    this.runner = new BatchRunner(deps.store, this.handlers, this.clock);
  }

  // ------------------------------------------------------------ scope

  /** An admin of `orgId` or of a union above it; anyone else is refused (403 ORG.FORBIDDEN, 404 for an unknown union). */
  private async requireAdminOver(caller: Caller, orgId: string, roles: readonly Role[] = ['admin']): Promise<void> {
    if (!roles.includes(caller.role)) throw new DomainError('AUTH.FORBIDDEN', `this needs the role ${roles.join(' or ')}`, 403);
    await this.deps.orgAccess.assertCanView(caller, orgId);
  }

  private async covers(caller: Caller, orgId: string): Promise<boolean> {
    return this.deps.orgAccess.isWithin(orgId, caller.org);
  }

  // ------------------------------------------------------------ programmes and budgets

  async openProgramme(caller: Caller, command: { programmeId: string; name: string; year: number; rootOrgId: string }, key: string) {
    checkId(command.programmeId, 'programme');
    await this.requireAdminOver(caller, command.rootOrgId);
    const result = await this.handlers.programmes.handle(
      programmeStream(command.programmeId),
      (state) => openProgramme(state, { ...command, openedBy: caller.sub }),
      metaOf(caller, key),
    );
    return result.state;
  }

  /** The programme, for a caller who sees its root or any union with a budget in it. */
  async readProgramme(caller: Caller, programmeId: string) {
    checkId(programmeId, 'programme');
    const { state } = await this.handlers.programmes.load(programmeStream(programmeId));
    if (state.status === 'none') throw new DomainError('PROGRAMME.NOT_FOUND', 'no such programme', 404, { programmeId });
    if (caller.role !== 'auditor' && !(await this.seesProgramme(caller, state.rootOrgId, [...state.budgets.keys()]))) {
      throw new DomainError('PROGRAMME.NOT_FOUND', 'no such programme', 404, { programmeId });
    }
    return state;
  }

  private async seesProgramme(caller: Caller, rootOrgId: string, budgetOrgs: readonly string[]): Promise<boolean> {
    if (caller.role !== 'admin' && caller.role !== 'finance') return false;
    if (await this.covers(caller, rootOrgId)) return true;
    for (const orgId of budgetOrgs) if (await this.covers(caller, orgId)) return true;
    return false;
  }

  /** The unions of the programme's tree the caller may see: their own subtree (everything for an auditor). */
  async visibleBudgetOrgs(caller: Caller, programmeId: string): Promise<string[] | null> {
    const state = await this.readProgramme(caller, programmeId);
    if (caller.role === 'auditor') return null;
    const visible: string[] = [];
    for (const orgId of state.budgets.keys()) if (await this.covers(caller, orgId)) visible.push(orgId);
    return visible;
  }

  async proposeFunding(caller: Caller, programmeId: string, command: { amountFen: number; source: FundSource; reference: string }, key: string) {
    const programme = await this.readProgramme(caller, programmeId);
    await this.requireAdminOver(caller, programme.rootOrgId);
    // Decided now on what is there (refused early if the programme is closed or the amount wrong); decided again on approval.
    fundBudget(programme, { ...command, proposalId: 'check' });
    return this.propose(caller, key, {
      kind: 'budget.fund',
      orgId: programme.rootOrgId,
      action: { programmeId, amountFen: command.amountFen, source: command.source, reference: command.reference },
      amountFen: command.amountFen,
      summary: `fund ${programme.name} (${programmeId}) at ${programme.rootOrgId} from ${command.source}`,
    });
  }

  async proposeAllocation(caller: Caller, programmeId: string, command: { fromOrgId: string; toOrgId: string; amountFen: number }, key: string) {
    const programme = await this.readProgramme(caller, programmeId);
    await this.requireAdminOver(caller, command.fromOrgId);
    const to = await this.deps.orgs.readOrg(command.toOrgId);
    if (!to.registered) throw new DomainError('ORG.NOT_FOUND', `no organisation ${command.toOrgId}`, 404);
    allocateBudget(programme, { ...command, toParentOrgId: to.parentId, proposalId: 'check' });
    return this.propose(caller, key, {
      kind: 'budget.allocate',
      orgId: command.fromOrgId,
      action: { programmeId, fromOrgId: command.fromOrgId, toOrgId: command.toOrgId, amountFen: command.amountFen },
      amountFen: command.amountFen,
      summary: `allocate from ${command.fromOrgId} to ${command.toOrgId} in ${programmeId}`,
    });
  }

  /** Unused money back up the tree: at once up to the threshold, through a proposal above it. */
  async returnBudget(caller: Caller, programmeId: string, command: { fromOrgId: string; amountFen: number }, key: string) {
    const programme = await this.readProgramme(caller, programmeId);
    await this.requireAdminOver(caller, command.fromOrgId);
    returnBudget(programme, { ...command, proposalId: null });
    if (command.amountFen > this.settings.approvalThresholdFen) {
      const proposal = await this.propose(caller, key, {
        kind: 'budget.return',
        orgId: command.fromOrgId,
        action: { programmeId, fromOrgId: command.fromOrgId, amountFen: command.amountFen },
        amountFen: command.amountFen,
        summary: `return from ${command.fromOrgId} in ${programmeId}`,
      });
      return { status: 'proposed' as const, proposal };
    }
    await this.handlers.programmes.handle(programmeStream(programmeId), (state) => returnBudget(state, { ...command, proposalId: null }), metaOf(caller, key));
    return { status: 'done' as const, proposal: null };
  }

  async closeProgramme(caller: Caller, programmeId: string, key: string) {
    const programme = await this.readProgramme(caller, programmeId);
    await this.requireAdminOver(caller, programme.rootOrgId);
    const result = await this.handlers.programmes.handle(programmeStream(programmeId), (state, now) => closeProgramme(state, { now }), metaOf(caller, key));
    return result.state;
  }

  /**
   * The year-end close, run by the system (the yearly schedule in src/workers/schedules) rather
   * than an admin: every open programme whose year is over, closed under a command id of its own
   * so a repeat is a replay. Returns how many it closed; bounded per call.
   */
  async closeEndedProgrammes(): Promise<number> {
    const currentYear = Number(periodsOf(this.clock()).year);
    let closed = 0;
    for (const programmeId of await programmesToClose(this.deps.db, currentYear, SWEEP_LIMIT)) {
      try {
        const result = await this.handlers.programmes.handle(programmeStream(programmeId), (state, now) => closeProgramme(state, { now }), SYSTEM_META(`year-end:${programmeId}`));
        closed += result.replayed ? 0 : 1;
      } catch (error) {
        // Closed meanwhile (by an admin, or the read model was behind): nothing left to do.
        if (error instanceof DomainError && error.code === 'PROGRAMME.CLOSED') continue;
        throw error;
      }
    }
    return closed;
  }

  // ------------------------------------------------------------ proposals

  private async propose(
    caller: Caller,
    key: string,
    proposal: { kind: ProposalKind; orgId: string; action: ProposalAction; amountFen: number | null; summary: string },
  ): Promise<ProposalView> {
    // The proposal's id comes from the caller and their key, so a retried request names the same proposal.
    const proposalId = deterministicEventId(`proposal:${caller.sub}:${key}`, 0);
    const result = await this.handlers.proposals.handle(
      proposalStream(proposalId),
      (state, now) => makeProposal(state, { proposalId, ...proposal, proposedBy: actorOf(caller), ttlMs: this.settings.proposalTtlMs }, now),
      // Its own command id: the same request may also write another stream (a batch, a merchant), and event ids derive from the command id.
      { ...metaOf(caller, key), commandId: `${metaOf(caller, key).commandId}:proposal` },
    );
    return viewOf(result.state);
  }

  async readProposal(caller: Caller, proposalId: string): Promise<ProposalView> {
    const { state } = await this.handlers.proposals.load(proposalStream(proposalId));
    if (state.status === 'none' || (caller.role !== 'auditor' && !(await this.covers(caller, state.orgId)))) {
      throw new DomainError('PROPOSAL.NOT_FOUND', 'no such proposal', 404, { proposalId });
    }
    return viewOf(state);
  }

  /** Approves (a finance approver of the same or a higher union, never the proposer) and carries the proposal out. */
  async approve(caller: Caller, proposalId: string, key: string): Promise<ProposalView> {
    const current = await this.readProposal(caller, proposalId);
    const covers = await this.covers(caller, current.orgId);
    await this.handlers.proposals.handle(proposalStream(proposalId), (state) => approveProposal(state, { approver: actorOf(caller), covers }), metaOf(caller, key));
    return this.execute(proposalId);
  }

  async reject(caller: Caller, proposalId: string, reason: string, key: string): Promise<ProposalView> {
    const current = await this.readProposal(caller, proposalId);
    const covers = await this.covers(caller, current.orgId);
    const result = await this.handlers.proposals.handle(
      proposalStream(proposalId),
      (state) => rejectProposal(state, { rejecter: actorOf(caller), covers, reason }),
      metaOf(caller, key),
    );
    await this.settleUnapproved(result.state);
    return viewOf(result.state);
  }

  /**
   * Carries out an approved proposal whose outcome is not recorded yet, and records it. Safe to
   * repeat (after a crash, from the sweep): each action takes effect once (the programme
   * remembers its proposals, a batch or a merchant moves on from the state the action needs).
   */
  async execute(proposalId: string): Promise<ProposalView> {
    const { state } = await this.handlers.proposals.load(proposalStream(proposalId));
    if (state.status !== 'approved' || state.outcome !== null) return viewOf(state);
    let outcome: ProposalOutcome;
    try {
      await this.carryOut(state);
      outcome = { status: 'done' };
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      outcome = { status: 'refused', code: error.code, message: error.message };
    }
    const result = await this.handlers.proposals.handle(proposalStream(proposalId), (current) => recordOutcome(current, outcome), SYSTEM_META(`proposal:${proposalId}:outcome`));
    if (state.kind === 'disbursement.batch' || state.kind === 'voucher.campaign') {
      if (outcome.status === 'done') this.startBatch(String(state.action['batchId']));
    }
    return viewOf(result.state);
  }

  private async carryOut(proposal: ProposalState): Promise<void> {
    const action = proposal.action;
    const meta = SYSTEM_META(`proposal:${proposal.proposalId}`);
    const proposalId = proposal.proposalId;
    const text = (name: string): string => String(action[name]);
    const amount = (): number => Number(action['amountFen']);
    switch (proposal.kind) {
      case 'budget.fund':
        await this.handlers.programmes.handle(
          programmeStream(text('programmeId')),
          (state) => fundBudget(state, { amountFen: amount(), source: text('source') as FundSource, reference: text('reference'), proposalId }),
          meta,
        );
        return;
      case 'budget.allocate': {
        const to = await this.deps.orgs.readOrg(text('toOrgId'));
        await this.handlers.programmes.handle(
          programmeStream(text('programmeId')),
          (state) => allocateBudget(state, { fromOrgId: text('fromOrgId'), toOrgId: text('toOrgId'), toParentOrgId: to.parentId, amountFen: amount(), proposalId }),
          meta,
        );
        return;
      }
      case 'budget.return':
        await this.handlers.programmes.handle(
          programmeStream(text('programmeId')),
          (state) => returnBudget(state, { fromOrgId: text('fromOrgId'), amountFen: amount(), proposalId }),
          meta,
        );
        return;
      case 'disbursement.batch':
      case 'voucher.campaign':
        await this.handlers.batches.handle(batchStream(text('batchId')), (state) => approveBatch(state, proposalId), meta);
        return;
      case 'merchant.admit':
        await this.handlers.merchants.handle(merchantStream(text('merchantId')), (state) => admitMerchant(state, proposalId), meta);
        return;
      case 'merchant.suspend':
        await this.handlers.merchants.handle(merchantStream(text('merchantId')), (state) => suspendMerchant(state, { reason: text('reason'), proposalId }), meta);
        return;
      case null:
        throw new Error('invariant violated: an approved proposal has a kind');
      default: {
        const unknown: never = proposal.kind;
        throw new Error(`unknown proposal kind ${String(unknown)}`);
      }
    }
  }

  /** A rejected or expired batch proposal cancels its batch, so the batch can never be paid. */
  private async settleUnapproved(proposal: ProposalState): Promise<void> {
    if ((proposal.status !== 'rejected' && proposal.status !== 'expired') || (proposal.kind !== 'disbursement.batch' && proposal.kind !== 'voucher.campaign')) return;
    await this.handlers.batches.handle(batchStream(String(proposal.action['batchId'])), (state) => cancelBatch(state, `proposal ${proposal.status}`), SYSTEM_META(`proposal:${proposal.proposalId}:cancel`));
  }

  // ------------------------------------------------------------ batches

  /**
   * Drafts a batch, lists its members, seals it and proposes it. Members come from `items` (a CSV
   * of member ids and amounts) or, when it is absent, are every active member of the union's
   * subtree, each paid `amountFen`. Every listed member must be an active member within the
   * union's subtree: a list with any other is refused whole, with the rows at fault.
   */
  async draftBatch(
    caller: Caller,
    command: {
      batchId: string;
      kind: BatchKind;
      programmeId: string;
      orgId: string;
      amountFen: number | null;
      /** A total shared equally by every active member of the union (splitFen: largest remainder, no fen lost). */
      totalFen?: number | null;
      items: BatchItem[] | null;
      voucher: VoucherTerms | null;
    },
    key: string,
  ) {
    checkId(command.batchId, 'batch');
    const programme = await this.readProgramme(caller, command.programmeId);
    await this.requireAdminOver(caller, command.orgId);
    if (!programme.budgets.has(command.orgId)) {
      throw new DomainError('BUDGET.NOT_FOUND', `the union ${command.orgId} has no budget in this programme`, 404, { orgId: command.orgId });
    }
    const meta = metaOf(caller, key);
    const stream = batchStream(command.batchId);
    await this.handlers.batches.handle(
      stream,
      (state) =>
        draftBatch(state, {
          batchId: command.batchId,
          kind: command.kind,
          programmeId: command.programmeId,
          orgId: command.orgId,
          source: command.items ? 'csv' : 'unit',
          voucher: command.voucher,
          draftedBy: caller.sub,
        }),
      meta,
    );
    let page = 0;
    const list = async (items: BatchItem[]) => {
      // Each page is its own command (its own id under the request's), so a retried request lists each page once.
      await this.handlers.batches.handle(stream, (state) => (state.chunks.length > page ? [] : listItems(state, items)), { ...meta, commandId: `${meta.commandId}:list:${page}` });
      page += 1;
    };
    if (command.items) {
      await this.checkListedMembers(command.orgId, command.items);
      for (let start = 0; start < command.items.length; start += LIST_PAGE) await list(command.items.slice(start, start + LIST_PAGE));
    } else if (command.kind === 'money' && command.totalFen) {
      // Every member is listed before the split, so the shares are known whole before the first page is recorded.
      const ids: string[] = [];
      for (let after: string | null = null; ids.length <= MAX_BATCH_MEMBERS; ) {
        const page = await activeMembersOfUnit(this.deps.db, command.orgId, { afterMemberId: after, limit: LIST_PAGE });
        ids.push(...page.items);
        after = page.nextCursor;
        if (after === null) break;
      }
      if (ids.length === 0) throw new DomainError('BATCH.EMPTY', 'the union has no active member', 422, { orgId: command.orgId });
      const shares = splitFen(command.totalFen, ids.map(() => 1));
      if (shares.some((share) => share < 1)) throw new DomainError('BATCH.TOTAL_TOO_SMALL', 'the total gives some members less than 0.01', 422, { members: ids.length });
      const items = ids.map((memberId, index) => ({ memberId, amountFen: shares[index]! }));
      for (let start = 0; start < items.length; start += LIST_PAGE) await list(items.slice(start, start + LIST_PAGE));
    } else {
      const amountFen = command.kind === 'vouchers' ? command.voucher!.faceFen : command.amountFen;
      if (amountFen === null) throw new DomainError('BATCH.AMOUNT_REQUIRED', 'a batch for every member of a union gives the amount each receives, or a total they share', 400);
      for (let after: string | null = null; ; ) {
        const page = await activeMembersOfUnit(this.deps.db, command.orgId, { afterMemberId: after, limit: LIST_PAGE });
        if (page.items.length > 0) await list(page.items.map((memberId) => ({ memberId, amountFen })));
        after = page.nextCursor;
        if (after === null) break;
      }
    }
    const sealed = await this.handlers.batches.handle(stream, (state) => (state.status === 'drafting' ? sealBatch(state) : []), { ...meta, commandId: `${meta.commandId}:seal` });
    const proposal = await this.propose(caller, key, {
      kind: command.kind === 'money' ? 'disbursement.batch' : 'voucher.campaign',
      orgId: command.orgId,
      action: { batchId: command.batchId, programmeId: command.programmeId },
      amountFen: sealed.state.totalFen,
      summary: `${command.kind === 'money' ? 'disburse to' : 'vouchers for'} ${sealed.state.memberCount} members of ${command.orgId} from ${command.programmeId}`,
    });
    return { batch: sealed.state, proposal };
  }

  /** Every row names an active member of the union's subtree, each once; refused whole otherwise. */
  private async checkListedMembers(orgId: string, items: readonly BatchItem[]): Promise<void> {
    const problems: Array<{ row: number; memberId: string; code: string }> = [];
    const seen = new Set<string>();
    for (let start = 0; start < items.length; start += 5_000) {
      const slice = items.slice(start, start + 5_000);
      const known = await membersByIds(this.deps.db, slice.map((item) => item.memberId));
      for (const [index, item] of slice.entries()) {
        const member = known.get(item.memberId);
        const row = start + index + 1;
        if (seen.has(item.memberId)) problems.push({ row, memberId: item.memberId, code: 'BATCH.DUPLICATE_MEMBER' });
        else if (!member) problems.push({ row, memberId: item.memberId, code: 'MEMBER.NOT_FOUND' });
        else if (member.status !== 'active') problems.push({ row, memberId: item.memberId, code: 'MEMBER.NOT_ACTIVE' });
        else if (!(await this.deps.orgAccess.isWithin(member.orgId, orgId))) problems.push({ row, memberId: item.memberId, code: 'ORG.FORBIDDEN' });
        seen.add(item.memberId);
        if (problems.length >= 100) break;
      }
      if (problems.length >= 100) break;
    }
    if (problems.length > 0) {
      throw new DomainError('BATCH.MEMBERS_INVALID', 'some rows do not name an active member of this union, once (the first 100 are listed)', 422, { problems });
    }
  }

  async readBatch(caller: Caller, batchId: string) {
    checkId(batchId, 'batch');
    const { state } = await this.handlers.batches.load(batchStream(batchId));
    if (state.status === 'none' || (caller.role !== 'auditor' && !(await this.covers(caller, state.orgId)))) {
      throw new DomainError('BATCH.NOT_FOUND', 'no such batch', 404, { batchId });
    }
    return state;
  }

  /** Starts paying a batch in the background (errors are reported and the sweep retries). */
  startBatch(batchId: string): void {
    this.runner.run(batchId).catch((error: unknown) => this.deps.onBackgroundError?.(`batch ${batchId}`, error));
  }

  // ------------------------------------------------------------ merchants

  async applyMerchant(
    caller: Caller,
    command: { merchantId: string; name: string; category: string; signingOrgId: string; bankCard: string },
    key: string,
  ) {
    checkId(command.merchantId, 'merchant');
    await this.requireAdminOver(caller, command.signingOrgId);
    const digits = normaliseBankCard(command.bankCard);
    const vault = this.deps.vault();
    const cardHmac = vault.keyedHash('bank-card:', digits);
    const cardSealed = await vault.sealText(`merchant-${command.merchantId}`, digits);
    const result = await this.handlers.merchants.handle(
      merchantStream(command.merchantId),
      (state) =>
        state.status !== 'none' && state.signingOrgId === command.signingOrgId && state.card?.cardHmac === cardHmac
          ? [] // The same application again (a retry with another key): nothing new.
          : applyMerchant(state, {
              merchantId: command.merchantId,
              name: command.name,
              category: command.category,
              signingOrgId: command.signingOrgId,
              cardHmac,
              cardSealed,
              cardMasked: maskBankCard(digits),
              appliedBy: caller.sub,
            }),
      metaOf(caller, key),
    );
    const proposal = await this.propose(caller, key, {
      kind: 'merchant.admit',
      orgId: command.signingOrgId,
      action: { merchantId: command.merchantId },
      amountFen: null,
      summary: `admit merchant ${command.name} (${command.merchantId}, ${command.category})`,
    });
    return { merchant: result.state, proposal };
  }

  async readMerchant(caller: Caller, merchantId: string) {
    checkId(merchantId, 'merchant');
    const { state } = await this.handlers.merchants.load(merchantStream(merchantId));
    const visible =
      state.status !== 'none' &&
      (caller.role === 'auditor' || (caller.role === 'merchant' && caller.org === merchantId) || ((caller.role === 'admin' || caller.role === 'finance') && (await this.covers(caller, state.signingOrgId))));
    if (!visible) throw new DomainError('MERCHANT.NOT_FOUND', 'no such merchant', 404, { merchantId });
    return state;
  }

  /** True for a merchant that was admitted (suspended or not): the scope of a merchant terminal's account. */
  async merchantAdmitted(merchantId: string): Promise<boolean> {
    if (!BENEFIT_ID.test(merchantId)) return false;
    const { status } = (await this.handlers.merchants.load(merchantStream(merchantId))).state;
    return status === 'admitted' || status === 'suspended';
  }

  async proposeSuspension(caller: Caller, merchantId: string, reason: string, key: string) {
    const merchant = await this.readMerchant(caller, merchantId);
    await this.requireAdminOver(caller, merchant.signingOrgId);
    suspendMerchant(merchant, { reason, proposalId: 'check' });
    return this.propose(caller, key, {
      kind: 'merchant.suspend',
      orgId: merchant.signingOrgId,
      action: { merchantId, reason },
      amountFen: null,
      summary: `suspend merchant ${merchant.name} (${merchantId}): ${reason}`,
    });
  }

  async reinstate(caller: Caller, merchantId: string, key: string) {
    const merchant = await this.readMerchant(caller, merchantId);
    await this.requireAdminOver(caller, merchant.signingOrgId);
    return (await this.handlers.merchants.handle(merchantStream(merchantId), (state) => reinstateMerchant(state, caller.sub), metaOf(caller, key))).state;
  }

  /**
   * Closes a merchant's business day into a settlement: the lines of days up to `day` that no
   * earlier settlement took, as the merchant's own stream has them (see domain/benefits/merchant.ts),
   * plus what earlier settlements carried.
   */
  async settle(caller: Caller | null, merchantId: string, day: string, key: string) {
    if (caller) {
      const merchant = await this.readMerchant(caller, merchantId);
      await this.requireAdminOver(caller, merchant.signingOrgId);
    }
    const meta = caller ? metaOf(caller, key) : SYSTEM_META(`settlement:${merchantId}:${day}`);
    const settlementId = deterministicEventId(`settlement:${merchantId}:${day}`, 0);
    const payoutId = deterministicEventId(`payout:${merchantId}:${day}`, 0);
    const result = await this.handlers.merchants.handle(merchantStream(merchantId), (state, now) => settleDay(state, { settlementId, payoutId, day }, periodsOf(now).day), meta);
    const settled = result.events.find((event) => event.type === 'MerchantDaySettled');
    return { merchant: result.state, settlement: settled?.data ?? null, payout: result.events.find((event) => event.type === 'PayoutRequested')?.data ?? null };
  }

  // ------------------------------------------------------------ wallets and payments

  /**
   * The wallet as of now: what time has made due (expired authorisations and vouchers) is shown
   * as it will be recorded by the next command or sweep, so a member never sees money held by an
   * authorisation that has already lapsed.
   */
  async wallet(memberId: string): Promise<WalletState> {
    const { state } = await this.handlers.wallets.load(walletStream(memberId));
    return dueWallet(state, this.clock()).reduce(evolveWallet, state);
  }

  /** Binds (or replaces) the wallet's bank card: checked, kept as an HMAC and a sealed copy, shown masked. */
  async bindCard(caller: Caller, cardNumber: string, key: string) {
    const digits = normaliseBankCard(cardNumber);
    const vault = this.deps.vault();
    const cardHmac = vault.keyedHash('bank-card:', digits);
    const cardSealed = await vault.sealText(caller.sub, digits);
    const result = await this.handlers.wallets.handle(
      walletStream(caller.sub),
      (state) => bindCard(state, { memberId: caller.sub, cardHmac, cardSealed, cardMasked: maskBankCard(digits) }),
      metaOf(caller, key),
    );
    return result.state;
  }

  /** A one-time code the member shows at the till: single use, short-lived, stored only as an HMAC. */
  async issuePaymentCode(caller: Caller): Promise<{ code: string; expiresAt: Date }> {
    const now = this.clock();
    const live = await this.deps.db.one<{ count: number }>(
      'SELECT count(*)::int AS count FROM ul_payment_codes WHERE member_id = $1 AND used_at IS NULL AND expires_at > $2',
      [caller.sub, now],
    );
    if (live.count >= MAX_LIVE_CODES) {
      throw new DomainError('PAYMENT_CODE.TOO_MANY', `at most ${MAX_LIVE_CODES} payment codes are live at once; use one or wait a minute`, 429);
    }
    let code = '28';
    while (code.length < CODE_DIGITS) code += String(randomInt(10));
    const expiresAt = new Date(now.getTime() + this.settings.paymentCodeTtlMs);
    await this.deps.db.none('INSERT INTO ul_payment_codes (code_hash, member_id, created_at, expires_at) VALUES ($1, $2, $3, $4)', [
      this.codeHash(code),
      caller.sub,
      now,
      expiresAt,
    ]);
    return { code, expiresAt };
  }

  private codeHash(code: string): string {
    return this.deps.vault().keyedHash('payment-code:', code);
  }

  /**
   * A merchant terminal's authorisation: consumes the member's code (once: one UPDATE) and holds
   * the amount on the wallet, vouchers first. The payment id comes from the terminal's key, so a
   * retried request finds its code already spent on this very payment and carries on.
   */
  async authorise(caller: Caller, command: { paymentCode: string; amountFen: number }, key: string) {
    const merchantId = this.requireMerchantCaller(caller);
    const merchant = (await this.handlers.merchants.load(merchantStream(merchantId))).state;
    requireAcceptsPayments(merchant);
    const paymentId = deterministicEventId(`payment:${merchantId}:${key}`, 0);
    const now = this.clock();
    const hash = /^\d{18}$/.test(command.paymentCode) ? this.codeHash(command.paymentCode) : null;
    let row: { member_id: string } | null = null;
    try {
      row = hash
        ? await this.deps.db.oneOrNone<{ member_id: string }>(
            `UPDATE ul_payment_codes SET used_at = $2, payment_id = $3, merchant_id = $4
              WHERE code_hash = $1 AND ((used_at IS NULL AND expires_at > $2) OR payment_id = $3)
              RETURNING member_id`,
            [hash, now, paymentId, merchantId],
          )
        : null;
    } catch (error) {
      // The payment id (from this terminal's key) already paid with another code: one key, one payment.
      if ((error as { code?: string }).code === '23505') throw new DomainError('PAYMENT.EXISTS', 'this request key already made a payment with another code', 409, { paymentId });
      throw error;
    }
    if (!row) throw new DomainError('PAYMENT_CODE.INVALID', 'the payment code is unknown, used or expired: ask the member to refresh it', 422);
    const result = await this.handlers.wallets.handle(
      walletStream(row.member_id),
      (state, at) =>
        authorisePayment(
          state,
          { memberId: row.member_id, paymentId, merchantId, category: merchant.category, amountFen: command.amountFen, ttlMs: this.settings.authorisationTtlMs },
          at,
        ),
      metaOf(caller, key),
    );
    return this.paymentResult(result, paymentId);
  }

  private requireMerchantCaller(caller: Caller): string {
    if (caller.role !== 'merchant') throw new DomainError('AUTH.FORBIDDEN', 'only a merchant terminal takes payments', 403);
    return caller.org;
  }

  /** The member of a payment this merchant took; another merchant's payment is not found. */
  private async payer(merchantId: string, paymentId: string): Promise<string> {
    const row = /^[0-9a-f-]{36}$/.test(paymentId)
      ? await this.deps.db.oneOrNone<{ member_id: string; merchant_id: string }>('SELECT member_id, merchant_id FROM ul_payment_codes WHERE payment_id = $1', [paymentId])
      : null;
    if (!row || row.merchant_id !== merchantId) throw new DomainError('PAYMENT.NOT_FOUND', 'no such payment', 404, { paymentId });
    return row.member_id;
  }

  async capture(caller: Caller, paymentId: string, amountFen: number, key: string) {
    const merchantId = this.requireMerchantCaller(caller);
    const memberId = await this.payer(merchantId, paymentId);
    const result = await this.handlers.wallets.handle(
      walletStream(memberId),
      (state, now) => capturePayment(state, { paymentId, merchantId, amountFen }, now),
      metaOf(caller, key),
      this.merchantLines(merchantId),
    );
    return this.paymentResult(result, paymentId);
  }

  async void(caller: Caller, paymentId: string, key: string) {
    const merchantId = this.requireMerchantCaller(caller);
    const memberId = await this.payer(merchantId, paymentId);
    const result = await this.handlers.wallets.handle(walletStream(memberId), (state) => voidPayment(state, { paymentId, merchantId }), metaOf(caller, key));
    return this.paymentResult(result, paymentId);
  }

  async refund(caller: Caller, paymentId: string, amountFen: number, key: string) {
    const merchantId = this.requireMerchantCaller(caller);
    const memberId = await this.payer(merchantId, paymentId);
    const refundId = key;
    const result = await this.handlers.wallets.handle(
      walletStream(memberId),
      (state, now) => refundPayment(state, { paymentId, merchantId, refundId, amountFen }, now),
      metaOf(caller, key),
      this.merchantLines(merchantId),
    );
    return { ...this.paymentResult(result, paymentId), refundId };
  }

  async readPayment(caller: Caller, paymentId: string) {
    const merchantId = this.requireMerchantCaller(caller);
    const memberId = await this.payer(merchantId, paymentId);
    const { state } = await this.handlers.wallets.load(walletStream(memberId));
    const payment = state.payments.get(paymentId);
    if (!payment) throw new DomainError('PAYMENT.NOT_FOUND', 'no such payment', 404, { paymentId });
    return payment;
  }

  /** The merchant's lines for a wallet decision's captures and refunds, appended in the same commit. */
  private merchantLines(merchantId: string): Alongside<WalletEvent> {
    return (events) => [
      {
        streamId: merchantStream(merchantId),
        events: events.flatMap((event) =>
          event.type === 'PaymentCaptured' || event.type === 'PaymentRefunded'
            ? [
                merchantLine({
                  merchantId,
                  kind: event.type === 'PaymentCaptured' ? 'capture' : 'refund',
                  paymentId: event.data.paymentId,
                  refundId: event.type === 'PaymentRefunded' ? event.data.refundId : null,
                  memberId: event.data.memberId,
                  amountFen: event.data.amountFen,
                  day: event.data.day,
                }),
              ]
            : [],
        ),
      },
    ];
  }

  private paymentResult(result: CommandResult<WalletState>, paymentId: string) {
    const payment = result.state.payments.get(paymentId);
    if (!payment) throw new Error(`invariant violated: payment ${paymentId} is in the wallet after its command`);
    return { payment, replayed: result.replayed };
  }

  // ------------------------------------------------------------ lists (read models)

  /** The unions whose records the caller may list: their subtree; null (all) for an auditor. */
  private async listScope(caller: Caller): Promise<string[] | null> {
    if (caller.role === 'auditor') return null;
    if (caller.role !== 'admin' && caller.role !== 'finance') throw new DomainError('AUTH.FORBIDDEN', 'this list is for union admins, finance approvers and auditors', 403);
    return subtreeOrgIds(this.reads(), caller.org);
  }

  private reads(): Queryable {
    return this.deps.reads?.() ?? this.deps.db;
  }

  async listProposals(caller: Caller, query: { status?: string | undefined; before?: string | undefined; limit?: number | undefined }) {
    return proposalsInbox(this.reads(), {
      orgIds: await this.listScope(caller),
      ...(query.status ? { status: query.status as ProposalState['status'] & ('pending' | 'approved' | 'rejected' | 'expired') } : {}),
      after: query.before ?? null,
      limit: query.limit ?? 50,
    });
  }

  async batchResults(caller: Caller, batchId: string, query: { result?: string | undefined; afterSeq?: number | undefined; limit?: number | undefined }) {
    await this.readBatch(caller, batchId);
    return batchResults(this.reads(), batchId, {
      afterSeq: query.afterSeq ?? null,
      limit: query.limit ?? 100,
      ...(query.result ? { result: query.result as 'pending' | 'paid' | 'unpaid' } : {}),
    });
  }

  async walletStatement(caller: Caller, query: { before?: string | undefined; limit?: number | undefined }) {
    return walletStatement(this.reads(), caller.sub, { beforePosition: query.before ?? null, limit: query.limit ?? 50 });
  }

  async listMerchants(caller: Caller, query: { after?: string | undefined; limit?: number | undefined }) {
    return merchantsOf(this.reads(), { orgIds: await this.listScope(caller), after: query.after ?? null, limit: query.limit ?? 50 });
  }

  /** A merchant's lines, settlements or payments, for admins of its signing union's tree, auditors, and the merchant itself. */
  async merchantLedger(caller: Caller, merchantId: string, part: 'lines' | 'settlements' | 'payments', query: { before?: string | undefined; limit?: number | undefined }) {
    await this.readMerchant(caller, merchantId);
    const limit = query.limit ?? 50;
    if (part === 'lines') return merchantLines(this.reads(), merchantId, { beforePosition: query.before ?? null, limit });
    if (part === 'payments') return merchantPayments(this.reads(), merchantId, { beforePosition: query.before ?? null, limit });
    return settlementsOf(this.reads(), merchantId, { beforeDay: query.before ?? null, limit });
  }

  // ------------------------------------------------------------ sweeps

  /**
   * What time makes due, for wallets and proposals nobody touches: expired vouchers and
   * authorisations (a no-op command on the wallet appends them), the expired vouchers' value back
   * to its budgets, expired proposals (and their batches cancelled), approved proposals not yet
   * carried out, and batches still to pay. Each step is bounded and safe to repeat.
   */
  async sweep(): Promise<{ wallets: number; expiriesReturned: number; proposals: number; batches: number }> {
    const now = this.clock();
    let wallets = 0;
    const holders = new Set([...(await expiredVoucherHolders(this.deps.db, now.getTime(), SWEEP_LIMIT)), ...(await expiredAuthorisationHolders(this.deps.db, now.getTime(), SWEEP_LIMIT))]);
    for (const memberId of holders) {
      await this.handlers.wallets.handle(walletStream(memberId), () => [], SYSTEM_META(`sweep:${memberId}:${now.getTime()}`));
      wallets += 1;
    }
    let expiriesReturned = 0;
    for (const { programmeId, expiries } of await pendingVoucherExpiries(this.deps.db, SWEEP_LIMIT)) {
      const result = await this.handlers.programmes.handle(
        programmeStream(programmeId),
        (state) => returnVoucherValue(state, { expiries }),
        SYSTEM_META(`voucher-returns:${programmeId}:${expiries[0]!.expiryId}`),
      );
      expiriesReturned += result.replayed ? 0 : expiries.length;
    }
    const { proposals, batches } = await this.resume(now);
    return { wallets, expiriesReturned, proposals, batches };
  }

  /** Runs `sweep` and `settleDue` every `intervalMs`, never two at once; stopped by `stopSweeps`. */
  startSweeps(intervalMs: number): void {
    if (this.sweeper) return;
    let running: Promise<void> | null = null;
    this.sweeper = setInterval(() => {
      if (running) return;
      running = (async () => {
        try {
          await this.sweep();
          await this.settleDue();
        } catch (error) {
          this.deps.onBackgroundError?.('benefits sweep', error);
        }
      })().finally(() => {
        running = null;
      });
    }, intervalMs);
    this.sweeper.unref();
    this.stopSweeper = async () => {
      clearInterval(this.sweeper!);
      this.sweeper = undefined;
      await running;
    };
  }

  async stopSweeps(): Promise<void> {
    await this.stopSweeper?.();
    this.stopSweeper = undefined;
    // Batches in flight finish their chunk: each chunk is one commit, so stopping between chunks loses nothing.
    await this.runner.idle();
  }

  /**
   * Closes yesterday (Asia/Shanghai) for every merchant with lines no settlement covered yet. A
   * merchant that already settled that day is skipped; each settlement is its own command.
   */
  async settleDue(): Promise<number> {
    const today = periodsOf(this.clock()).day;
    const yesterday = previousDay(today);
    let settled = 0;
    for (const merchantId of await merchantsWithUnsettledLines(this.deps.db, yesterday, SWEEP_LIMIT)) {
      try {
        await this.settle(null, merchantId, yesterday, `settle:${yesterday}`);
        settled += 1;
      } catch (error) {
        if (error instanceof DomainError && (error.code === 'SETTLEMENT.DAY_SETTLED' || error.code === 'MERCHANT.NOT_ADMITTED')) continue;
        throw error;
      }
    }
    return settled;
  }

  /** Approved proposals not carried out, expired ones, and batches still paying: after a crash, or as time passes. */
  private async resume(now: Date): Promise<{ proposals: number; batches: number }> {
    const open = await this.deps.db.any<{ proposal_id: string; status: string }>(
      `SELECT proposal_id, status FROM ul_benefit_proposals
        WHERE (status = 'approved' AND outcome IS NULL) OR (status = 'pending' AND expires_at <= $1)
        ORDER BY proposal_id LIMIT $2`,
      [now, SWEEP_LIMIT],
    );
    for (const row of open) {
      if (row.status === 'approved') {
        await this.execute(row.proposal_id);
      } else {
        const result = await this.handlers.proposals.handle(proposalStream(row.proposal_id), () => [], SYSTEM_META(`sweep:${row.proposal_id}`));
        await this.settleUnapproved(result.state);
      }
    }
    const batches = await this.deps.db.any<{ batch_id: string }>(
      `SELECT batch_id FROM ul_benefit_batches WHERE status IN ('approved', 'paying') ORDER BY batch_id LIMIT $1`,
      [SWEEP_LIMIT],
    );
    for (const row of batches) this.startBatch(row.batch_id);
    return { proposals: open.length, batches: batches.length };
  }
}

function checkId(id: string, what: string): void {
  if (!BENEFIT_ID.test(id)) throw new DomainError('BENEFITS.ID_INVALID', `a ${what} id is 1 to 64 letters, digits, _ or -, starting with a letter or digit`, 400, { id });
}
