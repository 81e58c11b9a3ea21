import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { addPostings, figuresOf, linesToSettle, merchantLinesBeside, modelLineOf, postingsOf, unsettledFen, type ModelLine } from '../../../test/support/benefits-model';
import { DomainError, periodsOf, previousDay, type Posting } from '../shared';
import {
  NON_NEGATIVE_ACCOUNT_PREFIXES,
  admitMerchant,
  allocateBudget,
  applyMerchant,
  approveBatch,
  authorisePayment,
  capturePayment,
  closeProgramme,
  draftBatch,
  dueWallet,
  evolveBatch,
  evolveMerchant,
  evolveProgramme,
  evolveWallet,
  fundBudget,
  initialBatchState,
  initialMerchantState,
  initialProgrammeState,
  initialWalletState,
  issueVouchers,
  listItems,
  nextChunkToPay,
  openProgramme,
  payChunk,
  refundPayment,
  reinstateMerchant,
  requireAcceptsPayments,
  reserveDisbursement,
  returnBudget,
  returnVoucherValue,
  sealBatch,
  settleDay,
  suspendMerchant,
  usableVouchers,
  voidPayment,
  voucherGrant,
  walletCredit,
  type BatchEvent,
  type BatchState,
  type MerchantEvent,
  type MerchantState,
  type ProgrammeEvent,
  type Payment,
  type ProgrammeState,
  type VoucherExpiry,
  type VoucherTerms,
  type WalletEvent,
  type WalletState,
} from '.';

/**
 * Model-based test of the money economy of one programme: random sequences of budget movements,
 * disbursements, voucher campaigns, payments, refunds, expiries, settlements and the year-end
 * close, driven the way the application drives the deciders (several streams in one commit,
 * time's due events first, a merchant line beside every capture and refund, settlements folded
 * from the merchant's own stream). After every step the ledger summed from the postings alone
 * must balance, never go negative where it must not, and agree with every aggregate's state;
 * every settlement must take exactly the lines the model counted for it (each line in one
 * settlement only); refused commands must change nothing.
 */

const P = 'p26';
const ROOT = 'root';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** New Year in Shanghai: the earliest the 2026 programme closes. */
const NEW_YEAR_MS = Date.parse('2027-01-01T00:00:00+08:00');

const MERCHANTS = [
  { merchantId: 'shop-food', category: 'grocery' },
  { merchantId: 'shop-book', category: 'books' },
] as const;
const CATEGORIES = ['grocery', 'books', 'cinema'] as const;

// ---------------------------------------------------------------- operations (plain data, so a counterexample prints readably)

type Op =
  | { kind: 'fund'; amountFen: number }
  /** `from` null: from the parent of `to` in the union tree. */
  | { kind: 'allocate'; from: number | null; to: number; amountFen: number }
  | { kind: 'giveBack'; org: number; amountFen: number }
  /** `org` indexes the unions with a budget, or all unions when `anyOrg`. */
  | { kind: 'disburse'; org: number; anyOrg: boolean; members: number[]; amountsFen: number[] }
  | { kind: 'vouchers'; org: number; anyOrg: boolean; members: number[]; category: string; faceFen: number; startsInMs: number; validForMs: number; prefix: boolean }
  | { kind: 'advance'; ms: number }
  /** To the next Shanghai midnight, a millisecond before or after it; `settle`: the daily job then settles every merchant's day. */
  | { kind: 'midnight'; offsetMs: number; settle: boolean }
  | { kind: 'newYear'; offsetMs: number }
  | { kind: 'tick' }
  | { kind: 'returnExpired'; redeliver: boolean }
  /**
   * `member` indexes the members with money or vouchers, or all members when `anyMember`. The amount is fixed, or a share
   * (in thousandths) of what the wallet and its usable vouchers hold, as a member pays what they have.
   */
  | { kind: 'authorise'; member: number; anyMember: boolean; merchant: number; payment: number; amount: { fen: number } | { perMille: number }; ttlMs: number }
  /** `pick` chooses among the payments a capture, void or refund applies to (authorised or captured ones), or among all when `any`. */
  | { kind: 'capture'; member: number; pick: number; any: boolean; mode: 'full' | 'less' | 'more'; byFen: number; wrongMerchant: boolean }
  | { kind: 'void'; member: number; pick: number; any: boolean; wrongMerchant: boolean }
  | { kind: 'refund'; member: number; pick: number; any: boolean; mode: 'full' | 'part' | 'more'; byFen: number; refund: number }
  /** 'today': closed early (the end of a shift); 'tomorrow': refused. */
  | { kind: 'settle'; merchant: number; day: 'yesterday' | 'today' | 'dayBefore' | 'tomorrow' }
  | { kind: 'suspend'; merchant: number }
  | { kind: 'reinstate'; merchant: number }
  | { kind: 'close' };

