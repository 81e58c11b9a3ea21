import type { DbTask } from '../../infra/database';
import type { RecordedEvent } from '../../eventstore/event-store';
import {
  BATCH_CHUNK,
  benefitAccounts,
  type BatchEvent,
  type MerchantEvent,
  type PayoutEvent,
  type ProgrammeEvent,
  type ProposalEvent,
  type VoucherPart,
  type WalletEvent,
} from '../../domain/benefits';
import type { Posting } from '../../domain/shared';
import type { Projection } from '../runner';
import { insertRows, RowCache } from './rows';
import {
  batches,
  budgetKey,
  budgets,
  expiries,
  merchants,
  payments,
  programmes,
  proposals,
  settlements,
  vouchers,
  wallets,
  WHOLE_PROGRAMME,
  type BudgetRow,
  type ItemRow,
  type LineRow,
  type PaymentRow,
  type StatementRow,
  type VoucherRow,
} from './tables';

/**
 * The benefits context's PostgreSQL read models: programmes and their budget trees, proposals,
 * distribution batches and their items, wallets with their statements and vouchers, voucher
 * expiries on their way back to budgets, merchants with their payments, settlement lines and
 * settlements. One projection keeps them all, so they move together with one checkpoint.
 *
 * A disbursement of 100,000 members is 200 listing events of 500 items and 100,000 wallet
 * credits, so nothing here is a query per event: a batch of events loads the rows it touches once
 * (RowCache), applies the events in order in memory, and writes each table with multi-row
 * statements. Append-only lines (batch items, merchant lines, statement lines) are buffered and
 * flushed before the few set-based updates that must see them (a chunk paid, a batch completed,
 * a day settled).
 */

export const BENEFITS_PROJECTION = 'benefits';

export const BENEFITS_TABLES = [
  'ul_benefit_programmes',
  'ul_benefit_budgets',
  'ul_benefit_proposals',
  'ul_benefit_batches',
  'ul_benefit_batch_items',
  'ul_wallets',
  'ul_wallet_statement',
  'ul_vouchers',
  'ul_voucher_expiries',
  'ul_merchants',
  'ul_merchant_payments',
  'ul_merchant_lines',
  'ul_settlements',
] as const;

/** Payout outcomes are the payouts read model's (projections/payouts): settlements here end at the payout request. */
type SettlementEvent = Exclude<MerchantEvent, PayoutEvent>;
type BenefitEvent = ProgrammeEvent | ProposalEvent | BatchEvent | WalletEvent | SettlementEvent;

/** Every event type this projection reads; the `satisfies` check fails to compile when the domain adds one unlisted. */
const EVENT_TYPES = {
  ProgrammeOpened: true,
  BudgetFunded: true,
  BudgetAllocated: true,
  BudgetReturned: true,
  DisbursementReserved: true,
  VouchersIssued: true,
  VoucherValueReturned: true,
  ProgrammeClosed: true,
  ProposalMade: true,
  ProposalApproved: true,
  ProposalRejected: true,
  ProposalExpired: true,
  ProposalExecuted: true,
  BatchDrafted: true,
  BatchItemsListed: true,
  BatchSealed: true,
  BatchApproved: true,
  BatchCancelled: true,
  BatchChunkPaid: true,
  BatchStopped: true,
  BatchCompleted: true,
  WalletCredited: true,
  VoucherGranted: true,
  VoucherExpired: true,
  CardBound: true,
  PaymentAuthorised: true,
  PaymentCaptured: true,
  PaymentVoided: true,
  PaymentRefunded: true,
  MerchantApplied: true,
  MerchantAdmitted: true,
  MerchantSuspended: true,
  MerchantReinstated: true,
  MerchantLineRecorded: true,
  MerchantDaySettled: true,
  PayoutRequested: true,
} as const satisfies Record<BenefitEvent['type'], true>;

// ---------------------------------------------------------------- one batch of events

const sumParts = (parts: readonly VoucherPart[]): number => parts.reduce((total, part) => total + part.amountFen, 0);
const msToIso = (ms: number): string => new Date(ms).toISOString();

