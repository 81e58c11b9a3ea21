import type { Queryable } from '../../infra/database';
import type { VoucherExpiry } from '../../domain/benefits';

/**
 * The benefits context's queries over its read models. Every list is bounded by an explicit
 * limit, and every list that can grow long pages by a keyset cursor (the last row's key, passed
 * back to get the next page; null on the last page), never by OFFSET. Money is in fen (numbers:
 * the largest sums stay far below 2^53); positions are decimal text, as the event store's
 * bigints never pass through a float.
 */

export interface Page<T> {
  items: T[];
  /** Pass back to get the next page; null on the last one. */
  nextCursor: string | null;
}

/** A limit outside 1..max is a caller's bug (the API bounds what it accepts), not a user error. */
function checkLimit(limit: number, max: number, what: string): void {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > max) throw new Error(`invariant violated: ${what} of ${limit} rows (1 to ${max})`);
}

/** Reads limit + 1 rows to know whether there is a next page, and keeps `limit`. */
function pageOf<Row, T>(rows: Row[], limit: number, view: (row: Row) => T, cursorOf: (row: Row) => string): Page<T> {
  const kept = rows.slice(0, limit);
  return { items: kept.map(view), nextCursor: rows.length > limit ? cursorOf(kept[kept.length - 1]!) : null };
}

const iso = (value: Date | null): string | null => (value === null ? null : value.toISOString());
const fen = (value: string | number): number => Number(value);
const fenOrNull = (value: string | number | null): number | null => (value === null ? null : Number(value));

// ---------------------------------------------------------------- programmes and budgets

export interface ProgrammeView {
  programmeId: string;
  name: string;
  year: number;
  rootOrgId: string;
  status: 'open' | 'closed';
  openedAt: string;
  closedAt: string | null;
}

export async function programmeOf(db: Queryable, programmeId: string): Promise<ProgrammeView | null> {
  const row = await db.oneOrNone<{ programme_id: string; name: string; year: number; root_org_id: string; status: 'open' | 'closed'; opened_at: Date; closed_at: Date | null }>(
    'SELECT * FROM ul_benefit_programmes WHERE programme_id = $1',
    [programmeId],
  );
  if (!row) return null;
  return { programmeId: row.programme_id, name: row.name, year: row.year, rootOrgId: row.root_org_id, status: row.status, openedAt: row.opened_at.toISOString(), closedAt: iso(row.closed_at) };
}

export interface BudgetView {
  programmeId: string;
  orgId: string;
  parentOrgId: string | null;
  balanceFen: number;
  fundedFen: number;
  receivedFen: number;
  allocatedOutFen: number;
  returnedUpFen: number;
  returnedInFen: number;
  disbursedFen: number;
  vouchersIssuedFen: number;
  vouchersReturnedFen: number;
}

/** Budgets of one programme at most: a programme reaches every union of a province (a few thousand). */
export const BUDGET_TREE_MAX = 20_000;

/** The programme's budgets ordered by org id: all of them (null), or those of these unions. */
export async function budgetTree(db: Queryable, programmeId: string, withinOrgIds: readonly string[] | null): Promise<BudgetView[]> {
  if (withinOrgIds !== null && withinOrgIds.length === 0) return [];
  const rows = await db.any<Record<string, string | null>>(
    `SELECT * FROM ul_benefit_budgets WHERE programme_id = $1 AND ($2::text[] IS NULL OR org_id = ANY($2::text[]))
      ORDER BY org_id LIMIT $3`,
    [programmeId, withinOrgIds, BUDGET_TREE_MAX],
  );
  return rows.map((row) => ({
    programmeId: row.programme_id!,
    orgId: row.org_id!,
    parentOrgId: row.parent_org_id ?? null,
    balanceFen: fen(row.balance_fen!),
    fundedFen: fen(row.funded_fen!),
    receivedFen: fen(row.received_fen!),
    allocatedOutFen: fen(row.allocated_out_fen!),
    returnedUpFen: fen(row.returned_up_fen!),
    returnedInFen: fen(row.returned_in_fen!),
    disbursedFen: fen(row.disbursed_fen!),
    vouchersIssuedFen: fen(row.vouchers_issued_fen!),
    vouchersReturnedFen: fen(row.vouchers_returned_fen!),
  }));
}

// ---------------------------------------------------------------- proposals