const fen = (max: number) => fc.oneof({ weight: 9, arbitrary: fc.integer({ min: 1, max }) }, { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5) });
const index = fc.nat(7);
const rarely = fc.constantFrom(false, false, false, false, true);

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fund' as const), amountFen: fen(200_000) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('allocate' as const), from: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: index }), to: index, amountFen: fen(60_000) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('giveBack' as const), org: index, amountFen: fen(30_000) }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('disburse' as const),
      org: index,
      anyOrg: rarely,
      members: fc.oneof({ weight: 6, arbitrary: fc.uniqueArray(fc.nat(3), { minLength: 1, maxLength: 4 }) }, { weight: 1, arbitrary: fc.array(fc.nat(3), { minLength: 2, maxLength: 4 }) }),
      amountsFen: fc.array(fc.integer({ min: 100, max: 20_000 }), { minLength: 4, maxLength: 4 }),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('vouchers' as const),
      org: index,
      anyOrg: rarely,
      members: fc.uniqueArray(fc.nat(3), { minLength: 1, maxLength: 4 }),
      category: fc.constantFrom(...CATEGORIES),
      faceFen: fc.integer({ min: 100, max: 5_000 }),
      startsInMs: fc.oneof(fc.constant(0), fc.integer({ min: -HOUR, max: 2 * HOUR })),
      validForMs: fc.oneof(fc.integer({ min: MINUTE, max: 6 * HOUR }), fc.integer({ min: 6 * HOUR, max: 5 * DAY })),
      prefix: fc.boolean(),
    }),
  },
  {
    weight: 5,
    arbitrary: fc
      .oneof(
        { weight: 6, arbitrary: fc.integer({ min: 1, max: 20 * MINUTE }) },
        { weight: 3, arbitrary: fc.integer({ min: 1, max: 8 * HOUR }) },
        { weight: 1, arbitrary: fc.integer({ min: 8 * HOUR, max: 2 * DAY }) },
      )
      .map((ms): Op => ({ kind: 'advance', ms })),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('midnight' as const), offsetMs: fc.constantFrom(-1, 0, 1), settle: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 0, 3 * HOUR).map((offsetMs): Op => ({ kind: 'newYear', offsetMs })) },
  { weight: 2, arbitrary: fc.constant<Op>({ kind: 'tick' }) },
  { weight: 2, arbitrary: fc.boolean().map((redeliver): Op => ({ kind: 'returnExpired', redeliver })) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('authorise' as const),
      member: fc.nat(3),
      anyMember: rarely,
      merchant: fc.nat(1),
      payment: fc.nat(40),
      amount: fc.oneof(
        { weight: 3, arbitrary: fc.record({ fen: fen(12_000) }) },
        { weight: 7, arbitrary: fc.record({ perMille: fc.integer({ min: 1, max: 1_000 }) }) },
      ),
      // Now and then outside 10 s to 7 days: refused as PAYMENT.TTL_INVALID.
      ttlMs: fc.oneof({ weight: 19, arbitrary: fc.constantFrom(MINUTE, 15 * MINUTE, 2 * HOUR, DAY, 3 * DAY) }, { weight: 1, arbitrary: fc.constantFrom(9_999, 7 * DAY + 1) }),
    }),
  },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('capture' as const),
      member: fc.nat(3),
      pick: fc.nat(20),
      any: fc.constantFrom(false, false, false, true),
      mode: fc.constantFrom('full' as const, 'full' as const, 'less' as const, 'more' as const),
      byFen: fc.integer({ min: 1, max: 3_000 }),
      wrongMerchant: rarely,
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('void' as const), member: fc.nat(3), pick: fc.nat(20), any: fc.constantFrom(false, false, false, true), wrongMerchant: rarely }) },
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant('refund' as const),
      member: fc.nat(3),
      pick: fc.nat(20),
      any: fc.constantFrom(false, false, false, true),
      mode: fc.constantFrom('full' as const, 'part' as const, 'part' as const, 'more' as const),
      byFen: fc.integer({ min: 1, max: 3_000 }),
      refund: fc.nat(3),
    }),
  },
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('settle' as const), merchant: fc.nat(1), day: fc.constantFrom('yesterday' as const, 'yesterday' as const, 'today' as const, 'today' as const, 'dayBefore' as const, 'tomorrow' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('suspend' as const), merchant: fc.nat(1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('reinstate' as const), merchant: fc.nat(1) }) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'close' }) },
);

const scenarioArbitrary = fc.record({
  grandchildren: fc.tuple(fc.integer({ min: 1, max: 2 }), fc.integer({ min: 1, max: 2 })),
  members: fc.integer({ min: 3, max: 4 }),
  // Late in 2026, so that the year ends within many runs (the newYear and midnight operations jump the clock).
  startMs: fc.integer({ min: Date.parse('2026-12-05T00:00:00+08:00'), max: Date.parse('2026-12-31T22:00:00+08:00') }),
  /** The root budget's first funding, so that money flows from the first steps. */
  seedFen: fc.integer({ min: 20_000, max: 500_000 }),
  ops: fc.array(opArbitrary, { minLength: 60, maxLength: 250 }),
});

// ---------------------------------------------------------------- the world the application keeps

/** One stream's event of a commit. */
type Entry =
  | { stream: 'programme'; event: ProgrammeEvent }
  | { stream: 'wallet'; id: string; event: WalletEvent }
  | { stream: 'merchant'; id: string; event: MerchantEvent }
  | { stream: 'batch'; id: string; event: BatchEvent };

interface World {
  nowMs: number;
  programme: ProgrammeState;
  wallets: Map<string, WalletState>;
  merchants: Map<string, MerchantState>;
  batches: Map<string, BatchState>;
  /** Every event of every stream, in commit order: its index + 1 is its global position. */
  log: Entry[];
  ledger: Map<string, number>;
  /** The model's own count of each merchant's capture and refund lines, from the wallet events alone. */
  lines: Map<string, ModelLine[]>;
  /** The last day each merchant settled, as the model saw the settlements go by. */
  settledDays: Map<string, string>;
  /** Voucher expiries recorded by wallets and not yet returned to the programme. */
  pending: VoucherExpiry[];
  returned: Map<string, VoucherExpiry>;
  batchCount: number;
  settlementCount: number;
  proposalCount: number;
}

/**
 * A new approved proposal's id: the programme carries out a proposal once (a second execution
 * returns no events), so each funding and allocation is its own proposal.
 */
const nextProposal = (world: World, kind: string): string => `pr-${kind}-${(world.proposalCount += 1)}`;

const programmeEntry = (event: ProgrammeEvent): Entry => ({ stream: 'programme', event });
const walletEntry = (id: string) => (event: WalletEvent): Entry => ({ stream: 'wallet', id, event });
const merchantEntry = (id: string) => (event: MerchantEvent): Entry => ({ stream: 'merchant', id, event });
const batchEntry = (id: string) => (event: BatchEvent): Entry => ({ stream: 'batch', id, event });

/** Observed across all runs, to show the generator reaches the interesting cases. */
const seenCodes = new Set<string>();
const seenCases = new Set<string>();

