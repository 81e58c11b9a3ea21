import { DomainError, invariant, periodsOf, posting, type Posting } from '../shared';
import { MAX_AMOUNT_FEN, MAX_PROGRAMME_FEN, benefitAccounts as acct, type FundSource } from './accounts';

/**
 * A benefit programme (stream `programme-<programmeId>`): one year's welfare fund of a union, for
 * example 2026 中秋慰问, and its budgets down the union tree. The whole tree lives in one stream,
 * so every allocation, return, disbursement reservation and voucher issue is decided on the
 * complete budget picture and appended with the stream's expected revision: two commands racing
 * for the last of a budget cannot both win. Budget movements are postings in CNY_FEN.
 */

export interface BudgetFundedData {
  programmeId: string;
  orgId: string;
  amountFen: number;
  source: FundSource;
  /** The funding document: an allocation decision, a donation receipt. */
  reference: string;
  proposalId: string;
  postings: Posting[];
}

export type ProgrammeEvent =
  | { type: 'ProgrammeOpened'; data: { programmeId: string; name: string; year: number; rootOrgId: string; openedBy: string } }
  | { type: 'BudgetFunded'; data: BudgetFundedData }
  | {
      type: 'BudgetAllocated';
      data: { programmeId: string; fromOrgId: string; toOrgId: string; amountFen: number; proposalId: string; postings: Posting[] };
    }
  | {
      type: 'BudgetReturned';
      data: { programmeId: string; fromOrgId: string; toOrgId: string; amountFen: number; proposalId: string | null; postings: Posting[] };
    }
  /** Money set aside from a budget for one chunk of a disbursement batch; the chunk credits the wallets in the same commit. */
  | {
      type: 'DisbursementReserved';
      data: { programmeId: string; orgId: string; batchId: string; chunk: number; amountFen: number; postings: Posting[] };
    }
  | {
      type: 'VouchersIssued';
      data: { programmeId: string; orgId: string; campaignId: string; chunk: number; count: number; amountFen: number; postings: Posting[] };
    }
  /** The unspent value of expired vouchers, back in the budget that issued them (once per expiry). */
  | {
      type: 'VoucherValueReturned';
      data: { programmeId: string; expiries: VoucherExpiry[]; amountFen: number; postings: Posting[] };
    }
  | {
      type: 'ProgrammeClosed';
      data: { programmeId: string; year: number; returns: Array<{ orgId: string; amountFen: number }>; remainderFen: number; postings: Posting[] };
    };

/** One expiry of one voucher's remaining value (a voucher may expire more than once: see wallet.ts). */
export interface VoucherExpiry {
  expiryId: string;
  voucherId: string;
  orgId: string;
  amountFen: number;
}

export const programmeStream = (programmeId: string): string => `programme-${programmeId}`;

/** One union's budget within the programme. */
export interface BudgetNode {
  orgId: string;
  /** The union it was allocated from; null for the root. */
  parentOrgId: string | null;
  /** What the union holds now: never negative. */
  balance: number;
  funded: number;
  received: number;
  allocatedOut: number;
  /** Back to the parent; for the root, its remainder to the root union's own funds at the close. */
  returnedUp: number;
  /** Back from child unions, the remainders they return at the close included. */
  returnedIn: number;
  disbursed: number;
  vouchersIssued: number;
  vouchersReturned: number;
}

export interface ProgrammeState {
  status: 'none' | 'open' | 'closed';
  programmeId: string;
  name: string;
  year: number;
  rootOrgId: string;
  budgets: ReadonlyMap<string, BudgetNode>;
  /** Voucher expiries already returned: a returned expiry is never returned again. */
  returnedExpiries: ReadonlySet<string>;
  /** Proposals carried out here: an approved proposal takes effect once, however often it is executed. */
  proposals: ReadonlySet<string>;
}

export const initialProgrammeState: ProgrammeState = {
  status: 'none',
  programmeId: '',
  name: '',
  year: 0,
  rootOrgId: '',
  budgets: new Map(),
  returnedExpiries: new Set(),
  proposals: new Set(),
};

const emptyNode = (orgId: string, parentOrgId: string | null): BudgetNode => ({
  orgId,
  parentOrgId,
  balance: 0,
  funded: 0,
  received: 0,
  allocatedOut: 0,
  returnedUp: 0,
  returnedIn: 0,
  disbursed: 0,
  vouchersIssued: 0,
  vouchersReturned: 0,
});

