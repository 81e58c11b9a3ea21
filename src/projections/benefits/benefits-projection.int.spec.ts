import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { waitForFeedEnd } from '../../../test/support/feed';
import { testTimeout } from '../../../test/support/wait-for';
import { createEventStore, readModels } from '../../composition-root';
import { loadConfig } from '../../config/config';
import {
  BATCH_CHUNK,
  admitMerchant,
  allocateBudget,
  applyMerchant,
  approveBatch,
  approveProposal,
  authorisePayment,
  cancelBatch,
  capturePayment,
  closeProgramme,
  draftBatch,
  dueProposal,
  dueWallet,
  evolveBatch,
  evolveMerchant,
  evolveProgramme,
  evolveProposal,
  evolveWallet,
  fundBudget,
  initialBatchState,
  initialMerchantState,
  initialProgrammeState,
  initialProposalState,
  initialWalletState,
  issueVouchers,
  listItems,
  makeProposal,
  merchantLine,
  merchantStream,
  openProgramme,
  payChunk,
  programmeStream,
  proposalStream,
  recordOutcome,
  refundPayment,
  rejectProposal,
  reserveDisbursement,
  returnBudget,
  returnVoucherValue,
  sealBatch,
  settleDay,
  suspendMerchant,
  voidPayment,
  voucherGrant,
  walletCredit,
  walletStream,
  batchStream,
  type Actor,
  type BatchEvent,
  type BatchItem,
  type BatchState,
  type MerchantEvent,
  type MerchantState,
  type ProgrammeEvent,
  type ProgrammeState,
  type ProposalEvent,
  type ProposalKind,
  type ProposalState,
  type VoucherTerms,
  type WalletEvent,
  type WalletState,
} from '../../domain/benefits';
import { schemaVersionOf } from '../../domain/shared';
import type { EventStore, JsonObject, RecordedEvent } from '../../eventstore/event-store';
import type { Database } from '../../infra/database';
import { catchUpProjection, dumpTables, rebuildProjection } from '..';
import { checkTrialBalance } from '../ledger/trial-balance';
import { BENEFITS_TABLES, benefitsProjection } from './benefits-projection';
import {
  activeMembersOfUnit,
  batchById,
  batchResults,
  budgetTree,
  expiredAuthorisationHolders,
  expiredVoucherHolders,
  merchantById,
  merchantLines,
  merchantPayments,
  merchantsOf,
  merchantsWithUnsettledLines,
  paymentById,
  pendingVoucherExpiries,
  programmeOf,
  proposalById,
  proposalsInbox,
  settlementsOf,
  voucherExpiriesToReturn,
  vouchersOf,
  walletOf,
  walletStatement,
} from './queries';

// The scenario waits for the feed after each step; each wait is bounded (test/support/feed.ts).
jest.setTimeout(testTimeout(4));

/**
 * The benefits read models, built from events the domain's own deciders produce and appended
 * through the event store: every table against the deciders' folds, every query, settlement
 * figures with an earlier settlement covering part of the lines, and a rebuild from event zero
 * giving identical tables.
 */

type Evolve<S, E> = (state: S, event: E) => S;

/** One stream of the scenario: the decider's state, folded from what was appended. */
class Stream<S, E extends { type: string; data: object }> {
  lastPosition = 0n;

  constructor(
    private readonly store: EventStore,
    readonly streamId: string,
    private readonly evolve: Evolve<S, E>,
    public state: S,
    /** What else the application records beside these events (a wallet's captures and refunds on the merchant's stream). */
    private readonly after?: (events: readonly E[], at: Date) => Promise<void>,
  ) {}

  async append(events: readonly E[], at: Date): Promise<bigint> {
    if (events.length === 0) return this.lastPosition;
    const result = await this.store.appendToStream(
      this.streamId,
      events.map((event) => ({
        eventId: randomUUID(),
        type: event.type,
        schemaVersion: schemaVersionOf(event.data),
        data: event.data as unknown as JsonObject,
        metadata: { occurredAt: at.toISOString() },
      })),
    );
    this.state = events.reduce(this.evolve, this.state);
    this.lastPosition = result.lastPosition;
    await this.after?.(events, at);
    return result.lastPosition;
  }
}

const MAKER: Actor = { id: 'u-maker', role: 'admin', orgId: 'js' };
const CHECKER: Actor = { id: 'u-finance', role: 'finance', orgId: 'js' };
const T0 = new Date('2026-09-01T02:00:00.000Z'); // 10:00 in Shanghai
const DAY_MS = 24 * 60 * 60 * 1000;
const at = (offsetMs: number): Date => new Date(T0.getTime() + offsetMs);

let database: TestDatabase;
let store: EventStore;

async function catchUp(db: Database = database.db): Promise<void> {
  await waitForFeedEnd(db);
  for (const projection of readModels()) await catchUpProjection(store, db, projection);
}

/** The scenario's streams, created on first use. */
class World {
  readonly wallets = new Map<string, Stream<WalletState, WalletEvent>>();
  readonly proposals = new Map<string, Stream<ProposalState, ProposalEvent>>();
  readonly batches = new Map<string, Stream<BatchState, BatchEvent>>();
  readonly merchants = new Map<string, Stream<MerchantState, MerchantEvent>>();
  readonly programme: Stream<ProgrammeState, ProgrammeEvent>;

  constructor(readonly programmeId: string) {
    this.programme = new Stream(store, programmeStream(programmeId), evolveProgramme, initialProgrammeState);
  }

  wallet(memberId: string): Stream<WalletState, WalletEvent> {
    let stream = this.wallets.get(memberId);
    if (!stream) {
      stream = new Stream(store, walletStream(memberId), evolveWallet, initialWalletState, async (events, now) => {
        for (const event of events) {
          if (event.type !== 'PaymentCaptured' && event.type !== 'PaymentRefunded') continue;
          const { merchantId, paymentId, amountFen, day } = event.data;
          const refundId = event.type === 'PaymentRefunded' ? event.data.refundId : null;
          const merchant = this.merchant(merchantId);
          await merchant.append([merchantLine({ merchantId, kind: refundId ? 'refund' : 'capture', paymentId, refundId, memberId, amountFen, day })], now);
        }
      });
      this.wallets.set(memberId, stream);
    }
    return stream;
  }