function checkPosting(posting: Posting, type: string): void {
  if (posting.asset !== 'CNY_FEN') throw new Error(`${type} posts ${posting.asset}`);
  if (!Number.isSafeInteger(posting.amount) || posting.amount <= 0) throw new Error(`${type} posts ${posting.amount}`);
  if (posting.debit === posting.credit) throw new Error(`${type} posts from ${posting.debit} to itself`);
}

/** An event's postings move exactly the amount the event states. */
function checkMoved(event: Entry['event']): void {
  const moved = postingsOf(event).reduce((sum, posting) => sum + posting.amount, 0);
  const movedTo = (account: string): number => postingsOf(event).filter((posting) => posting.credit === account || posting.debit === account).reduce((sum, posting) => sum + posting.amount, 0);
  let expected: number;
  switch (event.type) {
    case 'BudgetFunded':
    case 'BudgetAllocated':
    case 'BudgetReturned':
    case 'DisbursementReserved':
    case 'VouchersIssued':
    case 'VoucherValueReturned':
    case 'WalletCredited':
    case 'VoucherExpired':
    case 'PaymentAuthorised':
    case 'PaymentRefunded':
      expected = event.data.amountFen;
      break;
    case 'VoucherGranted':
      expected = event.data.faceFen;
      break;
    case 'PaymentCaptured':
      if (movedTo(`merchant:${event.data.merchantId}:receivable`) !== event.data.amountFen) fail('a capture does not reach the merchant in full', event);
      expected = event.data.amountFen + event.data.releasedWalletFen + event.data.releasedVouchers.reduce((sum, part) => sum + part.amountFen, 0);
      break;
    case 'PaymentVoided':
      expected = event.data.walletFen + event.data.vouchers.reduce((sum, part) => sum + part.amountFen, 0);
      break;
    case 'ProgrammeClosed':
      if (movedTo(`union-funds:${ROOT}`) !== event.data.remainderFen) fail('the close does not return the whole remainder', event);
      expected = event.data.remainderFen + event.data.returns.reduce((sum, back) => sum + back.amountFen, 0);
      break;
    case 'MerchantDaySettled':
      expected = Math.max(0, event.data.netFen);
      break;
    default:
      expected = moved; // Events without postings, or whose amount is the postings' own.
  }
  if (moved !== expected) fail(`${event.type} posts ${moved}, not the ${expected} it states`, event);
}

/** Appends one commit: every entry evolves its stream's state and reaches the log and the ledger. */
function commit(world: World, entries: readonly Entry[]): void {
  for (const entry of entries) commitOne(world, entry);
  for (const state of [world.programme, ...world.wallets.values(), ...world.merchants.values(), ...world.batches.values()]) freeze(state);
}

function commitOne(world: World, entry: Entry): void {
  freeze(entry.event);
  switch (entry.stream) {
    case 'programme':
      world.programme = evolveProgramme(world.programme, entry.event);
      break;
    case 'wallet':
      world.wallets.set(entry.id, evolveWallet(world.wallets.get(entry.id) ?? initialWalletState, entry.event));
      break;
    case 'merchant':
      world.merchants.set(entry.id, evolveMerchant(world.merchants.get(entry.id) ?? initialMerchantState, entry.event));
      break;
    case 'batch':
      world.batches.set(entry.id, evolveBatch(world.batches.get(entry.id) ?? initialBatchState, entry.event));
      break;
  }
  for (const posting of postingsOf(entry.event)) checkPosting(posting, entry.event.type);
  checkMoved(entry.event);
  addPostings(world.ledger, postingsOf(entry.event));
  if (entry.stream === 'merchant' && entry.event.type === 'MerchantDaySettled') checkSettlement(world, entry.id, entry.event.data);
  world.log.push(entry);
  const line = modelLineOf(entry.event);
  if (line) {
    const { merchantId, ...counted } = line;
    world.lines.get(merchantId)!.push(counted);
    if ((world.settledDays.get(merchantId) ?? '') >= counted.day) seenCases.add('MerchantLineRecorded:late');
  }
  noteEvent(world, entry);
}

/**
 * A settlement takes exactly the lines the model counted for it: every line not taken yet whose
 * business day is the settled day or earlier (a line recorded after its day was settled lands in
 * the next settlement); each line is then taken, so no line is ever in two settlements.
 */
function checkSettlement(world: World, merchantId: string, settled: Extract<MerchantEvent, { type: 'MerchantDaySettled' }>['data']): void {
  const taken = linesToSettle(world.lines.get(merchantId)!, settled.day);
  const expected = figuresOf(taken);
  const actual = { captureFen: settled.captureFen, refundFen: settled.refundFen, lines: settled.lines };
  if (!isDeepStrictEqual(actual, expected)) fail(`${merchantId} settled ${settled.day} with other figures than its lines`, { actual, expected });
  if (settled.netFen !== settled.captureFen - settled.refundFen + settled.carriedFen) fail(`${merchantId}: the net of ${settled.settlementId} does not add up`, settled);
  const revisionBefore = world.log.filter((entry) => entry.stream === 'merchant' && entry.id === merchantId).length - 1;
  if (settled.throughRevision !== revisionBefore) fail(`${merchantId}: throughRevision ${settled.throughRevision} ≠ the revision before the settlement ${revisionBefore}`);
  const lastDay = world.settledDays.get(merchantId);
  if (lastDay !== undefined && settled.day <= lastDay) fail(`${merchantId} settled ${settled.day} after ${lastDay}`);
  if (lastDay !== undefined && taken.some((line) => line.day <= lastDay)) seenCases.add('MerchantDaySettled:late-line');
  for (const line of taken) line.settlementId = settled.settlementId;
  world.settledDays.set(merchantId, settled.day);
}

