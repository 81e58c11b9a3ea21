import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { Queue, type Job, type Worker } from 'bullmq';
import Redis from 'ioredis';
import { UnionLedger } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { PaymentGatewayHttpClient } from '../../infra/payment-gateway';
import { startPaymentGatewaySimulator, type PaymentGatewaySimulator } from '../../infra/simulators/payment-gateway-simulator';
import { catchUpProjection } from '../../projections';
import { checkTrialBalance, ledgerProjection } from '../../projections/ledger';
import { payoutCounts, payoutsProjection } from '../../projections/payouts';
import { DEFAULT_JOB_OPTIONS, QUEUES, type EffectJob } from '../queues';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { runCliOn } from '../../../test/support/cli';
import { openEconomy, settleDays, testBankCard, testClock, type RequestedPayout } from '../../../test/support/payout-fixtures';
import { testTimeout, waitFor } from '../../../test/support/wait-for';
import { payoutProcessor, startPayoutWorker } from '.';

/**
 * Exactly-once payouts over at-least-once queues, on real PostgreSQL, Redis and the gateway
 * simulator as an HTTP server: 300 settlements' payouts paid while the simulator drops answers,
 * times out and fails, the jobs are added twice, and the worker is closed mid-run, killed with
 * SIGKILL as a process of its own, and reopened. Afterwards the gateway's count of payments made
 * equals the ledger's PayoutSucceeded count, no payout has two outcomes, reconciliation finds
 * nothing, and the trial balance holds. No step waits for a time: each waits for a condition.
 */

const MERCHANTS = 30;
const DAYS = ['2026-09-01', '2026-09-02', '2026-09-03', '2026-09-04', '2026-09-05', '2026-09-06', '2026-09-07', '2026-09-08', '2026-09-09', '2026-09-10'];
/** The day the worker pays everything (the gateway's statement day), and the day after it. */
const PAY_DAY = '2026-09-11';
const CLOSED_CARD = testBankCard(999_001);
/** shop-0's card is closed at the bank; shop-1's personal data is erased before its payouts run. */
const CLOSED = 'shop-0';
const SHREDDED = 'shop-1';
const GATEWAY_TIMEOUT_MS = 1_000;
const LOCK_MS = 2_000;

let database: TestDatabase;
let simulator: PaymentGatewaySimulator;
let ledger: UnionLedger;
let redis: Redis;
let queue: Queue<EffectJob>;
let payouts: RequestedPayout[];
const clock = testClock();
const prefix = `ul-test-payouts-${randomBytes(4).toString('hex')}`;
const piiKeys = { masterKey: randomBytes(32), hmacKey: randomBytes(32) };
const figures: Record<string, unknown> = {};

beforeAll(async () => {
  database = await createTestDatabase();
  simulator = await startPaymentGatewaySimulator({ declinedCards: [CLOSED_CARD], seed: 20_260_911, clock: () => clock.now() });
  ledger = new UnionLedger({
    config: loadConfig({ DATABASE_URL: database.url }),
    db: database.db,
    piiKeys,
    clock: () => clock.now(),
    payments: new PaymentGatewayHttpClient({ baseUrl: simulator.url, apiKey: simulator.apiKey, timeoutMs: GATEWAY_TIMEOUT_MS }),
  });
  redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
  queue = new Queue<EffectJob>(QUEUES.payouts, { connection: redis, prefix });
  const economy = await openEconomy(ledger, clock, { merchants: MERCHANTS, days: DAYS, cardOf: (index) => (index === 0 ? CLOSED_CARD : testBankCard(index + 1)) });
  payouts = await settleDays(ledger, clock, economy, DAYS);
  await ledger.vault.shred(`merchant-${SHREDDED}`);
  clock.setShanghai(PAY_DAY, '09:00');
}, testTimeout(2));

afterAll(async () => {
  await queue?.obliterate({ force: true }).catch(() => undefined);
  await queue?.close();
  redis?.disconnect();
  await ledger?.close();
  await simulator?.close();
  await database?.drop();
  // The figures the report quotes.
  process.stdout.write(`payouts figures: ${JSON.stringify(figures)}\n`);
});

/** Adds the jobs as the relay does: job id = the requesting event's id, the queues' default options. */
async function enqueue(list: readonly RequestedPayout[]): Promise<void> {
  for (let start = 0; start < list.length; start += 100) {
    await queue.addBulk(list.slice(start, start + 100).map((payout) => ({ name: 'PayoutRequested', data: payout.job, opts: { jobId: payout.job.eventId, ...DEFAULT_JOB_OPTIONS } })));
  }
}

