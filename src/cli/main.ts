import { Command } from 'commander';
import { ConfigError, loadConfig } from '../config/config';
import { verifyHashChains } from '../eventstore/postgres/verify';
import { startRuntime, type Runtime } from '../infra/runtime';
import { ProgressBar } from './progress';

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
    .description('recompute every stream hash chain; exit 1 and name the first broken link if anything was altered')
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      const report = await withRuntime(async (runtime) => {
        const bar = new ProgressBar('verifying hash chains');
        const result = await verifyHashChains(runtime.db, { onProgress: (done, total) => bar.update(done, total) });
        bar.finish();
        return result;
      });
      if (options.json) {
        process.stdout.write(`${JSON.stringify(report, (_key, value: unknown) => (typeof value === 'bigint' ? value.toString() : value), 2)}\n`);
      } else if (report.ok) {
        process.stdout.write(`OK: ${report.eventsChecked} events in ${report.streamsChecked} streams, every hash chain intact\n`);
      } else {
        const first = report.broken[0]!;
        process.stdout.write(
          `ALTERED: first broken link in stream ${first.streamId} at revision ${first.revision} (global position ${first.globalPosition}): ${first.reason}\n` +
            `  stored hash:   ${first.storedHash}\n  computed hash: ${first.computedHash}\n` +
            `${report.broken.length} broken stream(s) of ${report.streamsChecked}; ${report.eventsChecked} events checked\n`,
        );
      }
      process.exitCode = report.ok ? 0 : 1;
    });

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
