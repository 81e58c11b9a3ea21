import { DomainError, invariant } from '../shared';
import { checkAmountFen } from './programme';

/**
 * A distribution batch (stream `batch-<batchId>`): a disbursement of money into members' wallets,
 * or a voucher campaign (one voucher per member). It is drafted (the member list recorded in
 * chunks: the list is a fact an auditor can read back), sealed, proposed, approved, and then paid
 * chunk by chunk. Each chunk is one commit that takes the chunk's money from the budget, credits
 * every wallet of the chunk and records the chunk here; the expected revision of this stream
 * makes a chunk happen once, however often a crashed or racing run retries it. A chunk the budget
 * no longer covers pays the members it can, in list order, and the batch stops there.
 */

export type BatchKind = 'money' | 'vouchers';

export interface VoucherTerms {
  /** Merchant category the vouchers are spent at. */
  category: string;
  faceFen: number;
  validFromMs: number;
  validUntilMs: number;
}

export interface BatchItem {
  memberId: string;
  amountFen: number;
}

export type BatchEvent =
  | {
      type: 'BatchDrafted';
      data: {
        batchId: string;
        kind: BatchKind;
        programmeId: string;
        orgId: string;
        source: 'csv' | 'unit';
        voucher: VoucherTerms | null;
        draftedBy: string;
      };
    }
  | { type: 'BatchItemsListed'; data: { batchId: string; chunk: number; items: BatchItem[] } }
  | { type: 'BatchSealed'; data: { batchId: string; memberCount: number; totalFen: number; chunks: number } }
  | { type: 'BatchApproved'; data: { batchId: string; proposalId: string } }
  | { type: 'BatchCancelled'; data: { batchId: string; reason: string } }
  | { type: 'BatchChunkPaid'; data: { batchId: string; chunk: number; paidCount: number; paidFen: number } }
  | { type: 'BatchStopped'; data: { batchId: string; chunk: number; reason: 'BUDGET_INSUFFICIENT' | 'PROGRAMME_CLOSED' } }
  | { type: 'BatchCompleted'; data: { batchId: string; paidCount: number; paidFen: number; unpaidCount: number; unpaidFen: number } };

export const batchStream = (batchId: string): string => `batch-${batchId}`;

/** Members per chunk: per listed event and per paying commit. */
export const BATCH_CHUNK = 500;
export const MAX_BATCH_MEMBERS = 200_000;
/** A voucher is valid for at most a year. */
export const MAX_VOUCHER_VALIDITY_MS = 366 * 24 * 60 * 60 * 1000;

export interface BatchState {
  status: 'none' | 'drafting' | 'sealed' | 'approved' | 'paying' | 'stopped' | 'completed' | 'cancelled';
  batchId: string;
  kind: BatchKind;
  programmeId: string;
  orgId: string;
  voucher: VoucherTerms | null;
  /** Listed chunks, in order; chunk i holds items [i * BATCH_CHUNK, ...). */
  chunks: ReadonlyArray<readonly BatchItem[]>;
  /**
   * The members of each listed chunk, one set per chunk: listing a chunk adds a set of its own
   * instead of copying every member listed before it (a copy per chunk made folding a batch of
   * 200,000 members take some 20 seconds, and the stream is folded for every command).
   */
  memberSets: ReadonlyArray<ReadonlySet<string>>;
  memberCount: number;
  totalFen: number;
  proposalId: string | null;
  /** Next chunk to pay. */
  nextChunk: number;
  paidCount: number;
  paidFen: number;
}

export const initialBatchState: BatchState = {
  status: 'none',
  batchId: '',
  kind: 'money',
  programmeId: '',
  orgId: '',
  voucher: null,
  chunks: [],
  memberSets: [],
  memberCount: 0,
  totalFen: 0,
  proposalId: null,
  nextChunk: 0,
  paidCount: 0,
  paidFen: 0,
};