/** The net change an event's postings make to one account (credits in, debits out). */
function netOn(postings: readonly Posting[], account: string): number {
  let net = 0;
  for (const posting of postings) {
    if (posting.credit === account) net += posting.amount;
    if (posting.debit === account) net -= posting.amount;
  }
  return net;
}

/** The rows of every table that one batch of events touches, and the lines it appends. */
class BatchWriter {
  readonly programmes = new RowCache(programmes);
  readonly budgets = new RowCache(budgets);
  readonly proposals = new RowCache(proposals);
  readonly batches = new RowCache(batches);
  readonly wallets = new RowCache(wallets);
  readonly vouchers = new RowCache(vouchers);
  readonly expiries = new RowCache(expiries);
  readonly merchants = new RowCache(merchants);
  readonly payments = new RowCache(payments);
  readonly settlements = new RowCache(settlements);
  private items: ItemRow[] = [];
  private lines: LineRow[] = [];
  private statement: StatementRow[] = [];

  constructor(private readonly tx: DbTask) {}

  /** Loads, in one query per table, every stored row the events will change. */
  async preload(events: readonly BenefitEvent[]): Promise<void> {
    const keys = {
      programmes: new Set<string>(),
      budgets: new Set<string>(),
      proposals: new Set<string>(),
      batches: new Set<string>(),
      wallets: new Set<string>(),
      vouchers: new Set<string>(),
      expiries: new Set<string>(),
      merchants: new Set<string>(),
      payments: new Set<string>(),
      settlements: new Set<string>(),
    };
    const budget = (programmeId: string, orgId: string) => keys.budgets.add(budgetKey(programmeId, orgId));
    const parts = (list: readonly VoucherPart[]) => list.forEach((part) => keys.vouchers.add(part.voucherId));
    for (const event of events) {
      switch (event.type) {
        case 'ProgrammeOpened':
        case 'BudgetFunded':
        case 'DisbursementReserved':
        case 'VouchersIssued':
          keys.programmes.add(event.data.programmeId);
          if ('orgId' in event.data) budget(event.data.programmeId, event.data.orgId);
          break;
        case 'BudgetAllocated':
        case 'BudgetReturned':
          keys.programmes.add(event.data.programmeId);
          budget(event.data.programmeId, event.data.fromOrgId);
          budget(event.data.programmeId, event.data.toOrgId);
          break;
        case 'VoucherValueReturned':
          keys.programmes.add(event.data.programmeId);
          for (const expiry of event.data.expiries) {
            budget(event.data.programmeId, expiry.orgId);
            keys.expiries.add(expiry.expiryId);
          }
          break;
        case 'ProgrammeClosed':
          keys.programmes.add(event.data.programmeId);
          budget(event.data.programmeId, WHOLE_PROGRAMME);
          break;
        case 'ProposalMade':
        case 'ProposalApproved':
        case 'ProposalRejected':
        case 'ProposalExpired':
        case 'ProposalExecuted':
          keys.proposals.add(event.data.proposalId);
          break;
        case 'BatchDrafted':
        case 'BatchItemsListed':
        case 'BatchSealed':
        case 'BatchApproved':
        case 'BatchCancelled':
        case 'BatchChunkPaid':
        case 'BatchStopped':
        case 'BatchCompleted':
          keys.batches.add(event.data.batchId);
          break;
        case 'WalletCredited':
        case 'CardBound':
          keys.wallets.add(event.data.memberId);
          break;
        case 'VoucherGranted':
          keys.wallets.add(event.data.memberId);
          keys.vouchers.add(event.data.voucherId);
          break;
        case 'VoucherExpired':
          keys.wallets.add(event.data.memberId);
          keys.vouchers.add(event.data.voucherId);
          keys.expiries.add(event.data.expiryId);
          break;
        case 'PaymentAuthorised':
        case 'PaymentVoided':
        case 'PaymentRefunded':
          keys.wallets.add(event.data.memberId);
          keys.payments.add(event.data.paymentId);
          parts(event.data.vouchers);
          break;
        case 'PaymentCaptured':
          keys.wallets.add(event.data.memberId);
          keys.payments.add(event.data.paymentId);
          parts(event.data.vouchers);
          parts(event.data.releasedVouchers);
          break;
        case 'MerchantApplied':
        case 'MerchantAdmitted':
        case 'MerchantSuspended':
        case 'MerchantReinstated':
          keys.merchants.add(event.data.merchantId);
          break;
        case 'MerchantLineRecorded':
          break;
        case 'MerchantDaySettled':
        case 'PayoutRequested':
          keys.settlements.add(event.data.settlementId);
          break;
        default: {
          const unknown: never = event;
          throw new Error(`unknown benefits event ${(unknown as { type: string }).type}`);
        }
      }
    }
    await this.programmes.load(this.tx, keys.programmes);
    await this.budgets.load(this.tx, keys.budgets);
    await this.proposals.load(this.tx, keys.proposals);
    await this.batches.load(this.tx, keys.batches);
    await this.wallets.load(this.tx, keys.wallets);
    await this.vouchers.load(this.tx, keys.vouchers);
    await this.expiries.load(this.tx, keys.expiries);
    await this.merchants.load(this.tx, keys.merchants);
    await this.payments.load(this.tx, keys.payments);
    await this.settlements.load(this.tx, keys.settlements);
  }