function withNode(state: ProgrammeState, orgId: string, change: (node: BudgetNode) => BudgetNode, parentOrgId: string | null = null): ProgrammeState {
  const budgets = new Map(state.budgets);
  budgets.set(orgId, change(state.budgets.get(orgId) ?? emptyNode(orgId, parentOrgId)));
  return { ...state, budgets };
}

function withProposal(state: ProgrammeState, proposalId: string | null): ProgrammeState {
  return proposalId === null ? state : { ...state, proposals: new Set(state.proposals).add(proposalId) };
}

export function evolveProgramme(state: ProgrammeState, event: ProgrammeEvent): ProgrammeState {
  switch (event.type) {
    case 'ProgrammeOpened': {
      const { programmeId, name, year, rootOrgId } = event.data;
      return { ...state, status: 'open', programmeId, name, year, rootOrgId, budgets: new Map([[rootOrgId, emptyNode(rootOrgId, null)]]) };
    }
    case 'BudgetFunded': {
      const { orgId, amountFen } = event.data;
      return withNode(withProposal(state, event.data.proposalId), orgId, (node) => ({ ...node, balance: node.balance + amountFen, funded: node.funded + amountFen }));
    }
    case 'BudgetAllocated': {
      const { fromOrgId, toOrgId, amountFen } = event.data;
      const taken = withNode(withProposal(state, event.data.proposalId), fromOrgId, (node) => ({ ...node, balance: node.balance - amountFen, allocatedOut: node.allocatedOut + amountFen }));
      return withNode(taken, toOrgId, (node) => ({ ...node, balance: node.balance + amountFen, received: node.received + amountFen }), fromOrgId);
    }
    case 'BudgetReturned': {
      const { fromOrgId, toOrgId, amountFen } = event.data;
      const taken = withNode(withProposal(state, event.data.proposalId), fromOrgId, (node) => ({ ...node, balance: node.balance - amountFen, returnedUp: node.returnedUp + amountFen }));
      return withNode(taken, toOrgId, (node) => ({ ...node, balance: node.balance + amountFen, returnedIn: node.returnedIn + amountFen }));
    }
    case 'DisbursementReserved': {
      const { orgId, amountFen } = event.data;
      return withNode(state, orgId, (node) => ({ ...node, balance: node.balance - amountFen, disbursed: node.disbursed + amountFen }));
    }
    case 'VouchersIssued': {
      const { orgId, amountFen } = event.data;
      return withNode(state, orgId, (node) => ({ ...node, balance: node.balance - amountFen, vouchersIssued: node.vouchersIssued + amountFen }));
    }
    case 'VoucherValueReturned': {
      let next: ProgrammeState = { ...state, returnedExpiries: new Set(state.returnedExpiries) };
      for (const expiry of event.data.expiries) {
        (next.returnedExpiries as Set<string>).add(expiry.expiryId);
        // After the close, returned value goes straight to the root union's funds (see closeProgramme).
        if (state.status === 'open') {
          next = withNode(next, expiry.orgId, (node) => ({
            ...node,
            balance: node.balance + expiry.amountFen,
            vouchersReturned: node.vouchersReturned + expiry.amountFen,
          }));
        }
      }
      return next;
    }
    case 'ProgrammeClosed': {
      // Every union's remainder goes up to the root (the root's returnedIn), and the root's whole
      // remainder up to the root union's own funds (the root's returnedUp), as the postings say:
      // each budget's figures still add up to its balance of zero.
      let fromUnions = 0;
      for (const node of state.budgets.values()) if (node.orgId !== state.rootOrgId) fromUnions += node.balance;
      const budgets = new Map<string, BudgetNode>();
      for (const [orgId, node] of state.budgets) {
        const isRoot = orgId === state.rootOrgId;
        budgets.set(orgId, {
          ...node,
          balance: 0,
          returnedIn: node.returnedIn + (isRoot ? fromUnions : 0),
          returnedUp: node.returnedUp + node.balance + (isRoot ? fromUnions : 0),
        });
      }
      return { ...state, status: 'closed', budgets };
    }
    default: {
      const unknown: never = event;
      throw new Error(`unknown programme event ${(unknown as { type: string }).type}`);
    }
  }
}

// ---------------------------------------------------------------- commands

/** Who the programme's commands act for, and when. */
export interface ProgrammeContext {
  now: Date;
}

