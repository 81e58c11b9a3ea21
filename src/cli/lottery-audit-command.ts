import { InvalidArgumentError, type Command } from 'commander';
import type { LotteryAudit } from '../application/claims';
import { UnionLedger } from '../composition-root';
import { loadConfig } from '../config/config';
import { DomainError } from '../domain/shared';
import type { Runtime } from '../infra/runtime';

/**
 * `union-ledger audit lottery <id> [--json]`: recomputes a lottery's draw from the log alone
 * (the seed revealed by the draw, the entries on the lottery's stream) and compares it with the
 * recorded winners. Prints the commitment, the seed, the entry count and hash, both winner lists;
 * exit 0 when everything matches, 1 when anything differs (or the lottery is not drawn yet), 2
 * when there is no such lottery.
 */

function lotteryId(value: string): string {
  if (!/^[a-z0-9][a-z0-9-]{0,47}$/.test(value)) throw new InvalidArgumentError('a lottery id is 1 to 48 of a-z, 0-9 and -');
  return value;
}

export function lotteryAuditText(audit: LotteryAudit): string {
  const mark = (ok: boolean): string => (ok ? 'OK' : 'MISMATCH');
  return (
    `lottery ${audit.lotteryId} (${audit.status})\n` +
    `commitment  ${audit.commitment}\n` +
    `seed        ${audit.seed ?? '(not revealed yet)'}\n` +
    `sha256(seed) = commitment: ${audit.seed === null ? 'n/a' : mark(audit.commitmentOk)}\n` +
    `entries     ${audit.entries}, sha256 of the sorted list ${audit.entriesHash}: ${audit.seed === null ? 'n/a' : mark(audit.entriesHashOk)}\n` +
    `prizes      ${audit.prizes}\n` +
    `recorded winners:   ${audit.recordedWinners.join(' ') || '-'}\n` +
    `recomputed winners: ${audit.recomputedWinners.join(' ') || '-'}\n` +
    `${audit.ok ? 'OK: the recorded winners are the draw of the committed seed over the entries' : 'NOT VERIFIED'}\n`
  );
}

/** Adds `lottery` to the `audit` command (src/cli/audit-command.ts). */
export function registerLotteryAuditCommand(audit: Command, deps: { withRuntime<T>(work: (runtime: Runtime) => Promise<T>): Promise<T> }): void {
  audit
    .command('lottery')
    .argument('<lotteryId>', 'the lottery', lotteryId)
    .description('recompute a lottery’s winners from the revealed seed and the entries; exit 1 when they differ from the recorded ones')
    .option('--json', 'print the audit as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const config = loadConfig();
      const outcome = await deps.withRuntime(async (runtime) => {
        const ledger = new UnionLedger({ config, db: runtime.db, listen: false });
        try {
          return await ledger.lotteries.audit(id);
        } catch (error) {
          if (error instanceof DomainError) return error;
          throw error;
        } finally {
          await ledger.close();
        }
      });
      if (outcome instanceof DomainError) {
        process.stderr.write(`not audited: ${outcome.code} ${outcome.message}\n`);
        process.exitCode = 2;
        return;
      }
      process.stdout.write(options.json ? `${JSON.stringify(outcome, null, 2)}\n` : lotteryAuditText(outcome));
      process.exitCode = outcome.ok ? 0 : 1;
    });
}