function noteEvent(world: World, { event }: Entry): void {
  seenCases.add(event.type);
  switch (event.type) {
    case 'VoucherExpired':
      world.pending.push({ expiryId: event.data.expiryId, voucherId: event.data.voucherId, orgId: event.data.orgId, amountFen: event.data.amountFen });
      if (!event.data.expiryId.endsWith(':1')) seenCases.add('VoucherExpired:again');
      break;
    case 'VoucherValueReturned':
      for (const expiry of event.data.expiries) {
        if (world.returned.has(expiry.expiryId)) fail(`expiry ${expiry.expiryId} returned twice`);
        world.returned.set(expiry.expiryId, expiry);
      }
      if (world.programme.status === 'closed') seenCases.add('VoucherValueReturned:after-close');
      break;
    case 'BudgetAllocated':
      // To a union that had received before (noted after the evolve): allocations go on after the first.
      if (world.programme.budgets.get(event.data.toOrgId)!.received > event.data.amountFen) seenCases.add('BudgetAllocated:again');
      break;
    case 'PaymentVoided':
      seenCases.add(`PaymentVoided:${event.data.reason}`);
      break;
    case 'PaymentCaptured':
      if (event.data.releasedWalletFen > 0 || event.data.releasedVouchers.length > 0) seenCases.add('PaymentCaptured:partial');
      if (event.data.vouchers.length > 0 && event.data.walletFen > 0) seenCases.add('PaymentCaptured:vouchers-and-wallet');
      break;
    case 'PaymentRefunded':
      if (event.data.vouchers.length > 0) seenCases.add('PaymentRefunded:to-vouchers');
      break;
    case 'MerchantDaySettled':
      if (event.data.netFen < 0) seenCases.add('MerchantDaySettled:negative');
      if (event.data.day === periodsOf(new Date(world.nowMs)).day) seenCases.add('MerchantDaySettled:today');
      // A later settlement that starts from a carried negative amount (the merchant spec pins one that then pays out).
      if (event.data.carriedFen < 0) seenCases.add('MerchantDaySettled:carried');
      break;
    case 'BatchStopped':
      seenCases.add(`BatchStopped:${event.data.reason}`);
      break;
    default:
      break;
  }
}

/**
 * Decides a command. A DomainError is a refusal: nothing is committed. The states a decider reads
 * are frozen (see freeze), so a decider that changed one would throw a TypeError: a refused
 * command changes nothing, and an accepted one changes nothing but through its events. Any
 * error other than a DomainError is a broken invariant: the test fails.
 */
function attempt<Decision>(world: World, decide: () => Decision): Decision | DomainError {
  const logLength = world.log.length;
  try {
    return decide();
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    seenCodes.add(error.code);
    if (world.log.length !== logLength) fail(`the refused command (${error.code}) appended events`);
    return error;
  }
}

const refuseChange = (): never => {
  throw new TypeError('a decider or evolve changed a state it was given');
};

/**
 * Deeply freezes a state: objects and arrays with Object.freeze, Maps and Sets by shadowing their
 * mutators. Stops at what is frozen already (states share their unchanged parts), so freezing
 * after each commit costs only what the commit created.
 */
function freeze(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  if (value instanceof Map || value instanceof Set) {
    for (const mutator of ['set', 'add', 'delete', 'clear']) Object.defineProperty(value, mutator, { value: refuseChange });
    for (const entry of value instanceof Map ? [...value.keys(), ...value.values()] : [...value]) freeze(entry);
  } else {
    for (const inner of Object.values(value)) freeze(inner);
  }
  Object.freeze(value);
}

/** What time alone made due in a wallet, recorded before the command that noticed (as the command handler does). */
function dueFirst(world: World, memberId: string): void {
  const events = dueWallet(world.wallets.get(memberId) ?? initialWalletState, new Date(world.nowMs));
  commit(world, events.map(walletEntry(memberId)));
}

// ---------------------------------------------------------------- driving the operations

interface Setup {
  orgs: string[];
  parentOf: Map<string, string | null>;
  members: string[];
}

function paymentsOf(world: World, memberId: string): Payment[] {
  return [...(world.wallets.get(memberId) ?? initialWalletState).payments.values()].sort((a, b) => (a.paymentId < b.paymentId ? -1 : 1));
}

function draftAndApprove(world: World, batchId: string, orgId: string, items: Array<{ memberId: string; amountFen: number }>, voucher: VoucherTerms | null): BatchState | null {
  const kind = voucher ? 'vouchers' : 'money';
  const steps: Array<(state: BatchState) => BatchEvent[]> = [
    (state) => draftBatch(state, { batchId, kind, programmeId: P, orgId, source: 'unit', voucher, draftedBy: 'admin-1' }),
    (state) => listItems(state, items),
    (state) => sealBatch(state),
    (state) => approveBatch(state, `pr-${batchId}`),
  ];
  for (const step of steps) {
    const decided = attempt(world, () => step(world.batches.get(batchId) ?? initialBatchState).map(batchEntry(batchId)));
    if (decided instanceof DomainError) return null;
    commit(world, decided);
  }
  return world.batches.get(batchId)!;
}

