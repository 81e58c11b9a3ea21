import { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/config';
import { PostgresEventStore } from '../eventstore/postgres/postgres-event-store';
import { verifyHashChains } from '../eventstore/postgres/verify';
import { Leaderboards } from '../projections/leaderboard';
import { ledgerProjection } from '../projections/ledger-projection';
import { catchUpProjection, rebuildLedger, rebuildLeaderboards } from '../projections/rebuild';
import { checkTrialBalance } from '../projections/trial-balance';
import { startRuntime, type Runtime } from '../infra/runtime';
import { ProgressBar } from './progress';
import { registerImportCommand } from './import-command';
import { registerTokenCommand } from './token-command';

/**
 * The operators' command, `union-ledger`. Every command reads the same configuration as the
 * service (DATABASE_URL, else the embedded PostgreSQL in ./data).
 */

const log = (line: string): void => {
  process.stderr.write(`${line}\n`);
};

async function withRuntime<T>(work: (runtime: Runtime) => Promise<T>): Promise<T> {
  const runtime = await startRuntime(loadConfig(), { withRedis: false, log });
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

export function buildCli(): Command {
  const program = new Command('union-ledger')
    .description('Union Ledger: the points-and-benefits ledger for union member platforms')
    .showHelpAfterError();

  program
    .command('serve')
    .description('run the HTTP service (same as npm start)')
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
    .description('recompute every stream hash chain and check double entry (trial balance, journal and balances against the events); exit 1 and name what is wrong')
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      const { chains, balance } = await withRuntime(async (runtime) => {
        const bar = new ProgressBar('verifying hash chains');
        const chainReport = await verifyHashChains(runtime.db, { onProgress: (done, total) => bar.update(done, total) });
        bar.finish();
        // The journal is a projection: bring it up to the log first, so the comparison is with every event.
        const store = new PostgresEventStore(runtime.db, { listen: false });
        await catchUpProjection(store, runtime.db, ledgerProjection());
        const balanceReport = await checkTrialBalance(runtime.db);
        await store.close();
        return { chains: chainReport, balance: balanceReport };
      });
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
        if (balance.ok) {
          process.stdout.write(`OK: trial balance zero over ${balance.postings} postings in ${balance.accounts} accounts; journal and balances match the events\n`);
        } else {
          process.stdout.write(
            `UNBALANCED: events total ${balance.eventsTotal}, journal total ${balance.journalTotal}; ` +
              `${balance.badPostings.length} bad posting(s), ${balance.negativeAccounts.length} negative account(s), ` +
              `${balance.journalMismatches.length} journal mismatch(es), ${balance.balanceMismatches.length} balance mismatch(es)\n` +
              [...balance.badPostings.map((item) => `  bad posting in event ${item.eventId}: ${item.detail}`),
                ...balance.negativeAccounts.map((item) => `  negative account ${item.account}: ${item.balance}`),
                ...balance.journalMismatches.map((item) => `  account ${item.account}: events ${item.fromEvents}, journal ${item.inJournal}`),
                ...balance.balanceMismatches.map((item) => `  member ${item.memberId}: ${item.detail}`)]
                .map((line) => `${line}\n`)
                .join(''),
          );
        }
      }
      process.exitCode = chains.ok && balance.ok ? 0 : 1;
    });

  program
    .command('rebuild')
    .description('rebuild every projection (PostgreSQL read models and Redis leaderboards) from event zero')
    .action(async () => {
      const config = loadConfig();
      const runtime = await startRuntime(config, { withRedis: true, log });
      try {
        const store = new PostgresEventStore(runtime.db, { listen: false });
        const bar = new ProgressBar('rebuilding the ledger read models');
        const total = Number((await runtime.db.one<{ count: string }>('SELECT count(*) FROM ul_events')).count);
        const applied = await rebuildLedger(store, runtime.db, (done) => bar.update(done, total));
        bar.finish();
        const leaderboards = new Leaderboards(runtime.redis!, config.redisKeyPrefix);
        const grants = await rebuildLeaderboards(store, runtime.db, leaderboards);
        await leaderboards.close();
        await store.close();
        process.stdout.write(`rebuilt: ledger read models from ${applied} events; leaderboards from ${grants} events\n`);
      } finally {
        await runtime.close();
      }
    });

  registerTokenCommand(program);
  registerImportCommand(program, { withRuntime });

  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`union-ledger: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 2;
  }
}

if (require.main === module) void runCli(process.argv);