  async apply(recorded: RecordedEvent): Promise<void> {
    const event = { type: recorded.type, data: recorded.data } as unknown as BenefitEvent;
    const at = recorded.metadata.occurredAt;
    const position = recorded.globalPosition;
    switch (event.type) {
      case 'ProgrammeOpened':
      case 'BudgetFunded':
      case 'BudgetAllocated':
      case 'BudgetReturned':
      case 'DisbursementReserved':
      case 'VouchersIssued':
      case 'VoucherValueReturned':
      case 'ProgrammeClosed':
        return this.programme(event, at);
      case 'ProposalMade':
      case 'ProposalApproved':
      case 'ProposalRejected':
      case 'ProposalExpired':
      case 'ProposalExecuted':
        return this.proposal(event, at, position);
      case 'BatchDrafted':
      case 'BatchItemsListed':
      case 'BatchSealed':
      case 'BatchApproved':
      case 'BatchCancelled':
      case 'BatchChunkPaid':
      case 'BatchStopped':
      case 'BatchCompleted':
        return this.batch(event, at);
      case 'WalletCredited':
      case 'VoucherGranted':
      case 'VoucherExpired':
      case 'CardBound':
      case 'PaymentAuthorised':
      case 'PaymentCaptured':
      case 'PaymentVoided':
      case 'PaymentRefunded':
        return this.wallet(event, at, position);
      case 'MerchantApplied':
      case 'MerchantAdmitted':
      case 'MerchantSuspended':
      case 'MerchantReinstated':
      case 'MerchantLineRecorded':
      case 'MerchantDaySettled':
      case 'PayoutRequested':
        return this.merchant(event, at, position, recorded.revision);
      default: {
        const unknown: never = event;
        throw new Error(`unknown benefits event ${(unknown as { type: string }).type}`);
      }
    }
  }

  // ---------------------------------------------------------------- programmes: mirrors evolveProgramme

  private budget(programmeId: string, orgId: string, parentOrgId: string | null = null): BudgetRow {
    const existing = this.budgets.get(budgetKey(programmeId, orgId));
    if (existing) {
      this.budgets.touch(existing);
      return existing;
    }
    return this.budgets.put({
      programme_id: programmeId,
      org_id: orgId,
      parent_org_id: parentOrgId,
      balance_fen: 0,
      funded_fen: 0,
      received_fen: 0,
      allocated_out_fen: 0,
      returned_up_fen: 0,
      returned_in_fen: 0,
      disbursed_fen: 0,
      vouchers_issued_fen: 0,
      vouchers_returned_fen: 0,
    });
  }

