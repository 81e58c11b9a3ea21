import type { DbTask } from '../../infra/database';
import type { WalletEvent } from '../../domain/benefits';
import type { TableSpec } from './rows';

/**
 * The benefits read models' rows as the projection writes them (snake_case, one property per
 * column: rows travel to PostgreSQL as JSON, so a property's name is its column's), and how each
 * entity table is loaded and upserted by key (RowCache in rows.ts).
 */

// ---------------------------------------------------------------- rows, as stored

export interface ProgrammeRow {
  programme_id: string;
  name: string;
  year: number;
  root_org_id: string;
  status: 'open' | 'closed';
  opened_at: string | Date;
  closed_at: string | Date | null;
}

export interface BudgetRow {
  programme_id: string;
  org_id: string;
  parent_org_id: string | null;
  balance_fen: number;
  funded_fen: number;
  received_fen: number;
  allocated_out_fen: number;
  returned_up_fen: number;
  returned_in_fen: number;
  disbursed_fen: number;
  vouchers_issued_fen: number;
  vouchers_returned_fen: number;
}

export interface ProposalRow {
  proposal_id: string;
  kind: string;
  org_id: string;
  action: unknown;
  amount_fen: number | null;
  summary: string;
  proposed_by: unknown;
  status: 'pending' | 'approved' | 'rejected' | 'expired';
  decided_by: unknown;
  reason: string | null;
  outcome: unknown;
  expires_at: string | Date;
  proposed_at: string | Date;
  proposed_position: string;
  decided_at: string | Date | null;
}

export interface BatchRow {
  batch_id: string;
  kind: string;
  programme_id: string;
  org_id: string;
  source: string;
  voucher: unknown;
  drafted_by: string;
  status: 'drafting' | 'sealed' | 'approved' | 'paying' | 'stopped' | 'completed' | 'cancelled';
  member_count: number;
  total_fen: number;
  chunks: number;
  next_chunk: number;
  paid_count: number;
  paid_fen: number;
  unpaid_count: number;
  unpaid_fen: number;
  proposal_id: string | null;
  stop_reason: string | null;
  cancel_reason: string | null;
  drafted_at: string | Date;
  completed_at: string | Date | null;
}

export interface WalletRow {
  member_id: string;
  available_fen: number;
  held_fen: number;
  voucher_available_fen: number;
  voucher_held_fen: number;
  card_masked: string | null;
  updated_at: string | Date;
}

export interface VoucherRow {
  voucher_id: string;
  member_id: string;
  batch_id: string;
  programme_id: string;
  org_id: string;
  category: string;
  face_fen: number;
  available_fen: number;
  held_fen: number;
  expired_fen: number;
  valid_from: string | Date;
  valid_until: string | Date;
  granted_at: string | Date;
}

export interface ExpiryRow {
  expiry_id: string;
  voucher_id: string;
  member_id: string | null;
  programme_id: string;
  org_id: string;
  amount_fen: number;
  global_position: string | null;
  returned: boolean;
}

export interface MerchantRow {
  merchant_id: string;
  name: string;
  category: string;
  signing_org_id: string;
  status: 'applied' | 'admitted' | 'suspended';
  card_masked: string;
  suspend_reason: string | null;
  applied_at: string | Date;
}

export interface PaymentRow {
  payment_id: string;
  merchant_id: string;
  member_id: string;
  category: string;
  amount_fen: number;
  wallet_fen: number;
  voucher_fen: number;
  status: 'authorised' | 'captured' | 'voided' | 'expired';
  captured_fen: number;
  refunded_fen: number;
  expires_at: string | Date;
  authorised_at: string | Date;
  authorised_position: string;
  updated_at: string | Date;
}

export interface SettlementRow {
  settlement_id: string;
  merchant_id: string;
  day: string;
  capture_fen: number;
  refund_fen: number;
  carried_fen: number;
  net_fen: number;
  lines: number;
  through_revision: number;
  payout_id: string | null;
  payout_amount_fen: number | null;
  settled_at: string | Date;
}

