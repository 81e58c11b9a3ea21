import { deciderSpec } from '../../../test/support/given-when-then';
import { chunkCount, chunkRows, decideImport, evolveImport, IMPORT_CHUNK_ROWS, initialImportState, MAX_IMPORT_ROWS, MAX_REJECTIONS_BYTES, type ImportCommand, type ImportEvent } from '.';

const ID = '0b6d9c1e-4a8f-4c55-9d0e-2f7a3b1c5d6e';
const DIGEST = 'a'.repeat(64);
const rosterImport = deciderSpec({ initialState: initialImportState, evolve: evolveImport, decide: (state, command: ImportCommand) => decideImport(state, command) });

const request = (rowCount: number): ImportCommand => ({ type: 'RequestImport', importId: ID, kind: 'members', uploaderId: 'admin-1', orgScope: 'nj', rowCount, sizeBytes: rowCount * 60, fileDigest: DIGEST });
const requested = (rowCount: number): ImportEvent => ({
  type: 'ImportRequested',
  data: { importId: ID, kind: 'members', uploaderId: 'admin-1', orgScope: 'nj', rowCount, sizeBytes: rowCount * 60, fileDigest: DIGEST, chunkRows: IMPORT_CHUNK_ROWS },
});
const chunkDone = (chunk: number, rows: number, rejected: Array<{ line: number; code: string; message: string }> = []): ImportEvent => ({
  type: 'ImportChunkProcessed',
  data: { importId: ID, chunk, rows, applied: rows - rejected.length, unchanged: 0, rejected: rejected.length, rejections: rejected },
});

describe('RequestImport', () => {
  it('records the request with the chunk size the runner will use', () => {
    rosterImport.given([]).when(request(1200), undefined).then([requested(1200)]);
  });

  it('refuses a second request of the same import, an empty file and one above the limit', () => {
    rosterImport.given([requested(10)]).when(request(10), undefined).thenFails('IMPORT.ALREADY_REQUESTED');
    rosterImport.given([]).when(request(0), undefined).thenFails('IMPORT.ROWS_INVALID');
    rosterImport.given([]).when(request(MAX_IMPORT_ROWS + 1), undefined).thenFails('IMPORT.ROWS_INVALID');
  });
});

describe('RecordChunk', () => {
  const rejection = { line: 7, code: 'ID.CHECK_DIGIT', message: 'national ID check digit is wrong' };

  it('records the next chunk, rejected rows by line and code', () => {
    rosterImport
      .given([requested(1200)])
      .when({ type: 'RecordChunk', chunk: 0, applied: 499, unchanged: 0, rejections: [rejection] }, undefined)
      .then([chunkDone(0, 500, [rejection])]);
  });

  it('sizes the last chunk by the rows left', () => {
    const { state } = rosterImport
      .given([requested(1200), chunkDone(0, 500), chunkDone(1, 500)])
      .when({ type: 'RecordChunk', chunk: 2, applied: 150, unchanged: 50, rejections: [] }, undefined)
      .result();
    expect(state.chunksDone).toBe(3);
    expect(state.totals).toEqual({ rows: 1200, applied: 1150, unchanged: 50, rejected: 0 });
  });

  it('crashes on a chunk out of order or one whose counts do not add up to its rows (programmer errors)', () => {
    const given = rosterImport.given([requested(1200), chunkDone(0, 500)]);
    expect(() => given.when({ type: 'RecordChunk', chunk: 0, applied: 500, unchanged: 0, rejections: [] }, undefined).result()).toThrow(/invariant violated/);
    expect(() => given.when({ type: 'RecordChunk', chunk: 1, applied: 10, unchanged: 0, rejections: [] }, undefined).result()).toThrow(/invariant violated/);
  });

  it('keeps a chunk of long rejections within the event size the store takes: messages shortened, then dropped, never the line or the code', () => {
    const long = (message: string) => Array.from({ length: 500 }, (_, index) => ({ line: index + 2, code: 'ORG.FORBIDDEN', message }));
    const record = (rejections: ReturnType<typeof long>) => {
      const { events } = rosterImport.given([requested(1200)]).when({ type: 'RecordChunk', chunk: 0, applied: 0, unchanged: 0, rejections }, undefined).result();
      const data = events[0]!.data as { rejections: Array<{ line: number; code: string; message: string }> };
      expect(Buffer.byteLength(JSON.stringify(data.rejections))).toBeLessThanOrEqual(MAX_REJECTIONS_BYTES);
      expect(data.rejections.map((rejection) => [rejection.line, rejection.code])).toEqual(rejections.map((rejection) => [rejection.line, rejection.code]));
      return data.rejections[0]!.message;
    };
    expect(record(long('x'.repeat(30)))).toBe('x'.repeat(30));
    expect(record(long('x'.repeat(150)))).toBe('x'.repeat(40));
    expect(record(long('组'.repeat(150)))).toBe('');
  });

  it('refuses a chunk of a completed import', () => {
    rosterImport
      .given([requested(3), chunkDone(0, 3), { type: 'ImportCompleted', data: { importId: ID, totals: { rows: 3, applied: 3, unchanged: 0, rejected: 0 } } }])
      .when({ type: 'RecordChunk', chunk: 1, applied: 1, unchanged: 0, rejections: [] }, undefined)
      .thenFails('IMPORT.COMPLETED');
  });
});

describe('CompleteImport', () => {
  it('completes once every chunk is recorded, with the totals, and then changes nothing', () => {
    const completed: ImportEvent = { type: 'ImportCompleted', data: { importId: ID, totals: { rows: 600, applied: 599, unchanged: 0, rejected: 1 } } };
    rosterImport
      .given([requested(600), chunkDone(0, 500, [{ line: 3, code: 'PHONE.FORMAT', message: 'phone' }]), chunkDone(1, 100)])
      .when({ type: 'CompleteImport' }, undefined)
      .then([completed]);
    rosterImport.given([requested(600), chunkDone(0, 500), chunkDone(1, 100), completed]).when({ type: 'CompleteImport' }, undefined).then([]);
  });

  it('refuses to complete while chunks are left', () => {
    rosterImport.given([requested(600), chunkDone(0, 500)]).when({ type: 'CompleteImport' }, undefined).thenFails('IMPORT.NOT_DONE');
  });
});

describe('chunks', () => {
  it('cut the rows into chunks of IMPORT_CHUNK_ROWS, the last one shorter', () => {
    const state = { rowCount: 1001, chunkRows: 500 };
    expect(chunkCount(state)).toBe(3);
    expect([0, 1, 2].map((chunk) => chunkRows(state, chunk))).toEqual([
      { first: 0, rows: 500 },
      { first: 500, rows: 500 },
      { first: 1000, rows: 1 },
    ]);
    expect(() => chunkRows(state, 3)).toThrow(/invariant violated/);
  });
});
