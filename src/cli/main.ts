import { Command } from 'commander';
import { openRuntime, UnionLedger } from '../composition-root';
import { ConfigError, loadConfig } from '../config/config';
import { verifyHashChains } from '../eventstore/postgres/verify';
import { pgp } from '../infra/database';
import { SchemaBehindError } from '../infra/migrations';
import type { Runtime } from '../infra/runtime';
import { rebuildLeaderboards } from '../projections/earning';
import { checkTrialBalance, type TrialBalanceReport } from '../projections/ledger';
import { cliLog } from './cli-log';
import { ProgressBar } from './progress';
import { registerAdminCommand } from './admin-command';
import { registerDemoCommand } from './demo-command';
import { registerAuditCommand } from './audit-command';
import { registerLotteryAuditCommand } from './lottery-audit-command';
import { registerImportCommand } from './import-command';
import { registerReconcileCommand } from './reconcile-command';
import { registerTokenCommand } from './token-command';
import { registerWorkerCommand } from './worker-command';

/**
 * The operators' command, `union-ledger`. Every command reads the same configuration as the
 * service (DATABASE_URL, else the embedded PostgreSQL in ./data).
 */

/** One consistent read-only view of the database for a report made of several queries. */
const READ_ONLY_SNAPSHOT = new pgp.txMode.TransactionMode({ tiLevel: pgp.txMode.isolationLevel.repeatableRead, readOnly: true });