export interface ProposalView {
  proposalId: string;
  kind: string;
  orgId: string;
  action: Record<string, string | number | null>;
  amountFen: number | null;
  summary: string;
  proposedBy: { id: string; role: string; orgId: string };
  status: 'pending' | 'approved' | 'rejected' | 'expired';
  decidedBy: { id: string; role: string; orgId: string } | null;
  reason: string | null;
  outcome: { status: 'done' } | { status: 'refused'; code: string; message: string } | null;
  expiresAt: string;
  proposedAt: string;
  decidedAt: string | null;
}

interface ProposalRow {
  proposal_id: string;
  kind: string;
  org_id: string;
  action: ProposalView['action'];
  amount_fen: string | null;
  summary: string;
  proposed_by: ProposalView['proposedBy'];
  status: ProposalView['status'];
  decided_by: ProposalView['decidedBy'];
  reason: string | null;
  outcome: ProposalView['outcome'];
  expires_at: Date;
  proposed_at: Date;
  proposed_position: string;
  decided_at: Date | null;
}

const proposalView = (row: ProposalRow): ProposalView => ({
  proposalId: row.proposal_id,
  kind: row.kind,
  orgId: row.org_id,
  action: row.action,
  amountFen: fenOrNull(row.amount_fen),
  summary: row.summary,
  proposedBy: row.proposed_by,
  status: row.status,
  decidedBy: row.decided_by,
  reason: row.reason,
  outcome: row.outcome,
  expiresAt: row.expires_at.toISOString(),
  proposedAt: row.proposed_at.toISOString(),
  decidedAt: iso(row.decided_at),
});

export const PROPOSALS_PAGE_MAX = 100;

/**
 * Proposals of these unions (null: of every union), newest first, optionally of one status. The
 * cursor is the last proposal's position in the log.
 */
export async function proposalsInbox(
  db: Queryable,
  options: { orgIds: readonly string[] | null; status?: ProposalView['status']; after?: string | null; limit: number },
): Promise<Page<ProposalView>> {
  checkLimit(options.limit, PROPOSALS_PAGE_MAX, 'a proposals page');
  if (options.orgIds !== null && options.orgIds.length === 0) return { items: [], nextCursor: null };
  const rows = await db.any<ProposalRow>(
    `SELECT * FROM ul_benefit_proposals
      WHERE ($1::text[] IS NULL OR org_id = ANY($1::text[])) AND ($2::text IS NULL OR status = $2)
        AND ($3::bigint IS NULL OR proposed_position < $3::bigint)
      ORDER BY proposed_position DESC LIMIT $4`,
    [options.orgIds, options.status ?? null, options.after ?? null, options.limit + 1],
  );
  return pageOf(rows, options.limit, proposalView, (row) => row.proposed_position);
}

export async function proposalById(db: Queryable, proposalId: string): Promise<ProposalView | null> {
  const row = await db.oneOrNone<ProposalRow>('SELECT * FROM ul_benefit_proposals WHERE proposal_id = $1', [proposalId]);
  return row ? proposalView(row) : null;
}

// ---------------------------------------------------------------- batches

export interface BatchView {
  batchId: string;
  kind: 'money' | 'vouchers';
  programmeId: string;
  orgId: string;
  source: string;
  voucher: { category: string; faceFen: number; validFromMs: number; validUntilMs: number } | null;
  draftedBy: string;
  status: 'drafting' | 'sealed' | 'approved' | 'paying' | 'stopped' | 'completed' | 'cancelled';
  memberCount: number;
  totalFen: number;
  chunks: number;
  nextChunk: number;
  paidCount: number;
  paidFen: number;
  unpaidCount: number;
  unpaidFen: number;
  proposalId: string | null;
  stopReason: string | null;
  cancelReason: string | null;
  draftedAt: string;
  completedAt: string | null;
}

export async function batchById(db: Queryable, batchId: string): Promise<BatchView | null> {
  const row = await db.oneOrNone<Record<string, unknown>>('SELECT * FROM ul_benefit_batches WHERE batch_id = $1', [batchId]);
  return row ? batchView(row) : null;
}

export const BATCHES_PAGE_MAX = 100;

/**
 * Batches of these unions (null: of every union), newest first, optionally of one status; the
 * cursor is the last batch's drafting time and id (the console's list of batches and progress).
 */
