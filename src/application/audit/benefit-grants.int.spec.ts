import { randomUUID } from 'node:crypto';
import { runCliOn } from '../../../test/support/cli';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { testTimeout } from '../../../test/support/wait-for';
import { createEventStore } from '../../composition-root';
import { loadConfig } from '../../config/config';
import {
  approveBatch,
  batchStream,
  draftBatch,
  dueWallet,
  evolveBatch,
  evolveWallet,
  initialBatchState,
  initialWalletState,
  listItems,
  payChunk,
  sealBatch,
  voucherGrant,
  walletCredit,
  walletStream,
  type BatchEvent,
  type BatchItem,
  type BatchKind,
  type VoucherTerms,
  type WalletEvent,
} from '../../domain/benefits';
import { schemaVersionOf, splitFen } from '../../domain/shared';
import type { EventStore, JsonObject } from '../../eventstore/event-store';

jest.setTimeout(testTimeout(3));

/**
 * `audit grants` beyond points: batches and voucher expiries written by the benefits deciders
 * (the split by splitFen, as the service does) are recomputed equal; a batch whose shares were
 * forged with the total kept, and an expiry forged larger and earlier than the voucher's remainder
 * and validity, are named. The events are stored in real PostgreSQL through the event store.
 */

let database: TestDatabase;
let store: EventStore;
const T0 = Date.parse('2026-11-01T00:00:00+08:00');
const terms: VoucherTerms = { category: 'grocery', faceFen: 500, validFromMs: T0, validUntilMs: T0 + 7 * 86_400_000 };

async function append(streamId: string, events: ReadonlyArray<BatchEvent | WalletEvent>, occurredAtMs = T0): Promise<void> {
  await store.appendToStream(
    streamId,
    events.map((event) => ({
      eventId: randomUUID(),
      type: event.type,
      schemaVersion: schemaVersionOf(event.data),
      data: event.data as unknown as JsonObject,
      metadata: { occurredAt: new Date(occurredAtMs).toISOString() },
    })),
  );
}

/**
 * A batch drafted, listed and sealed by the batch decider; `forge` may rewrite the listed items.
 * A paid batch is approved and paid in one chunk, each member's wallet credited (`credit` may forge
 * the amount credited).
 */
async function batch(
  batchId: string,
  kind: BatchKind,
  items: BatchItem[],
  forge: (items: BatchItem[]) => BatchItem[] = (same) => same,
  paid?: { credit: (item: BatchItem) => number },
): Promise<void> {
  let state = initialBatchState;
  const events: BatchEvent[] = [];
  const take = (next: BatchEvent[]): void => {
    events.push(...next);
    state = next.reduce(evolveBatch, state);
  };
  take(draftBatch(state, { batchId, kind, programmeId: 'prog-1', orgId: 'u-1', source: 'unit', voucher: kind === 'vouchers' ? terms : null, draftedBy: 'admin-1' }));
  take(listItems(state, items));
  take(sealBatch(state));
  if (paid) {
    take(approveBatch(state, `proposal-${batchId}`));
    take(payChunk(state, 0, items.length));
  }
  const listed = events[1] as Extract<BatchEvent, { type: 'BatchItemsListed' }>;
  listed.data.items = forge(listed.data.items);
  await append(batchStream(batchId), events);
  if (!paid) return;
  const of = { batchId, programmeId: 'prog-1', orgId: 'u-1' };
  for (const item of items) {
    const amountFen = paid.credit(item);
    await append(walletStream(item.memberId), [kind === 'money' ? walletCredit(item.memberId, of, amountFen) : voucherGrant(item.memberId, of, { ...terms, faceFen: amountFen })]);
  }
}

const honest = { credit: (item: BatchItem) => item.amountFen };

const members = (count: number, amountFen: (index: number) => number, prefix = 'm'): BatchItem[] =>
  Array.from({ length: count }, (_, index) => ({ memberId: `${prefix}${index}`, amountFen: amountFen(index) }));

