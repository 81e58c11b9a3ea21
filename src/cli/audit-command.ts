import { InvalidArgumentError, type Command } from 'commander';
import { AsOfError, balancesAsOf, parseAsOf, recomputeAllGrants, recomputeBenefitGrants, compareHeads, exportLedger, type AsOf, ExportRangeError, readSealFile, SealFileError, Seals, writeSealFile } from '../application/audit';
import { createEventStore } from '../composition-root';
import { loadConfig } from '../config/config';
import type { HeadFinding } from '../domain/audit';
import { pgp } from '../infra/database';
import type { Runtime } from '../infra/runtime';

/**
 * `union-ledger audit ...`: the auditors' toolkit (docs/AUDIT.md). Every subcommand but `seal`
 * runs on a read-only connection and migrates nothing, so a database role with SELECT only
 * (docs/audit/auditor-role.sql) can run it. Exit 0: nothing found; 1: something found (named on
 * stdout); 2: the command could not run.
 */

/** One consistent read-only view of the database for an answer made of several queries. */
const READ_ONLY_SNAPSHOT = new pgp.txMode.TransactionMode({ tiLevel: pgp.txMode.isolationLevel.repeatableRead, readOnly: true });

type WithRuntime = <T>(work: (runtime: Runtime) => Promise<T>, options?: { readOnly?: boolean }) => Promise<T>;

export function findingText(finding: HeadFinding): string {
  switch (finding.kind) {
    case 'vanished':
      return `VANISHED stream ${finding.streamId}: sealed at revision ${finding.sealedRevision}, no event of it is stored now`;
    case 'truncated':
      return `TRUNCATED stream ${finding.streamId}: sealed at revision ${finding.sealedRevision}, its last stored revision is ${finding.lastRevision}`;
    case 'rewritten':
      return `REWRITTEN stream ${finding.streamId} at or before revision ${finding.sealedRevision}: sealed hash ${finding.sealedHash}, stored hash ${finding.storedHash}`;
    default: {
      const unknown: never = finding;
      throw new Error(`invariant violated: unknown finding ${JSON.stringify(unknown)}`);
    }
  }
}

function position(value: string): bigint {
  if (!/^\d{1,19}$/.test(value)) throw new InvalidArgumentError('a global position is a whole number');
  return BigInt(value);
}

/** A global position (digits) or an ISO-8601 time. */
function asOf(value: string): AsOf {
  const parsed = parseAsOf(value);
  if (!parsed) throw new InvalidArgumentError('--as-of is a global position or an ISO-8601 time (2026-11-30T00:00:00+08:00)');
  return parsed;
}