function run(world: World, setup: Setup, op: Op): void {
  const now = new Date(world.nowMs);
  const org = (n: number): string => setup.orgs[n % setup.orgs.length]!;
  const funded = [...world.programme.budgets.values()].filter((node) => node.balance > 0).map((node) => node.orgId);
  const budgetOrg = (n: number, any: boolean): string => (any || funded.length === 0 ? org(n) : funded[n % funded.length]!);
  const member = (n: number): string => setup.members[n % setup.members.length]!;
  const decideAndCommit = (decide: () => Entry[]): void => {
    const decided = attempt(world, decide);
    if (!(decided instanceof DomainError)) commit(world, decided);
  };

  switch (op.kind) {
    case 'fund':
      return decideAndCommit(() => fundBudget(world.programme, { amountFen: op.amountFen, source: 'union_funds', reference: 'decision', proposalId: nextProposal(world, 'fund') }).map(programmeEntry));
    case 'allocate': {
      const to = org(op.to);
      const from = op.from === null ? setup.parentOf.get(to) : org(op.from);
      if (!from || from === to) return;
      return decideAndCommit(() =>
        allocateBudget(world.programme, { fromOrgId: from, toOrgId: to, toParentOrgId: setup.parentOf.get(to) ?? null, amountFen: op.amountFen, proposalId: nextProposal(world, 'alloc') }).map(programmeEntry),
      );
    }
    case 'giveBack':
      return decideAndCommit(() => returnBudget(world.programme, { fromOrgId: org(op.org), amountFen: op.amountFen, proposalId: null }).map(programmeEntry));
    case 'disburse': {
      const batchId = `b${(world.batchCount += 1)}`;
      const orgId = budgetOrg(op.org, op.anyOrg);
      const items = op.members.map((n, at) => ({ memberId: member(n), amountFen: op.amountsFen[at]! }));
      const batch = draftAndApprove(world, batchId, orgId, items, null);
      const next = batch && nextChunkToPay(batch);
      if (!batch || !next) return;
      // One commit: the budget's reservation of the covered prefix, the chunk record, the wallets' credits.
      // A closed programme, or a union without a budget, pays nobody: the batch stops.
      const reserved = attempt(world, () => reserveDisbursement(world.programme, { orgId, batchId, chunk: next.chunk, amountsFen: next.items.map((item) => item.amountFen) }));
      if (reserved instanceof DomainError && reserved.code !== 'PROGRAMME.CLOSED' && reserved.code !== 'BUDGET.NOT_FOUND') throw new Error(`reserveDisbursement refused with ${reserved.code}`);
      const { events, covered } = reserved instanceof DomainError ? { events: [], covered: 0 } : reserved;
      const reason = reserved instanceof DomainError && reserved.code === 'PROGRAMME.CLOSED' ? 'PROGRAMME_CLOSED' : 'BUDGET_INSUFFICIENT';
      return decideAndCommit(() => [
        ...events.map(programmeEntry),
        ...payChunk(batch, next.chunk, covered, reason).map(batchEntry(batchId)),
        ...next.items.slice(0, covered).map((item) => walletEntry(item.memberId)(walletCredit(item.memberId, { batchId, programmeId: P, orgId }, item.amountFen))),
      ]);
    }
    case 'vouchers': {
      const batchId = `b${(world.batchCount += 1)}`;
      const orgId = budgetOrg(op.org, op.anyOrg);
      const terms = { category: op.category, faceFen: op.faceFen, validFromMs: world.nowMs + op.startsInMs, validUntilMs: world.nowMs + op.startsInMs + op.validForMs };
      const batch = draftAndApprove(world, batchId, orgId, op.members.map((n) => ({ memberId: member(n), amountFen: op.faceFen })), terms);
      const next = batch && nextChunkToPay(batch);
      if (!batch || !next) return;
      // The campaign is the batch: its vouchers are issued from the budget as one chunk, all or nothing,
      // or for the prefix of members the budget covers when the application asks for that many.
      const balance = world.programme.budgets.get(orgId)?.balance ?? 0;
      const count = op.prefix && world.programme.status === 'open' ? Math.min(next.items.length, Math.floor(balance / op.faceFen)) : next.items.length;
      const issued = count === 0 ? null : attempt(world, () => issueVouchers(world.programme, { orgId, campaignId: batchId, chunk: next.chunk, count, faceFen: op.faceFen }).map(programmeEntry));
      const covered = issued === null || issued instanceof DomainError ? 0 : count;
      const reason = issued instanceof DomainError && issued.code === 'PROGRAMME.CLOSED' ? 'PROGRAMME_CLOSED' : 'BUDGET_INSUFFICIENT';
      if (issued instanceof DomainError && issued.code !== 'PROGRAMME.CLOSED' && issued.code !== 'BUDGET.INSUFFICIENT' && issued.code !== 'BUDGET.NOT_FOUND') {
        throw new Error(`issueVouchers refused with ${issued.code}`);
      }
      return decideAndCommit(() => [
        ...(Array.isArray(issued) ? issued : []),
        ...payChunk(batch, next.chunk, covered, reason).map(batchEntry(batchId)),
        ...next.items.slice(0, covered).map((item) => walletEntry(item.memberId)(voucherGrant(item.memberId, { batchId, programmeId: P, orgId }, terms))),
      ]);
    }
    case 'advance':
      world.nowMs += op.ms;
      return;
    case 'midnight': {
      const shanghaiOffsetMs = 8 * HOUR;
      const nextMidnightMs = Math.floor((world.nowMs + shanghaiOffsetMs) / DAY + 1) * DAY - shanghaiOffsetMs;
      world.nowMs = Math.max(world.nowMs, nextMidnightMs + op.offsetMs);
      if (op.settle) MERCHANTS.forEach((_, merchant) => run(world, setup, { kind: 'settle', merchant, day: 'yesterday' }));
      return;
    }
    case 'newYear':
      world.nowMs = Math.max(world.nowMs, NEW_YEAR_MS + op.offsetMs); // The clock never goes back.
      return;
    case 'tick':
      for (const memberId of setup.members) dueFirst(world, memberId);
      return;
    case 'returnExpired': {
      // A redelivery repeats expiries already returned: they are skipped.
      const expiries = [...(op.redeliver ? [...world.returned.values()].slice(-3) : []), ...world.pending];
      const decided = attempt(world, () => returnVoucherValue(world.programme, { expiries }).map(programmeEntry));
      if (decided instanceof DomainError) throw decided; // The programme exists: returning value is never refused.
      if (op.redeliver && world.pending.length === 0 && expiries.length > 0) {
        if (decided.length > 0) throw new Error('a redelivered expiry was returned again');
        seenCases.add('VoucherValueReturned:redelivery-skipped');
      }
      commit(world, decided);
      world.pending = [];
      return;
    }
    case 'authorise': {
      const withMoney = setup.members.filter((memberId) => {
        const wallet = world.wallets.get(memberId);
        return wallet !== undefined && wallet.available + wallet.voucherAvailable > 0;
      });
      const memberId = op.anyMember || withMoney.length === 0 ? member(op.member) : withMoney[op.member % withMoney.length]!;
      const shop = MERCHANTS[op.merchant]!;
      dueFirst(world, memberId);
      return decideAndCommit(() => {
        requireAcceptsPayments(world.merchants.get(shop.merchantId)!);
        const wallet = world.wallets.get(memberId) ?? initialWalletState;
        const spendable = wallet.available + usableVouchers(wallet, shop.category, world.nowMs).reduce((sum, voucher) => sum + voucher.available, 0);
        const amountFen = 'fen' in op.amount ? op.amount.fen : Math.max(1, Math.floor((spendable * op.amount.perMille) / 1_000));
        const command = { memberId, paymentId: `pay-${op.payment}`, merchantId: shop.merchantId, category: shop.category, amountFen, ttlMs: op.ttlMs };
        return authorisePayment(wallet, command, now).map(walletEntry(memberId));
      });
    }
    case 'capture':
    case 'void':
    case 'refund': {
      // The terminal names a payment it knows as authorised (or captured, for a refund); time may have expired it since.
      const status = op.kind === 'refund' ? 'captured' : 'authorised';
      const known = setup.members.flatMap((memberId) => paymentsOf(world, memberId).filter((payment) => op.any || payment.status === status).map((payment) => ({ memberId, payment })));
      const chosen = known.length === 0 ? undefined : known[op.pick % known.length];
      const memberId = chosen?.memberId ?? member(op.member);
      const payment = chosen?.payment;
      dueFirst(world, memberId);
      const paymentId = payment?.paymentId ?? 'pay-none';
      const ownMerchant = payment?.merchantId ?? MERCHANTS[0].merchantId;
      const merchantId = 'wrongMerchant' in op && op.wrongMerchant ? MERCHANTS.find((shop) => shop.merchantId !== ownMerchant)!.merchantId : ownMerchant;
      const state = (): WalletState => world.wallets.get(memberId) ?? initialWalletState;
      // As the application's capture and refund: the wallet's events, then the terminal's merchant lines, in one commit.
      const withMerchantLines = (events: WalletEvent[]): Entry[] => [...events.map(walletEntry(memberId)), ...merchantLinesBeside(merchantId, events).map(merchantEntry(merchantId))];
      if (op.kind === 'capture') {
        const authorised = payment?.amountFen ?? 100;
        const amountFen = op.mode === 'full' ? authorised : op.mode === 'less' ? Math.max(1, authorised - op.byFen) : authorised + op.byFen;
        return decideAndCommit(() => withMerchantLines(capturePayment(state(), { paymentId, merchantId, amountFen }, now)));
      }
      if (op.kind === 'void') return decideAndCommit(() => voidPayment(state(), { paymentId, merchantId }).map(walletEntry(memberId)));
      const refundable = payment ? payment.capturedFen - payment.refundedFen : 100;
      const amountFen = op.mode === 'full' ? refundable : op.mode === 'part' ? Math.max(1, refundable - op.byFen) : refundable + op.byFen;
      return decideAndCommit(() => withMerchantLines(refundPayment(state(), { paymentId, merchantId, refundId: `r${op.refund}`, amountFen }, now)));
    }
    case 'settle': {
      const { merchantId } = MERCHANTS[op.merchant]!;
      const merchant = world.merchants.get(merchantId)!;
      const today = periodsOf(now).day;
      const day = op.day === 'today' ? today : op.day === 'tomorrow' ? periodsOf(new Date(world.nowMs + DAY)).day : op.day === 'dayBefore' ? previousDay(previousDay(today)) : previousDay(today);
      const settlementId = `st${(world.settlementCount += 1)}`;
      return decideAndCommit(() => settleDay(merchant, { settlementId, payoutId: `po-${settlementId}`, day }, today).map(merchantEntry(merchantId)));
    }
    case 'suspend':
    case 'reinstate': {
      const { merchantId } = MERCHANTS[op.merchant]!;
      const merchant = world.merchants.get(merchantId)!;
      return decideAndCommit(() =>
        (op.kind === 'suspend' ? suspendMerchant(merchant, { reason: 'complaints', proposalId: 'pr-suspend' }) : reinstateMerchant(merchant, 'fin-1')).map(merchantEntry(merchantId)),
      );
    }
    case 'close':
      return decideAndCommit(() => closeProgramme(world.programme, { now }).map(programmeEntry));
  }
}