export function evolveBatch(state: BatchState, event: BatchEvent): BatchState {
  switch (event.type) {
    case 'BatchDrafted': {
      const { batchId, kind, programmeId, orgId, voucher } = event.data;
      return { ...state, status: 'drafting', batchId, kind, programmeId, orgId, voucher };
    }
    case 'BatchItemsListed': {
      const members = new Set<string>();
      let total = state.totalFen;
      for (const item of event.data.items) {
        members.add(item.memberId);
        total += item.amountFen;
      }
      return {
        ...state,
        chunks: [...state.chunks, event.data.items],
        memberSets: [...state.memberSets, members],
        memberCount: state.memberCount + members.size,
        totalFen: total,
      };
    }
    case 'BatchSealed':
      return { ...state, status: 'sealed' };
    case 'BatchApproved':
      return { ...state, status: 'approved', proposalId: event.data.proposalId };
    case 'BatchCancelled':
      return { ...state, status: 'cancelled' };
    case 'BatchChunkPaid':
      return {
        ...state,
        status: 'paying',
        nextChunk: event.data.chunk + 1,
        paidCount: state.paidCount + event.data.paidCount,
        paidFen: state.paidFen + event.data.paidFen,
      };
    case 'BatchStopped':
      return { ...state, status: 'stopped' };
    case 'BatchCompleted':
      // A stopped batch is also complete (nothing more will be paid) but keeps saying why.
      return { ...state, status: state.status === 'stopped' ? 'stopped' : 'completed' };
    default: {
      const unknown: never = event;
      throw new Error(`unknown batch event ${(unknown as { type: string }).type}`);
    }
  }
}

export function draftBatch(
  state: BatchState,
  command: { batchId: string; kind: BatchKind; programmeId: string; orgId: string; source: 'csv' | 'unit'; voucher: VoucherTerms | null; draftedBy: string },
): BatchEvent[] {
  if (state.status !== 'none') throw new DomainError('BATCH.EXISTS', 'a batch with this id exists', 409, { batchId: command.batchId });
  invariant((command.kind === 'vouchers') === (command.voucher !== null), 'a voucher batch has voucher terms, a money batch none');
  if (command.voucher) {
    const { faceFen, validFromMs, validUntilMs, category } = command.voucher;
    checkAmountFen(faceFen, 'face value');
    if (!/^[a-z][a-z0-9-]{1,31}$/.test(category)) throw new DomainError('MERCHANT.CATEGORY_INVALID', 'a category is 2 to 32 lowercase letters, digits or dashes', 400);
    if (!(validUntilMs > validFromMs) || validUntilMs - validFromMs > MAX_VOUCHER_VALIDITY_MS) {
      throw new DomainError('VOUCHER.VALIDITY_INVALID', 'a voucher is valid for a window of up to a year that ends after it starts', 400);
    }
  }
  return [{ type: 'BatchDrafted', data: { ...command } }];
}

/** Whether a member is listed in the batch already. */
export function isListed(state: BatchState, memberId: string): boolean {
  return state.memberSets.some((members) => members.has(memberId));
}

/** Adds up to one chunk of members to a draft. A member listed twice in a batch is refused. */
export function listItems(state: BatchState, items: readonly BatchItem[]): BatchEvent[] {
  if (state.status !== 'drafting') throw new DomainError('BATCH.NOT_DRAFTING', `the batch is ${state.status}`, 409, { batchId: state.batchId });
  invariant(items.length > 0 && items.length <= BATCH_CHUNK, `a listed chunk holds 1 to ${BATCH_CHUNK} members`);
  if (state.memberCount + items.length > MAX_BATCH_MEMBERS) {
    throw new DomainError('BATCH.TOO_LARGE', `a batch pays at most ${MAX_BATCH_MEMBERS} members`, 422, { maxMembers: MAX_BATCH_MEMBERS });
  }
  const seen = new Set<string>();
  for (const item of items) {
    checkAmountFen(item.amountFen);
    if (state.kind === 'vouchers') invariant(item.amountFen === state.voucher!.faceFen, 'every voucher of a campaign has its face value');
    if (seen.has(item.memberId) || isListed(state, item.memberId)) {
      throw new DomainError('BATCH.DUPLICATE_MEMBER', `member ${item.memberId} is listed twice`, 422, { memberId: item.memberId });
    }
    seen.add(item.memberId);
  }
  // A short chunk may only be the last: chunk i holds items [i * BATCH_CHUNK, ...).
  const last = state.chunks[state.chunks.length - 1];
  invariant(!last || last.length === BATCH_CHUNK, 'only the last listed chunk is short');
  return [{ type: 'BatchItemsListed', data: { batchId: state.batchId, chunk: state.chunks.length, items: [...items] } }];
}

