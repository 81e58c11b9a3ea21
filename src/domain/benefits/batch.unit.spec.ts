import { commandSpec } from '../../../test/support/given-when-then';
import {
  BATCH_CHUNK,
  MAX_BATCH_MEMBERS,
  MAX_VOUCHER_VALIDITY_MS,
  approveBatch,
  cancelBatch,
  draftBatch,
  evolveBatch,
  initialBatchState,
  isListed,
  listItems,
  nextChunkToPay,
  payChunk,
  sealBatch,
  type BatchEvent,
  type BatchItem,
  type BatchState,
  type VoucherTerms,
} from '.';

const batch = commandSpec(initialBatchState, evolveBatch);

const B = 'b1';
const DAY_MS = 24 * 60 * 60 * 1000;
const FROM_MS = new Date('2026-09-01T00:00:00+08:00').getTime();
const terms: VoucherTerms = { category: 'grocery', faceFen: 2_000, validFromMs: FROM_MS, validUntilMs: FROM_MS + 30 * DAY_MS };

type Command = (state: BatchState) => BatchEvent[];
const draft = (kind: 'money' | 'vouchers' = 'money', voucher: VoucherTerms | null = null): Command => (state) =>
  draftBatch(state, { batchId: B, kind, programmeId: 'p26', orgId: 'c1', source: 'csv', voucher, draftedBy: 'admin-1' });
const list = (items: BatchItem[]): Command => (state) => listItems(state, items);
const items = (from: number, count: number, amountFen = 1_000): BatchItem[] => Array.from({ length: count }, (_, index) => ({ memberId: `m${from + index}`, amountFen }));

function history(start: BatchEvent[], ...commands: Command[]): BatchEvent[] {
  const events = [...start];
  for (const command of commands) events.push(...command(batch.given(events).state()));
  return events;
}

const drafted = history([], draft());
/** Three members, ¥10, ¥20 and ¥30, sealed and approved. */
const approved = history(drafted, list([{ memberId: 'm1', amountFen: 1_000 }, { memberId: 'm2', amountFen: 2_000 }, { memberId: 'm3', amountFen: 3_000 }]), sealBatch, (state) => approveBatch(state, 'pr-9'));

describe('draftBatch', () => {
  it('drafts a money batch, and a voucher campaign with its terms', () => {
    batch.given([]).when(draft()).then([{ type: 'BatchDrafted', data: { batchId: B, kind: 'money', programmeId: 'p26', orgId: 'c1', source: 'csv', voucher: null, draftedBy: 'admin-1' } }]);
    expect(batch.given([]).when(draft('vouchers', terms)).result().state).toMatchObject({ status: 'drafting', kind: 'vouchers', voucher: terms });
  });

  it('refuses a second batch with the same id as BATCH.EXISTS', () => {
    batch.given(drafted).when(draft()).thenFails('BATCH.EXISTS');
  });

  it('refuses voucher terms that make no sense', () => {
    batch.given([]).when(draft('vouchers', { ...terms, faceFen: 0 })).thenFails('MONEY.AMOUNT_INVALID');
    batch.given([]).when(draft('vouchers', { ...terms, category: 'Food!' })).thenFails('MERCHANT.CATEGORY_INVALID');
    batch.given([]).when(draft('vouchers', { ...terms, validUntilMs: terms.validFromMs })).thenFails('VOUCHER.VALIDITY_INVALID');
    batch.given([]).when(draft('vouchers', { ...terms, validUntilMs: terms.validFromMs + MAX_VOUCHER_VALIDITY_MS + 1 })).thenFails('VOUCHER.VALIDITY_INVALID');
    batch.given([]).when(draft('vouchers', { ...terms, validUntilMs: terms.validFromMs + MAX_VOUCHER_VALIDITY_MS })).result();
  });

  it('treats a voucher batch without terms, or a money batch with them, as a programmer error', () => {
    expect(() => draft('vouchers', null)(initialBatchState)).toThrow('invariant violated');
    expect(() => draft('money', terms)(initialBatchState)).toThrow('invariant violated');
  });
});