  private programme(event: ProgrammeEvent, at: string): void {
    const programmeId = event.data.programmeId;
    switch (event.type) {
      case 'ProgrammeOpened': {
        const { name, year, rootOrgId } = event.data;
        this.programmes.put({ programme_id: programmeId, name, year, root_org_id: rootOrgId, status: 'open', opened_at: at, closed_at: null });
        this.budget(programmeId, rootOrgId);
        return;
      }
      case 'BudgetFunded': {
        const node = this.budget(programmeId, event.data.orgId);
        node.balance_fen += event.data.amountFen;
        node.funded_fen += event.data.amountFen;
        return;
      }
      case 'BudgetAllocated': {
        const { fromOrgId, toOrgId, amountFen } = event.data;
        const from = this.budget(programmeId, fromOrgId);
        from.balance_fen -= amountFen;
        from.allocated_out_fen += amountFen;
        const to = this.budget(programmeId, toOrgId, fromOrgId);
        to.balance_fen += amountFen;
        to.received_fen += amountFen;
        return;
      }
      case 'BudgetReturned': {
        const { fromOrgId, toOrgId, amountFen } = event.data;
        const from = this.budget(programmeId, fromOrgId);
        from.balance_fen -= amountFen;
        from.returned_up_fen += amountFen;
        const to = this.budget(programmeId, toOrgId);
        to.balance_fen += amountFen;
        to.returned_in_fen += amountFen;
        return;
      }
      case 'DisbursementReserved': {
        const node = this.budget(programmeId, event.data.orgId);
        node.balance_fen -= event.data.amountFen;
        node.disbursed_fen += event.data.amountFen;
        return;
      }
      case 'VouchersIssued': {
        const node = this.budget(programmeId, event.data.orgId);
        node.balance_fen -= event.data.amountFen;
        node.vouchers_issued_fen += event.data.amountFen;
        return;
      }
      case 'VoucherValueReturned': {
        const open = this.programmes.require(programmeId, 'programme').status === 'open';
        for (const expiry of event.data.expiries) {
          this.returnExpiry(programmeId, expiry);
          // After the close, returned value goes to the root union's own funds, not to a budget.
          if (open) {
            const node = this.budget(programmeId, expiry.orgId);
            node.balance_fen += expiry.amountFen;
            node.vouchers_returned_fen += expiry.amountFen;
          }
        }
        return;
      }
      case 'ProgrammeClosed': {
        const programme = this.programmes.require(programmeId, 'programme');
        programme.status = 'closed';
        programme.closed_at = at;
        this.programmes.touch(programme);
        // As evolveProgramme: every union's remainder goes up to the root (the root's returned in),
        // and the root's whole remainder on to the root union's funds (the root's returned up).
        const nodes = [...this.budgets.all()].filter((row) => row.programme_id === programmeId);
        const fromUnions = nodes.filter((node) => node.org_id !== programme.root_org_id).reduce((sum, node) => sum + node.balance_fen, 0);
        for (const node of nodes) {
          const isRoot = node.org_id === programme.root_org_id;
          node.returned_in_fen += isRoot ? fromUnions : 0;
          node.returned_up_fen += node.balance_fen + (isRoot ? fromUnions : 0);
          node.balance_fen = 0;
          this.budgets.touch(node);
        }
        return;
      }
      default: {
        const unknown: never = event;
        throw new Error(`unknown programme event ${(unknown as { type: string }).type}`);
      }
    }
  }

  /** Marks an expiry returned (once: the programme skips an expiry already returned). */
  private returnExpiry(programmeId: string, expiry: { expiryId: string; voucherId: string; orgId: string; amountFen: number }): void {
    const row = this.expiries.get(expiry.expiryId);
    if (row) {
      row.returned = true;
      this.expiries.touch(row);
      return;
    }
    this.expiries.put({
      expiry_id: expiry.expiryId,
      voucher_id: expiry.voucherId,
      member_id: null,
      programme_id: programmeId,
      org_id: expiry.orgId,
      amount_fen: expiry.amountFen,
      global_position: null,
      returned: true,
    });
  }

  // ---------------------------------------------------------------- proposals