export async function batchesOf(
  db: Queryable,
  options: { orgIds: readonly string[] | null; status?: BatchView['status']; before?: string | null; limit: number },
): Promise<Page<BatchView>> {
  checkLimit(options.limit, BATCHES_PAGE_MAX, 'a batches page');
  if (options.orgIds !== null && options.orgIds.length === 0) return { items: [], nextCursor: null };
  const [beforeAt, beforeId] = options.before ? splitCursor(options.before) : [null, null];
  const rows = await db.any<Record<string, unknown>>(
    `SELECT * FROM ul_benefit_batches
      WHERE ($1::text[] IS NULL OR org_id = ANY($1::text[])) AND ($2::text IS NULL OR status = $2)
        AND ($3::timestamptz IS NULL OR (drafted_at, batch_id) < ($3::timestamptz, $4::text))
      ORDER BY drafted_at DESC, batch_id DESC LIMIT $5`,
    [options.orgIds, options.status ?? null, beforeAt, beforeId, options.limit + 1],
  );
  const items = rows.slice(0, options.limit).map(batchView);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > options.limit && last ? `${last.draftedAt}|${last.batchId}` : null };
}

/** A batches cursor, `<ISO time>|<batch id>`; anything else starts from the newest. */
function splitCursor(cursor: string): [string | null, string | null] {
  const bar = cursor.indexOf('|');
  if (bar < 0 || Number.isNaN(Date.parse(cursor.slice(0, bar)))) return [null, null];
  return [cursor.slice(0, bar), cursor.slice(bar + 1)];
}

function batchView(row: Record<string, unknown>): BatchView {
  return {
    batchId: row.batch_id as string,
    kind: row.kind as BatchView['kind'],
    programmeId: row.programme_id as string,
    orgId: row.org_id as string,
    source: row.source as string,
    voucher: row.voucher as BatchView['voucher'],
    draftedBy: row.drafted_by as string,
    status: row.status as BatchView['status'],
    memberCount: row.member_count as number,
    totalFen: fen(row.total_fen as string),
    chunks: row.chunks as number,
    nextChunk: row.next_chunk as number,
    paidCount: row.paid_count as number,
    paidFen: fen(row.paid_fen as string),
    unpaidCount: row.unpaid_count as number,
    unpaidFen: fen(row.unpaid_fen as string),
    proposalId: row.proposal_id as string | null,
    stopReason: row.stop_reason as string | null,
    cancelReason: row.cancel_reason as string | null,
    draftedAt: (row.drafted_at as Date).toISOString(),
    completedAt: iso(row.completed_at as Date | null),
  };
}

export interface BatchItemView {
  seq: number;
  memberId: string;
  amountFen: number;
  result: 'pending' | 'paid' | 'unpaid';
}

export const BATCH_RESULTS_PAGE_MAX = 1_000;

/** A batch's members in listed order with what each was paid; the cursor is the last item's seq. */
export async function batchResults(
  db: Queryable,
  batchId: string,
  options: { afterSeq?: number | null; limit: number; result?: BatchItemView['result'] },
): Promise<Page<BatchItemView>> {
  checkLimit(options.limit, BATCH_RESULTS_PAGE_MAX, 'a batch results page');
  const rows = await db.any<{ seq: number; member_id: string; amount_fen: string; result: BatchItemView['result'] }>(
    `SELECT seq, member_id, amount_fen, result FROM ul_benefit_batch_items
      WHERE batch_id = $1 AND seq > $2 AND ($3::text IS NULL OR result = $3)
      ORDER BY seq LIMIT $4`,
    [batchId, options.afterSeq ?? -1, options.result ?? null, options.limit + 1],
  );
  return pageOf(rows, options.limit, (row) => ({ seq: row.seq, memberId: row.member_id, amountFen: fen(row.amount_fen), result: row.result }), (row) => String(row.seq));
}

export const MEMBERS_PAGE_MAX = 1_000;

/**
 * Active members (the members projection's ul_members) of the union `orgId` and every union
 * below it (ul_orgs.path), by member id: how a batch drafted for a unit lists its members, page by
 * page. The cursor is the last member id.
 */
export async function activeMembersOfUnit(db: Queryable, orgId: string, options: { afterMemberId?: string | null; limit: number }): Promise<Page<string>> {
  checkLimit(options.limit, MEMBERS_PAGE_MAX, 'a members page');
  const rows = await db.any<{ member_id: string }>(
    `SELECT m.member_id FROM ul_members m
      WHERE m.org_id IN (SELECT o.org_id FROM ul_orgs o WHERE o.path @> ARRAY[$1::text])
        AND m.status = 'active' AND ($2::text IS NULL OR m.member_id > $2)
      ORDER BY m.member_id LIMIT $3`,
    [orgId, options.afterMemberId ?? null, options.limit + 1],
  );
  return pageOf(rows, options.limit, (row) => row.member_id, (row) => row.member_id);
}