// ---------------------------------------------------------------- the invariants, after every step

function fail(message: string, details?: unknown): never {
  const readable = (_key: string, value: unknown): unknown => (value instanceof Map || value instanceof Set ? [...value] : value);
  throw new Error(details === undefined ? message : `${message}: ${JSON.stringify(details, readable)}`);
}

function checkWorld(world: World, setup: Setup): void {
  const { ledger, programme } = world;
  const balance = (account: string): number => ledger.get(account) ?? 0;

  // (a) Conservation: the ledger sums to zero (CNY_FEN is the only asset this context posts).
  let total = 0;
  for (const [account, amount] of ledger) {
    total += amount;
    // (b) Accounts that may never be negative.
    if (NON_NEGATIVE_ACCOUNT_PREFIXES.some((prefix) => account.startsWith(prefix)) && amount < 0) fail(`${account} is negative`, amount);
    // Transit accounts of disbursements and campaigns are empty once their commit is done.
    if ((account.startsWith('transit:disbursement:') || account.startsWith('transit:vouchers:')) && amount !== 0) fail(`${account} holds ${amount} after its commit`);
  }
  if (total !== 0) fail('the ledger does not sum to zero', total);

  // (c), (b), (d) Budgets: each node's account is its balance, never negative, and its figures add up.
  for (const node of programme.budgets.values()) {
    if (balance(`budget:${P}:${node.orgId}`) !== node.balance) fail(`budget ${node.orgId}: account ${balance(`budget:${P}:${node.orgId}`)} ≠ state ${node.balance}`);
    if (node.balance < 0) fail(`budget ${node.orgId} negative`, node);
    const inFen = node.funded + node.received + node.returnedIn + node.vouchersReturned;
    const outFen = node.balance + node.allocatedOut + node.returnedUp + node.disbursed + node.vouchersIssued;
    if (inFen !== outFen) fail(`budget ${node.orgId}: ${inFen} in ≠ ${outFen} held and out`, node);
    if (node.orgId !== ROOT && node.parentOrgId !== setup.parentOf.get(node.orgId)) fail(`budget ${node.orgId} under the wrong parent`, node);
  }
  for (const account of ledger.keys()) {
    if (account.startsWith('budget:') && !programme.budgets.has(account.split(':')[2]!)) fail(`${account} has no budget node`);
  }
  // Expired value is in transit until returned, and only until then.
  const pendingFen = world.pending.reduce((sum, expiry) => sum + expiry.amountFen, 0);
  if (balance(`transit:voucher-returns:${P}`) !== pendingFen) fail(`voucher returns in transit ${balance(`transit:voucher-returns:${P}`)} ≠ pending ${pendingFen}`);
  if (programme.returnedExpiries.size !== world.returned.size) fail('the programme and the log disagree on the returned expiries');

  // (c), (b), (e) Wallets: accounts equal the states; every balance non-negative; refunds within captures.
  for (const memberId of setup.members) {
    const wallet = world.wallets.get(memberId) ?? initialWalletState;
    const accounts = {
      available: balance(`wallet:${memberId}:available`),
      held: balance(`wallet:${memberId}:held`),
      voucherAvailable: balance(`voucher:${memberId}:available`),
      voucherHeld: balance(`voucher:${memberId}:held`),
    };
    const state = { available: wallet.available, held: wallet.held, voucherAvailable: wallet.voucherAvailable, voucherHeld: wallet.voucherHeld };
    if (!isDeepStrictEqual(accounts, state)) fail(`wallet ${memberId}: accounts ≠ state`, { accounts, state });
    if (Object.values(state).some((value) => value < 0)) fail(`wallet ${memberId} negative`, state);
    const vouchers = [...wallet.vouchers.values()];
    const heldByPayments = new Map<string, number>();
    let walletHeld = 0;
    for (const payment of wallet.payments.values()) {
      if (payment.status === 'authorised') {
        walletHeld += payment.walletFen;
        for (const part of payment.vouchers) heldByPayments.set(part.voucherId, (heldByPayments.get(part.voucherId) ?? 0) + part.amountFen);
      }
      if (!(payment.refundedFen <= payment.capturedFen && payment.capturedFen <= payment.amountFen)) fail(`payment ${payment.paymentId}: refunds beyond the capture`, payment);
      if (payment.refundedWalletFen > payment.capturedWalletFen) fail(`payment ${payment.paymentId}: wallet refunds beyond the wallet capture`, payment);
      for (const [voucherId, refunded] of payment.refundedVouchers) {
        const captured = payment.capturedVouchers.find((part) => part.voucherId === voucherId)?.amountFen ?? 0;
        if (refunded > captured) fail(`payment ${payment.paymentId}: voucher ${voucherId} refunded beyond its capture`);
      }
      if ([...payment.refunds.values()].reduce((a, b) => a + b, 0) !== payment.refundedFen) fail(`payment ${payment.paymentId}: refunds do not add up`);
    }
    if (walletHeld !== wallet.held) fail(`wallet ${memberId}: held ${wallet.held} ≠ open authorisations ${walletHeld}`);
    for (const voucher of vouchers) {
      if (voucher.available < 0 || voucher.held < 0) fail(`voucher ${voucher.voucherId} negative`, voucher);
      if (voucher.held !== (heldByPayments.get(voucher.voucherId) ?? 0)) fail(`voucher ${voucher.voucherId}: held ≠ open authorisations`, voucher);
      if (voucher.available > voucher.faceFen) fail(`voucher ${voucher.voucherId} above its face value`, voucher);
    }
    if (vouchers.reduce((sum, voucher) => sum + voucher.available, 0) !== wallet.voucherAvailable) fail(`wallet ${memberId}: vouchers' available ≠ voucherAvailable`);
    if (vouchers.reduce((sum, voucher) => sum + voucher.held, 0) !== wallet.voucherHeld) fail(`wallet ${memberId}: vouchers' held ≠ voucherHeld`);
  }

  // Merchants: the open days are the model's unsettled lines by day; what the union owes is those lines plus the carried
  // amount, and carried is never positive.
  for (const { merchantId } of MERCHANTS) {
    const merchant = world.merchants.get(merchantId)!;
    const lines = world.lines.get(merchantId)!;
    if (merchant.carriedFen > 0) fail(`${merchantId} carries a positive amount`, merchant.carriedFen);
    const days = [...new Set(lines.filter((line) => line.settlementId === null).map((line) => line.day))].sort();
    const openDays = days.map((day) => [day, figuresOf(lines.filter((line) => line.settlementId === null && line.day === day))] as const);
    const stateDays = [...merchant.openDays].sort(([a], [b]) => (a < b ? -1 : 1));
    if (!isDeepStrictEqual(stateDays, openDays)) fail(`${merchantId}: open days ≠ the unsettled lines`, { state: stateDays, model: openDays });
    const owed = unsettledFen(lines) + merchant.carriedFen;
    if (balance(`merchant:${merchantId}:receivable`) !== owed) fail(`${merchantId}: receivable ${balance(`merchant:${merchantId}:receivable`)} ≠ unsettled + carried ${owed}`);
  }
}