/** A voucher granted, then expired by the wallet decider's sweep; `recordedAtMs` may forge the time it is stored with. */
async function expiredVoucher(memberId: string, forge: (event: WalletEvent) => WalletEvent = (same) => same, recordedAtMs = terms.validUntilMs + 60_000): Promise<void> {
  const granted = voucherGrant(memberId, { batchId: 'b-campaign', programmeId: 'prog-1', orgId: 'u-1' }, terms);
  await append(walletStream(memberId), [granted]);
  const due = dueWallet(evolveWallet(initialWalletState, granted), new Date(terms.validUntilMs + 60_000));
  expect(due.map((event) => event.type)).toEqual(['VoucherExpired']);
  await append(walletStream(memberId), due.map(forge), recordedAtMs);
}

beforeAll(async () => {
  database = await createTestDatabase();
  store = createEventStore(loadConfig({}), database.db, { listen: false });
  const shares = splitFen(1_000, Array.from({ length: 7 }, () => 1));
  await batch('b-split', 'money', members(7, (index) => shares[index]!, 'w'), undefined, honest);
  await batch('b-fixed', 'money', members(4, () => 250, 'f'), undefined, honest);
  await batch('b-vouchers', 'vouchers', members(3, () => terms.faceFen, 'v'), undefined, honest);
  await expiredVoucher('m0');
});

afterAll(async () => {
  await store.close();
  await database.drop();
});

describe('union-ledger audit grants, disbursement splits and voucher expiries', () => {
  it('recomputes the deciders\' splits and expiries and finds them all equal', async () => {
    const { code, stdout } = await runCliOn(database, 'audit', 'grants');
    expect(stdout).toContain('OK: 3 sealed disbursement batches and 1 voucher expiries recomputed, all equal');
    expect(code).toBe(0);
  });

  it('names a split forged with its total kept, a wallet credited more than its share, and an expiry forged larger and earlier', async () => {
    // 100 fen over 3 members is 34, 33, 33 (the remainder to the earliest); the forgery moves the fen to the last.
    await batch('b-forged', 'money', members(3, (index) => (index === 0 ? 34 : 33)), (items) => items.map((item, index) => ({ ...item, amountFen: index === 2 ? 34 : 33 })));
    await expiredVoucher('m1', (event) => {
      const data = event.data as Extract<WalletEvent, { type: 'VoucherExpired' }>['data'];
      return { ...event, data: { ...data, amountFen: 600, postings: [{ ...data.postings[0]!, amount: 600 }] } } as WalletEvent;
    });
    // Paid in full, but one wallet credited 300 fen for a share of 100.
    await batch('b-credited', 'money', members(2, () => 100, 'x'), undefined, { credit: (item) => (item.memberId === 'x1' ? 300 : item.amountFen) });
    // Recorded as expired by a sweep whose clock was a day early.
    await expiredVoucher('m2', (same) => same, terms.validUntilMs - 86_400_000 + 1);

    const { code, stdout } = await runCliOn(database, 'audit', 'grants');
    expect(code).toBe(1);
    expect(stdout).toContain('DIFFERS: b-forged (batch-b-forged revision 1): share recorded {"memberId":"m0","amountFen":33}, recomputed {"memberId":"m0","amountFen":34}');
    expect(stdout).toContain('DIFFERS: b-forged (batch-b-forged revision 1): share recorded {"memberId":"m2","amountFen":34}, recomputed {"memberId":"m2","amountFen":33}');
    expect(stdout).toMatch(/DIFFERS: \S+ \(wallet-m1 revision 1\): amountFen recorded 600, recomputed 500/);
    expect(stdout).toMatch(/DIFFERS: \S+ \(wallet-m1 revision 1\): postings recorded/);
    expect(stdout).toMatch(/DIFFERS: \S+ \(wallet-m2 revision 1\): time recorded "2026-11-06T16:00:00.001Z", recomputed "at or after 2026-11-07T16:00:00.000Z"/);
    expect(stdout).toContain('DIFFERS: b-credited (wallet-x1 revision 0): credit recorded {"memberId":"x1","amountFen":300}, recomputed {"memberId":"x1","amountFen":100}');
    expect(stdout).toContain('6 difference(s) in 5 sealed disbursement batches and 3 voucher expiries');
    expect(stdout).not.toMatch(/wallet-(m0|[wfv]\d)/);
  });
});
