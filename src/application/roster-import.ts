import { createHash } from 'node:crypto';
import { checkNationalId, checkPhone } from '../domain/identity/national-id';
import { ORG_ID, ORG_LEVELS, type OrgLevel, type OrgState } from '../domain/org/organisation';
import { DomainError } from '../domain/shared/errors';
import { EventIdConflictError } from '../eventstore/errors';
import type { Actor } from '../eventstore/event-store';
import type { MemberPii } from '../infra/pii';
import type { MemberService } from './member-service';
import type { OrgService } from './org-service';

/**
 * Imports of the organisation tree and of the real-name member roster from CSV, for the CLI
 * (`union-ledger import ...`) and for admin uploads. Every row is checked and reported on its own;
 * a good row is one append (one event), so a row is applied completely or not at all, and the
 * deterministic command ids plus deciders that return no events for identical data make a re-run
 * of the same file change nothing.
 *
 * Reports never carry a national ID number or phone number: rows are named by their line.
 */

// ---------------------------------------------------------------- CSV reader

export interface CsvLimits {
  /** Longest record (a line, or several when a quoted field spans lines), in bytes. */
  maxRecordBytes: number;
  /** Most data rows (not counting the header) in one file. */
  maxRows: number;
}

/** A byte stream (a file or upload stream) or, for tests and small inputs, a list of chunks. */
export type CsvInput = AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>;

export const DEFAULT_CSV_LIMITS: CsvLimits = { maxRecordBytes: 1024 * 1024, maxRows: 1_000_000 };

/** The file as a whole cannot be read further: bad encoding, header, size. Rows before it stand. */
export class CsvFileError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** Physical line (1-based) where reading stopped; 0 when no line applies. */
    readonly line: number,
  ) {
    super(line > 0 ? `line ${line}: ${message}` : message);
    this.name = 'CsvFileError';
  }
}

export interface CsvRow {
  /** Physical line (1-based, the header is line 1) where the record starts. */
  line: number;
  /** Trimmed values by lower-case header name; null when the record itself is malformed. */
  values: Record<string, string> | null;
  /** Why the record is malformed (CSV.QUOTE_INVALID, CSV.UNTERMINATED_QUOTE, CSV.FIELD_COUNT). */
  error?: { code: string; message: string };
  /** Bytes of the input consumed so far, for progress. */
  bytesRead: number;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;
const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

type RawRecord =
  | { line: number; fields: Buffer[]; bytesRead: number }
  | { line: number; error: { code: string; message: string }; bytesRead: number };

/**
 * Splits one record's bytes into fields per RFC 4180. Works on bytes: the delimiters are ASCII
 * and UTF-8 never uses ASCII bytes inside a multi-byte character, so this is safe before decoding.
 */
function splitFields(record: Buffer, atEof: boolean): Buffer[] | { code: string; message: string } {
  const fields: Buffer[] = [];
  let pos = 0;
  // At most one field per byte plus one: the loop is bounded by the record length.
  for (let guard = 0; guard <= record.length + 1; guard += 1) {
    if (record[pos] === QUOTE) {
      const parts: Buffer[] = [];
      let start = pos + 1;
      let closed = false;
      for (let scan = 0; scan <= record.length; scan += 1) {
        const quote = record.indexOf(QUOTE, start);
        if (quote < 0) break;
        if (record[quote + 1] === QUOTE) {
          parts.push(record.subarray(start, quote + 1)); // An escaped quote: keep one.
          start = quote + 2;
          continue;
        }
        parts.push(record.subarray(start, quote));
        pos = quote + 1;
        closed = true;
        break;
      }
      if (!closed) {
        return atEof
          ? { code: 'CSV.UNTERMINATED_QUOTE', message: 'a quoted field is not closed before the end of the file' }
          : { code: 'CSV.QUOTE_INVALID', message: 'a quoted field is not closed' };
      }
      fields.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
      if (pos === record.length) return fields;
      if (record[pos] !== COMMA) return { code: 'CSV.QUOTE_INVALID', message: 'a closing quote must be followed by a comma or the end of the line' };
      pos += 1;
    } else {
      const comma = record.indexOf(COMMA, pos);
      const end = comma < 0 ? record.length : comma;
      const field = record.subarray(pos, end);
      if (field.includes(QUOTE)) return { code: 'CSV.QUOTE_INVALID', message: 'a quote inside an unquoted field (quote the whole field and double the quote)' };
      fields.push(field);
      if (comma < 0) return fields;
      pos = comma + 1;
    }
  }
  throw new Error('invariant violated: splitFields did not terminate');
}

/** Where the scanner is inside a record; kept across chunks. */
enum Scan {
  FieldStart,
  Unquoted,
  Quoted,
  /** A quote inside a quoted field: the next byte says whether it was "" or the closing quote. */
  QuoteInQuoted,
}

/**
 * Yields the records of a CSV byte stream. Only a quote at the start of a field opens a quoted
 * field, which may then hold commas, doubled quotes and line breaks; a stray quote elsewhere is
 * left for splitFields to report and cannot swallow the lines after it. Records end at LF or CRLF
 * outside quotes; a UTF-8 byte-order mark is dropped; blank lines are skipped.
 */
async function* readRecords(input: CsvInput, limits: CsvLimits): AsyncGenerator<RawRecord> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let state = Scan.FieldStart;
  let line = 1;
  let recordLine = 1;
  let bytesRead = 0;
  let first = true;