  proposal(proposalId: string): Stream<ProposalState, ProposalEvent> {
    let stream = this.proposals.get(proposalId);
    if (!stream) this.proposals.set(proposalId, (stream = new Stream(store, proposalStream(proposalId), evolveProposal, initialProposalState)));
    return stream;
  }

  batch(batchId: string): Stream<BatchState, BatchEvent> {
    let stream = this.batches.get(batchId);
    if (!stream) this.batches.set(batchId, (stream = new Stream(store, batchStream(batchId), evolveBatch, initialBatchState)));
    return stream;
  }

  merchant(merchantId: string): Stream<MerchantState, MerchantEvent> {
    let stream = this.merchants.get(merchantId);
    if (!stream) this.merchants.set(merchantId, (stream = new Stream(store, merchantStream(merchantId), evolveMerchant, initialMerchantState)));
    return stream;
  }

  /** A proposal made by MAKER and approved by CHECKER, its outcome recorded after `effect`. */
  async approved(proposalId: string, kind: ProposalKind, orgId: string, amountFen: number | null, now: Date, effect: () => Promise<unknown>): Promise<void> {
    const proposal = this.proposal(proposalId);
    await proposal.append(makeProposal(proposal.state, { proposalId, kind, orgId, action: { amountFen }, amountFen, summary: `${kind} ${proposalId}`, proposedBy: MAKER }, now), now);
    await proposal.append(approveProposal(proposal.state, { approver: CHECKER, covers: true }), now);
    await effect();
    await proposal.append(recordOutcome(proposal.state, { status: 'done' }), now);
  }

  /** Drafts, lists, seals and approves a batch. */
  async readyBatch(batchId: string, orgId: string, items: readonly BatchItem[], voucher: VoucherTerms | null, now: Date): Promise<void> {
    const batch = this.batch(batchId);
    await batch.append(
      draftBatch(batch.state, { batchId, kind: voucher ? 'vouchers' : 'money', programmeId: this.programmeId, orgId, source: 'csv', voucher, draftedBy: MAKER.id }),
      now,
    );
    for (let start = 0; start < items.length; start += BATCH_CHUNK) await batch.append(listItems(batch.state, items.slice(start, start + BATCH_CHUNK)), now);
    await batch.append(sealBatch(batch.state), now);
    await this.approved(`approve-${batchId}`, voucher ? 'voucher.campaign' : 'disbursement.batch', orgId, batch.state.totalFen, now, () =>
      batch.append(approveBatch(batch.state, `approve-${batchId}`), now),
    );
  }

  /** Pays a money batch chunk by chunk as far as the budget covers it. */
  async payMoney(batchId: string, now: Date): Promise<void> {
    const batch = this.batch(batchId);
    const { orgId, programmeId } = batch.state;
    for (let chunk = 0; chunk < batch.state.chunks.length; chunk += 1) {
      const items = batch.state.chunks[chunk]!;
      const { events, covered } = reserveDisbursement(this.programme.state, { orgId, batchId, chunk, amountsFen: items.map((item) => item.amountFen) });
      await this.programme.append(events, now);
      for (const item of items.slice(0, covered)) await this.wallet(item.memberId).append([walletCredit(item.memberId, { batchId, programmeId, orgId }, item.amountFen)], now);
      await batch.append(payChunk(batch.state, chunk, covered), now);
      if (covered < items.length) return;
    }
  }

  /** Pays a voucher campaign: one voucher per listed member. */
  async payVouchers(batchId: string, now: Date): Promise<void> {
    const batch = this.batch(batchId);
    const { orgId, programmeId, voucher } = batch.state;
    for (let chunk = 0; chunk < batch.state.chunks.length; chunk += 1) {
      const items = batch.state.chunks[chunk]!;
      await this.programme.append(issueVouchers(this.programme.state, { orgId, campaignId: batchId, chunk, count: items.length, faceFen: voucher!.faceFen }), now);
      for (const item of items) await this.wallet(item.memberId).append([voucherGrant(item.memberId, { batchId, programmeId, orgId }, voucher!)], now);
      await batch.append(payChunk(batch.state, chunk, items.length), now);
    }
  }

  /** Authorises and captures `amountFen` in full. */
  async pay(memberId: string, paymentId: string, merchantId: string, amountFen: number, now: Date): Promise<void> {
    const wallet = this.wallet(memberId);
    const category = this.merchant(merchantId).state.category;
    await wallet.append(authorisePayment(wallet.state, { memberId, paymentId, merchantId, category, amountFen }, now), now);
    await wallet.append(capturePayment(wallet.state, { paymentId, merchantId, amountFen }, now), now);
  }

  /** Settles a merchant's day from the merchant stream's own lines, as the application does. */
  async settle(merchantId: string, day: string, today: string, now: Date): Promise<void> {
    const merchant = this.merchant(merchantId);
    await merchant.append(settleDay(merchant.state, { settlementId: `s-${merchantId}-${day}`, payoutId: `po-${merchantId}-${day}`, day }, today), now);
  }
}

async function registerOrg(orgId: string, parentId: string | null, level: string): Promise<void> {
  await store.appendToStream(`org-${orgId}`, [
    { eventId: randomUUID(), type: 'OrganisationRegistered', data: { orgId, name: `union ${orgId}`, parentId, level }, metadata: { occurredAt: T0.toISOString() } },
  ]);
}

async function enrolMember(memberId: string, orgId: string, active: boolean): Promise<void> {
  const metadata = { occurredAt: T0.toISOString() };
  await store.appendToStream(`member-${memberId}`, [
    { eventId: randomUUID(), type: 'MemberEnrolled', data: { memberId, orgId, name: `member ${memberId}`, idHmac: `hmac-${memberId}`, piiCipher: 'sealed' }, metadata },
    ...(active ? [{ eventId: randomUUID(), type: 'MemberActivated', data: { memberId, orgId, day: '2026-09-01' }, metadata }] : []),
  ]);
}