  private proposal(event: ProposalEvent, at: string, position: bigint): void {
    const proposalId = event.data.proposalId;
    if (event.type === 'ProposalMade') {
      const { kind, orgId, action, amountFen, summary, proposedBy, expiresAtMs } = event.data;
      this.proposals.put({
        proposal_id: proposalId,
        kind,
        org_id: orgId,
        action,
        amount_fen: amountFen,
        summary,
        proposed_by: proposedBy,
        status: 'pending',
        decided_by: null,
        reason: null,
        outcome: null,
        expires_at: msToIso(expiresAtMs),
        proposed_at: at,
        proposed_position: position.toString(),
        decided_at: null,
      });
      return;
    }
    const row = this.proposals.require(proposalId, 'proposal');
    switch (event.type) {
      case 'ProposalApproved':
        row.status = 'approved';
        row.decided_by = event.data.approvedBy;
        row.decided_at = at;
        break;
      case 'ProposalRejected':
        row.status = 'rejected';
        row.decided_by = event.data.rejectedBy;
        row.reason = event.data.reason;
        row.decided_at = at;
        break;
      case 'ProposalExpired':
        row.status = 'expired';
        row.decided_at = at;
        break;
      case 'ProposalExecuted':
        row.outcome = event.data.outcome;
        break;
      default: {
        const unknown: never = event;
        throw new Error(`unknown proposal event ${(unknown as { type: string }).type}`);
      }
    }
    this.proposals.touch(row);
  }

  // ---------------------------------------------------------------- batches: mirrors evolveBatch

  private async batch(event: BatchEvent, at: string): Promise<void> {
    const batchId = event.data.batchId;
    if (event.type === 'BatchDrafted') {
      const { kind, programmeId, orgId, source, voucher, draftedBy } = event.data;
      this.batches.put({
        batch_id: batchId,
        kind,
        programme_id: programmeId,
        org_id: orgId,
        source,
        voucher,
        drafted_by: draftedBy,
        status: 'drafting',
        member_count: 0,
        total_fen: 0,
        chunks: 0,
        next_chunk: 0,
        paid_count: 0,
        paid_fen: 0,
        unpaid_count: 0,
        unpaid_fen: 0,
        proposal_id: null,
        stop_reason: null,
        cancel_reason: null,
        drafted_at: at,
        completed_at: null,
      });
      return;
    }
    const row = this.batches.require(batchId, 'batch');
    this.batches.touch(row);
    switch (event.type) {
      case 'BatchItemsListed': {
        const { chunk, items } = event.data;
        items.forEach((item, index) => {
          this.items.push({ batch_id: batchId, seq: chunk * BATCH_CHUNK + index, member_id: item.memberId, amount_fen: item.amountFen, result: 'pending' });
          row.total_fen += item.amountFen;
        });
        // listItems refuses a member listed twice, so the count of items is the count of members.
        row.member_count += items.length;
        row.chunks += 1;
        return;
      }
      case 'BatchSealed':
        row.status = 'sealed';
        row.member_count = event.data.memberCount;
        row.total_fen = event.data.totalFen;
        row.chunks = event.data.chunks;
        return;
      case 'BatchApproved':
        row.status = 'approved';
        row.proposal_id = event.data.proposalId;
        return;
      case 'BatchCancelled':
        row.status = 'cancelled';
        row.cancel_reason = event.data.reason;
        return;
      case 'BatchChunkPaid': {
        const { chunk, paidCount, paidFen } = event.data;
        row.status = 'paying';
        row.next_chunk = chunk + 1;
        row.paid_count += paidCount;
        row.paid_fen += paidFen;
        await this.flushItems();
        // The budget covers a prefix of the chunk: its first paidCount members were paid.
        await this.tx.none(`UPDATE ul_benefit_batch_items SET result = 'paid' WHERE batch_id = $1 AND seq >= $2 AND seq < $3`, [
          batchId,
          chunk * BATCH_CHUNK,
          chunk * BATCH_CHUNK + paidCount,
        ]);
        return;
      }
      case 'BatchStopped':
        row.status = 'stopped';
        row.stop_reason = event.data.reason;
        return;
      case 'BatchCompleted': {
        // A stopped batch is also complete (nothing more will be paid) but keeps saying why.
        if (row.status !== 'stopped') row.status = 'completed';
        row.paid_count = event.data.paidCount;
        row.paid_fen = event.data.paidFen;
        row.unpaid_count = event.data.unpaidCount;
        row.unpaid_fen = event.data.unpaidFen;
        row.completed_at = at;
        await this.flushItems();
        await this.tx.none(`UPDATE ul_benefit_batch_items SET result = 'unpaid' WHERE batch_id = $1 AND result = 'pending'`, [batchId]);
        return;
      }
      default: {
        const unknown: never = event;
        throw new Error(`unknown batch event ${(unknown as { type: string }).type}`);
      }
    }
  }