  const finish = (tail: Buffer, atEof: boolean): RawRecord | null => {
    let record = pending.length === 0 ? tail : Buffer.concat([...pending, tail]);
    pending = [];
    pendingBytes = 0;
    if (state !== Scan.Quoted && record[record.length - 1] === CR) record = record.subarray(0, record.length - 1);
    if (record.length === 0) return null;
    const fields = splitFields(record, atEof);
    return Array.isArray(fields) ? { line: recordLine, fields, bytesRead } : { line: recordLine, error: fields, bytesRead };
  };
  const tooLong = (): CsvFileError =>
    new CsvFileError('CSV.LINE_TOO_LONG', `a record is longer than ${limits.maxRecordBytes} bytes (an unclosed quote swallows the lines after it)`, recordLine);

  for await (const piece of input) {
    let chunk = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : Buffer.isBuffer(piece) ? piece : Buffer.from(piece);
    bytesRead += chunk.length;
    if (first) {
      // A BOM split across the first chunks is rare enough to ignore; Excel writes it in one piece.
      if (chunk.subarray(0, 3).equals(UTF8_BOM)) chunk = chunk.subarray(3);
      first = chunk.length === 0;
    }
    let start = 0;
    for (let index = 0; index < chunk.length; index += 1) {
      const byte = chunk[index];
      if (byte === LF) line += 1;
      switch (state) {
        case Scan.Quoted:
          if (byte === QUOTE) state = Scan.QuoteInQuoted;
          continue;
        case Scan.QuoteInQuoted:
          if (byte === QUOTE) {
            state = Scan.Quoted;
            continue;
          }
          state = byte === COMMA ? Scan.FieldStart : Scan.Unquoted;
          break;
        case Scan.FieldStart:
          if (byte === QUOTE) {
            state = Scan.Quoted;
            continue;
          }
          state = byte === COMMA ? Scan.FieldStart : Scan.Unquoted;
          break;
        case Scan.Unquoted:
          if (byte === COMMA) state = Scan.FieldStart;
          break;
      }
      if (byte !== LF) continue;
      if (pendingBytes + (index - start) > limits.maxRecordBytes) throw tooLong();
      state = Scan.Unquoted; // A CR before the LF belongs to the line end, not to a quoted field.
      const record = finish(chunk.subarray(start, index), false);
      if (record) yield record;
      state = Scan.FieldStart;
      start = index + 1;
      recordLine = line;
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > limits.maxRecordBytes) throw tooLong();
    }
  }
  const last = finish(Buffer.alloc(0), true);
  if (last) yield last;
}