/** Rows of a table as plain objects with numbers for bigints, for comparing with the folds. */
async function rows(sql: string, values: unknown[] = []): Promise<Array<Record<string, unknown>>> {
  return database.db.any(sql, values);
}

beforeAll(async () => {
  database = await createTestDatabase();
  store = createEventStore(loadConfig({}), database.db, { listen: false });
});

afterAll(async () => {
  await store?.close();
  await database?.drop();
});

describe('the benefits read models over a programme year', () => {
  const world = (): World => scenario!;
  let scenario: World | undefined;
  /** b1 pays 1,200 members in three chunks: m1..m3 get 10,000 fen each, the rest 100. */
  const b1Items: BatchItem[] = [
    ...['m1', 'm2', 'm3'].map((memberId) => ({ memberId, amountFen: 10_000 })),
    ...Array.from({ length: 1_197 }, (_, index) => ({ memberId: `w${String(index + 4).padStart(4, '0')}`, amountFen: 100 })),
  ];
  const terms: VoucherTerms = { category: 'grocery', faceFen: 5_000, validFromMs: T0.getTime(), validUntilMs: T0.getTime() + 30 * DAY_MS };

  beforeAll(async () => {
    scenario = new World('p2026');
    for (const [orgId, parentId, level] of [
      ['js', null, 'province'],
      ['nj', 'js', 'city'],
      ['gl', 'nj', 'county'],
      ['sz', 'js', 'city'],
    ] as const) {
      await registerOrg(orgId, parentId, level);
    }
    for (const [memberId, orgId, active] of [
      ['a1', 'nj', true],
      ['a2', 'gl', true],
      ['a3', 'gl', false],
      ['a4', 'sz', true],
      ['a5', 'nj', true],
    ] as const) {
      await enrolMember(memberId, orgId, active);
    }
  });

  it('opens a programme, funds it through an approved proposal and allocates it down the tree', async () => {
    const w = world();
    const now = at(0);
    await w.programme.append(openProgramme(w.programme.state, { programmeId: 'p2026', name: '2026 中秋慰问', year: 2026, rootOrgId: 'js', openedBy: MAKER.id }), now);
    await w.approved('fund-1', 'budget.fund', 'js', 1_000_000, now, () =>
      w.programme.append(fundBudget(w.programme.state, { amountFen: 1_000_000, source: 'union_funds', reference: 'doc-1', proposalId: 'fund-1' }), now),
    );
    await w.programme.append(allocateBudget(w.programme.state, { fromOrgId: 'js', toOrgId: 'nj', toParentOrgId: 'js', amountFen: 300_000, proposalId: 'alloc-1' }), now);
    await w.programme.append(allocateBudget(w.programme.state, { fromOrgId: 'nj', toOrgId: 'gl', toParentOrgId: 'nj', amountFen: 100_000, proposalId: 'alloc-2' }), now);
    await w.programme.append(allocateBudget(w.programme.state, { fromOrgId: 'js', toOrgId: 'sz', toParentOrgId: 'js', amountFen: 50_000, proposalId: 'alloc-3' }), now);
    await w.programme.append(returnBudget(w.programme.state, { fromOrgId: 'gl', amountFen: 20_000, proposalId: null }), now);
    // Proposals that end otherwise: rejected, expired, still pending.
    const rejected = w.proposal('alloc-x');
    await rejected.append(makeProposal(rejected.state, { proposalId: 'alloc-x', kind: 'budget.allocate', orgId: 'nj', action: { toOrgId: 'gl' }, amountFen: 5, summary: 'too little', proposedBy: MAKER }, now), now);
    await rejected.append(rejectProposal(rejected.state, { rejecter: CHECKER, covers: true, reason: 'amount makes no sense' }), at(1_000));
    const expired = w.proposal('alloc-late');
    await expired.append(makeProposal(expired.state, { proposalId: 'alloc-late', kind: 'budget.allocate', orgId: 'sz', action: {}, amountFen: 1_000, summary: 'late', proposedBy: MAKER, ttlMs: 60_000 }, now), now);
    await expired.append(dueProposal(expired.state, at(120_000)), at(120_000));
    const pending = w.proposal('alloc-pending');
    await pending.append(makeProposal(pending.state, { proposalId: 'alloc-pending', kind: 'budget.return', orgId: 'sz', action: {}, amountFen: 2_000, summary: 'back up', proposedBy: MAKER }, at(2_000)), at(2_000));
    await catchUp();

    expect(await programmeOf(database.db, 'p2026')).toEqual({
      programmeId: 'p2026',
      name: '2026 中秋慰问',
      year: 2026,
      rootOrgId: 'js',
      status: 'open',
      openedAt: T0.toISOString(),
      closedAt: null,
    });
    expect(await programmeOf(database.db, 'nope')).toBeNull();
    const tree = await budgetTree(database.db, 'p2026', null);
    expect(tree.map((node) => [node.orgId, node.parentOrgId, node.balanceFen])).toEqual([
      ['gl', 'nj', 80_000],
      ['js', null, 650_000],
      ['nj', 'js', 220_000],
      ['sz', 'js', 50_000],
    ]);
    expect(tree.find((node) => node.orgId === 'gl')).toMatchObject({ receivedFen: 100_000, returnedUpFen: 20_000 });
    expect(tree.find((node) => node.orgId === 'nj')).toMatchObject({ receivedFen: 300_000, allocatedOutFen: 100_000, returnedInFen: 20_000 });
    expect((await budgetTree(database.db, 'p2026', ['nj', 'gl'])).map((node) => node.orgId)).toEqual(['gl', 'nj']);
    expect(await budgetTree(database.db, 'p2026', [])).toEqual([]);

    expect(await proposalById(database.db, 'fund-1')).toMatchObject({
      kind: 'budget.fund',
      orgId: 'js',
      amountFen: 1_000_000,
      status: 'approved',
      proposedBy: MAKER,
      decidedBy: CHECKER,
      outcome: { status: 'done' },
      proposedAt: T0.toISOString(),
      decidedAt: T0.toISOString(),
      expiresAt: new Date(T0.getTime() + 7 * DAY_MS).toISOString(),
    });
    expect(await proposalById(database.db, 'alloc-x')).toMatchObject({ status: 'rejected', decidedBy: CHECKER, reason: 'amount makes no sense', decidedAt: at(1_000).toISOString(), outcome: null });
    expect(await proposalById(database.db, 'alloc-late')).toMatchObject({ status: 'expired', decidedBy: null, decidedAt: at(120_000).toISOString() });
    expect(await proposalById(database.db, 'nope')).toBeNull();

    // The inbox: newest first, paged by cursor, by union and status.
    const first = await proposalsInbox(database.db, { orgIds: null, limit: 2 });
    expect(first.items.map((proposal) => proposal.proposalId)).toEqual(['alloc-pending', 'alloc-late']);
    const second = await proposalsInbox(database.db, { orgIds: null, after: first.nextCursor, limit: 2 });
    expect(second.items.map((proposal) => proposal.proposalId)).toEqual(['alloc-x', 'fund-1']);
    expect(second.nextCursor).toBeNull();
    expect((await proposalsInbox(database.db, { orgIds: ['sz'], status: 'pending', limit: 10 })).items.map((proposal) => proposal.proposalId)).toEqual(['alloc-pending']);
    expect((await proposalsInbox(database.db, { orgIds: [], limit: 10 })).items).toEqual([]);
    await expect(proposalsInbox(database.db, { orgIds: null, limit: 101 })).rejects.toThrow('invariant violated');

    // Members of a unit: its own and every union below it, active only, paged by member id.
    const page = await activeMembersOfUnit(database.db, 'nj', { limit: 2 });
    expect(page).toEqual({ items: ['a1', 'a2'], nextCursor: 'a2' });
    expect(await activeMembersOfUnit(database.db, 'nj', { afterMemberId: page.nextCursor, limit: 2 })).toEqual({ items: ['a5'], nextCursor: null });
    expect((await activeMembersOfUnit(database.db, 'js', { limit: 500 })).items).toEqual(['a1', 'a2', 'a4', 'a5']);
    expect((await activeMembersOfUnit(database.db, 'gl', { limit: 500 })).items).toEqual(['a2']);
  });

  it('pays a money batch in chunks, and a batch the budget runs out on pays a prefix and stops', async () => {
    const w = world();
    const now = at(DAY_MS / 2);
    await w.readyBatch('b1', 'nj', b1Items, null, now);
    await w.payMoney('b1', now);
    await w.readyBatch('b2', 'gl', ['m4', 'm5', 'm6'].map((memberId) => ({ memberId, amountFen: 50_000 })), null, now);
    await w.payMoney('b2', now);
    // A draft cancelled before it was sealed.
    const b3 = w.batch('b3');
    await b3.append(draftBatch(b3.state, { batchId: 'b3', kind: 'money', programmeId: 'p2026', orgId: 'sz', source: 'unit', voucher: null, draftedBy: MAKER.id }), now);
    await b3.append(listItems(b3.state, [{ memberId: 'a4', amountFen: 700 }]), now);
    await b3.append(cancelBatch(b3.state, 'wrong unit'), now);
    await catchUp();

    expect(await batchById(database.db, 'b1')).toEqual({
      batchId: 'b1',
      kind: 'money',
      programmeId: 'p2026',
      orgId: 'nj',
      source: 'csv',
      voucher: null,
      draftedBy: MAKER.id,
      status: 'completed',
      memberCount: 1_200,
      totalFen: 149_700,
      chunks: 3,
      nextChunk: 3,
      paidCount: 1_200,
      paidFen: 149_700,
      unpaidCount: 0,
      unpaidFen: 0,
      proposalId: 'approve-b1',
      stopReason: null,
      cancelReason: null,
      draftedAt: now.toISOString(),
      completedAt: now.toISOString(),
    });
    expect(await batchById(database.db, 'b2')).toMatchObject({ status: 'stopped', stopReason: 'BUDGET_INSUFFICIENT', paidCount: 1, paidFen: 50_000, unpaidCount: 2, unpaidFen: 100_000 });
    expect(await batchById(database.db, 'b3')).toMatchObject({ status: 'cancelled', cancelReason: 'wrong unit', memberCount: 1, totalFen: 700 });
    expect(await batchById(database.db, 'nope')).toBeNull();

    // Items keep their listed place: seq = chunk * 500 + index.
    const items = await rows('SELECT seq, member_id, amount_fen::int AS amount_fen, result FROM ul_benefit_batch_items WHERE batch_id = $1 ORDER BY seq', ['b1']);
    expect(items).toHaveLength(1_200);
    expect(items.map((item) => item.member_id)).toEqual(b1Items.map((item) => item.memberId));
    expect(items.map((item) => item.seq)).toEqual(b1Items.map((_, index) => index));
    expect(items.every((item) => item.result === 'paid')).toBe(true);
    expect(await batchResults(database.db, 'b2', { limit: 10 })).toEqual({
      items: [
        { seq: 0, memberId: 'm4', amountFen: 50_000, result: 'paid' },
        { seq: 1, memberId: 'm5', amountFen: 50_000, result: 'unpaid' },
        { seq: 2, memberId: 'm6', amountFen: 50_000, result: 'unpaid' },
      ],
      nextCursor: null,
    });
    expect(await batchResults(database.db, 'b2', { limit: 1, afterSeq: 0, result: 'unpaid' })).toEqual({
      items: [{ seq: 1, memberId: 'm5', amountFen: 50_000, result: 'unpaid' }],
      nextCursor: '1',
    });
    const paged = await batchResults(database.db, 'b1', { afterSeq: 498, limit: 3 });
    expect(paged.items.map((item) => [item.seq, item.memberId])).toEqual([
      [499, 'w0500'],
      [500, 'w0501'],
      [501, 'w0502'],
    ]);
    expect(paged.nextCursor).toBe('501');

    expect(await walletOf(database.db, 'm1')).toMatchObject({ availableFen: 10_000, heldFen: 0, voucherAvailableFen: 0, voucherHeldFen: 0, cardMasked: null });
    expect(await walletOf(database.db, 'w1200')).toMatchObject({ availableFen: 100 });
    expect(await walletOf(database.db, 'm5')).toBeNull();
    expect((await rows('SELECT count(*)::int AS n, sum(available_fen)::int AS fen FROM ul_wallets'))[0]).toEqual({ n: 1_201, fen: 199_700 });
    expect((await budgetTree(database.db, 'p2026', ['nj', 'gl'])).map((node) => [node.orgId, node.balanceFen, node.disbursedFen])).toEqual([
      ['gl', 30_000, 50_000],
      ['nj', 70_300, 149_700],
    ]);
  });

  it('grants a voucher campaign, then takes payments at an admitted merchant', async () => {
    const w = world();
    let now = at(DAY_MS / 2);
    await w.readyBatch('v1', 'nj', ['m1', 'm2', 'm3'].map((memberId) => ({ memberId, amountFen: terms.faceFen })), terms, now);
    await w.payVouchers('v1', now);
    for (const [merchantId, category, orgId] of [
      ['shop1', 'grocery', 'nj'],
      ['shop2', 'books', 'sz'],
    ] as const) {
      const merchant = w.merchant(merchantId);
      await merchant.append(
        applyMerchant(merchant.state, { merchantId, name: `${merchantId} 超市`, category, signingOrgId: orgId, cardHmac: 'hmac', cardSealed: 'sealed', cardMasked: '6222 **** **** 0123', appliedBy: MAKER.id }),
        now,
      );
      await w.approved(`admit-${merchantId}`, 'merchant.admit', orgId, null, now, () => merchant.append(admitMerchant(merchant.state, `admit-${merchantId}`), now));
    }
    const shop2 = w.merchant('shop2');
    await shop2.append(suspendMerchant(shop2.state, { reason: 'complaints', proposalId: 'suspend-shop2' }), now);

    now = new Date('2026-09-02T03:00:00.000Z'); // business day 2026-09-02
    const m1 = w.wallet('m1');
    await m1.append(authorisePayment(m1.state, { memberId: 'm1', paymentId: 'pay-1', merchantId: 'shop1', category: 'grocery', amountFen: 8_000 }, now), now);
    await m1.append(capturePayment(m1.state, { paymentId: 'pay-1', merchantId: 'shop1', amountFen: 7_000 }, now), now);
    await w.pay('m2', 'pay-2', 'shop1', 2_000, now);
    const m3 = w.wallet('m3');
    await m3.append(authorisePayment(m3.state, { memberId: 'm3', paymentId: 'pay-3', merchantId: 'shop1', category: 'grocery', amountFen: 1_000 }, now), now);
    await m3.append(voidPayment(m3.state, { paymentId: 'pay-3', merchantId: 'shop1' }), now);
    await m1.append(authorisePayment(m1.state, { memberId: 'm1', paymentId: 'pay-4', merchantId: 'shop1', category: 'grocery', amountFen: 500, ttlMs: 60_000 }, now), now);
    await catchUp();
    expect(await expiredAuthorisationHolders(database.db, now.getTime() + 60_000, 10)).toEqual(['m1']);
    expect(await expiredAuthorisationHolders(database.db, now.getTime(), 10)).toEqual([]);
    await m1.append(dueWallet(m1.state, new Date(now.getTime() + 60_000)), new Date(now.getTime() + 60_000));
    await catchUp();

    expect(await merchantById(database.db, 'shop1')).toEqual({
      merchantId: 'shop1',
      name: 'shop1 超市',
      category: 'grocery',
      signingOrgId: 'nj',
      status: 'admitted',
      cardMasked: '6222 **** **** 0123',
      suspendReason: null,
      appliedAt: at(DAY_MS / 2).toISOString(),
    });
    expect(await merchantById(database.db, 'shop2')).toMatchObject({ status: 'suspended', suspendReason: 'complaints' });
    expect((await merchantsOf(database.db, { orgIds: ['nj'], limit: 10 })).items.map((merchant) => merchant.merchantId)).toEqual(['shop1']);
    const merchantsPage = await merchantsOf(database.db, { orgIds: null, limit: 1 });
    expect(merchantsPage).toMatchObject({ items: [{ merchantId: 'shop1' }], nextCursor: 'shop1' });
    expect((await merchantsOf(database.db, { orgIds: null, after: merchantsPage.nextCursor, limit: 1 })).items.map((merchant) => merchant.merchantId)).toEqual(['shop2']);

    expect(await walletOf(database.db, 'm1')).toMatchObject({ availableFen: 8_000, heldFen: 0, voucherAvailableFen: 0, voucherHeldFen: 0 });
    expect(await walletOf(database.db, 'm3')).toMatchObject({ availableFen: 10_000, voucherAvailableFen: 5_000 });
    expect(await paymentById(database.db, 'pay-1')).toMatchObject({
      merchantId: 'shop1',
      memberId: 'm1',
      amountFen: 8_000,
      walletFen: 3_000,
      voucherFen: 5_000,
      status: 'captured',
      capturedFen: 7_000,
      refundedFen: 0,
      authorisedAt: now.toISOString(),
    });
    expect(await paymentById(database.db, 'pay-3')).toMatchObject({ status: 'voided' });
    expect(await paymentById(database.db, 'pay-4')).toMatchObject({ status: 'expired', updatedAt: new Date(now.getTime() + 60_000).toISOString() });
    const payments = await merchantPayments(database.db, 'shop1', { limit: 3 });
    expect(payments.items.map((payment) => payment.paymentId)).toEqual(['pay-4', 'pay-3', 'pay-2']);
    expect((await merchantPayments(database.db, 'shop1', { beforePosition: payments.nextCursor, limit: 3 })).items.map((payment) => payment.paymentId)).toEqual(['pay-1']);

    // m1's statement, newest first: the expired hold back, the hold, the capture (1,000 released), the hold, the voucher, the credit.
    const statement = await walletStatement(database.db, 'm1', { limit: 4 });
    expect(statement.items.map((line) => [line.eventType, line.reference, line.deltaAvailableFen, line.deltaVoucherFen, line.availableAfterFen, line.voucherAfterFen, line.heldAfterFen])).toEqual([
      ['PaymentVoided', 'pay-4', 500, 0, 8_000, 0, 0],
      ['PaymentAuthorised', 'pay-4', -500, 0, 7_500, 0, 500],
      ['PaymentCaptured', 'pay-1', 1_000, 0, 8_000, 0, 0],
      ['PaymentAuthorised', 'pay-1', -3_000, -5_000, 7_000, 0, 3_000],
    ]);
    expect(statement.items[0]).toMatchObject({ paymentId: 'pay-4', merchantId: 'shop1' });
    const rest = await walletStatement(database.db, 'm1', { beforePosition: statement.nextCursor, limit: 4 });
    expect(rest.items.map((line) => [line.eventType, line.reference, line.deltaAvailableFen, line.deltaVoucherFen, line.availableAfterFen, line.voucherAfterFen])).toEqual([
      ['VoucherGranted', 'v1:m1', 0, 5_000, 10_000, 5_000],
      ['WalletCredited', 'b1', 10_000, 0, 10_000, 0],
    ]);
    expect(rest.nextCursor).toBeNull();

    expect(await vouchersOf(database.db, 'm2')).toEqual([
      {
        voucherId: 'v1:m2',
        batchId: 'v1',
        programmeId: 'p2026',
        orgId: 'nj',
        category: 'grocery',
        faceFen: 5_000,
        availableFen: 3_000,
        heldFen: 0,
        expiredFen: 0,
        validFrom: T0.toISOString(),
        validUntil: new Date(terms.validUntilMs).toISOString(),
        grantedAt: at(DAY_MS / 2).toISOString(),
      },
    ]);
    expect(await batchById(database.db, 'v1')).toMatchObject({ kind: 'vouchers', voucher: terms, status: 'completed', paidCount: 3, paidFen: 15_000 });
    expect((await budgetTree(database.db, 'p2026', ['nj']))[0]).toMatchObject({ balanceFen: 55_300, vouchersIssuedFen: 15_000 });
  });

  it('settles merchant days from the merchant stream: each line in one settlement, a late line of a settled day in the next', async () => {
    const w = world();
    // Day 2026-09-02 closes on the 3rd.
    let now = new Date('2026-09-03T02:00:00.000Z');
    expect(await merchantsWithUnsettledLines(database.db, '2026-09-02', 10)).toEqual(['shop1']);
    expect(await merchantsWithUnsettledLines(database.db, '2026-09-01', 10)).toEqual([]);
    await w.settle('shop1', '2026-09-02', '2026-09-03', now);
    const first = w.merchant('shop1').state;
    expect(first).toMatchObject({ lastSettledDay: '2026-09-02', carriedFen: 0, openDays: new Map() });

    // A capture of the 2nd recorded after that settlement (a terminal's late capture), a refund and a capture on the 3rd.
    await w.pay('m3', 'pay-5', 'shop1', 1_000, new Date('2026-09-02T15:00:00.000Z'));
    const m2 = w.wallet('m2');
    await m2.append(refundPayment(m2.state, { paymentId: 'pay-2', merchantId: 'shop1', refundId: 'refund-1', amountFen: 500 }, now), now);
    await w.pay('m2', 'pay-6', 'shop1', 1_000, now);
    await catchUp();

    // Settlement 1 claimed the two lines it counted, not the late one.
    const lines = await merchantLines(database.db, 'shop1', { limit: 10 });
    expect(lines.items.map((line) => [line.kind, line.paymentId, line.refundId, line.amountFen, line.day, line.settlementId])).toEqual([
      ['capture', 'pay-6', null, 1_000, '2026-09-03', null],
      ['refund', 'pay-2', 'refund-1', 500, '2026-09-03', null],
      ['capture', 'pay-5', null, 1_000, '2026-09-02', null],
      ['capture', 'pay-2', null, 2_000, '2026-09-02', 's-shop1-2026-09-02'],
      ['capture', 'pay-1', null, 7_000, '2026-09-02', 's-shop1-2026-09-02'],
    ]);
    expect((await merchantLines(database.db, 'shop1', { day: '2026-09-02', limit: 2 })).items.map((line) => line.paymentId)).toEqual(['pay-5', 'pay-2']);
    expect(await merchantsWithUnsettledLines(database.db, '2026-09-02', 10)).toEqual(['shop1']);

    // The 3rd: everything settlement 1 did not take, the late line of the 2nd included.
    now = new Date('2026-09-04T02:00:00.000Z');
    await w.settle('shop1', '2026-09-03', '2026-09-04', now);
    await catchUp();

    expect((await merchantLines(database.db, 'shop1', { limit: 10 })).items.map((line) => line.settlementId)).toEqual([
      's-shop1-2026-09-03',
      's-shop1-2026-09-03',
      's-shop1-2026-09-03',
      's-shop1-2026-09-02',
      's-shop1-2026-09-02',
    ]);
    expect(await merchantsWithUnsettledLines(database.db, '2026-09-03', 10)).toEqual([]);
    const settlements = await settlementsOf(database.db, 'shop1', { limit: 1 });
    expect(settlements.items).toEqual([
      {
        settlementId: 's-shop1-2026-09-03',
        merchantId: 'shop1',
        day: '2026-09-03',
        captureFen: 2_000,
        refundFen: 500,
        carriedFen: 0,
        netFen: 1_500,
        lines: 3,
        throughRevision: w.merchant('shop1').state.revision - 2,
        payoutId: 'po-shop1-2026-09-03',
        payoutAmountFen: 1_500,
        settledAt: now.toISOString(),
      },
    ]);
    expect(settlements.nextCursor).toBe('2026-09-03');
    expect(await settlementsOf(database.db, 'shop1', { beforeDay: settlements.nextCursor, limit: 1 })).toEqual({
      items: [expect.objectContaining({ settlementId: 's-shop1-2026-09-02', captureFen: 9_000, netFen: 9_000, lines: 2, throughRevision: first.revision - 2, payoutId: 'po-shop1-2026-09-02' })],
      nextCursor: null,
    });
  });

  it('expires vouchers, returns their value to the budget exactly once, and closes the programme', async () => {
    const w = world();
    const validUntil = terms.validUntilMs;
    expect(await expiredVoucherHolders(database.db, validUntil - 1, 10)).toEqual([]);
    expect(await expiredVoucherHolders(database.db, validUntil, 10)).toEqual(['m2', 'm3']);
    let now = new Date(validUntil + 60_000);
    for (const memberId of await expiredVoucherHolders(database.db, now.getTime(), 10)) await w.wallet(memberId).append(dueWallet(w.wallet(memberId).state, now), now);
    await catchUp();
    expect(await expiredVoucherHolders(database.db, now.getTime(), 10)).toEqual([]);
    expect(await vouchersOf(database.db, 'm2')).toMatchObject([{ availableFen: 0, expiredFen: 2_500 }]);
    expect(await vouchersOf(database.db, 'm3')).toMatchObject([{ availableFen: 0, expiredFen: 4_000 }]);

    const firstPage = await voucherExpiriesToReturn(database.db, null, 1);
    expect(firstPage.items).toEqual([
      { expiryId: 'v1:m2:1', voucherId: 'v1:m2', programmeId: 'p2026', orgId: 'nj', amountFen: 2_500, position: w.wallet('m2').lastPosition.toString() },
    ]);
    expect((await voucherExpiriesToReturn(database.db, firstPage.nextCursor, 1)).items.map((expiry) => expiry.expiryId)).toEqual(['v1:m3:1']);
    const pending = await pendingVoucherExpiries(database.db, 100);
    expect(pending).toEqual([
      {
        programmeId: 'p2026',
        expiries: [
          { expiryId: 'v1:m2:1', voucherId: 'v1:m2', orgId: 'nj', amountFen: 2_500 },
          { expiryId: 'v1:m3:1', voucherId: 'v1:m3', orgId: 'nj', amountFen: 4_000 },
        ],
      },
    ]);
    await w.programme.append(returnVoucherValue(w.programme.state, { expiries: pending[0]!.expiries }), now);
    await catchUp();
    expect(await pendingVoucherExpiries(database.db, 100)).toEqual([]);
    expect((await budgetTree(database.db, 'p2026', ['nj']))[0]).toMatchObject({ balanceFen: 61_800, vouchersReturnedFen: 6_500 });

    // Value refunded to an expired voucher expires again; after the close it goes to the root union's funds, not a budget.
    const m2 = w.wallet('m2');
    await m2.append(refundPayment(m2.state, { paymentId: 'pay-2', merchantId: 'shop1', refundId: 'refund-2', amountFen: 300 }, now), now);
    await m2.append(dueWallet(m2.state, now), now);
    now = new Date('2027-01-02T02:00:00.000Z');
    await w.programme.append(closeProgramme(w.programme.state, { now }), now);
    await catchUp();
    const late = await pendingVoucherExpiries(database.db, 100);
    expect(late).toEqual([{ programmeId: 'p2026', expiries: [{ expiryId: 'v1:m2:2', voucherId: 'v1:m2', orgId: 'nj', amountFen: 300 }] }]);
    await w.programme.append(returnVoucherValue(w.programme.state, { expiries: late[0]!.expiries }), now);
    await catchUp();
    expect(await pendingVoucherExpiries(database.db, 100)).toEqual([]);
    expect(await programmeOf(database.db, 'p2026')).toMatchObject({ status: 'closed', closedAt: now.toISOString() });
    const tree = await budgetTree(database.db, 'p2026', null);
    expect(tree.every((node) => node.balanceFen === 0)).toBe(true);
    expect(tree.find((node) => node.orgId === 'nj')).toMatchObject({ vouchersReturnedFen: 6_500, returnedUpFen: 61_800 });
    // The root's whole remainder, its own and what its unions returned, went on to the root union's funds.
    expect(tree.find((node) => node.orgId === 'js')).toMatchObject({ returnedUpFen: 791_800, balanceFen: 0 });
  });

  it('holds exactly what the deciders fold from the streams, with a zero trial balance', async () => {
    const w = world();
    const budgets = await budgetTree(database.db, 'p2026', null);
    expect(
      Object.fromEntries(
        budgets.map(({ programmeId: _programme, orgId, parentOrgId, ...fen }) => [
          orgId,
          {
            parentOrgId,
            balance: fen.balanceFen,
            funded: fen.fundedFen,
            received: fen.receivedFen,
            allocatedOut: fen.allocatedOutFen,
            returnedUp: fen.returnedUpFen,
            returnedIn: fen.returnedInFen,
            disbursed: fen.disbursedFen,
            vouchersIssued: fen.vouchersIssuedFen,
            vouchersReturned: fen.vouchersReturnedFen,
          },
        ]),
      ),
    ).toEqual(Object.fromEntries([...w.programme.state.budgets.values()].map(({ orgId, ...node }) => [orgId, node])));

    for (const [memberId, wallet] of w.wallets) {
      const view = await walletOf(database.db, memberId);
      expect({ memberId, available: view?.availableFen, held: view?.heldFen, voucherAvailable: view?.voucherAvailableFen, voucherHeld: view?.voucherHeldFen }).toEqual({
        memberId,
        available: wallet.state.available,
        held: wallet.state.held,
        voucherAvailable: wallet.state.voucherAvailable,
        voucherHeld: wallet.state.voucherHeld,
      });
      const vouchers = await vouchersOf(database.db, memberId);
      expect(vouchers.map((voucher) => [voucher.voucherId, voucher.availableFen, voucher.heldFen])).toEqual(
        [...wallet.state.vouchers.values()].map((voucher) => [voucher.voucherId, voucher.available, voucher.held]),
      );
      for (const payment of wallet.state.payments.values()) {
        expect(await paymentById(database.db, payment.paymentId)).toMatchObject({ status: payment.status, capturedFen: payment.capturedFen, refundedFen: payment.refundedFen });
      }
    }
    for (const [batchId, batch] of w.batches) {
      expect(await batchById(database.db, batchId)).toMatchObject({ status: batch.state.status, memberCount: batch.state.memberCount, totalFen: batch.state.totalFen, paidCount: batch.state.paidCount });
    }
    for (const [proposalId, proposal] of w.proposals) {
      expect(await proposalById(database.db, proposalId)).toMatchObject({ status: proposal.state.status, outcome: proposal.state.outcome });
    }
    // Each statement's last line is its wallet's balance; the lines' deltas add up to it.
    const sums = await rows(
      `SELECT s.member_id, sum(s.delta_available_fen)::bigint = w.available_fen AND sum(s.delta_voucher_fen)::bigint = w.voucher_available_fen AS adds_up
         FROM ul_wallet_statement s JOIN ul_wallets w USING (member_id) GROUP BY s.member_id, w.available_fen, w.voucher_available_fen`,
    );
    expect(sums).toHaveLength(w.wallets.size);
    expect(sums.every((row) => row.adds_up === true)).toBe(true);

    const trial = await checkTrialBalance(database.db);
    expect(trial).toMatchObject({ ok: true, badPostings: [], mixedAssetAccounts: [], journalMismatches: [] });
  });

  it('rebuilds from event zero into identical tables', async () => {
    await catchUp();
    const live = await dumpTables(database.db, BENEFITS_TABLES);
    for (const table of BENEFITS_TABLES) expect({ table, empty: live[table]!.length === 0 }).toEqual({ table, empty: false });
    await rebuildProjection(store, database.db, benefitsProjection());
    expect(await dumpTables(database.db, BENEFITS_TABLES)).toEqual(live);
  });
});

