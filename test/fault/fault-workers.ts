/**
 * The workers' full fault suite: `npm run fault:workers` (issue 9; see docs/FAULTS.md). The driver
 * is test/fault/worker-faults.ts, shared with the bounded CI spec test/e2e/worker-faults.e2e.spec.ts.
 * Run through test/support/ts-register.js (the driver uses the tests' fixtures, which the build
 * does not compile); the workers it kills are the built CLI, so the npm script builds first.
 * Exit 0 when every check holds, 1 otherwise.
 */
import { parseArgs } from 'node:util';
import { probeTcp } from '../../src/infra/embedded';
import { faultTable, runWorkerFaultScenario, type ScenarioReport } from './worker-faults';

const USAGE = `Usage: npm run fault:workers -- [options]
  --grants=N    members activated, one insurance grant each       [1000]
  --payouts=N   payouts (a multiple of 10: merchants × 10 days)   [1000]
  --kills=N     kill -9 of worker processes                       [50]
  --workers=N   worker processes at once                          [2]
  --seed=N      the kill plan's seed (printed by every run)       [random]
  --keep        keep the ul_fault_* database
Servers: DATABASE_URL (allowed to CREATE DATABASE), else PostgreSQL on 127.0.0.1:5432. Redis: a private redis-server on a free port.`;

function problems(report: ScenarioReport): string[] {
  const found: string[] = [];
  for (const queue of ['insurance', 'payouts'] as const) {
    const figures = report[queue];
    for (const key of ['lost', 'appliedNotRecorded', 'duplicateOutcomes', 'simulatorDuplicates', 'simulatorStrays', 'recordedNotApplied'] as const) {
      if (figures[key] !== 0) found.push(`${queue}: ${key} = ${figures[key]}`);
    }
    if (figures.resolved + figures.deadLetters.length !== figures.requests) found.push(`${queue}: ${figures.resolved} resolved + ${figures.deadLetters.length} dead letters ≠ ${figures.requests} requests`);
  }
  if (report.reconciliation.exitCode !== 0 || report.reconciliation.mismatches !== 0) found.push(`reconcile: exit ${report.reconciliation.exitCode}, ${report.reconciliation.mismatches} mismatch(es) ${report.reconciliation.output}`);
  if (report.verify.exitCode !== 0) found.push(`verify: exit ${report.verify.exitCode} ${report.verify.output}`);
  if (!report.cleanStops) found.push('the last workers did not stop cleanly on SIGTERM');
  return found;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: { grants: { type: 'string' }, payouts: { type: 'string' }, kills: { type: 'string' }, workers: { type: 'string' }, seed: { type: 'string' }, keep: { type: 'boolean' }, help: { type: 'boolean' } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const int = (text: string | undefined, fallback: number, flag: string): number => {
    const value = Number(text ?? fallback);
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${flag} needs a whole number\n${USAGE}`);
    return value;
  };
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    if (!(await probeTcp('127.0.0.1', 5432))) throw new Error(`no PostgreSQL: set DATABASE_URL or run one on 127.0.0.1:5432\n${USAGE}`);
    adminUrl = 'postgres://postgres@127.0.0.1:5432/postgres';
  }
  const report = await runWorkerFaultScenario({
    adminUrl,
    grants: int(values.grants, 1_000, 'grants'),
    payouts: int(values.payouts, 1_000, 'payouts'),
    kills: int(values.kills, 50, 'kills'),
    workers: int(values.workers, 2, 'workers'),
    ...(values.seed ? { seed: int(values.seed, 0, 'seed') } : {}),
    keepDatabase: values.keep ?? false,
    drainTimeoutMs: 600_000,
    log: (line) => process.stdout.write(`  ${line}\n`),
  });
  process.stdout.write(`\n${faultTable(report)}\n\nplan:\n  ${report.plan.join('\n  ')}\n`);
  for (const exit of report.selfExits) process.stdout.write(`self exit (${exit.code ?? exit.signal}):\n${exit.tail}\n`);
  const found = problems(report);
  process.stdout.write(found.length === 0 ? '\nOK: nothing lost, nothing duplicated\n' : `\nFAILED:\n  ${found.join('\n  ')}\n`);
  process.exitCode = found.length === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`fault:workers: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 2;
});