// ---------------------------------------------------------------- the property

function setUp(scenario: { grandchildren: [number, number]; members: number; startMs: number; seedFen: number }): { world: World; setup: Setup } {
  const parentOf = new Map<string, string | null>([[ROOT, null], ['c1', ROOT], ['c2', ROOT]]);
  scenario.grandchildren.forEach((count, child) => {
    for (let n = 1; n <= count; n += 1) parentOf.set(`g${child + 1}${n}`, `c${child + 1}`);
  });
  const setup: Setup = { orgs: [...parentOf.keys()], parentOf, members: Array.from({ length: scenario.members }, (_, n) => `m${n + 1}`) };
  const world: World = {
    nowMs: scenario.startMs,
    programme: initialProgrammeState,
    wallets: new Map(),
    merchants: new Map(),
    batches: new Map(),
    log: [],
    ledger: new Map(),
    lines: new Map(MERCHANTS.map(({ merchantId }) => [merchantId, []])),
    settledDays: new Map(),
    pending: [],
    returned: new Map(),
    batchCount: 0,
    settlementCount: 0,
    proposalCount: 0,
  };
  commit(world, openProgramme(world.programme, { programmeId: P, name: '2026 中秋慰问', year: 2026, rootOrgId: ROOT, openedBy: 'admin-1' }).map(programmeEntry));
  commit(world, fundBudget(world.programme, { amountFen: scenario.seedFen, source: 'government', reference: 'seed', proposalId: 'pr-seed' }).map(programmeEntry));
  for (const { merchantId, category } of MERCHANTS) {
    const entry = merchantEntry(merchantId);
    commit(world, applyMerchant(initialMerchantState, { merchantId, name: merchantId, category, signingOrgId: ROOT, cardHmac: `hmac-${merchantId}`, cardSealed: 'sealed', cardMasked: '6222 **** **** 1234', appliedBy: 'admin-1' }).map(entry));
    commit(world, admitMerchant(world.merchants.get(merchantId)!, `pr-admit-${merchantId}`).map(entry));
  }
  return { world, setup };
}

