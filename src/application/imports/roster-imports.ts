import { createHash, randomUUID } from 'node:crypto';
import {
  chunkCount,
  chunkRows,
  completeImport,
  evolveImport,
  importStream,
  initialImportState,
  MAX_IMPORT_ROWS,
  recordChunk,
  requestImport,
  type ImportEvent,
  type ImportRejection,
  type ImportState,
} from '../../domain/imports';
import { enrol, initialState as initialMemberState, memberStream, type MemberEvent, type MemberState } from '../../domain/members';
import type { OrgState } from '../../domain/orgs';
import { DomainError, invariant, schemaVersionOf } from '../../domain/shared';
import { ConcurrencyError, EventIdConflictError } from '../../eventstore/errors';
import type { Actor, EventStore, StreamAppend } from '../../eventstore/event-store';
import { CsvFileError, readCsvRows, type CsvLimits } from '../../infra/csv';
import type { PiiVault } from '../../infra/pii';
import { CommandHandler, eventsToAppend } from '../command-handler';
import type { RowResult } from '../import-report';
import { checkMemberOrg, enrolCommandId, MEMBER_COLUMNS, memberRowChecker, type MemberRow, type MemberService } from '../members';
import type { OrgAccess, OrgService, Principal } from '../orgs';
import { membersByIds } from '../../projections/members';
import { ImportFiles } from './import-files';

/**
 * Roster imports as jobs (issue 9): an upload above the synchronous threshold is sealed and
 * stored, `ImportRequested` is recorded, and the relay hands it to the imports worker, which calls
 * `run`. The rows get the same checks as the synchronous importer (member-import.ts) and the same
 * command and event ids (`enrolCommandId`), so the two paths and any re-run agree: a row is
 * enrolled once. What makes it fast is the commit: one chunk (IMPORT_CHUNK_ROWS rows) is one
 * EventStore.appendToStreams holding the chunk's record on the import's stream at its expected
 * revision and every new member's MemberEnrolled at `no_stream`, and the chunk's data keys are
 * created with one statement (PiiVault.sealMany). The import's stream is the checkpoint: a run
 * that stops or crashes leaves whole chunks behind it, and the next run continues at the next one.
 */

/** The file limits of the upload route: a record of at most 64 KiB, MAX_IMPORT_ROWS rows. */
export const IMPORT_CSV_LIMITS: CsvLimits = { maxRecordBytes: 64 * 1024, maxRows: MAX_IMPORT_ROWS };
/** Member streams read at once while a chunk is prepared: enough to hide round trips, well under the pool's size. */
const READ_CONCURRENCY = 12;
/** Conflicts on a chunk (a racing run or a synchronous import of the same rows) decided again before giving up for now. */
const MAX_CHUNK_ATTEMPTS = 20;
/** Organisations remembered during one run; cleared when full. */
const ORG_CACHE_ENTRIES = 10_000;

export interface RosterImportsDeps {
  store: EventStore;
  db: ConstructorParameters<typeof ImportFiles>[0];
  vault: () => Pick<PiiVault, 'idHmac' | 'memberIdFor' | 'sealMany' | 'sealBytes' | 'openBytes' | 'shred'>;
  members: MemberService;
  orgs: OrgService;
  orgAccess: OrgAccess;
  clock?: () => Date;
}

export interface ImportRunResult {
  importId: string;
  /** `stopped`: the process is stopping; the next run continues at `chunksDone`. */
  status: 'completed' | 'stopped';
  chunksDone: number;
}

/** The job names no import that can be run, now or later (no such import, or its file is gone). Not retried. */
export class ImportJobInvalidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportJobInvalidError';
  }
}

/** A chunk decided but not committed: the members' part of its commit, and its counts. */
interface PreparedChunk {
  enrolments: StreamAppend[];
  applied: number;
  unchanged: number;
  rejections: ImportRejection[];
}

/** A row of the file after its checks without I/O: refused already, or waiting for its organisation and its stream. */
type CheckedRow = RowResult | MemberRow;

/** A stored upload with no ImportRequested this long after is an orphan (the request path records it milliseconds after storing). */
const ORPHAN_AFTER_MS = 60 * 60 * 1000;
/** Orphan candidates looked at per run (bounded work; the next hour takes the rest). */
const ORPHANS_PER_RUN = 200;