describe('listItems', () => {
  it('lists members chunk by chunk', () => {
    const { events, state } = batch.given(history(drafted, list(items(0, BATCH_CHUNK)))).when(list(items(BATCH_CHUNK, 2))).result();
    expect(events).toEqual([{ type: 'BatchItemsListed', data: { batchId: B, chunk: 1, items: items(BATCH_CHUNK, 2) } }]);
    expect(state).toMatchObject({ memberCount: BATCH_CHUNK + 2, totalFen: (BATCH_CHUNK + 2) * 1_000 });
    expect([isListed(state, 'm0'), isListed(state, `m${BATCH_CHUNK + 1}`), isListed(state, `m${BATCH_CHUNK + 2}`)]).toEqual([true, true, false]);
  });

  it('refuses a member listed twice, in one chunk or across chunks, as BATCH.DUPLICATE_MEMBER', () => {
    batch.given(drafted).when(list([{ memberId: 'm1', amountFen: 1 }, { memberId: 'm1', amountFen: 2 }])).thenFails('BATCH.DUPLICATE_MEMBER', { memberId: 'm1' });
    batch.given(history(drafted, list(items(0, BATCH_CHUNK)))).when(list(items(BATCH_CHUNK - 1, 2))).thenFails('BATCH.DUPLICATE_MEMBER', { memberId: `m${BATCH_CHUNK - 1}` });
  });

  it(`refuses members beyond ${MAX_BATCH_MEMBERS} as BATCH.TOO_LARGE`, () => {
    // The full list's events as listItems writes them. Folding them used to take some 20 seconds (each
    // chunk copied the set of every member before it); the fold is now linear in the members.
    const full: BatchEvent[] = Array.from({ length: MAX_BATCH_MEMBERS / BATCH_CHUNK }, (_, chunk) => ({
      type: 'BatchItemsListed',
      data: { batchId: B, chunk, items: items(chunk * BATCH_CHUNK, BATCH_CHUNK) },
    }));
    batch.given([...drafted, ...full]).when(list(items(MAX_BATCH_MEMBERS, 1))).thenFails('BATCH.TOO_LARGE', { maxMembers: MAX_BATCH_MEMBERS });
    // A last full chunk reaches the limit exactly.
    batch.given([...drafted, ...full.slice(0, -1)]).when(list(items(MAX_BATCH_MEMBERS - BATCH_CHUNK, BATCH_CHUNK))).then([full[full.length - 1]!]);
  });

  it('refuses an invalid amount, and a batch no longer drafting as BATCH.NOT_DRAFTING', () => {
    batch.given(drafted).when(list([{ memberId: 'm1', amountFen: 0 }])).thenFails('MONEY.AMOUNT_INVALID');
    batch.given(approved).when(list(items(10, 1))).thenFails('BATCH.NOT_DRAFTING');
    batch.given([]).when(list(items(10, 1))).thenFails('BATCH.NOT_DRAFTING');
  });

  it('treats an empty or oversized chunk, a short chunk before another, and a voucher of another face value as programmer errors', () => {
    const state = batch.given(drafted).state();
    expect(() => listItems(state, [])).toThrow('invariant violated');
    expect(() => listItems(state, items(0, BATCH_CHUNK + 1))).toThrow('invariant violated');
    expect(() => listItems(batch.given(history(drafted, list(items(0, 3)))).state(), items(3, 1))).toThrow('invariant violated');
    expect(() => listItems(batch.given(history([], draft('vouchers', terms))).state(), items(0, 1, 1_999))).toThrow('invariant violated');
  });
});

describe('sealBatch, approveBatch, cancelBatch', () => {
  it('seals with the totals, then approves once per proposal', () => {
    const listed = history(drafted, list(items(1, 3)));
    batch.given(listed).when(sealBatch).then([{ type: 'BatchSealed', data: { batchId: B, memberCount: 3, totalFen: 3_000, chunks: 1 } }]);
    const sealed = history(listed, sealBatch);
    batch.given(sealed).when((state) => approveBatch(state, 'pr-9')).then([{ type: 'BatchApproved', data: { batchId: B, proposalId: 'pr-9' } }]);
    batch.given(history(sealed, (state) => approveBatch(state, 'pr-9'))).when((state) => approveBatch(state, 'pr-9')).then([]);
    batch.given(history(sealed, (state) => approveBatch(state, 'pr-9'))).when((state) => approveBatch(state, 'pr-10')).thenFails('BATCH.NOT_SEALED');
  });

  it('refuses to seal an empty batch (BATCH.EMPTY) and to approve an unsealed one (BATCH.NOT_SEALED)', () => {
    batch.given(drafted).when(sealBatch).thenFails('BATCH.EMPTY');
    batch.given(drafted).when((state) => approveBatch(state, 'pr-9')).thenFails('BATCH.NOT_SEALED');
  });

  it('cancels a draft or a sealed batch once, never an approved one', () => {
    batch.given(drafted).when((state) => cancelBatch(state, 'wrong list')).then([{ type: 'BatchCancelled', data: { batchId: B, reason: 'wrong list' } }]);
    batch.given(history(drafted, (state) => cancelBatch(state, 'x'))).when((state) => cancelBatch(state, 'x')).then([]);
    batch.given(approved).when((state) => cancelBatch(state, 'x')).thenFails('BATCH.NOT_CANCELLABLE');
  });
});