// ---------------------------------------------------------------- wallets and vouchers

export interface WalletView {
  memberId: string;
  availableFen: number;
  heldFen: number;
  voucherAvailableFen: number;
  voucherHeldFen: number;
  cardMasked: string | null;
  updatedAt: string;
}

export async function walletOf(db: Queryable, memberId: string): Promise<WalletView | null> {
  const row = await db.oneOrNone<{
    member_id: string;
    available_fen: string;
    held_fen: string;
    voucher_available_fen: string;
    voucher_held_fen: string;
    card_masked: string | null;
    updated_at: Date;
  }>('SELECT * FROM ul_wallets WHERE member_id = $1', [memberId]);
  if (!row) return null;
  return {
    memberId: row.member_id,
    availableFen: fen(row.available_fen),
    heldFen: fen(row.held_fen),
    voucherAvailableFen: fen(row.voucher_available_fen),
    voucherHeldFen: fen(row.voucher_held_fen),
    cardMasked: row.card_masked,
    updatedAt: row.updated_at.toISOString(),
  };
}

export interface WalletStatementLine {
  position: string;
  eventType: string;
  reference: string | null;
  paymentId: string | null;
  merchantId: string | null;
  deltaAvailableFen: number;
  deltaVoucherFen: number;
  availableAfterFen: number;
  voucherAfterFen: number;
  heldAfterFen: number;
  voucherHeldAfterFen: number;
  occurredAt: string;
}

export const WALLET_STATEMENT_PAGE_MAX = 100;

/** The wallet's statement, newest first; the cursor is the last line's position. */
export async function walletStatement(db: Queryable, memberId: string, options: { beforePosition?: string | null; limit: number }): Promise<Page<WalletStatementLine>> {
  checkLimit(options.limit, WALLET_STATEMENT_PAGE_MAX, 'a wallet statement page');
  const rows = await db.any<Record<string, string | null> & { occurred_at: Date }>(
    `SELECT * FROM ul_wallet_statement WHERE member_id = $1 AND ($2::bigint IS NULL OR global_position < $2::bigint)
      ORDER BY global_position DESC LIMIT $3`,
    [memberId, options.beforePosition ?? null, options.limit + 1],
  );
  return pageOf(
    rows,
    options.limit,
    (row) => ({
      position: row.global_position!,
      eventType: row.event_type!,
      reference: row.reference ?? null,
      paymentId: row.payment_id ?? null,
      merchantId: row.merchant_id ?? null,
      deltaAvailableFen: fen(row.delta_available_fen!),
      deltaVoucherFen: fen(row.delta_voucher_fen!),
      availableAfterFen: fen(row.available_after_fen!),
      voucherAfterFen: fen(row.voucher_after_fen!),
      heldAfterFen: fen(row.held_after_fen!),
      voucherHeldAfterFen: fen(row.voucher_held_after_fen!),
      occurredAt: row.occurred_at.toISOString(),
    }),
    (row) => row.global_position!,
  );
}

export interface VoucherView {
  voucherId: string;
  batchId: string;
  programmeId: string;
  orgId: string;
  category: string;
  faceFen: number;
  availableFen: number;
  heldFen: number;
  expiredFen: number;
  validFrom: string;
  validUntil: string;
  grantedAt: string;
}

/** Vouchers a member holds at most: one per campaign, a few dozen a year. */
export const VOUCHERS_OF_MAX = 1_000;

/** The member's vouchers, soonest expiry first (the order payments spend them in). */
export async function vouchersOf(db: Queryable, memberId: string): Promise<VoucherView[]> {
  const rows = await db.any<Record<string, string> & { valid_from: Date; valid_until: Date; granted_at: Date }>(
    'SELECT * FROM ul_vouchers WHERE member_id = $1 ORDER BY valid_until, voucher_id LIMIT $2',
    [memberId, VOUCHERS_OF_MAX],
  );
  return rows.map((row) => ({
    voucherId: row.voucher_id!,
    batchId: row.batch_id!,
    programmeId: row.programme_id!,
    orgId: row.org_id!,
    category: row.category!,
    faceFen: fen(row.face_fen!),
    availableFen: fen(row.available_fen!),
    heldFen: fen(row.held_fen!),
    expiredFen: fen(row.expired_fen!),
    validFrom: row.valid_from.toISOString(),
    validUntil: row.valid_until.toISOString(),
    grantedAt: row.granted_at.toISOString(),
  }));
}