/** Append-only lines, buffered and inserted in bulk. */
export interface ItemRow {
  batch_id: string;
  seq: number;
  member_id: string;
  amount_fen: number;
  result: 'pending' | 'paid' | 'unpaid';
}

export interface StatementRow {
  member_id: string;
  global_position: string;
  event_type: WalletEvent['type'];
  reference: string | null;
  payment_id: string | null;
  merchant_id: string | null;
  delta_available_fen: number;
  delta_voucher_fen: number;
  available_after_fen: number;
  voucher_after_fen: number;
  held_after_fen: number;
  voucher_held_after_fen: number;
  occurred_at: string;
}

export interface LineRow {
  merchant_id: string;
  /** The line's revision in the merchant's stream: settlements cover lines up to a revision. */
  merchant_revision: string;
  global_position: string;
  kind: 'capture' | 'refund';
  payment_id: string;
  refund_id: string | null;
  member_id: string;
  amount_fen: number;
  day: string;
  settlement_id: string | null;
  occurred_at: string;
}

// ---------------------------------------------------------------- tables

/** Loads rows of `table` whose single-column primary key is one of the keys. */
const selectByKey =
  <Row extends object>(table: string, key: string) =>
  (tx: DbTask, keys: readonly string[]): Promise<Row[]> =>
    tx.any<Row>(`SELECT * FROM ${table} WHERE ${key} = ANY($1::text[])`, [keys]);

/** Budgets are keyed by programme and org; a key naming only a programme loads its whole tree (a close needs it). */
export const WHOLE_PROGRAMME = '*';
export const budgetKey = (programmeId: string, orgId: string): string => `${programmeId}\u0000${orgId}`;

export const programmes: TableSpec<ProgrammeRow> = {
  table: 'ul_benefit_programmes',
  columns: ['programme_id', 'name', 'year', 'root_org_id', 'status', 'opened_at', 'closed_at'],
  primaryKey: ['programme_id'],
  bigints: [],
  keyOf: (row) => row.programme_id,
  select: selectByKey('ul_benefit_programmes', 'programme_id'),
};

const BUDGET_AMOUNTS = [
  'balance_fen',
  'funded_fen',
  'received_fen',
  'allocated_out_fen',
  'returned_up_fen',
  'returned_in_fen',
  'disbursed_fen',
  'vouchers_issued_fen',
  'vouchers_returned_fen',
] as const;

export const budgets: TableSpec<BudgetRow> = {
  table: 'ul_benefit_budgets',
  columns: ['programme_id', 'org_id', 'parent_org_id', ...BUDGET_AMOUNTS],
  primaryKey: ['programme_id', 'org_id'],
  bigints: BUDGET_AMOUNTS,
  keyOf: (row) => budgetKey(row.programme_id, row.org_id),
  select: (tx, keys) => {
    const pairs = keys.map((key) => key.split('\u0000') as [string, string]);
    const single = pairs.filter(([, orgId]) => orgId !== WHOLE_PROGRAMME);
    const whole = pairs.filter(([, orgId]) => orgId === WHOLE_PROGRAMME).map(([programmeId]) => programmeId);
    return tx.any<BudgetRow>(
      `SELECT * FROM ul_benefit_budgets
        WHERE (programme_id, org_id) IN (SELECT * FROM unnest($1::text[], $2::text[])) OR programme_id = ANY($3::text[])`,
      [single.map(([programmeId]) => programmeId), single.map(([, orgId]) => orgId), whole],
    );
  },
};

export const proposals: TableSpec<ProposalRow> = {
  table: 'ul_benefit_proposals',
  columns: ['proposal_id', 'kind', 'org_id', 'action', 'amount_fen', 'summary', 'proposed_by', 'status', 'decided_by', 'reason', 'outcome', 'expires_at', 'proposed_at', 'proposed_position', 'decided_at'],
  primaryKey: ['proposal_id'],
  bigints: ['amount_fen'],
  keyOf: (row) => row.proposal_id,
  select: selectByKey('ul_benefit_proposals', 'proposal_id'),
};