export function checkAmountFen(amountFen: number, what = 'amount'): void {
  if (!Number.isSafeInteger(amountFen) || amountFen < 1 || amountFen > MAX_AMOUNT_FEN) {
    throw new DomainError('MONEY.AMOUNT_INVALID', `the ${what} must be from 0.01 to ${MAX_AMOUNT_FEN / 100} yuan`, 400, { amountFen });
  }
}

function requireOpen(state: ProgrammeState): void {
  if (state.status === 'none') throw new DomainError('PROGRAMME.NOT_FOUND', 'no such programme', 404);
  if (state.status === 'closed') throw new DomainError('PROGRAMME.CLOSED', 'the programme is closed', 409, { programmeId: state.programmeId });
}

function requireBudget(state: ProgrammeState, orgId: string, amountFen: number): BudgetNode {
  const node = state.budgets.get(orgId);
  if (!node) throw new DomainError('BUDGET.NOT_FOUND', `the union ${orgId} has no budget in this programme`, 404, { orgId });
  if (node.balance < amountFen) {
    throw new DomainError('BUDGET.INSUFFICIENT', `the budget of ${orgId} holds less than the amount`, 422, {
      orgId,
      balanceFen: node.balance,
      requestedFen: amountFen,
    });
  }
  return node;
}

export const MIN_PROGRAMME_YEAR = 2000;
export const MAX_PROGRAMME_YEAR = 2100;

export function openProgramme(
  state: ProgrammeState,
  command: { programmeId: string; name: string; year: number; rootOrgId: string; openedBy: string },
): ProgrammeEvent[] {
  if (state.status !== 'none') throw new DomainError('PROGRAMME.EXISTS', 'a programme with this id exists', 409, { programmeId: command.programmeId });
  if (!Number.isInteger(command.year) || command.year < MIN_PROGRAMME_YEAR || command.year > MAX_PROGRAMME_YEAR) {
    throw new DomainError('PROGRAMME.YEAR_INVALID', `the year must be from ${MIN_PROGRAMME_YEAR} to ${MAX_PROGRAMME_YEAR}`, 400);
  }
  return [{ type: 'ProgrammeOpened', data: { ...command } }];
}

/** Money from outside the ledger into the root budget (only the root is funded from outside). */
export function fundBudget(
  state: ProgrammeState,
  command: { amountFen: number; source: FundSource; reference: string; proposalId: string },
): ProgrammeEvent[] {
  if (state.proposals.has(command.proposalId)) return [];
  requireOpen(state);
  checkAmountFen(command.amountFen);
  const orgId = state.rootOrgId;
  // A cap on the programme's total, so that no later posting of it can exceed MAX_POSTING_AMOUNT (see MAX_PROGRAMME_FEN).
  const fundedFen = state.budgets.get(orgId)!.funded;
  if (fundedFen + command.amountFen > MAX_PROGRAMME_FEN) {
    throw new DomainError('BUDGET.PROGRAMME_TOO_LARGE', `a programme is funded with at most ${MAX_PROGRAMME_FEN / 100} yuan in all`, 422, {
      fundedFen,
      requestedFen: command.amountFen,
      maxFen: MAX_PROGRAMME_FEN,
    });
  }
  return [
    {
      type: 'BudgetFunded',
      data: {
        programmeId: state.programmeId,
        orgId,
        ...command,
        postings: [posting(acct.fundSource(command.source), acct.budget(state.programmeId, orgId), command.amountFen, 'CNY_FEN')],
      },
    },
  ];
}

/**
 * From a union's budget to one of its direct child unions. `toParentOrgId` is the child's parent
 * in the union tree (from the orgs context): only a direct child receives, so every level sees
 * what passed through it.
 */