  // ---------------------------------------------------------------- wallets: mirrors evolveWallet

  private wallet(event: WalletEvent, at: string, position: bigint): void {
    const memberId = event.data.memberId;
    const wallet =
      this.wallets.get(memberId) ??
      this.wallets.put({ member_id: memberId, available_fen: 0, held_fen: 0, voucher_available_fen: 0, voucher_held_fen: 0, card_masked: null, updated_at: at });
    wallet.updated_at = at;
    this.wallets.touch(wallet);
    const before = { available: wallet.available_fen, voucher: wallet.voucher_available_fen };
    let reference: string | null = null;
    let payment: PaymentRow | null = null;
    switch (event.type) {
      case 'WalletCredited':
        wallet.available_fen += event.data.amountFen;
        reference = event.data.batchId;
        break;
      case 'VoucherGranted': {
        const { voucherId, batchId, programmeId, orgId, category, faceFen, validFromMs, validUntilMs } = event.data;
        this.vouchers.put({
          voucher_id: voucherId,
          member_id: memberId,
          batch_id: batchId,
          programme_id: programmeId,
          org_id: orgId,
          category,
          face_fen: faceFen,
          available_fen: faceFen,
          held_fen: 0,
          expired_fen: 0,
          valid_from: msToIso(validFromMs),
          valid_until: msToIso(validUntilMs),
          granted_at: at,
        });
        wallet.voucher_available_fen += faceFen;
        reference = voucherId;
        break;
      }
      case 'VoucherExpired': {
        const { voucherId, expiryId, programmeId, orgId, amountFen } = event.data;
        this.changeVouchers([{ voucherId, amountFen }], (voucher, amount) => {
          voucher.available_fen -= amount;
          voucher.expired_fen += amount;
        });
        wallet.voucher_available_fen -= amountFen;
        const expiry = this.expiries.get(expiryId);
        const facts = { voucher_id: voucherId, member_id: memberId, programme_id: programmeId, org_id: orgId, amount_fen: amountFen, global_position: position.toString() };
        this.expiries.put({ expiry_id: expiryId, ...facts, returned: expiry?.returned ?? false });
        reference = voucherId;
        break;
      }
      case 'CardBound':
        wallet.card_masked = event.data.cardMasked;
        return; // Moves no money: no statement line.
      case 'PaymentAuthorised': {
        const { paymentId, merchantId, category, amountFen, walletFen, vouchers: parts, expiresAtMs } = event.data;
        const voucherFen = sumParts(parts);
        wallet.available_fen -= walletFen;
        wallet.held_fen += walletFen;
        wallet.voucher_available_fen -= voucherFen;
        wallet.voucher_held_fen += voucherFen;
        this.changeVouchers(parts, (voucher, amount) => {
          voucher.available_fen -= amount;
          voucher.held_fen += amount;
        });
        payment = this.payments.put({
          payment_id: paymentId,
          merchant_id: merchantId,
          member_id: memberId,
          category,
          amount_fen: amountFen,
          wallet_fen: walletFen,
          voucher_fen: voucherFen,
          status: 'authorised',
          captured_fen: 0,
          refunded_fen: 0,
          expires_at: msToIso(expiresAtMs),
          authorised_at: at,
          authorised_position: position.toString(),
          updated_at: at,
        });
        reference = paymentId;
        break;
      }
      case 'PaymentCaptured': {
        const { paymentId, amountFen, walletFen, vouchers: parts, releasedWalletFen, releasedVouchers } = event.data;
        this.changeVouchers(parts, (voucher, amount) => {
          voucher.held_fen -= amount;
        });
        this.changeVouchers(releasedVouchers, (voucher, amount) => {
          voucher.held_fen -= amount;
          voucher.available_fen += amount;
        });
        wallet.held_fen -= walletFen + releasedWalletFen;
        wallet.available_fen += releasedWalletFen;
        wallet.voucher_held_fen -= sumParts(parts) + sumParts(releasedVouchers);
        wallet.voucher_available_fen += sumParts(releasedVouchers);
        payment = this.payments.require(paymentId, 'payment');
        payment.status = 'captured';
        payment.captured_fen = amountFen;
        reference = paymentId;
        break;
      }
      case 'PaymentVoided': {
        const { paymentId, walletFen, vouchers: parts, reason } = event.data;
        wallet.held_fen -= walletFen;
        wallet.available_fen += walletFen;
        wallet.voucher_held_fen -= sumParts(parts);
        wallet.voucher_available_fen += sumParts(parts);
        this.changeVouchers(parts, (voucher, amount) => {
          voucher.held_fen -= amount;
          voucher.available_fen += amount;
        });
        payment = this.payments.require(paymentId, 'payment');
        payment.status = reason === 'expired' ? 'expired' : 'voided';
        reference = paymentId;
        break;
      }
      case 'PaymentRefunded': {
        const { paymentId, refundId, amountFen, walletFen, vouchers: parts } = event.data;
        wallet.available_fen += walletFen;
        wallet.voucher_available_fen += sumParts(parts);
        this.changeVouchers(parts, (voucher, amount) => {
          voucher.available_fen += amount;
        });
        payment = this.payments.require(paymentId, 'payment');
        payment.refunded_fen += amountFen;
        reference = refundId;
        break;
      }
      default: {
        const unknown: never = event;
        throw new Error(`unknown wallet event ${(unknown as { type: string }).type}`);
      }
    }
    if (payment) {
      payment.updated_at = at;
      this.payments.touch(payment);
    }
    // The statement's deltas are the postings' on the member's own accounts; they must agree with
    // the balances mirrored from the event's amounts, or the two readings of one fact differ.
    const postings = event.data.postings;
    const deltaAvailable = netOn(postings, benefitAccounts.wallet(memberId));
    const deltaVoucher = netOn(postings, benefitAccounts.voucher(memberId));
    if (wallet.available_fen - before.available !== deltaAvailable || wallet.voucher_available_fen - before.voucher !== deltaVoucher) {
      throw new Error(
        `invariant violated: ${event.type} at ${position} moves wallet ${memberId} by ${wallet.available_fen - before.available}/${wallet.voucher_available_fen - before.voucher} fen ` +
          `but its postings by ${deltaAvailable}/${deltaVoucher}`,
      );
    }
    this.statement.push({
      member_id: memberId,
      global_position: position.toString(),
      event_type: event.type,
      reference,
      payment_id: payment?.payment_id ?? null,
      merchant_id: payment?.merchant_id ?? null,
      delta_available_fen: deltaAvailable,
      delta_voucher_fen: deltaVoucher,
      available_after_fen: wallet.available_fen,
      voucher_after_fen: wallet.voucher_available_fen,
      held_after_fen: wallet.held_fen,
      voucher_held_after_fen: wallet.voucher_held_fen,
      occurred_at: at,
    });
  }