export const batches: TableSpec<BatchRow> = {
  table: 'ul_benefit_batches',
  columns: [
      'batch_id',
      'kind',
      'programme_id',
      'org_id',
      'source',
      'voucher',
      'drafted_by',
      'status',
      'member_count',
      'total_fen',
      'chunks',
      'next_chunk',
      'paid_count',
      'paid_fen',
      'unpaid_count',
      'unpaid_fen',
      'proposal_id',
      'stop_reason',
      'cancel_reason',
      'drafted_at',
      'completed_at',
    ],
  primaryKey: ['batch_id'],
  bigints: ['total_fen', 'paid_fen', 'unpaid_fen'],
  keyOf: (row) => row.batch_id,
  select: selectByKey('ul_benefit_batches', 'batch_id'),
};

export const wallets: TableSpec<WalletRow> = {
  table: 'ul_wallets',
  columns: ['member_id', 'available_fen', 'held_fen', 'voucher_available_fen', 'voucher_held_fen', 'card_masked', 'updated_at'],
  primaryKey: ['member_id'],
  bigints: ['available_fen', 'held_fen', 'voucher_available_fen', 'voucher_held_fen'],
  keyOf: (row) => row.member_id,
  select: selectByKey('ul_wallets', 'member_id'),
};

export const vouchers: TableSpec<VoucherRow> = {
  table: 'ul_vouchers',
  columns: [
    'voucher_id',
    'member_id',
    'batch_id',
    'programme_id',
    'org_id',
    'category',
    'face_fen',
    'available_fen',
    'held_fen',
    'expired_fen',
    'valid_from',
    'valid_until',
    'granted_at',
  ],
  primaryKey: ['voucher_id'],
  bigints: ['face_fen', 'available_fen', 'held_fen', 'expired_fen'],
  keyOf: (row) => row.voucher_id,
  select: selectByKey('ul_vouchers', 'voucher_id'),
};

export const expiries: TableSpec<ExpiryRow> = {
  table: 'ul_voucher_expiries',
  columns: ['expiry_id', 'voucher_id', 'member_id', 'programme_id', 'org_id', 'amount_fen', 'global_position', 'returned'],
  primaryKey: ['expiry_id'],
  bigints: ['amount_fen'],
  keyOf: (row) => row.expiry_id,
  select: selectByKey('ul_voucher_expiries', 'expiry_id'),
};

export const merchants: TableSpec<MerchantRow> = {
  table: 'ul_merchants',
  columns: ['merchant_id', 'name', 'category', 'signing_org_id', 'status', 'card_masked', 'suspend_reason', 'applied_at'],
  primaryKey: ['merchant_id'],
  bigints: [],
  keyOf: (row) => row.merchant_id,
  select: selectByKey('ul_merchants', 'merchant_id'),
};

export const payments: TableSpec<PaymentRow> = {
  table: 'ul_merchant_payments',
  columns: [
    'payment_id',
    'merchant_id',
    'member_id',
    'category',
    'amount_fen',
    'wallet_fen',
    'voucher_fen',
    'status',
    'captured_fen',
    'refunded_fen',
    'expires_at',
    'authorised_at',
    'authorised_position',
    'updated_at',
  ],
  primaryKey: ['payment_id'],
  bigints: ['amount_fen', 'wallet_fen', 'voucher_fen', 'captured_fen', 'refunded_fen'],
  keyOf: (row) => row.payment_id,
  select: selectByKey('ul_merchant_payments', 'payment_id'),
};

export const settlements: TableSpec<SettlementRow> = {
  table: 'ul_settlements',
  columns: [
    'settlement_id',
    'merchant_id',
    'day',
    'capture_fen',
    'refund_fen',
    'carried_fen',
    'net_fen',
    'lines',
    'through_revision',
    'payout_id',
    'payout_amount_fen',
    'settled_at',
  ],
  primaryKey: ['settlement_id'],
  bigints: ['capture_fen', 'refund_fen', 'carried_fen', 'net_fen', 'payout_amount_fen'],
  keyOf: (row) => row.settlement_id,
  select: selectByKey('ul_settlements', 'settlement_id'),
};