export function allocateBudget(
  state: ProgrammeState,
  command: { fromOrgId: string; toOrgId: string; toParentOrgId: string | null; amountFen: number; proposalId: string },
): ProgrammeEvent[] {
  if (state.proposals.has(command.proposalId)) return [];
  requireOpen(state);
  checkAmountFen(command.amountFen);
  const { fromOrgId, toOrgId, amountFen, proposalId } = command;
  if (command.toParentOrgId !== fromOrgId) {
    throw new DomainError('BUDGET.NOT_A_CHILD', `${toOrgId} is not a direct child union of ${fromOrgId}`, 422, { fromOrgId, toOrgId });
  }
  const existing = state.budgets.get(toOrgId);
  // A union moved in the tree after its budget was allocated: the budget still answers to its old
  // parent (returns and the close go there), so the new parent is refused, not crashed on (a 500).
  if (existing && existing.parentOrgId !== fromOrgId && existing.parentOrgId !== null) {
    throw new DomainError('BUDGET.PARENT_CHANGED', `the budget of ${toOrgId} was allocated from ${existing.parentOrgId}, not ${fromOrgId}`, 409, {
      fromOrgId,
      toOrgId,
      budgetParentOrgId: existing.parentOrgId,
    });
  }
  requireBudget(state, fromOrgId, amountFen);
  return [
    {
      type: 'BudgetAllocated',
      data: {
        programmeId: state.programmeId,
        fromOrgId,
        toOrgId,
        amountFen,
        proposalId,
        postings: [posting(acct.budget(state.programmeId, fromOrgId), acct.budget(state.programmeId, toOrgId), amountFen, 'CNY_FEN')],
      },
    },
  ];
}

/** Unused money back to the union it came from. */
export function returnBudget(state: ProgrammeState, command: { fromOrgId: string; amountFen: number; proposalId: string | null }): ProgrammeEvent[] {
  if (command.proposalId !== null && state.proposals.has(command.proposalId)) return [];
  requireOpen(state);
  checkAmountFen(command.amountFen);
  const node = requireBudget(state, command.fromOrgId, command.amountFen);
  if (node.parentOrgId === null) {
    throw new DomainError('BUDGET.ROOT_CANNOT_RETURN', 'the root budget has no union above it in this programme', 422, { orgId: node.orgId });
  }
  return [
    {
      type: 'BudgetReturned',
      data: {
        programmeId: state.programmeId,
        fromOrgId: node.orgId,
        toOrgId: node.parentOrgId,
        amountFen: command.amountFen,
        proposalId: command.proposalId,
        postings: [posting(acct.budget(state.programmeId, node.orgId), acct.budget(state.programmeId, node.parentOrgId), command.amountFen, 'CNY_FEN')],
      },
    },
  ];
}

/**
 * Sets aside a disbursement chunk's money. The caller asks for the chunk's amounts in order and
 * gets back how many of them the budget covers (the longest prefix): a batch pays members until
 * the budget cannot cover the next one, never beyond.
 */
export function reserveDisbursement(
  state: ProgrammeState,
  command: { orgId: string; batchId: string; chunk: number; amountsFen: readonly number[] },
): { events: ProgrammeEvent[]; covered: number } {
  requireOpen(state);
  const node = state.budgets.get(command.orgId);
  if (!node) throw new DomainError('BUDGET.NOT_FOUND', `the union ${command.orgId} has no budget in this programme`, 404, { orgId: command.orgId });
  let covered = 0;
  let total = 0;
  for (const amount of command.amountsFen) {
    checkAmountFen(amount);
    if (total + amount > node.balance) break;
    total += amount;
    covered += 1;
  }
  if (covered === 0) return { events: [], covered };
  return {
    covered,
    events: [
      {
        type: 'DisbursementReserved',
        data: {
          programmeId: state.programmeId,
          orgId: command.orgId,
          batchId: command.batchId,
          chunk: command.chunk,
          amountFen: total,
          postings: [posting(acct.budget(state.programmeId, command.orgId), acct.disbursementTransit(command.batchId), total, 'CNY_FEN')],
        },
      },
    ],
  };
}

/** Sets aside the face value of one chunk of a voucher campaign; all or nothing. */
export function issueVouchers(
  state: ProgrammeState,
  command: { orgId: string; campaignId: string; chunk: number; count: number; faceFen: number },
): ProgrammeEvent[] {
  requireOpen(state);
  checkAmountFen(command.faceFen, 'face value');
  invariant(Number.isSafeInteger(command.count) && command.count > 0, 'a voucher chunk issues at least one voucher');
  const amountFen = command.count * command.faceFen;
  requireBudget(state, command.orgId, amountFen);
  return [
    {
      type: 'VouchersIssued',
      data: {
        programmeId: state.programmeId,
        orgId: command.orgId,
        campaignId: command.campaignId,
        chunk: command.chunk,
        count: command.count,
        amountFen,
        postings: [posting(acct.budget(state.programmeId, command.orgId), acct.voucherTransit(command.campaignId), amountFen, 'CNY_FEN')],
      },
    },
  ];
}