  private changeVouchers(parts: readonly VoucherPart[], change: (voucher: VoucherRow, amount: number) => void): void {
    for (const part of parts) {
      const voucher = this.vouchers.require(part.voucherId, 'voucher');
      change(voucher, part.amountFen);
      this.vouchers.touch(voucher);
    }
  }

  // ---------------------------------------------------------------- merchants and settlements

  private async merchant(event: SettlementEvent, at: string, position: bigint, revision: bigint): Promise<void> {
    switch (event.type) {
      case 'MerchantLineRecorded': {
        const { merchantId, kind, paymentId, refundId, memberId, amountFen, day } = event.data;
        this.lines.push({
          merchant_id: merchantId,
          merchant_revision: revision.toString(),
          global_position: position.toString(),
          kind,
          payment_id: paymentId,
          refund_id: refundId,
          member_id: memberId,
          amount_fen: amountFen,
          day,
          settlement_id: null,
          occurred_at: at,
        });
        return;
      }
      case 'MerchantApplied': {
        const { merchantId, name, category, signingOrgId, cardMasked } = event.data;
        this.merchants.put({
          merchant_id: merchantId,
          name,
          category,
          signing_org_id: signingOrgId,
          status: 'applied',
          card_masked: cardMasked,
          suspend_reason: null,
          applied_at: at,
        });
        return;
      }
      case 'MerchantAdmitted':
      case 'MerchantReinstated':
      case 'MerchantSuspended': {
        const row = this.merchants.require(event.data.merchantId, 'merchant');
        row.status = event.type === 'MerchantSuspended' ? 'suspended' : 'admitted';
        row.suspend_reason = event.type === 'MerchantSuspended' ? event.data.reason : null;
        this.merchants.touch(row);
        return;
      }
      case 'MerchantDaySettled': {
        const { merchantId, settlementId, day, throughRevision, captureFen, refundFen, carriedFen, netFen, lines } = event.data;
        this.settlements.put({
          settlement_id: settlementId,
          merchant_id: merchantId,
          day,
          capture_fen: captureFen,
          refund_fen: refundFen,
          carried_fen: carriedFen,
          net_fen: netFen,
          lines,
          through_revision: throughRevision,
          payout_id: null,
          payout_amount_fen: null,
          settled_at: at,
        });
        // The lines this settlement covers, exactly as the merchant's stream decided it: days up to
        // its day, recorded in the merchant's stream before it, not covered by an earlier one.
        await this.flushLines();
        await this.tx.none(
          `UPDATE ul_merchant_lines SET settlement_id = $2
            WHERE merchant_id = $1 AND settlement_id IS NULL AND day <= $3 AND merchant_revision <= $4::bigint`,
          [merchantId, settlementId, day, throughRevision],
        );
        return;
      }
      case 'PayoutRequested': {
        const row = this.settlements.require(event.data.settlementId, 'settlement');
        row.payout_id = event.data.payoutId;
        row.payout_amount_fen = event.data.amountFen;
        this.settlements.touch(row);
        return;
      }
      default: {
        const unknown: never = event;
        throw new Error(`unknown merchant event ${(unknown as { type: string }).type}`);
      }
    }
  }