describe('payChunk', () => {
  it('pays a whole last chunk and completes the batch', () => {
    expect(nextChunkToPay(batch.given(approved).state())).toEqual({ chunk: 0, items: items(1, 3).map((item, index) => ({ ...item, amountFen: (index + 1) * 1_000 })) });
    const { events, state } = batch.given(approved).when((state) => payChunk(state, 0, 3)).result();
    expect(events).toEqual([
      { type: 'BatchChunkPaid', data: { batchId: B, chunk: 0, paidCount: 3, paidFen: 6_000 } },
      { type: 'BatchCompleted', data: { batchId: B, paidCount: 3, paidFen: 6_000, unpaidCount: 0, unpaidFen: 0 } },
    ]);
    expect(state.status).toBe('completed');
    expect(nextChunkToPay(state)).toBeNull();
  });

  it('pays the covered prefix, then stops and completes with what was left unpaid', () => {
    const { events, state } = batch.given(approved).when((state) => payChunk(state, 0, 2)).result();
    expect(events).toEqual([
      { type: 'BatchChunkPaid', data: { batchId: B, chunk: 0, paidCount: 2, paidFen: 3_000 } },
      { type: 'BatchStopped', data: { batchId: B, chunk: 0, reason: 'BUDGET_INSUFFICIENT' } },
      { type: 'BatchCompleted', data: { batchId: B, paidCount: 2, paidFen: 3_000, unpaidCount: 1, unpaidFen: 3_000 } },
    ]);
    expect(state.status).toBe('stopped');
    expect(nextChunkToPay(state)).toBeNull();
  });

  it('stops without a payment when nothing is covered, saying why', () => {
    batch
      .given(approved)
      .when((state) => payChunk(state, 0, 0, 'PROGRAMME_CLOSED'))
      .then([
        { type: 'BatchStopped', data: { batchId: B, chunk: 0, reason: 'PROGRAMME_CLOSED' } },
        { type: 'BatchCompleted', data: { batchId: B, paidCount: 0, paidFen: 0, unpaidCount: 3, unpaidFen: 6_000 } },
      ]);
  });

  it('pays chunk after chunk and completes after the last', () => {
    const two = history(drafted, list(items(0, BATCH_CHUNK)), list(items(BATCH_CHUNK, 1)), sealBatch, (state) => approveBatch(state, 'pr-9'));
    batch.given(two).when((state) => payChunk(state, 0, BATCH_CHUNK)).then([{ type: 'BatchChunkPaid', data: { batchId: B, chunk: 0, paidCount: BATCH_CHUNK, paidFen: BATCH_CHUNK * 1_000 } }]);
    const first = history(two, (state) => payChunk(state, 0, BATCH_CHUNK));
    expect(nextChunkToPay(batch.given(first).state())?.chunk).toBe(1);
    expect(batch.given(first).when((state) => payChunk(state, 1, 1)).result().events.map((event) => event.type)).toEqual(['BatchChunkPaid', 'BatchCompleted']);
  });

  it('treats paying a chunk out of turn, or of a batch not approved, as a programmer error', () => {
    expect(() => payChunk(batch.given(approved).state(), 1, 0)).toThrow('invariant violated');
    expect(() => payChunk(batch.given(approved).state(), 0, 4)).toThrow('invariant violated');
    expect(() => payChunk(batch.given(history(drafted, list(items(0, 1)), sealBatch)).state(), 0, 1)).toThrow('invariant violated');
  });
});
