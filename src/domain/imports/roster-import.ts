import { DomainError, invariant } from '../shared';

/**
 * A roster import that runs as a job (stream `import-<importId>`): an upload above the
 * synchronous threshold is recorded as requested, then processed chunk by chunk by the imports
 * worker. Each chunk is one commit holding the chunk's record here and the chunk's enrolments on
 * the members' streams; the expected revision of this stream makes a chunk happen once, however
 * often a crashed, stalled or racing run retries it, and it is the checkpoint a restarted job
 * continues from. Rows are named by their line and a stable code, never by personal data.
 */

export type ImportKind = 'members';

export interface ImportTotals {
  rows: number;
  applied: number;
  unchanged: number;
  rejected: number;
}

/** A rejected row as the report keeps it: its line in the file, a stable code and a message without personal data. */
export interface ImportRejection {
  line: number;
  code: string;
  message: string;
}

export type ImportEvent =
  | {
      type: 'ImportRequested';
      data: {
        importId: string;
        kind: ImportKind;
        /** The uploading admin, and the organisation their authority covers (the report is readable within it). */
        uploaderId: string;
        orgScope: string;
        rowCount: number;
        sizeBytes: number;
        /** SHA-256 of the file as uploaded (hex): what an auditor compares a kept copy with. */
        fileDigest: string;
        chunkRows: number;
      };
    }
  | {
      type: 'ImportChunkProcessed';
      data: { importId: string; chunk: number; rows: number; applied: number; unchanged: number; rejected: number; rejections: ImportRejection[] };
    }
  | { type: 'ImportCompleted'; data: { importId: string; totals: ImportTotals } };

export type ImportCommand =
  | { type: 'RequestImport'; importId: string; kind: ImportKind; uploaderId: string; orgScope: string; rowCount: number; sizeBytes: number; fileDigest: string }
  | { type: 'RecordChunk'; chunk: number; applied: number; unchanged: number; rejections: ImportRejection[] }
  | { type: 'CompleteImport' };

export interface ImportState {
  status: 'none' | 'requested' | 'completed';
  importId: string;
  uploaderId: string;
  orgScope: string;
  rowCount: number;
  chunkRows: number;
  /** Chunks recorded so far; the next chunk to process is this one. */
  chunksDone: number;
  totals: ImportTotals;
}

export const importStream = (importId: string): string => `import-${importId}`;

/** Rows per chunk: per commit of enrolments, and per progress step. */
export const IMPORT_CHUNK_ROWS = 500;
/** The most rows one import takes (the upload route's limit). */
export const MAX_IMPORT_ROWS = 200_000;
const DIGEST = /^[0-9a-f]{64}$/;
const IMPORT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CODE = /^[A-Z][A-Z0-9_]*\.[A-Z0-9_]+$/;
/** A rejection's message is cut to this in the report (the messages are the importer's own, short). */
export const MAX_REJECTION_MESSAGE_CHARS = 200;
/** A chunk's rejected rows take at most this much of its event (the store takes 64 KiB of data per event). */
export const MAX_REJECTIONS_BYTES = 48 * 1024;
/** What a message is cut to when a chunk's rejected rows would not fit otherwise. */
const SHORT_REJECTION_MESSAGE_CHARS = 40;

export const initialImportState: ImportState = {
  status: 'none',
  importId: '',
  uploaderId: '',
  orgScope: '',
  rowCount: 0,
  chunkRows: IMPORT_CHUNK_ROWS,
  chunksDone: 0,
  totals: { rows: 0, applied: 0, unchanged: 0, rejected: 0 },
};

export function evolveImport(state: ImportState, event: ImportEvent): ImportState {
  switch (event.type) {
    case 'ImportRequested': {
      const { importId, uploaderId, orgScope, rowCount, chunkRows } = event.data;
      return { ...state, status: 'requested', importId, uploaderId, orgScope, rowCount, chunkRows };
    }
    case 'ImportChunkProcessed': {
      const { rows, applied, unchanged, rejected } = event.data;
      const totals = state.totals;
      return {
        ...state,
        chunksDone: state.chunksDone + 1,
        totals: { rows: totals.rows + rows, applied: totals.applied + applied, unchanged: totals.unchanged + unchanged, rejected: totals.rejected + rejected },
      };
    }
    case 'ImportCompleted':
      return { ...state, status: 'completed' };
    default: {
      const unknown: never = event;
      throw new Error(`unknown import event ${(unknown as { type: string }).type}`);
    }
  }
}

/** How many chunks the import's rows make. */
export function chunkCount(state: Pick<ImportState, 'rowCount' | 'chunkRows'>): number {
  return Math.ceil(state.rowCount / state.chunkRows);
}

/** The rows of chunk `chunk`: the first row's index (0-based, data rows only) and how many rows it holds. */
export function chunkRows(state: Pick<ImportState, 'rowCount' | 'chunkRows'>, chunk: number): { first: number; rows: number } {
  invariant(Number.isSafeInteger(chunk) && chunk >= 0 && chunk < chunkCount(state), `chunk ${chunk} of ${chunkCount(state)}`);
  const first = chunk * state.chunkRows;
  return { first, rows: Math.min(state.chunkRows, state.rowCount - first) };
}