async function withRuntime<T>(work: (runtime: Runtime) => Promise<T>, options: { readOnly?: boolean } = {}): Promise<T> {
  const config = loadConfig();
  const runtime = await openRuntime(config, { withRedis: false, log: cliLog(config).log, readOnly: options.readOnly });
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

/** The double-entry part of `verify`'s report, per asset. */
function trialBalanceText(balance: TrialBalanceReport): string {
  const journal =
    balance.eventsPastJournal === 0
      ? `journal and balances at position ${balance.journalPosition}, every event folded\n`
      : `journal and balances at position ${balance.journalPosition}; ${balance.eventsPastJournal} later event(s) not yet in the journal: checked for double entry, not against it\n`;
  return trialBalanceLines(balance) + journal;
}

function trialBalanceLines(balance: TrialBalanceReport): string {
  const perAsset = balance.assets.map((asset) => `${asset.asset} ${asset.eventsTotal} over ${asset.postings} postings`).join(', ') || 'no postings';
  if (balance.ok) {
    return `OK: trial balance zero per asset (${perAsset}) in ${balance.accounts} accounts; journal and balances match the events\n`;
  }
  const lines = [
    ...balance.assets
      .filter((asset) => asset.eventsTotal !== '0' || asset.journalTotal !== '0')
      .map((asset) => `  ${asset.asset}: events total ${asset.eventsTotal}, journal total ${asset.journalTotal}`),
    ...balance.badPostings.map((item) => `  bad posting in event ${item.eventId}: ${item.detail}`),
    ...balance.mixedAssetAccounts.map((item) => `  account ${item.account} holds several assets: ${item.assets}`),
    ...balance.negativeAccounts.map((item) => `  negative account ${item.account} (${item.asset}): ${item.balance} at position ${item.position}`),
    ...balance.journalMismatches.map((item) => `  account ${item.account} (${item.asset}): events ${item.fromEvents}, journal ${item.inJournal}`),
    ...balance.balanceMismatches.map((item) => `  member ${item.memberId}: ${item.detail}`),
  ];
  return (
    `UNBALANCED: ${perAsset}; ` +
    `${balance.badPostings.length} bad posting(s), ${balance.mixedAssetAccounts.length} account(s) with several assets, ` +
    `${balance.negativeAccounts.length} negative account(s), ${balance.journalMismatches.length} journal mismatch(es), ` +
    `${balance.balanceMismatches.length} balance mismatch(es)\n` +
    lines.map((line) => `${line}\n`).join('')
  );
}

export function buildCli(): Command {
  const program = new Command('union-ledger')
    .description('Union Ledger: the points-and-benefits ledger for union member platforms')
    .showHelpAfterError();

  program
    .command('serve')
    .description('run the HTTP service (same as npm start), with the relay and the workers in the same process unless WORKERS=off')
    .action(async () => {
      const { runService } = await import('../main');
      await runService();
    });

  program
    .command('migrate')
    .description('apply pending database migrations (the service also does this at start)')
    .action(async () => {
      await withRuntime(async (runtime) => {
        const { applied, current } = runtime.migrations;
        process.stdout.write(
          applied.length === 0
            ? `schema is up to date at version ${current}\n`
            : `applied ${applied.map((migration) => `${migration.version} (${migration.name})`).join(', ')}; schema at version ${current}\n`,
        );
      });
    });

  program
    .command('verify')
    .description(
      'recompute every stream hash chain and check double entry (trial balance, journal and balances against the events they folded); ' +
        'reads only, on a read-only connection (an auditor role with SELECT suffices); exit 1 and name what is wrong',
    )
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      const { chains, balance } = await withRuntime(
        async (runtime) => {
          const bar = new ProgressBar('verifying hash chains');
          const chainReport = await verifyHashChains(runtime.db, { onProgress: (done, total) => bar.update(done, total) });
          bar.finish();
          // The journal is judged as it stands against the events up to its own checkpoint, never
          // brought up to date first: projecting the events and then comparing them with the
          // result compared the journal with itself (a forged event passed). One snapshot, so
          // the checkpoint, the journal and the events agree.
          const balanceReport = await runtime.db.tx({ mode: READ_ONLY_SNAPSHOT }, (tx) => checkTrialBalance(tx));
          return { chains: chainReport, balance: balanceReport };
        },
        { readOnly: true },
      );
      const report = chains;
      if (options.json) {
        process.stdout.write(
          `${JSON.stringify({ ok: chains.ok && balance.ok, hashChains: chains, trialBalance: balance }, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`,
        );
      } else {
        if (report.ok) {
          process.stdout.write(`OK: ${report.eventsChecked} events in ${report.streamsChecked} streams, every hash chain intact\n`);
        } else {
          const first = report.broken[0]!;
          process.stdout.write(
            `ALTERED: first broken link in stream ${first.streamId} at revision ${first.revision} (global position ${first.globalPosition}): ${first.reason}\n` +
              `  stored hash:   ${first.storedHash}\n  computed hash: ${first.computedHash}\n` +
              `${report.broken.length} broken stream(s) of ${report.streamsChecked}; ${report.eventsChecked} events checked\n`,
          );
        }
        process.stdout.write(trialBalanceText(balance));
      }
      process.exitCode = chains.ok && balance.ok ? 0 : 1;
    });

  program
    .command('rebuild')
    .description('rebuild every projection (PostgreSQL read models and Redis leaderboards) from event zero')
    .action(async () => {
      const config = loadConfig();
      const runtime = await openRuntime(config, { withRedis: true, log: cliLog(config).log });
      try {
        const ledger = new UnionLedger({ config, db: runtime.db, redis: runtime.redis, listen: false });
        const total = Number((await runtime.db.one<{ count: string }>('SELECT count(*) FROM ul_events')).count);
        const bar = new ProgressBar('rebuilding the read models');
        const applied = await ledger.rebuildReadModels((_projection, done) => bar.update(done, total));
        bar.finish();
        const rebuilt = Object.entries(applied).map(([name, count]) => `${name} from ${count} events`);
        const grants = await rebuildLeaderboards(ledger.store, runtime.db, ledger.leaderboards);
        await ledger.close();
        process.stdout.write(`rebuilt: ${rebuilt.join(', ')}; leaderboards from ${grants} events\n`);
      } finally {
        await runtime.close();
      }
    });

  registerTokenCommand(program);
  registerImportCommand(program, { withRuntime });
  registerAdminCommand(program, { withRuntime });
  registerDemoCommand(program, { withRuntime });
  registerWorkerCommand(program);
  registerReconcileCommand(program, { withRuntime });
  registerLotteryAuditCommand(registerAuditCommand(program, { withRuntime }), { withRuntime });

  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof SchemaBehindError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`union-ledger: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 2;
  }
}

if (require.main === module) void runCli(process.argv);