export const SWEEP_PAGE_MAX = 10_000;

/**
 * Open programmes whose year ended before `currentYear`, by id: the year-end schedule closes each
 * (a programme closed drops out, so the next call is the next page).
 */
export async function programmesToClose(db: Queryable, currentYear: number, limit: number): Promise<string[]> {
  checkLimit(limit, SWEEP_PAGE_MAX, 'a year-end close');
  return db.map(
    `SELECT programme_id FROM ul_benefit_programmes WHERE status = 'open' AND year < $1 ORDER BY programme_id LIMIT $2`,
    [currentYear, limit],
    (row: { programme_id: string }) => row.programme_id,
  );
}

/**
 * Members holding a voucher past its validity with value left, by member id (the sweeper runs
 * the wallet's due command on each; a member done drops out, so the next call is the next page).
 */
export async function expiredVoucherHolders(db: Queryable, nowMs: number, limit: number): Promise<string[]> {
  checkLimit(limit, SWEEP_PAGE_MAX, 'an expired-voucher sweep');
  return db.map(
    `SELECT DISTINCT member_id FROM ul_vouchers WHERE valid_until <= $1 AND available_fen > 0 ORDER BY member_id LIMIT $2`,
    [new Date(nowMs).toISOString(), limit],
    (row: { member_id: string }) => row.member_id,
  );
}

/** Members with an authorisation past its expiry: the same due command voids it and releases the hold. */
export async function expiredAuthorisationHolders(db: Queryable, nowMs: number, limit: number): Promise<string[]> {
  checkLimit(limit, SWEEP_PAGE_MAX, 'an expired-authorisation sweep');
  return db.map(
    `SELECT DISTINCT member_id FROM ul_merchant_payments WHERE status = 'authorised' AND expires_at <= $1 ORDER BY member_id LIMIT $2`,
    [new Date(nowMs).toISOString(), limit],
    (row: { member_id: string }) => row.member_id,
  );
}

export interface VoucherExpiryFact extends VoucherExpiry {
  programmeId: string;
  /** The VoucherExpired event's position. */
  position: string;
}

interface ExpiryRow {
  expiry_id: string;
  voucher_id: string;
  programme_id: string;
  org_id: string;
  amount_fen: string;
  global_position: string;
}

const expiryFact = (row: ExpiryRow): VoucherExpiryFact => ({
  expiryId: row.expiry_id,
  voucherId: row.voucher_id,
  programmeId: row.programme_id,
  orgId: row.org_id,
  amountFen: fen(row.amount_fen),
  position: row.global_position,
});

/** Expiries whose value no VoucherValueReturned has taken back yet, oldest first, after a position (the cursor). */
export async function voucherExpiriesToReturn(db: Queryable, afterPosition: string | null, limit: number): Promise<Page<VoucherExpiryFact>> {
  checkLimit(limit, SWEEP_PAGE_MAX, 'a voucher expiries page');
  const rows = await db.any<ExpiryRow>(
    `SELECT expiry_id, voucher_id, programme_id, org_id, amount_fen, global_position FROM ul_voucher_expiries
      WHERE NOT returned AND ($1::bigint IS NULL OR global_position > $1::bigint) ORDER BY global_position LIMIT $2`,
    [afterPosition, limit + 1],
  );
  return pageOf(rows, limit, expiryFact, (row) => row.global_position);
}

/**
 * The oldest `limit` expiries not yet returned, grouped per programme, each group ready for the
 * programme's returnVoucherValue (which skips an expiry already returned, so a retry after a lost
 * race is harmless).
 */
export async function pendingVoucherExpiries(db: Queryable, limit: number): Promise<Array<{ programmeId: string; expiries: VoucherExpiry[] }>> {
  const { items } = await voucherExpiriesToReturn(db, null, limit);
  const groups = new Map<string, VoucherExpiry[]>();
  for (const fact of items) {
    const group = groups.get(fact.programmeId) ?? [];
    group.push({ expiryId: fact.expiryId, voucherId: fact.voucherId, orgId: fact.orgId, amountFen: fact.amountFen });
    groups.set(fact.programmeId, group);
  }
  return [...groups].map(([programmeId, expiries]) => ({ programmeId, expiries }));
}

