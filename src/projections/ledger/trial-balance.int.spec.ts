import { randomUUID } from 'node:crypto';
import { runCliOn } from '../../../test/support/cli';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { waitForFeedEnd } from '../../../test/support/feed';
import { testTimeout } from '../../../test/support/wait-for';
import { createEventStore } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { posting, POSTINGS_SCHEMA_VERSION, type Posting } from '../../domain/shared';
import type { EventStore, JsonObject } from '../../eventstore/event-store';
import { catchUpProjection } from '../catch-up';
import { ledgerProjection } from './ledger-projection';
import { checkTrialBalance } from './trial-balance';


// Each test waits for the feed at most a few times (a transaction open elsewhere in the cluster hides new events).
jest.setTimeout(testTimeout(3));
/**
 * The trial balance is per asset: points and fen are never added together, an account holds one
 * asset only, and a malformed posting is reported rather than crashing the check.
 */

let database: TestDatabase;
let store: EventStore;

/** An event of some context that moves value, as any future context (budgets, wallets) will store it. */
async function move(streamId: string, postings: Array<Posting | Record<string, unknown>>): Promise<void> {
  await store.appendToStream(streamId, [
    {
      eventId: randomUUID(),
      type: 'ValueMoved',
      schemaVersion: POSTINGS_SCHEMA_VERSION,
      data: { postings } as unknown as JsonObject,
      metadata: { occurredAt: new Date().toISOString() },
    },
  ]);
}

beforeEach(async () => {
  database = await createTestDatabase();
  store = createEventStore(loadConfig({}), database.db, { listen: false });
});

afterEach(async () => {
  await store.close();
  await database.drop();
});

describe('the trial balance per asset', () => {
  it('balances points and fen separately and says so for each', async () => {
    await move('budget-2026-mid-autumn', [posting('fund:union-dues', 'budget:js:2026-mid-autumn', 120_000_000, 'CNY_FEN')]);
    await move('budget-2026-mid-autumn', [posting('budget:js:2026-mid-autumn', 'wallet:m1', 20_000, 'CNY_FEN')]);
    await move('member-m1', [posting('issuer:checkin', 'member:m1:available', 5, 'POINTS')]);
    await waitForFeedEnd(database.db);
    await catchUpProjection(store, database.db, ledgerProjection());

    const report = await checkTrialBalance(database.db);
    expect(report.ok).toBe(true);
    expect(report.assets).toEqual([
      { asset: 'POINTS', postings: 1, accounts: 2, eventsTotal: '0', journalTotal: '0' },
      { asset: 'CNY_FEN', postings: 2, accounts: 3, eventsTotal: '0', journalTotal: '0' },
    ]);
    const journal = await database.db.any<{ asset: string; total: string }>('SELECT asset, sum(amount)::text AS total FROM ul_journal GROUP BY asset ORDER BY asset');
    expect(journal).toEqual([
      { asset: 'CNY_FEN', total: '0' },
      { asset: 'POINTS', total: '0' },
    ]);

    const { code, stdout } = await runCliOn(database, 'verify');
    expect(code).toBe(0);
    expect(stdout).toContain('OK: trial balance zero per asset (POINTS 0 over 1 postings, CNY_FEN 0 over 2 postings)');
  });

  it('refuses an account that holds points and money', async () => {
    await move('budget-x', [posting('fund:x', 'budget:x', 100, 'CNY_FEN')]);
    await move('budget-x', [posting('issuer:x', 'budget:x', 100, 'POINTS')]);
    await waitForFeedEnd(database.db);
    await catchUpProjection(store, database.db, ledgerProjection());

    const report = await checkTrialBalance(database.db);
    expect(report.ok).toBe(false);
    expect(report.mixedAssetAccounts).toEqual([{ account: 'budget:x', assets: 'CNY_FEN,POINTS' }]);
    const { code, stdout } = await runCliOn(database, 'verify');
    expect(code).toBe(1);
    expect(stdout).toContain('account budget:x holds several assets: CNY_FEN,POINTS');
  });

  it('reports malformed postings (fractions, unknown assets, text amounts) instead of failing the check', async () => {
    await move('budget-y', [{ debit: 'a', credit: 'b', amount: 0.5, asset: 'POINTS' }]);
    await move('budget-y', [{ debit: 'a', credit: 'b', amount: 7, asset: 'USD' }]);
    await move('budget-y', [{ debit: 'a', credit: 'b', amount: 'lots', asset: 'CNY_FEN' }]);
    await move('budget-y', [{ debit: 'a', credit: 'b', points: 3 }]); // The version-1 shape in a version-2 event.

    const report = await checkTrialBalance(database.db);
    expect(report.ok).toBe(false);
    expect(report.badPostings.map((bad) => JSON.parse(bad.detail) as unknown)).toEqual([
      { debit: 'a', credit: 'b', amount: 0.5, asset: 'POINTS' },
      { debit: 'a', credit: 'b', amount: 7, asset: 'USD' },
      { debit: 'a', credit: 'b', amount: 'lots', asset: 'CNY_FEN' },
      { debit: 'a', credit: 'b', points: 3 },
    ]);
  });

  it('reports a budget that gave more than it held at that moment, even when later funding covers it', async () => {
    await move('programme-p', [posting('fund-source:donation', 'budget:p:root', 1_000, 'CNY_FEN')]);
    await move('programme-p', [posting('budget:p:root', 'budget:p:child', 1_500, 'CNY_FEN')]); // more than the root held
    await move('programme-p', [posting('fund-source:donation', 'budget:p:root', 1_000, 'CNY_FEN')]); // the end balance is fine
    await move('wallet-m', [posting('wallet:m:available', 'merchant:s:receivable', 1, 'CNY_FEN')]);
    await waitForFeedEnd(database.db);
    await catchUpProjection(store, database.db, ledgerProjection());
    const positions = await database.db.map<string>('SELECT global_position FROM ul_events ORDER BY global_position', [], (row: { global_position: string }) => row.global_position);

    const report = await checkTrialBalance(database.db);
    expect(report.ok).toBe(false);
    expect(report.negativeAccounts).toEqual([
      { account: 'budget:p:root', asset: 'CNY_FEN', balance: '-500', position: positions[1] },
      { account: 'wallet:m:available', asset: 'CNY_FEN', balance: '-1', position: positions[3] },
    ]);
    const { code, stdout } = await runCliOn(database, 'verify');
    expect(code).toBe(1);
    expect(stdout).toContain(`negative account budget:p:root (CNY_FEN): -500 at position ${positions[1]}`);
  });
});
