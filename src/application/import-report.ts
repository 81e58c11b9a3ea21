import { DomainError } from '../domain/shared';
import type { Actor } from '../eventstore/event-store';
import { CsvFileError, readCsvRows, type CsvLimits } from '../infra/csv';

/**
 * The row-by-row report every CSV import produces (organisations, members; later benefit
 * batches): each row applied, unchanged or rejected with a stable code, named by its line and
 * never by personal data.
 */

export type RowStatus = 'applied' | 'unchanged' | 'rejected';

export interface RowResult {
  line: number;
  status: RowStatus;
  code?: string;
  message?: string;
}

export interface ImportReport {
  kind: 'orgs' | 'members';
  /** Every row's result in line order; empty when `keepRows` was false (use `onRow`). */
  rows: RowResult[];
  totals: { rows: number; applied: number; unchanged: number; rejected: number };
  /** Set when the file could not be read to its end; the rows before `fatal.line` were processed. */
  fatal: { code: string; message: string; line: number } | null;
  elapsedMs: number;
}

export interface ImportOptions {
  /** Who imports: stored in every event's metadata. */
  actor: Actor;
  /** The input's size, so progress can be a fraction of the bytes; omit when unknown. */
  sizeBytes?: number;
  /** Called after each reported row: rows done so far and the fraction (0-1) of the input processed. */
  onProgress?(rowsDone: number, fractionDone: number): void;
  /** Called with each row's result, in line order, as soon as it is known. */
  onRow?(row: RowResult): void;
  /** Keep every row's result in the report (default true); a caller streaming through onRow may turn it off. */
  keepRows?: boolean;
  limits?: CsvLimits;
  /** Clock for the birth-date check. */
  now?: () => Date;
  /**
   * Whether the importer may act at this place of the tree: called with a member row's union, or
   * an organisation row's parent (null for a new root). Rows it refuses are rejected with
   * ORG.FORBIDDEN and nothing is written for them. Omitted: everything is allowed (operators' CLI).
   */
  authorize?(orgId: string | null): Promise<boolean>;
}

export class ReportBuilder {
  private readonly report: ImportReport;
  private readonly startedAtMs = Date.now();

  constructor(
    kind: ImportReport['kind'],
    private readonly options: ImportOptions,
  ) {
    this.report = { kind, rows: [], totals: { rows: 0, applied: 0, unchanged: 0, rejected: 0 }, fatal: null, elapsedMs: 0 };
  }

  add(row: RowResult, fractionDone: number): void {
    this.report.totals.rows += 1;
    this.report.totals[row.status] += 1;
    if (this.options.keepRows !== false) this.report.rows.push(row);
    this.options.onRow?.(row);
    this.options.onProgress?.(this.report.totals.rows, Math.min(1, Math.max(0, fractionDone)));
  }

  fail(error: CsvFileError): void {
    this.report.fatal = { code: error.code, message: error.message, line: error.line };
  }

  done(): ImportReport {
    this.report.elapsedMs = Date.now() - this.startedAtMs;
    if (!this.report.fatal) this.options.onProgress?.(this.report.totals.rows, 1);
    return this.report;
  }
}

export const rejected = (line: number, code: string, message: string): RowResult => ({ line, status: 'rejected', code, message });

export function fractionOf(bytesRead: number, options: ImportOptions): number {
  return options.sizeBytes && options.sizeBytes > 0 ? bytesRead / options.sizeBytes : 0;
}

/**
 * Reads a whole file once, applying nothing, and refuses it with a DomainError (422, the file
 * error's code: CSV.HEADER_INVALID, CSV.ENCODING, CSV.LINE_TOO_LONG, CSV.TOO_MANY_ROWS; details:
 * the line) when it cannot be read to its end. For uploads, which are in memory anyway: a file
 * that cannot be read is the client's error and changes nothing, rather than a 200 whose `fatal`
 * says that the rows before the bad line were applied. The CLI keeps reporting `fatal` instead,
 * as a 200 MB file is read once, streaming.
 */
export async function refuseUnreadableCsv(chunks: readonly Buffer[], columns: readonly string[], limits?: CsvLimits): Promise<void> {
  try {
    for await (const _row of readCsvRows(chunks, columns, limits)) {
      // Only reading: every row's own problems are reported by the import itself.
    }
  } catch (error) {
    if (!(error instanceof CsvFileError)) throw error;
    throw new DomainError(error.code, `the file cannot be read: ${error.message}`, 422, { line: error.line });
  }
}