// ---------------------------------------------------------------- merchants

export interface MerchantView {
  merchantId: string;
  name: string;
  category: string;
  signingOrgId: string;
  status: 'applied' | 'admitted' | 'suspended';
  cardMasked: string;
  suspendReason: string | null;
  appliedAt: string;
}

interface MerchantRow {
  merchant_id: string;
  name: string;
  category: string;
  signing_org_id: string;
  status: MerchantView['status'];
  card_masked: string;
  suspend_reason: string | null;
  applied_at: Date;
}

const merchantView = (row: MerchantRow): MerchantView => ({
  merchantId: row.merchant_id,
  name: row.name,
  category: row.category,
  signingOrgId: row.signing_org_id,
  status: row.status,
  cardMasked: row.card_masked,
  suspendReason: row.suspend_reason,
  appliedAt: row.applied_at.toISOString(),
});

export const MERCHANTS_PAGE_MAX = 100;

/** Merchants signed by these unions (null: by any), by merchant id; the cursor is the last merchant id. */
export async function merchantsOf(db: Queryable, options: { orgIds: readonly string[] | null; after?: string | null; limit: number }): Promise<Page<MerchantView>> {
  checkLimit(options.limit, MERCHANTS_PAGE_MAX, 'a merchants page');
  if (options.orgIds !== null && options.orgIds.length === 0) return { items: [], nextCursor: null };
  const rows = await db.any<MerchantRow>(
    `SELECT * FROM ul_merchants WHERE ($1::text[] IS NULL OR signing_org_id = ANY($1::text[])) AND ($2::text IS NULL OR merchant_id > $2)
      ORDER BY merchant_id LIMIT $3`,
    [options.orgIds, options.after ?? null, options.limit + 1],
  );
  return pageOf(rows, options.limit, merchantView, (row) => row.merchant_id);
}

export async function merchantById(db: Queryable, merchantId: string): Promise<MerchantView | null> {
  const row = await db.oneOrNone<MerchantRow>('SELECT * FROM ul_merchants WHERE merchant_id = $1', [merchantId]);
  return row ? merchantView(row) : null;
}

export interface MerchantLineView {
  position: string;
  kind: 'capture' | 'refund';
  paymentId: string;
  refundId: string | null;
  memberId: string;
  amountFen: number;
  day: string;
  settlementId: string | null;
  occurredAt: string;
}

export const MERCHANT_PAGE_MAX = 100;

/** The merchant's captures and refunds, newest first, optionally of one day; the cursor is the last line's position. */
export async function merchantLines(
  db: Queryable,
  merchantId: string,
  options: { day?: string | null; beforePosition?: string | null; limit: number },
): Promise<Page<MerchantLineView>> {
  checkLimit(options.limit, MERCHANT_PAGE_MAX, 'a merchant lines page');
  const rows = await db.any<Record<string, string | null> & { occurred_at: Date }>(
    `SELECT * FROM ul_merchant_lines
      WHERE merchant_id = $1 AND ($2::text IS NULL OR day = $2) AND ($3::bigint IS NULL OR global_position < $3::bigint)
      ORDER BY global_position DESC LIMIT $4`,
    [merchantId, options.day ?? null, options.beforePosition ?? null, options.limit + 1],
  );
  return pageOf(
    rows,
    options.limit,
    (row) => ({
      position: row.global_position!,
      kind: row.kind as MerchantLineView['kind'],
      paymentId: row.payment_id!,
      refundId: row.refund_id ?? null,
      memberId: row.member_id!,
      amountFen: fen(row.amount_fen!),
      day: row.day!,
      settlementId: row.settlement_id ?? null,
      occurredAt: row.occurred_at.toISOString(),
    }),
    (row) => row.global_position!,
  );
}

export interface SettlementView {
  settlementId: string;
  merchantId: string;
  day: string;
  captureFen: number;
  refundFen: number;
  carriedFen: number;
  netFen: number;
  lines: number;
  /** The merchant stream's revision the settlement covers lines up to. */
  throughRevision: number;
  payoutId: string | null;
  payoutAmountFen: number | null;
  settledAt: string;
}