/** Expired vouchers' value back to the budgets that issued them; an expiry already returned is skipped. */
export function returnVoucherValue(state: ProgrammeState, command: { expiries: readonly VoucherExpiry[] }): ProgrammeEvent[] {
  if (state.status === 'none') throw new DomainError('PROGRAMME.NOT_FOUND', 'no such programme', 404);
  const fresh = command.expiries.filter((expiry, index, all) => !state.returnedExpiries.has(expiry.expiryId) && all.findIndex((other) => other.expiryId === expiry.expiryId) === index);
  if (fresh.length === 0) return [];
  const byOrg = new Map<string, number>();
  for (const expiry of fresh) {
    checkAmountFen(expiry.amountFen);
    invariant(state.budgets.has(expiry.orgId), `vouchers of ${expiry.orgId} were issued from its budget`);
    byOrg.set(expiry.orgId, (byOrg.get(expiry.orgId) ?? 0) + expiry.amountFen);
  }
  const from = acct.voucherReturns(state.programmeId);
  const postings = [...byOrg].map(([orgId, amount]) =>
    posting(from, state.status === 'open' ? acct.budget(state.programmeId, orgId) : acct.unionFunds(state.rootOrgId), amount, 'CNY_FEN'),
  );
  const amountFen = fresh.reduce((sum, expiry) => sum + expiry.amountFen, 0);
  return [{ type: 'VoucherValueReturned', data: { programmeId: state.programmeId, expiries: fresh, amountFen, postings } }];
}

/**
 * The value of vouchers reserved for a voucher batch and never handed out (a claim campaign's
 * unclaimed units), back to the budget that reserved them: from the batch's transit account, as
 * one expiry `unclaimed:<batchId>` so that it is returned once (returnedExpiries) and the read
 * models list it with the other returns. After the programme's close it goes to the root union's funds.
 */
export function returnUnclaimedVouchers(state: ProgrammeState, command: { orgId: string; batchId: string; count: number; faceFen: number }): ProgrammeEvent[] {
  if (state.status === 'none') throw new DomainError('PROGRAMME.NOT_FOUND', 'no such programme', 404);
  invariant(Number.isSafeInteger(command.count) && command.count >= 0, 'unclaimed units are a whole number');
  const expiryId = `unclaimed:${command.batchId}`;
  if (command.count === 0 || state.returnedExpiries.has(expiryId)) return [];
  invariant(state.budgets.has(command.orgId), `vouchers of ${command.orgId} were reserved from its budget`);
  const amountFen = command.count * command.faceFen;
  checkAmountFen(amountFen);
  const to = state.status === 'open' ? acct.budget(state.programmeId, command.orgId) : acct.unionFunds(state.rootOrgId);
  return [
    {
      type: 'VoucherValueReturned',
      data: {
        programmeId: state.programmeId,
        expiries: [{ expiryId, voucherId: `${command.batchId}:unclaimed`, orgId: command.orgId, amountFen }],
        amountFen,
        postings: [posting(acct.voucherTransit(command.batchId), to, amountFen, 'CNY_FEN')],
      },
    },
  ];
}

/**
 * Year end: every union's remainder goes back to the root, and the root's whole remainder back
 * to the root union's own funds. Only once the programme's year is over (Asia/Shanghai).
 */
export function closeProgramme(state: ProgrammeState, ctx: ProgrammeContext): ProgrammeEvent[] {
  requireOpen(state);
  const currentYear = Number(periodsOf(ctx.now).year);
  if (currentYear <= state.year) {
    throw new DomainError('PROGRAMME.YEAR_NOT_OVER', `the programme's year ${state.year} is not over yet`, 409, { year: state.year });
  }
  const root = acct.budget(state.programmeId, state.rootOrgId);
  const returns: Array<{ orgId: string; amountFen: number }> = [];
  const postings: Posting[] = [];
  let remainder = 0;
  for (const node of state.budgets.values()) {
    remainder += node.balance;
    if (node.orgId === state.rootOrgId || node.balance === 0) continue;
    returns.push({ orgId: node.orgId, amountFen: node.balance });
    postings.push(posting(acct.budget(state.programmeId, node.orgId), root, node.balance, 'CNY_FEN'));
  }
  if (remainder > 0) postings.push(posting(root, acct.unionFunds(state.rootOrgId), remainder, 'CNY_FEN'));
  return [{ type: 'ProgrammeClosed', data: { programmeId: state.programmeId, year: state.year, returns, remainderFen: remainder, postings } }];
}