describe('a disbursement to 100,000 members', () => {
  /**
   * The projection alone, fed the events of a 100,000-member disbursement in catch-up batches of
   * 1,000 (appending 100,000 events one stream at a time would measure the event store instead).
   */
  it('applies its 200 listings and 100,000 wallet credits with a statement per wallet', async () => {
    const big = await createTestDatabase();
    try {
      const members = 100_000;
      const occurredAt = T0.toISOString();
      let position = 0n;
      const recorded: RecordedEvent[] = [];
      const record = (streamId: string, events: ReadonlyArray<{ type: string; data: object }>): void => {
        for (const event of events) {
          position += 1n;
          recorded.push({
            eventId: randomUUID(),
            streamId,
            revision: 0n,
            type: event.type,
            schemaVersion: schemaVersionOf(event.data),
            data: event.data as unknown as JsonObject,
            metadata: { occurredAt },
            recordedAt: T0,
            globalPosition: position,
          });
        }
      };
      let programme = initialProgrammeState;
      const onProgramme = (events: ProgrammeEvent[]): void => {
        record(programmeStream('big'), events);
        programme = events.reduce(evolveProgramme, programme);
      };
      let batch = initialBatchState;
      const onBatch = (events: BatchEvent[]): void => {
        record(batchStream('big'), events);
        batch = events.reduce(evolveBatch, batch);
      };
      onProgramme(openProgramme(programme, { programmeId: 'big', name: 'big', year: 2026, rootOrgId: 'js', openedBy: MAKER.id }));
      onProgramme(fundBudget(programme, { amountFen: members * 1_000, source: 'union_funds', reference: 'doc', proposalId: 'f' }));
      onBatch(draftBatch(batch, { batchId: 'big', kind: 'money', programmeId: 'big', orgId: 'js', source: 'unit', voucher: null, draftedBy: MAKER.id }));
      for (let start = 0; start < members; start += BATCH_CHUNK) {
        onBatch(listItems(batch, Array.from({ length: BATCH_CHUNK }, (_, index) => ({ memberId: `big-${String(start + index).padStart(6, '0')}`, amountFen: 1_000 }))));
      }
      onBatch(sealBatch(batch));
      onBatch(approveBatch(batch, 'approve-big'));
      for (let chunk = 0; chunk < batch.chunks.length; chunk += 1) {
        const items = batch.chunks[chunk]!;
        const { events, covered } = reserveDisbursement(programme, { orgId: 'js', batchId: 'big', chunk, amountsFen: items.map((item) => item.amountFen) });
        onProgramme(events);
        for (const item of items) record(walletStream(item.memberId), [walletCredit(item.memberId, { batchId: 'big', programmeId: 'big', orgId: 'js' }, item.amountFen)]);
        onBatch(payChunk(batch, chunk, covered));
      }
      expect(recorded.length).toBe(2 + 1 + 200 + 2 + 200 + members + 200 + 1);

      const projection = benefitsProjection();
      const started = Date.now();
      for (let start = 0; start < recorded.length; start += 1_000) {
        await big.db.tx((tx) => projection.apply(tx, recorded.slice(start, start + 1_000)));
      }
      const elapsedMs = Date.now() - started;
      process.stdout.write(`benefits projection: ${recorded.length} events of a ${members}-member disbursement applied in ${elapsedMs} ms\n`);

      const totals = await big.db.one<{ wallets: number; fen: string; lines: number; paid: number }>(
        `SELECT (SELECT count(*)::int FROM ul_wallets) AS wallets, (SELECT sum(available_fen)::text FROM ul_wallets) AS fen,
                (SELECT count(*)::int FROM ul_wallet_statement) AS lines,
                (SELECT count(*)::int FROM ul_benefit_batch_items WHERE batch_id = 'big' AND result = 'paid') AS paid`,
      );
      expect(totals).toEqual({ wallets: members, fen: String(members * 1_000), lines: members, paid: members });
      const view = await batchById(big.db, 'big');
      expect(view).toMatchObject({ status: 'completed', memberCount: members, paidCount: members, chunks: 200 });
      expect(await budgetTree(big.db, 'big', null)).toEqual([expect.objectContaining({ orgId: 'js', balanceFen: 0, disbursedFen: members * 1_000 })]);
      // Generous: it measures about 10 s on a laptop; a query per event would take minutes.
      expect(elapsedMs).toBeLessThan(120_000);
    } finally {
      await big.drop();
    }
  });
});
