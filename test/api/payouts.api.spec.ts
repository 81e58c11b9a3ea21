import { randomBytes } from 'node:crypto';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { DEFAULT_JOB_OPTIONS, QUEUES, type EffectJob } from '../../src/workers/queues';
import { startPayoutWorker } from '../../src/workers/payouts';
import { openEconomy, settleDays, testClock, type RequestedPayout } from '../support/payout-fixtures';
import { startLedgerApp, type Answer, type LedgerApp } from '../support/ledger-app';
import { testTimeout, waitFor } from '../support/wait-for';

/**
 * Payouts end to end over the service: settlements request payouts, the payouts worker pays them
 * through the gateway simulator (jobs added as the relay adds them), and GET
 * /v1/admin/reconciliation/:date shows the day against the gateway's statement, to auditors and
 * root admins only.
 */

const DAY = '2026-10-08';
const PAY_DAY = '2026-10-09';
const clock = testClock('2026-10-08T09:00:00+08:00');
let app: LedgerApp;
let payouts: RequestedPayout[];
const tokens: Record<string, string> = {};

function expectError(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
}

beforeAll(async () => {
  app = await startLedgerApp({ clock: () => clock.now() });
  const economy = await openEconomy(app.ledger, clock, { merchants: 3, days: [DAY], members: 3 });
  payouts = await settleDays(app.ledger, clock, economy, [DAY]);
  clock.setShanghai(PAY_DAY, '09:00');
  const redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
  const prefix = `ul-test-payouts-api-${randomBytes(4).toString('hex')}`;
  const queue = new Queue<EffectJob>(QUEUES.payouts, { connection: redis, prefix });
  const worker = startPayoutWorker({ effect: app.ledger.payoutEffect, connection: redis, prefix, concurrency: 2 });
  try {
    await queue.addBulk(payouts.map((payout) => ({ name: 'PayoutRequested', data: payout.job, opts: { jobId: payout.job.eventId, ...DEFAULT_JOB_OPTIONS } })));
    await waitFor(async () => (await queue.getJobCounts('completed')).completed === payouts.length, { what: 'the payouts to be paid' });
  } finally {
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    redis.disconnect();
  }
  clock.setShanghai('2026-10-10', '01:30');
  tokens.auditor = await app.token('auditor-1', 'auditor', 'p-1');
  tokens.rootAdmin = await app.token('admin-root', 'admin', 'p-1');
  tokens.unitAdmin = await app.token('admin-unit', 'admin', 'u-1');
  tokens.finance = await app.token('finance-root', 'finance', 'p-1');
}, testTimeout(2));
afterAll(async () => {
  await app?.close();
});

describe('GET /v1/admin/reconciliation/:date', () => {
  it("shows the day's payouts agreeing with the gateway's statement, to auditors and root admins", async () => {
    const total = payouts.reduce((sum, payout) => sum + payout.amountFen, 0);
    for (const token of [tokens.auditor, tokens.rootAdmin]) {
      const answer = await app.call('GET', `/v1/admin/reconciliation/${PAY_DAY}`, { token });
      expect({ status: answer.status, body: answer.body }).toEqual({
        status: 200,
        body: { day: PAY_DAY, statement: { payments: 3, amount: (total / 100).toFixed(2) }, ledger: { payouts: 3, amount: (total / 100).toFixed(2) }, mismatches: [] },
      });
    }
    expect(app.paymentGateway.stats().applied).toBe(3);
  });

  it('refuses an admin below the root, a finance approver, and a day that is not one', async () => {
    expectError(await app.call('GET', `/v1/admin/reconciliation/${PAY_DAY}`, { token: tokens.unitAdmin }), 403, 'AUTH.FORBIDDEN');
    expectError(await app.call('GET', `/v1/admin/reconciliation/${PAY_DAY}`, { token: tokens.finance }), 403, 'AUTH.FORBIDDEN');
    expectError(await app.call('GET', '/v1/admin/reconciliation/2026-13-01', { token: tokens.auditor }), 400, 'VALIDATION.FAILED');
    expectError(await app.call('GET', `/v1/admin/reconciliation/${PAY_DAY}?limit=1`, { token: tokens.auditor }), 400, 'VALIDATION.FAILED');
  });

  it('shows a payment the ledger does not know, and whether the day’s stream recorded it', async () => {
    const forged = await fetch(`${app.paymentGateway.url}/simulator/payments/records/po-unknown`, { method: 'PUT', body: JSON.stringify({ amountFen: 1_500, paidAt: '2026-10-09T04:00:00.000Z' }) });
    expect(forged.status).toBe(200);
    const mismatch = { kind: 'paid_not_recorded', payoutId: 'po-unknown', merchantId: null, ledgerStatus: 'none', ledgerAmount: null, gatewayAmount: '15.00', gatewayReference: expect.any(String) };
    const before = await app.call('GET', `/v1/admin/reconciliation/${PAY_DAY}`, { token: tokens.auditor });
    expect(before.body.mismatches).toEqual([{ ...mismatch, recorded: false }]);
    // The route only looks; the daily job (here: the service) records.
    await app.ledger.reconciliation.reconcile(PAY_DAY);
    const after = await app.call('GET', `/v1/admin/reconciliation/${PAY_DAY}`, { token: tokens.auditor });
    expect(after.body.mismatches).toEqual([{ ...mismatch, recorded: true }]);
  });

  it('answers 502 when the gateway cannot give its statement', async () => {
    await app.paymentGateway.close();
    expectError(await app.call('GET', `/v1/admin/reconciliation/${PAY_DAY}`, { token: tokens.auditor }), 502, 'PAYMENT_GATEWAY.UNAVAILABLE');
  });
});