/**
 * Yields the data rows of a CSV file whose header names at least `columns` (in any order;
 * other columns are ignored). Throws CsvFileError when the file cannot be read on: no or bad
 * header, not UTF-8, a record over the size limit, too many rows.
 */
export async function* readCsvRows(
  input: CsvInput,
  columns: readonly string[],
  limits: CsvLimits = DEFAULT_CSV_LIMITS,
): AsyncGenerator<CsvRow> {
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const decode = (bytes: Buffer, line: number): string => {
    try {
      return decoder.decode(bytes);
    } catch {
      throw new CsvFileError('CSV.ENCODING', 'the file is not UTF-8 (Excel often saves GBK: choose "CSV UTF-8" when saving)', line);
    }
  };
  let header: string[] | null = null;
  let rows = 0;
  for await (const record of readRecords(input, limits)) {
    if (header === null) {
      if ('error' in record) throw new CsvFileError('CSV.HEADER_INVALID', `the header row is malformed: ${record.error.message}`, record.line);
      header = record.fields.map((field) => decode(field, record.line).trim().toLowerCase());
      const missing = columns.filter((column) => !header!.includes(column));
      const duplicated = header.filter((name, index) => name !== '' && header!.indexOf(name) !== index);
      if (missing.length > 0 || duplicated.length > 0) {
        throw new CsvFileError(
          'CSV.HEADER_INVALID',
          `the header row must name the columns ${columns.join(',')}` +
            (missing.length > 0 ? ` (missing: ${missing.join(', ')})` : '') +
            (duplicated.length > 0 ? ` (repeated: ${[...new Set(duplicated)].join(', ')})` : ''),
          record.line,
        );
      }
      continue;
    }
    rows += 1;
    if (rows > limits.maxRows) throw new CsvFileError('CSV.TOO_MANY_ROWS', `more than ${limits.maxRows} rows; split the file`, record.line);
    if ('error' in record) {
      yield { line: record.line, values: null, error: record.error, bytesRead: record.bytesRead };
      continue;
    }
    const fields = record.fields.map((field) => decode(field, record.line).trim());
    // Spreadsheets often pad rows with empty trailing cells; only real extra values are an error.
    if (fields.length < header.length || fields.slice(header.length).some((value) => value !== '')) {
      yield {
        line: record.line,
        values: null,
        error: { code: 'CSV.FIELD_COUNT', message: `expected ${header.length} fields as in the header, found ${fields.length}` },
        bytesRead: record.bytesRead,
      };
      continue;
    }
    const values: Record<string, string> = {};
    header.forEach((name, index) => {
      if (name !== '') values[name] = fields[index]!;
    });
    yield { line: record.line, values, bytesRead: record.bytesRead };
  }
  if (header === null) throw new CsvFileError('CSV.HEADER_INVALID', `the file is empty; the header row must name the columns ${columns.join(',')}`, 0);
}

// ---------------------------------------------------------------- reports

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