export function sealBatch(state: BatchState): BatchEvent[] {
  if (state.status !== 'drafting') throw new DomainError('BATCH.NOT_DRAFTING', `the batch is ${state.status}`, 409, { batchId: state.batchId });
  if (state.memberCount === 0) throw new DomainError('BATCH.EMPTY', 'the batch lists no member', 422, { batchId: state.batchId });
  return [{ type: 'BatchSealed', data: { batchId: state.batchId, memberCount: state.memberCount, totalFen: state.totalFen, chunks: state.chunks.length } }];
}

export function approveBatch(state: BatchState, proposalId: string): BatchEvent[] {
  if (state.status === 'approved' && state.proposalId === proposalId) return [];
  if (state.status !== 'sealed') throw new DomainError('BATCH.NOT_SEALED', `the batch is ${state.status}`, 409, { batchId: state.batchId });
  return [{ type: 'BatchApproved', data: { batchId: state.batchId, proposalId } }];
}

export function cancelBatch(state: BatchState, reason: string): BatchEvent[] {
  if (state.status === 'cancelled') return [];
  if (state.status !== 'sealed' && state.status !== 'drafting') {
    throw new DomainError('BATCH.NOT_CANCELLABLE', `a batch that is ${state.status} cannot be cancelled`, 409, { batchId: state.batchId });
  }
  return [{ type: 'BatchCancelled', data: { batchId: state.batchId, reason } }];
}

/** The chunk to pay next, or null when the batch is not paying (not approved, stopped, completed). */
export function nextChunkToPay(state: BatchState): { chunk: number; items: readonly BatchItem[] } | null {
  if (state.status !== 'approved' && state.status !== 'paying') return null;
  const items = state.chunks[state.nextChunk];
  return items ? { chunk: state.nextChunk, items } : null;
}

/**
 * The batch's events for paying chunk `chunk`, of which the budget covered the first `covered`
 * members: the chunk record, then a stop when not all were covered, or the completion after the
 * last chunk.
 */
export function payChunk(state: BatchState, chunk: number, covered: number, stopReason: 'BUDGET_INSUFFICIENT' | 'PROGRAMME_CLOSED' = 'BUDGET_INSUFFICIENT'): BatchEvent[] {
  const next = nextChunkToPay(state);
  invariant(next && next.chunk === chunk, `chunk ${chunk} is the next to pay`);
  invariant(covered >= 0 && covered <= next.items.length, 'covered members are a prefix of the chunk');
  const paid = next.items.slice(0, covered);
  const paidFen = paid.reduce((sum, item) => sum + item.amountFen, 0);
  const events: BatchEvent[] = [];
  if (covered > 0) events.push({ type: 'BatchChunkPaid', data: { batchId: state.batchId, chunk, paidCount: covered, paidFen } });
  const complete = covered === next.items.length;
  if (!complete) events.push({ type: 'BatchStopped', data: { batchId: state.batchId, chunk, reason: stopReason } });
  if (!complete || chunk === state.chunks.length - 1) {
    const paidCount = state.paidCount + covered;
    const totalPaidFen = state.paidFen + paidFen;
    events.push({
      type: 'BatchCompleted',
      data: { batchId: state.batchId, paidCount, paidFen: totalPaidFen, unpaidCount: state.memberCount - paidCount, unpaidFen: state.totalFen - totalPaidFen },
    });
  }
  return events;
}
