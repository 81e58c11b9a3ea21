import { faultTable, runWorkerFaultScenario, type ScenarioReport } from '../fault/worker-faults';
import { testTimeout } from '../support/wait-for';

/**
 * The workers' fault suite in its bounded form (issue 9; the full figures are `npm run
 * fault:workers`, the same driver: test/fault/worker-faults.ts). 200 insurance grants and 200
 * payouts carried out by two `union-ledger worker` processes (the built CLI) while they are
 * killed -9 twelve times at random moments, their private Redis is killed and restarted empty
 * twice (a third of the way through the kills; after the last, with no worker started after it),
 * their PostgreSQL connections are cut once, and the simulators time out, fail and lose answers. Every request must end applied once at its simulator and recorded once in the ledger,
 * or as a dead letter with its reason; the counts must agree; the day reconciles; verify passes.
 */

const GRANTS = 200;
const PAYOUTS = 200;
const KILLS = 12;

let report: ScenarioReport;

beforeAll(async () => {
  report = await runWorkerFaultScenario({
    adminUrl: process.env.TEST_POSTGRES_URL!,
    grants: GRANTS,
    payouts: PAYOUTS,
    kills: KILLS,
    ...(process.env.UL_FAULT_SEED ? { seed: Number(process.env.UL_FAULT_SEED) } : {}),
  });
  process.stdout.write(`worker fault suite (bounded):\n${faultTable(report)}\n  ${report.plan.join('\n  ')}\n`);
}, testTimeout(4));

it('ran the faults it promises: the kills, two Redis restarts (empty), one PostgreSQL cut with live connections, injected faults of every kind', () => {
  expect({ kills: report.kills, redisRestarts: report.redisRestarts, postgresCuts: report.postgresCuts }).toEqual({ kills: KILLS, redisRestarts: 2, postgresCuts: 1 });
  expect(report.postgresConnectionsDropped).toBeGreaterThan(0);
  // The second Redis restart came with no worker start after it: what it lost was re-added by the running workers.
  expect(report.outstandingAtLastRestart).toBeGreaterThanOrEqual(0);
  const { insurer, gateway } = report.faultsInjected;
  expect(Math.min(insurer.errors, insurer.timeouts, insurer.lostAnswers, gateway.errors, gateway.timeouts, gateway.lostAnswers)).toBeGreaterThan(0);
});

it.each(['insurance', 'payouts'] as const)('%s: every request applied once and recorded once, or a dead letter with its reason; ledger counts equal the simulator’s', (queue) => {
  const figures = report[queue];
  expect(figures.requests).toBeGreaterThanOrEqual(queue === 'insurance' ? GRANTS : PAYOUTS);
  expect({
    lost: figures.lost,
    appliedNotRecorded: figures.appliedNotRecorded,
    duplicateOutcomes: figures.duplicateOutcomes,
    simulatorDuplicates: figures.simulatorDuplicates,
    simulatorStrays: figures.simulatorStrays,
    recordedNotApplied: figures.recordedNotApplied,
  }).toEqual({ lost: 0, appliedNotRecorded: 0, duplicateOutcomes: 0, simulatorDuplicates: 0, simulatorStrays: 0, recordedNotApplied: 0 });
  expect(figures.resolved + figures.deadLetters.length).toBe(figures.requests);
  for (const letter of figures.deadLetters) expect(letter.reason).not.toBe('');
  // Both kinds of outcome happened (the insurer refuses every 50th grant; shop-0's card is closed), and they match the simulator.
  const [success, failure] = queue === 'insurance' ? ['InsuranceGranted', 'InsuranceGrantFailed'] : ['PayoutSucceeded', 'PayoutFailed'];
  expect(figures.outcomes[success!]).toBe(figures.simulatorApplied);
  expect(figures.outcomes[failure!]).toBe(figures.simulatorRefused);
  expect(figures.simulatorRefused).toBeGreaterThan(0);
});

it('reconciles the pay day without a mismatch, and verify passes', () => {
  expect({ exit: report.reconciliation.exitCode, mismatches: report.reconciliation.mismatches, output: report.reconciliation.output }).toEqual({ exit: 0, mismatches: 0, output: '' });
  expect(report.reconciliation.statementLines).toBe(report.payouts.simulatorApplied);
  expect(report.reconciliation.ledgerPayouts).toBe(report.payouts.simulatorApplied);
  expect({ exit: report.verify.exitCode, output: report.verify.output }).toEqual({ exit: 0, output: expect.stringContaining('OK') });
});

it('stops the last workers cleanly on SIGTERM', () => {
  expect({ clean: report.cleanStops, stops: report.stops }).toEqual({ clean: true, stops: report.stops.map(() => ({ code: 0, signal: null })) });
});