class ReportBuilder {
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

const rejected = (line: number, code: string, message: string): RowResult => ({ line, status: 'rejected', code, message });

function fractionOf(bytesRead: number, options: ImportOptions): number {
  return options.sizeBytes && options.sizeBytes > 0 ? bytesRead / options.sizeBytes : 0;
}

// ---------------------------------------------------------------- organisations

export const ORG_COLUMNS = ['id', 'name', 'parent_id', 'level'] as const;

/** Level names an admin may write: the English ones, 'district' for county, and the Chinese ones. */
const LEVEL_ALIASES: Record<string, OrgLevel> = {
  province: 'province',
  city: 'city',
  county: 'county',
  district: 'county',
  grassroots: 'grassroots',
  省: 'province',
  市: 'city',
  县: 'county',
  区: 'county',
  基层: 'grassroots',
};

function parseLevel(raw: string): OrgLevel | null {
  const level = LEVEL_ALIASES[raw.trim().toLowerCase()];
  return level && (ORG_LEVELS as readonly string[]).includes(level) ? level : null;
}

interface OrgRow {
  line: number;
  bytesRead: number;
  values: Record<string, string> | null;
  error?: { code: string; message: string };
}

/**
 * Imports organisations (`id,name,parent_id,level`) in file order, so a parent must come before
 * its children. The file is read whole before anything is applied (bounded by `limits.maxRows`),
 * so a child listed before its parent can be told exactly that.
 */
export async function importOrganisations(
  input: CsvInput,
  deps: { orgService: OrgService },
  options: ImportOptions,
): Promise<ImportReport> {
  const report = new ReportBuilder('orgs', options);
  const rows: OrgRow[] = [];
  let fatal: CsvFileError | null = null;
  try {
    for await (const row of readCsvRows(input, ORG_COLUMNS, options.limits)) rows.push(row);
  } catch (error) {
    if (!(error instanceof CsvFileError)) throw error;
    fatal = error;
  }

  /** First line of each id in the file, to name a parent listed after its child. */
  const firstLine = new Map<string, number>();
  for (const row of rows) {
    const id = row.values?.id;
    if (id && !firstLine.has(id)) firstLine.set(id, row.line);
  }
  const rejectedIds = new Set<string>();

  for (let index = 0; index < rows.length; index += 1) {
    const row = rows[index]!;
    const result = await applyOrgRow(row, deps.orgService, options, firstLine, rejectedIds);
    if (result.status === 'rejected' && row.values?.id && firstLine.get(row.values.id) === row.line) rejectedIds.add(row.values.id);
    report.add(result, (index + 1) / rows.length);
  }
  if (fatal) report.fail(fatal);
  return report.done();
}

async function applyOrgRow(
  row: OrgRow,
  orgService: OrgService,
  options: ImportOptions,
  firstLine: ReadonlyMap<string, number>,
  rejectedIds: ReadonlySet<string>,
): Promise<RowResult> {
  if (!row.values) return rejected(row.line, row.error!.code, row.error!.message);
  const { id, name, parent_id: parentRaw, level: levelRaw } = row.values as Record<(typeof ORG_COLUMNS)[number], string>;
  const earlier = firstLine.get(id);
  if (earlier !== undefined && earlier !== row.line) {
    return rejected(row.line, 'ORG.DUPLICATE_IN_FILE', `organisation ${id} is already listed on line ${earlier}`);
  }
  const level = parseLevel(levelRaw);
  if (!level) return rejected(row.line, 'ORG.LEVEL_INVALID', `level must be one of province, city, county (or district), grassroots; got '${levelRaw}'`);
  const parentId = parentRaw === '' ? null : parentRaw;
  if (options.authorize && !(await options.authorize(parentId))) {
    return rejected(row.line, 'ORG.FORBIDDEN', parentId === null ? 'only an admin of a root organisation may add a root' : `organisation ${parentId} is outside your part of the union tree`);
  }
  try {
    const outcome = await orgService.registerOrganisation(
      { orgId: id, name, parentId, level },
      { commandId: `register-org:${id}`, actor: options.actor },
    );
    return { line: row.line, status: outcome };
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    if (error.code === 'ORG.PARENT_UNKNOWN' && parentId !== null) {
      const parentLine = firstLine.get(parentId);
      if (parentLine !== undefined && parentLine > row.line) {
        return rejected(row.line, error.code, `parent organisation ${parentId} is listed later in the file (line ${parentLine}); list parents before their children`);
      }
      if (parentLine !== undefined && rejectedIds.has(parentId)) {
        return rejected(row.line, error.code, `parent organisation ${parentId} (line ${parentLine}) was rejected`);
      }
    }
    return rejected(row.line, error.code, error.message);
  }
}

// ---------------------------------------------------------------- members

export const MEMBER_COLUMNS = ['name', 'national_id', 'phone', 'org_id'] as const;
export const MEMBER_NAME_MAX_CHARS = 50;
/** Rows being enrolled at once; enough to hide round-trip latency, few enough to leave the pool room. */
export const DEFAULT_MEMBER_CONCURRENCY = 16;
/** An enrolment that lost a race to an identical one is retried once, and then answers from the stream. */
const ENROL_ATTEMPTS = 2;
/** Organisations remembered during one import; the cache is cleared when it fills. */
const ORG_CACHE_ENTRIES = 10_000;
/** Hex characters of the ID HMAC kept to spot repeats in a file: 128 bits, no accidental collisions at 1M rows. */
const DUPLICATE_KEY_HEX = 32;

/** What member import needs from the personal-data vault (src/infra/pii.ts PiiVault). */
export interface PiiSealer {
  idHmac(idNumber: string): string;
  memberIdFor(idHmac: string): string;
  seal(memberId: string, pii: MemberPii): Promise<string>;
}

export interface MemberImportDeps {
  memberService: MemberService;
  orgService: OrgService;
  vault: PiiSealer;
  /**
   * The rule book the member service decides with. Loaded once before rows run in parallel: on
   * an empty store its first use stores the default rules, and concurrent first uses collide.
   */
  rules?: { currentRules(): Promise<unknown> };
}

type Outcome = { result: RowResult } | { error: unknown };

/**
 * The command id of an enrolment row: the ID-number HMAC plus a digest of the details the decider
 * compares. Re-importing the same row is the same command (answered from the stream); the same
 * person with other details is a different command, so the decider sees it and refuses it
 * (MEMBER.ALREADY_ENROLLED) instead of the command handler replaying the first row's result, and
 * two such rows racing differ in event ids rather than colliding on one.
 */
export function enrolCommandId(idHmac: string, orgId: string, name: string): string {
  const details = createHash('sha256').update(`${orgId}\u0000${name}`, 'utf8').digest('hex').slice(0, 16);
  return `enrol:${idHmac}:${details}`;
}

function checkName(raw: string): string | null {
  const name = raw.trim();
  const chars = [...name].length;
  // Control characters would corrupt reports and the exact match activation relies on.
  if (chars < 1 || chars > MEMBER_NAME_MAX_CHARS || /\p{Cc}/u.test(name)) return null;
  return name;
}

/**
 * Imports members (`name,national_id,phone,org_id`). Rows are checked in file order (so the
 * later of two rows with the same ID number is the one refused), enrolled with up to
 * `concurrency` in flight, and reported in line order.
 */
export async function importMembers(
  input: CsvInput,
  deps: MemberImportDeps,
  options: ImportOptions & { concurrency?: number },
): Promise<ImportReport> {
  const report = new ReportBuilder('members', options);
  const concurrency = Math.max(1, Math.min(options.concurrency ?? DEFAULT_MEMBER_CONCURRENCY, 256));
  const now = options.now ?? (() => new Date());
  const seen = new Map<string, number>();
  const orgs = new Map<string, Promise<OrgState>>();
  const window: Array<{ outcome: Promise<Outcome>; bytesRead: number }> = [];

  const lookupOrg = (orgId: string): Promise<OrgState> => {
    let found = orgs.get(orgId);
    if (!found) {
      if (orgs.size >= ORG_CACHE_ENTRIES) orgs.clear();
      found = deps.orgService.readOrg(orgId);
      // A failed read is not remembered: the next row asks again.
      found.catch(() => orgs.delete(orgId));
      orgs.set(orgId, found);
    }
    return found;
  };

  const enrol = async (line: number, name: string, idNumber: string, phone: string, orgId: string): Promise<RowResult> => {
    const org = await lookupOrg(orgId);
    if (!org.registered) return rejected(line, 'ORG.UNKNOWN', `organisation ${orgId} does not exist`);
    if (org.level !== 'grassroots') return rejected(line, 'ORG.NOT_GRASSROOTS', `members belong to a grassroots union; ${orgId} is a ${org.level}`);
    if (options.authorize && !(await options.authorize(orgId))) {
      return rejected(line, 'ORG.FORBIDDEN', `organisation ${orgId} is outside your part of the union tree`);
    }
    const idHmac = deps.vault.idHmac(idNumber);
    const memberId = deps.vault.memberIdFor(idHmac);
    for (let attempt = 1; attempt <= ENROL_ATTEMPTS; attempt += 1) {
      const { state } = await deps.memberService.load(memberId);
      // Only a new member gets a sealed copy (and so a data key): a re-run seals nothing, and a
      // member whose key was shredded does not get a fresh key by being imported again.
      const piiCipher = state.status === 'none' ? await deps.vault.seal(memberId, { idNumber, phone }) : state.piiCipher;
      try {
        const result = await deps.memberService.execute(
          memberId,
          { type: 'EnrolMember', memberId, orgId, name, idHmac, piiCipher },
          { commandId: enrolCommandId(idHmac, orgId, name), actor: options.actor },
        );
        return { line, status: result.events.length > 0 && !result.replayed ? 'applied' : 'unchanged' };
      } catch (error) {
        if (error instanceof DomainError) return rejected(line, error.code, error.message);
        // Another importer enrolled the same row first: same event id, but a different sealed copy
        // and timestamp, so the store refuses it as a conflict (it checks ids before revisions).
        // Loading again finds the command in the stream and answers 'unchanged'.
        if (error instanceof EventIdConflictError && attempt < ENROL_ATTEMPTS) continue;
        throw error;
      }
    }
    throw new Error('invariant violated: the enrolment loop returns or throws');
  };

  /** Checks a row without I/O; returns the rejection, or the work that enrols it. */
  const check = (row: CsvRow): RowResult | (() => Promise<RowResult>) => {
    if (!row.values) return rejected(row.line, row.error!.code, row.error!.message);
    const values = row.values as Record<(typeof MEMBER_COLUMNS)[number], string>;
    const id = checkNationalId(values.national_id, now());
    if (!id.ok) return rejected(row.line, id.code, id.message);
    const duplicateKey = deps.vault.idHmac(id.value).slice(0, DUPLICATE_KEY_HEX);
    const firstLine = seen.get(duplicateKey);
    if (firstLine !== undefined) {
      return rejected(row.line, 'MEMBER.DUPLICATE_IN_FILE', `the same national ID number is already on line ${firstLine}`);
    }
    seen.set(duplicateKey, row.line);
    const phone = checkPhone(values.phone);
    if (!phone.ok) return rejected(row.line, phone.code, phone.message);
    const name = checkName(values.name);
    if (name === null) return rejected(row.line, 'MEMBER.NAME_INVALID', `name must be 1-${MEMBER_NAME_MAX_CHARS} characters without control characters`);
    const orgId = values.org_id;
    if (!ORG_ID.test(orgId)) return rejected(row.line, 'ORG.ID_INVALID', 'org_id must be 1-64 letters, digits, _ or -');
    return () => enrol(row.line, name, id.value, phone.value, orgId);
  };

  /** Reports the oldest row in flight; an unexpected error stops the import once the rest has settled. */
  const emitOldest = async (): Promise<void> => {
    const oldest = window.shift()!;
    const outcome = await oldest.outcome;
    if ('error' in outcome) {
      await Promise.all(window.map((entry) => entry.outcome));
      throw outcome.error;
    }
    report.add(outcome.result, fractionOf(oldest.bytesRead, options));
  };

  await deps.rules?.currentRules();
  try {
    for await (const row of readCsvRows(input, MEMBER_COLUMNS, options.limits)) {
      const checked = check(row);
      // Each outcome promise never rejects (errors become values), so no rejection goes unhandled while it waits.
      const outcome: Promise<Outcome> =
        typeof checked === 'function' ? checked().then((result) => ({ result }), (error: unknown) => ({ error })) : Promise.resolve({ result: checked });
      window.push({ outcome, bytesRead: row.bytesRead });
      while (window.length >= concurrency) await emitOldest();
    }
  } catch (error) {
    if (!(error instanceof CsvFileError)) {
      await Promise.all(window.map((entry) => entry.outcome));
      throw error;
    }
    report.fail(error);
  }
  while (window.length > 0) await emitOldest();
  return report.done();
}