/** The merchant's settlements, latest day first; the cursor is the last settlement's day. */
export async function settlementsOf(db: Queryable, merchantId: string, options: { beforeDay?: string | null; limit: number }): Promise<Page<SettlementView>> {
  checkLimit(options.limit, MERCHANT_PAGE_MAX, 'a settlements page');
  const rows = await db.any<Record<string, string | number | null> & { settled_at: Date }>(
    `SELECT * FROM ul_settlements WHERE merchant_id = $1 AND ($2::text IS NULL OR day < $2) ORDER BY day DESC LIMIT $3`,
    [merchantId, options.beforeDay ?? null, options.limit + 1],
  );
  return pageOf(
    rows,
    options.limit,
    (row) => ({
      settlementId: row.settlement_id as string,
      merchantId: row.merchant_id as string,
      day: row.day as string,
      captureFen: fen(row.capture_fen!),
      refundFen: fen(row.refund_fen!),
      carriedFen: fen(row.carried_fen!),
      netFen: fen(row.net_fen!),
      lines: row.lines as number,
      throughRevision: Number(row.through_revision),
      payoutId: row.payout_id as string | null,
      payoutAmountFen: fenOrNull(row.payout_amount_fen ?? null),
      settledAt: row.settled_at.toISOString(),
    }),
    (row) => row.day as string,
  );
}

export interface PaymentView {
  paymentId: string;
  merchantId: string;
  memberId: string;
  category: string;
  amountFen: number;
  walletFen: number;
  voucherFen: number;
  status: 'authorised' | 'captured' | 'voided' | 'expired';
  capturedFen: number;
  refundedFen: number;
  expiresAt: string;
  authorisedAt: string;
  position: string;
  updatedAt: string;
}

interface PaymentRow {
  payment_id: string;
  merchant_id: string;
  member_id: string;
  category: string;
  amount_fen: string;
  wallet_fen: string;
  voucher_fen: string;
  status: PaymentView['status'];
  captured_fen: string;
  refunded_fen: string;
  expires_at: Date;
  authorised_at: Date;
  authorised_position: string;
  updated_at: Date;
}

const paymentView = (row: PaymentRow): PaymentView => ({
  paymentId: row.payment_id,
  merchantId: row.merchant_id,
  memberId: row.member_id,
  category: row.category,
  amountFen: fen(row.amount_fen),
  walletFen: fen(row.wallet_fen),
  voucherFen: fen(row.voucher_fen),
  status: row.status,
  capturedFen: fen(row.captured_fen),
  refundedFen: fen(row.refunded_fen),
  expiresAt: row.expires_at.toISOString(),
  authorisedAt: row.authorised_at.toISOString(),
  position: row.authorised_position,
  updatedAt: row.updated_at.toISOString(),
});

/** The merchant's payments, newest authorisation first; the cursor is the last one's position. */
export async function merchantPayments(db: Queryable, merchantId: string, options: { beforePosition?: string | null; limit: number }): Promise<Page<PaymentView>> {
  checkLimit(options.limit, MERCHANT_PAGE_MAX, 'a merchant payments page');
  const rows = await db.any<PaymentRow>(
    `SELECT * FROM ul_merchant_payments WHERE merchant_id = $1 AND ($2::bigint IS NULL OR authorised_position < $2::bigint)
      ORDER BY authorised_position DESC LIMIT $3`,
    [merchantId, options.beforePosition ?? null, options.limit + 1],
  );
  return pageOf(rows, options.limit, paymentView, (row) => row.authorised_position);
}

export async function paymentById(db: Queryable, paymentId: string): Promise<PaymentView | null> {
  const row = await db.oneOrNone<PaymentRow>('SELECT * FROM ul_merchant_payments WHERE payment_id = $1', [paymentId]);
  return row ? paymentView(row) : null;
}

/** Merchants with lines of days up to `day` that no settlement has claimed yet, by merchant id (the daily settlement sweep). */
export async function merchantsWithUnsettledLines(db: Queryable, day: string, limit: number, afterMerchantId: string | null = null): Promise<string[]> {
  checkLimit(limit, SWEEP_PAGE_MAX, 'a settlement sweep');
  return db.map(
    `SELECT DISTINCT merchant_id FROM ul_merchant_lines
      WHERE settlement_id IS NULL AND day <= $1 AND ($2::text IS NULL OR merchant_id > $2)
      ORDER BY merchant_id LIMIT $3`,
    [day, afterMerchantId, limit],
    (row: { merchant_id: string }) => row.merchant_id,
  );
}
