import fs from 'node:fs';
import os from 'node:os';
import { once } from 'node:events';
import type { Command } from 'commander';
import type { ImportOptions, ImportReport, RowResult } from '../application/import-report';
import { importMembers } from '../application/members';
import { importOrganisations } from '../application/orgs';
import { openRuntime, UnionLedger } from '../composition-root';
import { loadConfig } from '../config/config';
import type { Actor } from '../eventstore/event-store';
import { loadPiiKeys } from '../infra/pii-keys';
import type { Runtime } from '../infra/runtime';
import { cliLog } from './cli-log';
import { ProgressBar } from './progress';

/**
 * `union-ledger import orgs FILE` and `union-ledger import members FILE [--report out.csv]`.
 * Exit codes: 0 every row applied or unchanged; 1 some rows rejected (the good ones are applied);
 * 2 the file could not be read (missing, not UTF-8, bad header, a record over the size limit).
 * Nothing printed names a national ID number or phone: rows are named by line.
 */

export interface ImportCommandDeps {
  /** Opens the runtime (database) for the duration of the work; defaults to the configured one. */
  withRuntime?<T>(work: (runtime: Runtime) => Promise<T>): Promise<T>;
}

/** Rejected rows printed on the terminal; the rest are counted (and all are in --report). */
const MAX_PRINTED_REJECTIONS = 1000;
/** Members enrolled at once: well under the pool size (DATABASE_POOL_MAX, default 20). */
const MEMBER_CONCURRENCY = 16;
/** Member states kept by the command handler: more than the window in flight, far less than a roster. */
const MEMBER_CACHE_ENTRIES = 1000;

