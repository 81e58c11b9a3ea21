/**
 * A streaming RFC 4180 CSV reader for roster files, kept by hand rather than csv-parse because it
 * works on bytes before decoding (so a file that is not UTF-8 is named as such, with its line),
 * reports a malformed record as a row of its own with a stable code while reading on, and bounds
 * every record and the row count (an unclosed quote cannot swallow the rest of a 200 MB file).
 * Its tests are in src/application/members/roster-import.int.spec.ts.
 */

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