export function requestImport(state: ImportState, command: Extract<ImportCommand, { type: 'RequestImport' }>): ImportEvent[] {
  if (state.status !== 'none') throw new DomainError('IMPORT.ALREADY_REQUESTED', `import ${command.importId} was already requested`, 409);
  if (!IMPORT_ID.test(command.importId)) throw new DomainError('IMPORT.ID_INVALID', 'an import id is a lower-case UUID', 400);
  if (!Number.isSafeInteger(command.rowCount) || command.rowCount < 1 || command.rowCount > MAX_IMPORT_ROWS) {
    throw new DomainError('IMPORT.ROWS_INVALID', `an import holds 1 to ${MAX_IMPORT_ROWS} rows`, 422, { rowCount: command.rowCount });
  }
  invariant(Number.isSafeInteger(command.sizeBytes) && command.sizeBytes > 0, 'an imported file has a size');
  invariant(DIGEST.test(command.fileDigest), 'the file digest is a hex SHA-256');
  invariant(command.uploaderId.length > 0 && command.orgScope.length > 0, 'an import has an uploader and their organisation');
  const { importId, kind, uploaderId, orgScope, rowCount, sizeBytes, fileDigest } = command;
  return [{ type: 'ImportRequested', data: { importId, kind, uploaderId, orgScope, rowCount, sizeBytes, fileDigest, chunkRows: IMPORT_CHUNK_ROWS } }];
}

/**
 * Records the next chunk's outcome. A chunk other than the next one is a programmer error (the
 * runner decides on the stream as read, and the expected revision refuses a stale decision).
 */
export function recordChunk(state: ImportState, command: Extract<ImportCommand, { type: 'RecordChunk' }>): ImportEvent[] {
  if (state.status === 'none') throw new DomainError('IMPORT.NOT_FOUND', 'no such import', 404);
  if (state.status === 'completed') throw new DomainError('IMPORT.COMPLETED', `import ${state.importId} is already completed`, 409);
  invariant(command.chunk === state.chunksDone, `chunk ${command.chunk} recorded after ${state.chunksDone} chunks`);
  const { rows } = chunkRows(state, command.chunk);
  const rejected = command.rejections.length;
  invariant(
    [command.applied, command.unchanged].every((count) => Number.isSafeInteger(count) && count >= 0) && command.applied + command.unchanged + rejected === rows,
    `chunk ${command.chunk} accounts for ${command.applied + command.unchanged + rejected} of its ${rows} rows`,
  );
  let previousLine = 0;
  let rejections = command.rejections.map((rejection) => {
    invariant(Number.isSafeInteger(rejection.line) && rejection.line > previousLine, 'rejected rows are reported once each, in line order');
    invariant(CODE.test(rejection.code), `a rejection code is stable and dotted (${rejection.code})`);
    previousLine = rejection.line;
    return { line: rejection.line, code: rejection.code, message: [...rejection.message].slice(0, MAX_REJECTION_MESSAGE_CHARS).join('') };
  });
  // An event's data is bounded by the store (64 KiB): a chunk whose every row is refused with a
  // long message would not fit. Its messages are shortened, and dropped if that is not enough; the
  // line and the code, which are what the report promises, always stay.
  for (const messageChars of [SHORT_REJECTION_MESSAGE_CHARS, 0]) {
    if (Buffer.byteLength(JSON.stringify(rejections), 'utf8') <= MAX_REJECTIONS_BYTES) break;
    rejections = rejections.map((rejection) => ({ ...rejection, message: [...rejection.message].slice(0, messageChars).join('') }));
  }
  return [
    {
      type: 'ImportChunkProcessed',
      data: { importId: state.importId, chunk: command.chunk, rows, applied: command.applied, unchanged: command.unchanged, rejected, rejections },
    },
  ];
}

/** Completes an import whose every chunk is recorded; completing it again changes nothing. */
export function completeImport(state: ImportState): ImportEvent[] {
  if (state.status === 'none') throw new DomainError('IMPORT.NOT_FOUND', 'no such import', 404);
  if (state.status === 'completed') return [];
  if (state.chunksDone < chunkCount(state)) {
    throw new DomainError('IMPORT.NOT_DONE', `import ${state.importId} has ${chunkCount(state) - state.chunksDone} chunk(s) left`, 409);
  }
  invariant(state.totals.rows === state.rowCount, `import ${state.importId} processed ${state.totals.rows} of ${state.rowCount} rows`);
  return [{ type: 'ImportCompleted', data: { importId: state.importId, totals: state.totals } }];
}

export function decideImport(state: ImportState, command: ImportCommand): ImportEvent[] {
  switch (command.type) {
    case 'RequestImport':
      return requestImport(state, command);
    case 'RecordChunk':
      return recordChunk(state, command);
    case 'CompleteImport':
      return completeImport(state);
    default: {
      const unknown: never = command;
      throw new Error(`unknown import command ${(unknown as { type: string }).type}`);
    }
  }
}