async function defaultWithRuntime<T>(work: (runtime: Runtime) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const runtime = await openRuntime(config, { withRedis: false, log: cliLog(config).log });
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

function operator(): Actor {
  let name = 'unknown';
  try {
    name = os.userInfo().username;
  } catch {
    // Containers may run under a uid with no passwd entry.
  }
  return { type: 'operator', id: `cli:${name}` };
}

function csvCell(value: string | number | undefined): string {
  const text = value === undefined ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * Every row's result as CSV. Opened synchronously so a bad path fails before the import starts;
 * rows are buffered by the stream (a few dozen bytes each, bounded by the importer's row limit).
 */
class ReportFile {
  private readonly stream: fs.WriteStream;
  private failure: Error | undefined;

  constructor(readonly file: string) {
    const fd = fs.openSync(file, 'w', 0o640);
    this.stream = fs.createWriteStream(file, { fd });
    this.stream.on('error', (error) => {
      this.failure = error;
    });
    this.stream.write('line,status,code,message\n');
  }

  write(row: RowResult): void {
    if (!this.failure) this.stream.write(`${row.line},${row.status},${csvCell(row.code)},${csvCell(row.message)}\n`);
  }

  async close(): Promise<void> {
    if (!this.failure) {
      this.stream.end();
      await once(this.stream, 'close').catch(() => undefined);
    }
    if (this.failure) throw new Error(`could not write the report ${this.file}: ${this.failure.message}`);
  }
}

function checkReadable(file: string): { ok: true; sizeBytes: number } | { ok: false; reason: string } {
  try {
    const stat = fs.statSync(file);
    if (!stat.isFile()) return { ok: false, reason: 'not a regular file' };
    fs.accessSync(file, fs.constants.R_OK);
    return { ok: true, sizeBytes: stat.size };
  } catch (error) {
    return { ok: false, reason: (error as NodeJS.ErrnoException).code ?? (error as Error).message };
  }
}

function printReport(report: ImportReport, rejections: RowResult[], reportFile: string | undefined): void {
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  for (const row of rejections) out(`line ${row.line}: ${row.code} ${row.message}`);
  const { rows, applied, unchanged, rejected } = report.totals;
  if (rejected > rejections.length) out(`... and ${rejected - rejections.length} more rejected rows${reportFile ? ` (all in ${reportFile})` : ' (use --report FILE to list them all)'}`);
  const seconds = report.elapsedMs / 1000;
  const rate = seconds > 0 ? Math.round(rows / seconds) : rows;
  out(`${report.kind}: ${rows} rows: ${applied} applied, ${unchanged} unchanged, ${rejected} rejected in ${seconds.toFixed(1)} s (${rate} rows/s)`);
  if (report.fatal) {
    process.stderr.write(`import stopped: ${report.fatal.code} ${report.fatal.message}; rows before it were processed, fix the file and run it again\n`);
  }
}

async function runImport(kind: 'orgs' | 'members', file: string, options: { report?: string }, deps: ImportCommandDeps): Promise<void> {
  const readable = checkReadable(file);
  if (!readable.ok) {
    process.stderr.write(`cannot read ${file}: ${readable.reason}\n`);
    process.exitCode = 2;
    return;
  }
  // Keys are checked before the database is touched, so a bad PII_* variable fails fast.
  const config = loadConfig();
  const keys = kind === 'members' ? loadPiiKeys(config, { log: cliLog(config).warn }) : undefined;
  const withRuntime = deps.withRuntime ?? defaultWithRuntime;
  let reportFile: ReportFile | undefined;
  try {
    reportFile = options.report ? new ReportFile(options.report) : undefined;
  } catch (error) {
    process.stderr.write(`cannot write the report ${options.report}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const rejections: RowResult[] = [];
  const bar = new ProgressBar(`importing ${kind}`);

  const report = await withRuntime(async (runtime) => {
    const ledger = new UnionLedger({ config: loadConfig(), db: runtime.db, piiKeys: keys, listen: false, memberCacheEntries: MEMBER_CACHE_ENTRIES });
    const importOptions: ImportOptions = {
      actor: operator(),
      sizeBytes: readable.sizeBytes,
      keepRows: false,
      onRow: (row) => {
        reportFile?.write(row);
        if (row.status === 'rejected' && rejections.length < MAX_PRINTED_REJECTIONS) rejections.push(row);
      },
      // The bar shows rows; the total is estimated from the share of the file read so far.
      onProgress: (rowsDone, fractionDone) => bar.update(rowsDone, fractionDone > 0 ? Math.max(rowsDone, Math.round(rowsDone / fractionDone)) : rowsDone + 1),
    };
    const input = fs.createReadStream(file, { highWaterMark: 64 * 1024 });
    try {
      if (kind === 'orgs') return await importOrganisations(input, { orgService: ledger.orgs }, importOptions);
      const deps = { memberService: ledger.members, orgService: ledger.orgs, vault: ledger.vault, rules: ledger.rules };
      return await importMembers(input, deps, { ...importOptions, concurrency: MEMBER_CONCURRENCY });
    } finally {
      input.destroy();
      await ledger.close();
    }
  });
  bar.finish();
  await reportFile?.close();
  printReport(report, rejections, options.report);
  process.exitCode = report.fatal ? 2 : report.totals.rejected > 0 ? 1 : 0;
}

export function registerImportCommand(program: Command, deps: ImportCommandDeps = {}): void {
  const command = program.command('import').description('import the organisation tree or the member roster from a CSV file (UTF-8)');

  command
    .command('orgs')
    .description('import organisations: CSV header id,name,parent_id,level (province|city|county|district|grassroots); parents first')
    .argument('<file>', 'CSV file')
    .option('--report <file>', 'write every row\'s result (line,status,code,message) to this CSV file')
    .action(async (file: string, options: { report?: string }) => runImport('orgs', file, options, deps));

  command
    .command('members')
    .description('import members: CSV header name,national_id,phone,org_id (org_id: a grassroots union)')
    .argument('<file>', 'CSV file')
    .option('--report <file>', 'write every row\'s result (line,status,code,message) to this CSV file')
    .action(async (file: string, options: { report?: string }) => runImport('members', file, options, deps));
}