  // ---------------------------------------------------------------- writes

  private async flushItems(): Promise<void> {
    if (this.items.length === 0) return;
    await insertRows(this.tx, 'ul_benefit_batch_items', this.items);
    this.items = [];
  }

  private async flushLines(): Promise<void> {
    if (this.lines.length === 0) return;
    await insertRows(this.tx, 'ul_merchant_lines', this.lines);
    this.lines = [];
  }

  async save(): Promise<void> {
    await this.flushItems();
    await this.flushLines();
    await insertRows(this.tx, 'ul_wallet_statement', this.statement);
    this.statement = [];
    for (const cache of [
      this.programmes,
      this.budgets,
      this.proposals,
      this.batches,
      this.wallets,
      this.vouchers,
      this.expiries,
      this.merchants,
      this.payments,
      this.settlements,
    ] as const) {
      await cache.save(this.tx);
    }
  }
}

export function benefitsProjection(): Projection {
  return {
    name: BENEFITS_PROJECTION,
    tables: BENEFITS_TABLES,
    streamPrefixes: ['programme-', 'proposal-', 'batch-', 'wallet-', 'merchant-'],
    eventTypes: Object.keys(EVENT_TYPES),
    async apply(tx: DbTask, events: RecordedEvent[]) {
      const writer = new BatchWriter(tx);
      await writer.preload(events.map((recorded) => ({ type: recorded.type, data: recorded.data }) as unknown as BenefitEvent));
      for (const recorded of events) await writer.apply(recorded);
      await writer.save();
    },
  };
}