/** Folds each stream of the log again from its JSON, as the store would hand it back. */
function refold(log: readonly Entry[]): Pick<World, 'programme' | 'wallets' | 'merchants' | 'batches'> {
  const world: Pick<World, 'programme' | 'wallets' | 'merchants' | 'batches'> = { programme: initialProgrammeState, wallets: new Map(), merchants: new Map(), batches: new Map() };
  const stored = JSON.parse(JSON.stringify(log)) as Entry[];
  for (const entry of stored) {
    if (entry.stream === 'programme') world.programme = evolveProgramme(world.programme, entry.event);
    else if (entry.stream === 'wallet') world.wallets.set(entry.id, evolveWallet(world.wallets.get(entry.id) ?? initialWalletState, entry.event));
    else if (entry.stream === 'merchant') world.merchants.set(entry.id, evolveMerchant(world.merchants.get(entry.id) ?? initialMerchantState, entry.event));
    else world.batches.set(entry.id, evolveBatch(world.batches.get(entry.id) ?? initialBatchState, entry.event));
  }
  return world;
}

// The initial states too: evolving from them must not change them.
[initialProgrammeState, initialWalletState, initialMerchantState, initialBatchState].forEach(freeze);

describe('the money economy of a programme (random sequences over budgets, wallets, vouchers, payments and settlements)', () => {
  it('keeps the ledger balanced, never negative, in agreement with every state, after every step', () => {
    fc.assert(
      fc.property(scenarioArbitrary, (scenario) => {
        const { world, setup } = setUp(scenario);
        checkWorld(world, setup);
        for (const op of scenario.ops) {
          run(world, setup, op);
          checkWorld(world, setup);
        }
        // In the end every expiry goes back: the transit account of returns is empty.
        world.nowMs += 400 * DAY;
        run(world, setup, { kind: 'tick' });
        run(world, setup, { kind: 'returnExpired', redeliver: true });
        checkWorld(world, setup);
        if ((world.ledger.get(`transit:voucher-returns:${P}`) ?? 0) !== 0) fail('expired value left in transit');
        for (const wallet of world.wallets.values()) {
          if (wallet.held !== 0 || wallet.voucherHeld !== 0 || wallet.voucherAvailable !== 0) fail('value still held or in vouchers a year later', wallet);
        }
        // Folding every stream again from its stored JSON gives the states built step by step.
        const again = refold(world.log);
        if (!isDeepStrictEqual(again, { programme: world.programme, wallets: world.wallets, merchants: world.merchants, batches: world.batches })) {
          expect(again).toEqual({ programme: world.programme, wallets: world.wallets, merchants: world.merchants, batches: world.batches });
        }
      }),
      { numRuns: 400 },
    );

    // The generator reached the cases that matter (a guard against a silently weak generator).
    expect([...seenCodes].sort()).toEqual(
      expect.arrayContaining([
        'BATCH.DUPLICATE_MEMBER',
        'BUDGET.INSUFFICIENT',
        'BUDGET.NOT_A_CHILD',
        'BUDGET.ROOT_CANNOT_RETURN',
        'MERCHANT.SUSPENDED',
        'MONEY.AMOUNT_INVALID',
        'PAYMENT.AMOUNT_INVALID',
        'PAYMENT.CAPTURE_EXCEEDS_AUTHORISATION',
        'PAYMENT.EXISTS',
        'PAYMENT.NOT_AUTHORISED',
        'PAYMENT.NOT_CAPTURED',
        'PAYMENT.NOT_FOUND',
        'PAYMENT.TTL_INVALID',
        'PROGRAMME.CLOSED',
        'PROGRAMME.YEAR_NOT_OVER',
        'REFUND.EXCEEDS_CAPTURE',
        'REFUND.EXISTS',
        'SETTLEMENT.DAY_IN_FUTURE',
        'SETTLEMENT.DAY_SETTLED',
        'WALLET.INSUFFICIENT',
      ]),
    );
    expect([...seenCases].sort()).toEqual(
      expect.arrayContaining([
        'BatchStopped:BUDGET_INSUFFICIENT',
        'BudgetAllocated:again',
        'BatchStopped:PROGRAMME_CLOSED',
        'MerchantDaySettled:carried',
        'MerchantDaySettled:late-line',
        'MerchantDaySettled:negative',
        'MerchantDaySettled:today',
        'MerchantLineRecorded',
        'MerchantLineRecorded:late',
        'PaymentCaptured:partial',
        'PaymentCaptured:vouchers-and-wallet',
        'PaymentRefunded:to-vouchers',
        'PaymentVoided:expired',
        'PaymentVoided:voided',
        'PayoutRequested',
        'ProgrammeClosed',
        'VoucherExpired',
        'VoucherExpired:again',
        'VoucherValueReturned',
        'VoucherValueReturned:after-close',
        'VoucherValueReturned:redelivery-skipped',
        'WalletCredited',
      ]),
    );
  });
});