async function finished(): Promise<number> {
  const counts = await queue.getJobCounts('completed', 'failed');
  return (counts.completed ?? 0) + (counts.failed ?? 0);
}

async function outcomeRows(): Promise<Array<{ type: string; payout_id: string; count: number }>> {
  return database.db.any(
    `SELECT event_type AS type, data->>'payoutId' AS payout_id, count(*)::int AS count FROM ul_events
      WHERE event_type IN ('PayoutSucceeded', 'PayoutFailed') GROUP BY event_type, data->>'payoutId'`,
  );
}

function startChild(): { child: ChildProcessWithoutNullStreams; done: () => number; ready: Promise<void> } {
  const root = path.join(__dirname, '..', '..', '..');
  const child = spawn(process.execPath, ['-r', path.join(root, 'test', 'support', 'ts-register.js'), path.join(root, 'test', 'support', 'payout-worker-child.ts')], {
    cwd: root,
    env: {
      ...process.env,
      UL_CHILD_DATABASE_URL: database.url,
      UL_CHILD_REDIS_URL: process.env.TEST_REDIS_URL!,
      UL_CHILD_PREFIX: prefix,
      UL_CHILD_PII_MASTER: piiKeys.masterKey.toString('hex'),
      UL_CHILD_PII_HMAC: piiKeys.hmacKey.toString('hex'),
      UL_CHILD_GATEWAY_URL: simulator.url,
      UL_CHILD_GATEWAY_KEY: simulator.apiKey,
      UL_CHILD_GATEWAY_TIMEOUT_MS: String(GATEWAY_TIMEOUT_MS),
      UL_CHILD_CONCURRENCY: '8',
      UL_CHILD_LOCK_MS: String(LOCK_MS),
    },
  });
  let output = '';
  let errors = '';
  child.stderr.on('data', (chunk: Buffer) => {
    errors += chunk.toString();
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the worker child exited (${code}) before it was ready: ${errors.slice(-2_000)}`)));
  });
  return { child, ready, done: () => output.split('\n').filter((line) => line.startsWith('done ')).length };
}

const worker = (): Worker<EffectJob> =>
  startPayoutWorker({ effect: ledger.payoutEffect, connection: redis, prefix, concurrency: 8, lockDurationMs: LOCK_MS, stalledIntervalMs: LOCK_MS });

describe('payouts through the worker', () => {
  it(
    'pays each of 300 payouts exactly once through injected faults, jobs added twice, a worker closed mid-run and one killed with SIGKILL',
    async () => {
      expect(payouts).toHaveLength(MERCHANTS * DAYS.length);
      simulator.setFaults({ errorRate: 0.08, timeoutRate: 0.04, lostAnswerRate: 0.1, inquiryErrorRate: 0.05, stallMs: 3 * GATEWAY_TIMEOUT_MS });
      await enqueue(payouts);
      // The relay adding every job again (a crash before its checkpoint moved) adds nothing.
      await enqueue(payouts);
      const total = (await queue.getJobCounts('wait', 'delayed', 'active', 'completed', 'failed', 'prioritized', 'waiting-children')) as Record<string, number>;
      expect(Object.values(total).reduce((sum, count) => sum + count, 0)).toBe(payouts.length);

      // 1. A worker in this process, closed without waiting for its active jobs once a fifth is done.
      const first = worker();
      await waitFor(async () => (await finished()) >= 60, { what: 'the first worker to finish 60 payouts' });
      await first.close(true);

      // 2. A worker in a process of its own, killed with SIGKILL in the middle of its jobs.
      const { child, ready, done } = startChild();
      await ready;
      await waitFor(async () => done() >= 40, { what: 'the child worker to finish 40 payouts', seen: () => `${done()} done` });
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      figures.doneBeforeKill = await finished();

      // 3. A worker reopened here takes over what the others left (stalled jobs come back after their locks expire).
      const last = worker();
      const deadLetters: string[] = [];
      last.on('failed', (job, error) => {
        if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) deadLetters.push(`${job.id}: ${error.message}`);
      });
      let counts: Record<string, number> = {};
      await waitFor(
        async () => {
          counts = (await queue.getJobCounts('wait', 'delayed', 'active', 'completed', 'failed')) as Record<string, number>;
          return counts.completed! + counts.failed! === payouts.length;
        },
        { what: 'every payout job to finish', seen: () => JSON.stringify(counts), timeoutMs: 240_000 },
      );
      await last.close();
      expect({ failed: counts.failed, deadLetters }).toEqual({ failed: 0, deadLetters: [] });

      const stats = simulator.stats();
      const rows = await outcomeRows();
      const succeeded = rows.filter((row) => row.type === 'PayoutSucceeded');
      const failed = rows.filter((row) => row.type === 'PayoutFailed');
      // Each payout has one outcome, recorded once.
      expect(rows.filter((row) => row.count !== 1)).toEqual([]);
      expect(new Set(rows.map((row) => row.payout_id)).size).toBe(payouts.length);
      expect(succeeded.length + failed.length).toBe(payouts.length);
      // The gateway made as many payments as the ledger records, to exactly those payouts, each once.
      const applied = simulator.appliedIds();
      expect(new Set(applied).size).toBe(applied.length);
      expect(stats.applied).toBe(succeeded.length);
      expect([...applied].sort()).toEqual(succeeded.map((row) => row.payout_id).sort());
      expect(stats.appliedFen).toBe(payouts.filter((payout) => applied.includes(payout.payoutId)).reduce((sum, payout) => sum + payout.amountFen, 0));
      // The closed card and the erased one failed, and only they.
      const failedMerchants = new Set(payouts.filter((payout) => failed.some((row) => row.payout_id === payout.payoutId)).map((payout) => payout.merchantId));
      expect([...failedMerchants].sort()).toEqual([CLOSED, SHREDDED]);
      expect(failed).toHaveLength(2 * DAYS.length);
      // Faults were injected of every kind, and the answers lost did not lose money or pay twice.
      expect(stats.faults.errors).toBeGreaterThan(0);
      expect(stats.faults.timeouts).toBeGreaterThan(0);
      expect(stats.faults.lostAnswers).toBeGreaterThan(0);
      // Unknown outcomes were resolved by asking, not by paying again.
      expect(stats.inquiries).toBeGreaterThan(0);
      // Jobs were taken over from the closed and the killed worker, and retried after unknown outcomes.
      const jobs = await queue.getJobs(['completed'], 0, payouts.length);
      const redelivered = jobs.filter((job) => job.attemptsStarted > 1).length;
      expect(redelivered).toBeGreaterThan(0);
      Object.assign(figures, { redelivered, stalled: jobs.filter((job) => job.stalledCounter > 0).length, payouts: payouts.length, succeeded: succeeded.length, failed: failed.length, gateway: stats, duplicatesPaid: applied.length - new Set(applied).size });

      // A redelivery of every job (as after a crash) records nothing and pays nothing more.
      const processJob = payoutProcessor(ledger.payoutEffect);
      const replays = await Promise.all(payouts.map((payout) => processJob({ data: payout.job, attemptsStarted: 2 } as Job<EffectJob>)));
      expect(new Set(replays.map((replay) => replay.outcome))).toEqual(new Set(['already_resolved']));
      // So does a job added again after its completed record was removed.
      const again = payouts[5]!;
      await (await queue.getJob(again.job.eventId))!.remove();
      await enqueue([again]);
      const reopened = worker();
      await waitFor(async () => (await queue.getJob(again.job.eventId))?.returnvalue?.outcome === 'already_resolved', { what: 'the re-added job to finish' });
      await reopened.close();
      expect(simulator.stats().applied).toBe(stats.applied);
      expect(await outcomeRows()).toHaveLength(rows.length);

      await catchUpProjection(ledger.store, database.db, ledgerProjection());
      const balance = await checkTrialBalance(database.db);
      expect(balance.ok).toBe(true);
      await catchUpProjection(ledger.store, database.db, payoutsProjection());
      expect(await payoutCounts(database.db)).toEqual({ requested: 0, succeeded: succeeded.length, failed: failed.length });
    },
    testTimeout(6),
  );

  it('asks for a failed payout again in the merchant’s next settlement', async () => {
    const failedFen = payouts.filter((payout) => payout.merchantId === CLOSED).reduce((sum, payout) => sum + payout.amountFen, 0);
    clock.setShanghai(PAY_DAY, '23:00');
    const settled = await ledger.benefits.settle(null, CLOSED, PAY_DAY, 'next-settlement');
    // No sales that day: the payout is exactly what the bank refused.
    expect(settled.payout).toMatchObject({ amountFen: failedFen });
    // What the merchant is owed sits in its payable again (balance = credits − debits of the stream's postings).
    let payableFen = 0;
    for (const event of await ledger.store.readStream(`merchant-${CLOSED}`)) {
      for (const posting of (event.data as { postings?: Array<{ debit: string; credit: string; amount: number }> }).postings ?? []) {
        if (posting.credit === `merchant:${CLOSED}:payable`) payableFen += posting.amount;
        if (posting.debit === `merchant:${CLOSED}:payable`) payableFen -= posting.amount;
      }
    }
    expect(payableFen).toBe(failedFen);
  });
});

describe('reconciliation against the gateway statement', () => {
  it('finds no mismatch after the run, and reports each kind when one is forged; the CLI says the same', async () => {
    clock.setShanghai('2026-09-12', '01:30');
    const clean = await ledger.reconciliation.reconcile(PAY_DAY);
    const paid = payouts.filter((payout) => payout.merchantId !== CLOSED && payout.merchantId !== SHREDDED);
    expect(clean).toMatchObject({ day: PAY_DAY, mismatches: [], statementLines: paid.length, ledgerPayouts: paid.length, recordedEvents: 1 });
    expect(clean.statementFen).toBe(clean.ledgerFen);

    // Forged at the gateway: a payment nobody asked for, an amount changed, a payment forgotten.
    const forge = (id: string, body: unknown) => fetch(`${simulator.url}/simulator/payments/records/${id}`, { method: 'PUT', body: JSON.stringify(body) });
    expect((await forge('po-ghost', { amountFen: 4_321, paidAt: '2026-09-11T03:00:00.000Z' })).status).toBe(200);
    expect((await forge(paid[0]!.payoutId, { amountFen: paid[0]!.amountFen + 1, paidAt: '2026-09-11T03:00:00.000Z' })).status).toBe(200);
    expect((await fetch(`${simulator.url}/simulator/payments/records/${paid[1]!.payoutId}`, { method: 'DELETE' })).status).toBe(200);
    const report = await ledger.reconciliation.reconcile(PAY_DAY);
    expect(report.mismatches.map((mismatch) => [mismatch.kind, mismatch.payoutId, mismatch.recorded]).sort()).toEqual(
      [
        ['amount_differs', paid[0]!.payoutId, true],
        ['paid_not_recorded', 'po-ghost', true],
        ['recorded_not_paid', paid[1]!.payoutId, true],
      ].sort(),
    );
    expect(report.recordedEvents).toBe(4); // Three mismatches and the run.
    const stream = await ledger.store.readStream(`reconciliation-${PAY_DAY}`);
    expect(stream.map((event) => event.type)).toEqual(['PayoutsReconciled', 'PayoutMismatchFound', 'PayoutMismatchFound', 'PayoutMismatchFound', 'PayoutsReconciled']);
    // Again: nothing new to record.
    expect((await ledger.reconciliation.reconcile(PAY_DAY)).recordedEvents).toBe(0);

    // The operators' command, against the same gateway.
    const saved = { url: process.env.PAYMENT_GATEWAY_URL, key: process.env.PAYMENT_GATEWAY_KEY };
    process.env.PAYMENT_GATEWAY_URL = simulator.url;
    process.env.PAYMENT_GATEWAY_KEY = simulator.apiKey;
    try {
      const cli = await runCliOn(database, 'reconcile', '--date', PAY_DAY);
      expect(cli.code).toBe(1);
      expect(cli.stdout).toContain('3 mismatch(es)');
      expect(cli.stdout).toContain('po-ghost');
      expect((await runCliOn(database, 'reconcile', '--date', '2026-09-10')).stdout).toContain('OK');
      expect((await runCliOn(database, 'reconcile', '--date', '2026-09-10', '--json')).stdout).toContain('"mismatches": []');
    } finally {
      if (saved.url === undefined) delete process.env.PAYMENT_GATEWAY_URL;
      else process.env.PAYMENT_GATEWAY_URL = saved.url;
      if (saved.key === undefined) delete process.env.PAYMENT_GATEWAY_KEY;
      else process.env.PAYMENT_GATEWAY_KEY = saved.key;
    }
  });
});