/** Maps with at most `limit` calls in flight, in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

export class RosterImports {
  private readonly handler: CommandHandler<ImportState, ImportEvent>;
  private readonly files: ImportFiles;
  /** Imports this process is running: a second start of the same import joins the first run. */
  private readonly running = new Map<string, Promise<ImportRunResult>>();
  private stopping = false;
  private readonly clock: () => Date;

  constructor(private readonly deps: RosterImportsDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.handler = new CommandHandler(deps.store, { name: 'import', initialState: initialImportState, evolve: evolveImport }, { clock: this.clock, cacheEntries: 1_000 });
    this.files = new ImportFiles(deps.db, deps.vault);
  }

  /**
   * Stores the upload sealed and records ImportRequested; the relay queues the job. A file that
   * cannot be read to its end is refused whole (422 with the file error's code), as the
   * synchronous upload does, so the job never meets a file error.
   */
  async request(uploader: Principal, csv: Buffer, counted?: number): Promise<{ importId: string; rowCount: number }> {
    const rowCount = counted ?? (await countImportRows(csv));
    if (rowCount === 0) throw new DomainError('IMPORT.EMPTY', 'the file has a header and no rows', 422);
    const importId = randomUUID();
    const fileDigest = createHash('sha256').update(csv).digest('hex');
    await this.files.put(importId, csv);
    try {
      await this.handler.handle(
        importStream(importId),
        (state) => requestImport(state, { type: 'RequestImport', importId, kind: 'members', uploaderId: uploader.sub, orgScope: uploader.org, rowCount, sizeBytes: csv.length, fileDigest }),
        { commandId: `import:${importId}:request`, actor: { type: uploader.role, id: uploader.sub } },
      );
    } catch (error) {
      // No import will ever read the sealed file (its id was this request's own): it goes now, or,
      // if this fails too, with the hourly discardOrphanFiles.
      await this.files.discard(importId).catch(() => undefined);
      throw error;
    }
    return { importId, rowCount };
  }

  /**
   * Discards the sealed uploads whose ImportRequested was never recorded (the process died
   * between storing the file and recording the request, or both failed): personal data, sealed,
   * that nothing will ever read. Only files stored ORPHAN_AFTER_MS ago or more, of no import the
   * read model knows, are looked at, and the import's stream is the judge. Returns how many were discarded.
   */
  async discardOrphanFiles(): Promise<number> {
    let discarded = 0;
    for (const importId of await this.files.unknownBefore(this.clock().getTime() - ORPHAN_AFTER_MS, ORPHANS_PER_RUN)) {
      const [first] = await this.deps.store.readStream(importStream(importId), { maxCount: 1 });
      if (first) continue; // A real import: its file goes when it completes.
      await this.files.discard(importId);
      discarded += 1;
    }
    return discarded;
  }

  /** The import's state as its stream has it (for the worker and tests; readers use the read model). */
  async load(importId: string): Promise<ImportState> {
    return (await this.handler.load(importStream(importId))).state;
  }

  /** Runs the import to its end (or this process's stop). Safe to call again, and from several processes. */
  run(importId: string): Promise<ImportRunResult> {
    const existing = this.running.get(importId);
    if (existing) return existing;
    const run = this.runToEnd(importId).finally(() => this.running.delete(importId));
    this.running.set(importId, run);
    return run;
  }

  /** Ends every run of this process at its next chunk boundary and waits for them; new runs start again after it. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.running.values()]);
    this.stopping = false;
  }

  private async runToEnd(importId: string): Promise<ImportRunResult> {
    let loaded = await this.handler.load(importStream(importId));
    const started = loaded.state;
    if (started.status === 'none') throw new ImportJobInvalidError(`no import ${importId}`);
    if (started.status === 'completed') {
      await this.files.discard(importId);
      return { importId, status: 'completed', chunksDone: started.chunksDone };
    }
    const chunks = chunkCount(started);
    if (started.chunksDone < chunks) {
      const csv = await this.files.get(importId);
      if (!csv) throw new ImportJobInvalidError(`import ${importId} has ${chunks - started.chunksDone} chunk(s) left and its file is gone`);
      const actor: Actor = { type: 'admin', id: started.uploaderId };
      const context = this.runContext(started);
      const checkRow = memberRowChecker(this.deps.vault(), this.clock);
      let index = 0;
      let pending: CheckedRow[] = [];
      // One chunk is prepared (its members looked up, new members' data sealed) while the one
      // before it commits: the commit waits on PostgreSQL, the preparation mostly on this process.
      let committing: Promise<{ state: ImportState; revision: bigint }> | undefined;
      // Every row is checked from the first, so that a repeat of an ID number in an earlier chunk
      // is known; only the chunks not yet recorded do any I/O.
      for await (const row of readCsvRows([csv], MEMBER_COLUMNS, IMPORT_CSV_LIMITS)) {
        const checked = checkRow(row);
        const chunk = Math.floor(index / started.chunkRows);
        index += 1;
        if (chunk < started.chunksDone) continue;
        pending.push(checked);
        if (pending.length < chunkRows(started, chunk).rows) continue;
        const rows = pending;
        pending = [];
        const preparing = this.prepareChunk(rows, context, actor, true);
        preparing.catch(() => undefined); // Awaited below; this only keeps a failure from being unhandled while the previous commit is awaited.
        if (committing) loaded = await committing;
        if (this.stopping) return { importId, status: 'stopped', chunksDone: loaded.state.chunksDone };
        committing = this.commitChunk(importId, loaded, chunk, rows, preparing, context, actor);
      }
      if (committing) loaded = await committing;
      invariant(index === started.rowCount && pending.length === 0, `import ${importId} counted ${started.rowCount} rows at upload and read ${index}`);
    }
    const completed = await this.handler.handle(importStream(importId), (state) => completeImport(state), {
      commandId: `import:${importId}:complete`,
      actor: { type: 'system', id: 'imports' },
    });
    await this.files.discard(importId);
    return { importId, status: 'completed', chunksDone: completed.state.chunksDone };
  }

  /** What one run decides with: its organisation look-ups and the uploader's authority, remembered. */
  private runContext(state: ImportState) {
    const orgs = new Map<string, Promise<OrgState>>();
    const allowed = new Map<string, Promise<boolean>>();
    const remembered = <T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> => {
      let found = cache.get(key);
      if (!found) {
        if (cache.size >= ORG_CACHE_ENTRIES) cache.clear();
        found = load();
        found.catch(() => cache.delete(key)); // A failed read is not remembered.
        cache.set(key, found);
      }
      return found;
    };
    return {
      org: (orgId: string) => remembered(orgs, orgId, () => this.deps.orgs.readOrg(orgId)),
      // The uploader's authority as it stands when the rows run: members only into unions of their subtree.
      authorize: (orgId: string | null) => (orgId === null ? Promise.resolve(false) : remembered(allowed, orgId, () => this.deps.orgAccess.isWithin(orgId, state.orgScope))),
    };
  }

  /**
   * Decides and commits one chunk; returns the import's stream after it. A conflict (a racing run
   * recorded the chunk, or a member's stream moved) reads again and decides again; a chunk that
   * another run recorded meanwhile is left as it is.
   */
  private async commitChunk(
    importId: string,
    loaded: { state: ImportState; revision: bigint },
    chunk: number,
    rows: readonly CheckedRow[],
    preparing: Promise<PreparedChunk>,
    context: ReturnType<RosterImports['runContext']>,
    actor: Actor,
  ): Promise<{ state: ImportState; revision: bigint }> {
    const stream = importStream(importId);
    // The first attempt trusts the members read model to say who exists (one query for the chunk
    // instead of a read per member). It may lag: a member it does not know yet is appended at
    // `no_stream`, which the store refuses if the stream exists after all, and the next attempt
    // then reads every member's stream. The expected revisions, not the hint, keep it correct.
    let prepared = await preparing;
    for (let attempt = 1; attempt <= MAX_CHUNK_ATTEMPTS; attempt += 1) {
      if (loaded.state.chunksDone > chunk) return loaded;
      try {
        await this.deps.store.appendToStreams(this.chunkCommit(loaded, chunk, prepared, actor));
      } catch (error) {
        if (!(error instanceof ConcurrencyError) && !(error instanceof EventIdConflictError)) throw error;
        loaded = await this.handler.load(stream);
        if (loaded.state.chunksDone > chunk) return loaded;
        prepared = await this.prepareChunk(rows, context, actor, false);
        continue;
      }
      loaded = await this.handler.load(stream);
      invariant(loaded.state.chunksDone > chunk, `chunk ${chunk} of import ${importId} is in its stream after its commit`);
      return loaded;
    }
    throw new ConcurrencyError(stream, 'any', `import ${importId} chunk ${chunk} still contended after ${MAX_CHUNK_ATTEMPTS} attempts`);
  }

  /** The commit of a prepared chunk: its record on the import's stream, at the revision read, and its enrolments. */
  private chunkCommit(loaded: { state: ImportState; revision: bigint }, chunk: number, prepared: PreparedChunk, actor: Actor): StreamAppend[] {
    const { applied, unchanged, rejections } = prepared;
    const record = recordChunk(loaded.state, { type: 'RecordChunk', chunk, applied, unchanged, rejections });
    const importId = loaded.state.importId;
    return [
      { streamId: importStream(importId), events: eventsToAppend(record, { commandId: `import:${importId}:chunk:${chunk}`, actor }, this.clock()), expectedRevision: loaded.revision },
      ...prepared.enrolments,
    ];
  }

  /**
   * A chunk's rows decided: the rejected ones by line, and the enrolments of the new members (their
   * data sealed). `hinted`: whether the members read model may stand in for reading the members'
   * streams (see commitChunk).
   */
  private async prepareChunk(rows: readonly CheckedRow[], context: ReturnType<RosterImports['runContext']>, actor: Actor, hinted: boolean): Promise<PreparedChunk> {
    const vault = this.deps.vault();
    const now = this.clock();
    const absent = { state: initialMemberState, revision: -1n };
    type Candidate = { row: MemberRow; idHmac: string; memberId: string; member: { state: MemberState; revision: bigint } };
    const ids = new Map<MemberRow, { idHmac: string; memberId: string }>();
    for (const row of rows) {
      if ('status' in row) continue;
      ids.set(row, { idHmac: row.idHmac, memberId: vault.memberIdFor(row.idHmac) });
    }
    const known = hinted ? await membersByIds(this.deps.db, [...ids.values()].map((id) => id.memberId)) : undefined;
    const outcomes = await mapLimit(rows, READ_CONCURRENCY, async (row): Promise<RowResult | Candidate> => {
      if ('status' in row) return row;
      const refused = await checkMemberOrg(row.line, row.orgId, await context.org(row.orgId), context.authorize);
      if (refused) return refused;
      const { idHmac, memberId } = ids.get(row)!;
      const member = known && !known.has(memberId) ? absent : await this.deps.members.load(memberId);
      return { row, idHmac, memberId, member };
    });
    const candidates = outcomes.filter((outcome): outcome is Candidate => 'memberId' in outcome);
    // Only new members get a sealed copy (and so a data key), as in the synchronous importer.
    const fresh = candidates.filter((candidate) => candidate.member.state.status === 'none');
    const sealed = await vault.sealMany(fresh.map(({ memberId, row }) => ({ memberId, pii: { idNumber: row.idNumber, phone: row.phone } })));
    const ciphers = new Map(fresh.map((candidate, index) => [candidate.memberId, sealed[index]!]));

    const appends: StreamAppend[] = [];
    const rejections: ImportRejection[] = [];
    let applied = 0;
    let unchanged = 0;
    for (const outcome of outcomes) {
      if ('status' in outcome) {
        if (outcome.status === 'rejected') rejections.push({ line: outcome.line, code: outcome.code!, message: outcome.message ?? '' });
        continue;
      }
      const { row, idHmac, memberId, member } = outcome;
      const piiCipher = ciphers.get(memberId) ?? member.state.piiCipher;
      let events: MemberEvent[];
      try {
        // The enrolment's own decision, without the hold releases `decide` would add for an existing
        // member: those are the member's commands' business, not the roster's.
        events = enrol(member.state, { type: 'EnrolMember', memberId, orgId: row.orgId, name: row.name, idHmac, piiCipher });
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        rejections.push({ line: row.line, code: error.code, message: error.message });
        continue;
      }
      if (events.length === 0) {
        unchanged += 1;
        continue;
      }
      const meta = { commandId: enrolCommandId(idHmac, row.orgId, row.name), actor };
      appends.push({
        streamId: memberStream(memberId),
        events: eventsToAppend(events, meta, now, (event) => schemaVersionOf(event.data)),
        expectedRevision: member.revision < 0n ? 'no_stream' : member.revision,
      });
      applied += 1;
    }
    return { enrolments: appends, applied, unchanged, rejections };
  }
}

/** The data rows of a file, refusing it whole (422, the file error's code and line) when it cannot be read to its end. */
export async function countImportRows(csv: Buffer): Promise<number> {
  let rows = 0;
  try {
    for await (const _row of readCsvRows([csv], MEMBER_COLUMNS, IMPORT_CSV_LIMITS)) rows += 1;
  } catch (error) {
    if (!(error instanceof CsvFileError)) throw error;
    throw new DomainError(error.code, `the file cannot be read: ${error.message}`, 422, { line: error.line });
  }
  return rows;
}