/** Registers `union-ledger audit ...` and returns it, so that other contexts add their own audits (`audit lottery`). */
export function registerAuditCommand(program: Command, deps: { withRuntime: WithRuntime }): Command {
  const audit = program.command('audit').description("the auditors' toolkit: sealed stream heads, export, balances as of a moment, recomputed grants and lottery draws (read-only but for `seal`)");

  audit
    .command('seal')
    .description('record every stream head at the visible end of the log as a HeadsSealed event (chained to the previous seal) and write the heads to a file to keep outside the database')
    .requiredOption('--out <file>', 'where to write the seal file (NDJSON: the seal, then one line per stream head)')
    .action(async (options: { out: string }) => {
      const result = await deps.withRuntime(async (runtime) => {
        const store = createEventStore(loadConfig(), runtime.db, { listen: false });
        try {
          return await new Seals(store, runtime.db).seal();
        } finally {
          await store.close();
        }
      });
      await writeSealFile(options.out, result.seal, result.heads.heads);
      process.stdout.write(
        `${result.recorded ? 'sealed' : 'nothing new since seal'} #${result.seal.sealNumber} at position ${result.seal.position}: ` +
          `${result.seal.streams} streams, ${result.seal.events} events, root ${result.seal.root}; heads written to ${options.out}\n`,
      );
    });

  audit
    .command('heads')
    .description('compare the database with an earlier seal file: report vanished streams, truncated streams and rewritten tails; exit 1 if any')
    .requiredOption('--compare <file>', 'a seal file written by `audit seal`')
    .option('--json', 'print the report as JSON')
    .action(async (options: { compare: string; json?: boolean }) => {
      let sealed: Awaited<ReturnType<typeof readSealFile>>;
      try {
        sealed = await readSealFile(options.compare);
      } catch (error) {
        if (!(error instanceof SealFileError)) throw error;
        process.stdout.write(`SEAL FILE REFUSED: ${error.message}\n`);
        process.exitCode = 1;
        return;
      }
      const report = await deps.withRuntime(
        async (runtime) => {
          const compared = await compareHeads(runtime.db, sealed.heads);
          // The seal as the database recorded it: a root that differs from the file's means one of
          // them was altered, and the file, kept outside, is the one to trust.
          const store = createEventStore(loadConfig(), runtime.db, { listen: false });
          const stored = await new Seals(store, runtime.db).list().finally(() => store.close());
          const same = stored.find((item) => item.position === sealed.seal.position);
          return { ...compared, storedSeal: same ?? null };
        },
        { readOnly: true },
      );
      const sealDiffers = report.storedSeal !== null && report.storedSeal.root !== sealed.seal.root;
      const ok = report.findings.length === 0 && !sealDiffers;
      if (options.json) {
        process.stdout.write(`${JSON.stringify({ ok, seal: sealed.seal, compared: report.compared, findings: report.findings, storedSeal: report.storedSeal }, null, 2)}\n`);
      } else {
        for (const finding of report.findings) process.stdout.write(`${findingText(finding)}\n`);
        if (sealDiffers) process.stdout.write(`SEAL REWRITTEN: the database's seal at position ${sealed.seal.position} has root ${report.storedSeal!.root}, the file ${sealed.seal.root}\n`);
        if (report.storedSeal === null) process.stdout.write(`note: the database holds no seal at position ${sealed.seal.position}\n`);
        process.stdout.write(
          ok
            ? `OK: ${report.compared} sealed stream heads of seal #${sealed.seal.sealNumber} (position ${sealed.seal.position}) all still stored\n`
            : `ALTERED: ${report.findings.length} of ${report.compared} sealed stream heads differ\n`,
        );
      }
      process.exitCode = ok ? 0 : 1;
    });

  audit
    .command('export')
    .description(
      'write the events as NDJSON in global order, the latest seal with its heads, every seal, a manifest with SHA-256 of each file, ' +
        'SHA256SUMS, a README and check_export.py, for an outsider to check with sha256sum, jq and Python; exit 1 if the latest seal no longer matches',
    )
    .requiredOption('--to <dir>', 'an empty (or new) directory for the export')
    .option('--from <position>', 'the first event exported: the one at this global position (default: the first)', position)
    .option('--until <position>', 'the last event exported: the one at this global position (default: the end of the log)', position)
    .action(async (options: { to: string; from?: bigint; until?: bigint }) => {
      const outcome = await deps.withRuntime(
        async (runtime) => {
          const store = createEventStore(loadConfig(), runtime.db, { listen: false });
          try {
            const seals = new Seals(store, runtime.db);
            // One snapshot: the events, the seals and the heads all agree.
            return await runtime.db.tx({ mode: READ_ONLY_SNAPSHOT }, (tx) =>
              exportLedger(tx, () => seals.list(), { directory: options.to, fromPosition: options.from, untilPosition: options.until }),
            );
          } catch (error) {
            if (error instanceof ExportRangeError) return error;
            throw error;
          } finally {
            await store.close();
          }
        },
        { readOnly: true },
      );
      if (outcome instanceof ExportRangeError) {
        process.stderr.write(`audit export: ${outcome.message}\n`);
        process.exitCode = 2;
        return;
      }
      process.stdout.write(
        `exported ${outcome.events} events (to position ${outcome.endPosition ?? '-'}) and ${outcome.files.length} files to ${options.to}; ` +
          `${outcome.seal ? `seal #${outcome.seal.sealNumber} at position ${outcome.seal.position}` : 'no seal recorded yet'}\n`,
      );
      if (outcome.sealMismatch) process.stdout.write(`SEAL MISMATCH: ${outcome.sealMismatch}\n`);
      process.exitCode = outcome.sealMismatch ? 1 : 0;
    });

  audit
    .command('balances')
    .description("every account's balance and the trial balance as of a global position or a time, folded from the events (not the journal)")
    .requiredOption('--as-of <position|time>', 'a global position (the log up to that event) or an ISO-8601 time (events recorded at or before it)', asOf)
    .option('--account <account>', 'one account only, e.g. member:42:available')
    .option('--json', 'print the report as JSON')
    .action(async (options: { asOf: AsOf; account?: string; json?: boolean }) => {
      const report = await deps.withRuntime(
        (runtime) =>
          runtime.db
            .tx({ mode: READ_ONLY_SNAPSHOT }, (tx) => balancesAsOf(tx, options.asOf, { account: options.account }))
            .catch((error: unknown) => (error instanceof AsOfError ? error : Promise.reject(error))),
        { readOnly: true },
      );
      if (report instanceof AsOfError) {
        process.stderr.write(`audit balances: ${report.message}\n`);
        process.exitCode = 2;
        return;
      }
      const balanced = report.trialBalance.every((asset) => asset.total === '0') && report.malformedPostings === 0;
      if (options.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        const at = report.asOf.position !== null ? `position ${report.asOf.position}` : `${report.asOf.time}`;
        process.stdout.write(
          `as of ${at}: ${report.events} events; trial balance ${report.trialBalance.map((asset) => `${asset.asset} ${asset.total} over ${asset.accounts} accounts`).join(', ') || 'no postings'}` +
            `${report.malformedPostings > 0 ? `; ${report.malformedPostings} malformed posting(s) left out` : ''}\n`,
        );
        for (const line of report.accounts) process.stdout.write(`${line.account}\t${line.asset}\t${line.balance}\n`);
        if (report.truncated) process.stdout.write(`(more accounts: name one with --account, or use --json with a narrower question)\n`);
      }
      process.exitCode = balanced ? 0 : 1;
    });

  audit
    .command('grants')
    .description(
      'recompute every points grant from its pinned rule version and recorded inputs, every disbursement batch\'s shares from its sealed total, ' +
        'and every voucher expiry\'s amount and time from the wallet; exit 1 and name each that differs',
    )
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      // One snapshot for both: the benefits findings and the points findings describe the same ledger.
      const report = await deps.withRuntime(
        (runtime) => runtime.db.tx({ mode: READ_ONLY_SNAPSHOT }, async (tx) => ({ ...(await recomputeAllGrants(tx)), benefits: await recomputeBenefitGrants(tx) })),
        { readOnly: true },
      );
      const { benefits } = report;
      if (options.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      } else {
        for (const finding of report.findings) {
          process.stdout.write(`DIFFERS: grant ${finding.grantId} (${finding.streamId} revision ${finding.revision}): ${finding.what} recorded ${finding.recorded}, recomputed ${finding.recomputed}\n`);
        }
        process.stdout.write(
          report.findings.length === 0
            ? `OK: ${report.grants} points grants recomputed from their pinned rule versions, all equal\n`
            : `${report.findings.length} difference(s) in ${report.grants} points grants\n`,
        );
        for (const finding of benefits.findings) {
          process.stdout.write(`DIFFERS: ${finding.id} (${finding.streamId} revision ${finding.revision}): ${finding.what} recorded ${finding.recorded}, recomputed ${finding.recomputed}\n`);
        }
        const counted = `${benefits.batches} sealed disbursement batches and ${benefits.voucherExpiries} voucher expiries`;
        process.stdout.write(
          benefits.findings.length === 0 ? `OK: ${counted} recomputed, all equal\n` : `${benefits.findings.length} difference(s) in ${counted}\n`,
        );
      }
      process.exitCode = report.findings.length === 0 && benefits.findings.length === 0 ? 0 : 1;
    });
  return audit;
}
