import {
  ANY,
  AppendConsistencyViolationError,
  AppendRecordSizeExceededError,
  BACKWARDS,
  END,
  ErrorType,
  FORWARDS,
  KurrentDBClient,
  MaxAppendSizeExceededError,
  NO_STREAM,
  START as KURRENT_START,
  STREAM_EXISTS,
  StreamNotFoundError,
  TransactionMaxSizeExceededError,
  WrongExpectedVersionError,
  eventTypeFilter,
  excludeSystemEvents,
  jsonEvent,
  streamNameFilter,
  type AllStreamSubscription,
  type AppendStreamRequest,
  type AppendStreamState,
  type EventData,
  type Filter,
  type Position,
  type ReadPosition,
} from '@kurrent/kurrentdb-client';
import { contentDigest } from '../canonical';
import { ConcurrencyError, EventIdConflictError, EventStoreValidationError } from '../errors';
import {
  START,
  READ_LIMIT_MAX,
  type AppendOptions,
  type AppendResult,
  type EventMetadata,
  type EventStore,
  type EventToAppend,
  type ExpectedRevision,
  type JsonObject,
  type JsonValue,
  type ReadAllOptions,
  type ReadAllResult,
  type ReadStreamOptions,
  type RecordedEvent,
  type StreamAppend,
  type StreamAppendOutcome,
  type SubscribeOptions,
  type SubscriptionHandle,
} from '../event-store';
import { runSubscription, Waker } from '../subscription';
import { clampLimit, prepareAppend, prepareMultiAppend, validateReadStream, type PreparedEvent, type PreparedStreamAppend } from '../validation';

/*
 * What KurrentDB guarantees, and what this adapter adds on top:
 *
 * - Optimistic concurrency: an append with a stream state other than ANY is checked atomically by
 *   the server, which is what the port's expected revisions need.
 * - Idempotency: the server deduplicates by event id only when an expected revision is given, and
 *   then only for a retry at the same revision; with ANY it is best effort, and it never compares
 *   content. The port promises more (same ids + same content -> the original result; same id +
 *   different content -> EventIdConflictError), so the adapter checks stored ids and digests itself.
 * - Positions: every event appended through gRPC is an implicitly committed prepare whose $all
 *   position has commit === prepare, unique per event. Only explicit transactions of the legacy
 *   TCP API share one commit position between several events (with different prepare positions).
 * - Subscriptions: a live subscribeToAll ends on any error and the client does not resubscribe, so
 *   the adapter resubscribes with back-off; it is only a wake-up signal, never the source of events.
 * - Multi-stream appends (appendToStreams) use the client's multiStreamAppend (KurrentDB 25.1+):
 *   atomic over all streams, with an expected state per stream, answered with each stream's last
 *   revision and ONE log position for the whole call, no per-event positions. The adapter reads
 *   every stream's new events back (as a single append does) to report per-event positions. Its
 *   metadata must be a flat object of strings, so each event's packed metadata travels as one JSON
 *   string under PACKED_METADATA_KEY. Idempotency is the adapter's, as for single appends.
 */

/** Metadata keys the adapter reserves; a caller's own keys starting with '$' are stored with one more '$'. */
export const SCHEMA_VERSION_KEY = '$schemaVersion';
export const DIGEST_KEY = '$digest';
/**
 * multiStreamAppend only takes metadata whose values are strings, so an event it writes carries
 * packMetadata's object as one JSON string under this key; unpackMetadata opens it. A caller's
 * '$packed' is stored as '$$packed' like every other '$' key, so it cannot be mistaken for it.
 */
export const PACKED_METADATA_KEY = '$packed';

/**
 * With 'any' or 'stream_exists' the original write of a retried batch can be anywhere in the
 * stream, so the adapter looks back this many events past the batch. Every such append with
 * caller-supplied ids pays for this read, so it stays small; an exact expected revision needs no
 * look-back at all because it says where the original write must be.
 */
export const IDEMPOTENCY_LOOKBACK_EVENTS = 100;
/** Appends with 'any' pin the revision they checked; after this many lost races they fall back to ANY. */
const PINNED_APPEND_ATTEMPTS = 5;
/** Streams a multi-stream append inspects or reads back at the same time (one read each). */
const MULTI_APPEND_READ_CONCURRENCY = 16;
/** gRPC status UNIMPLEMENTED: the server has no multi-stream append (before KurrentDB 25.1). */
const GRPC_UNIMPLEMENTED = 12;
/** Upper bound on events fetched for one readAll page when a legacy transaction straddles the window. */
const READ_AHEAD_MAX_EVENTS = READ_LIMIT_MAX * 4;
/** Back-off of the live wake-up subscription after it fails or ends. */
const LIVE_RESUBSCRIBE_MIN_MS = 100;
const LIVE_RESUBSCRIBE_MAX_MS = 10_000;

// ---------------------------------------------------------------------------------------------
// Pure mapping helpers (unit-tested in kurrentdb-mapping.unit.spec.ts).
// ---------------------------------------------------------------------------------------------

/** Maps the port's expected revision onto the client's stream state, one to one. */
export function toStreamState(expected: ExpectedRevision): AppendStreamState {
  if (expected === 'any') return ANY;
  if (expected === 'no_stream') return NO_STREAM;
  if (expected === 'stream_exists') return STREAM_EXISTS;
  return expected;
}

/** The stream's actual state as ConcurrencyError reports it: its last revision, or 'no_stream'. */
export function actualRevisionText(actual: unknown): string {
  // Deleted and tombstoned streams report negative revisions; the port only knows 'no_stream'.
  if (typeof actual === 'bigint' && actual >= 0n) return actual.toString();
  return 'no_stream';
}

/**
 * The metadata stored with an event: the caller's metadata plus the schema version and content
 * digest under reserved keys. A caller's key that starts with '$' gets one more '$', so no caller
 * key can collide with a reserved key (or with KurrentDB's own '$' keys) and unpacking restores it.
 */
export function packMetadata(metadata: EventMetadata, schemaVersion: number, digestHex: string): JsonObject {
  const entries: Array<[string, JsonValue]> = [];
  for (const [key, value] of Object.entries(metadata)) {
    if (value === undefined) continue;
    entries.push([key.startsWith('$') ? `$${key}` : key, value as JsonValue]);
  }
  entries.push([SCHEMA_VERSION_KEY, schemaVersion], [DIGEST_KEY, digestHex]);
  // fromEntries defines own properties, so even a '__proto__' key stays plain data.
  return Object.fromEntries(entries) as JsonObject;
}

export interface UnpackedMetadata {
  metadata: EventMetadata;
  schemaVersion: number;
  digestHex: string | undefined;
}

/** Reverses packMetadata; events written by other tools (no reserved keys) read as schema version 1. */
export function unpackMetadata(stored: unknown): UnpackedMetadata {
  // Written by a multi-stream append: everything is in the packed string. Other keys beside it
  // can only be the server's own (the caller's '$' keys are escaped), so they are left out.
  const packed = isRecordObject(stored) ? stored[PACKED_METADATA_KEY] : undefined;
  if (typeof packed === 'string') {
    try {
      const inner: unknown = JSON.parse(packed);
      if (isRecordObject(inner) && typeof inner[PACKED_METADATA_KEY] !== 'string') return unpackMetadata(inner);
    } catch {
      // Not ours after all: read it like any other metadata below.
    }
  }
  let schemaVersion = 1;
  let digestHex: string | undefined;
  const entries: Array<[string, unknown]> = [];
  if (typeof stored === 'object' && stored !== null && !Array.isArray(stored) && !(stored instanceof Uint8Array)) {
    for (const [key, value] of Object.entries(stored)) {
      if (key === SCHEMA_VERSION_KEY) {
        if (typeof value === 'number' && Number.isInteger(value) && value >= 1) schemaVersion = value;
      } else if (key === DIGEST_KEY) {
        if (typeof value === 'string' && /^[0-9a-f]{64}$/.test(value)) digestHex = value;
      } else if (key.startsWith('$$')) {
        entries.push([key.slice(1), value]);
      } else {
        // Other '$' keys come from KurrentDB or other writers, not from this adapter; keep them.
        entries.push([key, value]);
      }
    }
  }
  return { metadata: Object.fromEntries(entries) as EventMetadata, schemaVersion, digestHex };
}

/** The metadata a multi-stream append stores: packMetadata's object as one JSON string (see PACKED_METADATA_KEY). */
export function packMetadataForMultiAppend(metadata: EventMetadata, schemaVersion: number, digestHex: string): Record<string, string> {
  return { [PACKED_METADATA_KEY]: JSON.stringify(packMetadata(metadata, schemaVersion, digestHex)) };
}

function isRecordObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

/**
 * Where a forward read of $all starts for the port's `after` position. The port's global position
 * is the commit position. A forward read from {commit, prepare} is inclusive, and for every event
 * written through gRPC prepare === commit, so reading from {after, after} starts exactly at the
 * event the checkpoint names; the caller then drops events whose commit position is <= after.
 */
export function readPositionAfter(after: bigint): ReadPosition {
  return after < 0n ? KURRENT_START : { commit: after, prepare: after };
}

/** One event of a $all read: its position, and the port's event when this reader should see it. */
export interface ScannedEvent<T> {
  commit: bigint;
  prepare: bigint;
  item: T | undefined;
}

export type PageOutcome<T> =
  | { kind: 'page'; events: T[]; nextAfter: bigint; isEnd: boolean }
  /** The window ended inside a legacy transaction that has to be seen whole: read more events. */
  | { kind: 'read_more' };

/**
 * Turns one forward read from readPositionAfter(after) into a page of the port; `reachedEnd` says
 * the read returned fewer events than it asked for, so nothing further was visible. Events at or before `after` were delivered already. A page only ends between commit
 * positions, so a checkpoint (a commit position) never points into the middle of a legacy explicit
 * transaction whose events share one commit position; such a transaction is delivered whole, even
 * if that makes the page longer than `limit`. nextAfter advances over events the reader does not
 * see (system events, other filters), so filtered readers still move forward.
 */
export function pageFromScan<T>(scanned: Array<ScannedEvent<T>>, after: bigint, limit: number, reachedEnd: boolean): PageOutcome<T> {
  const fresh = scanned.filter((event) => event.commit > after);
  const events: T[] = [];
  let nextAfter = after;
  let consumed = 0;
  while (consumed < fresh.length && events.length < limit) {
    const first = fresh[consumed]!;
    let end = consumed + 1;
    while (end < fresh.length && fresh[end]!.commit === first.commit) end += 1;
    const implicitSingle = end === consumed + 1 && first.prepare === first.commit;
    const groupComplete = implicitSingle || end < fresh.length || reachedEnd;
    if (!groupComplete) {
      if (nextAfter === after) return { kind: 'read_more' };
      break;
    }
    const visible = fresh
      .slice(consumed, end)
      .map((event) => event.item)
      .filter((item): item is T => item !== undefined);
    if (events.length > 0 && events.length + visible.length > limit) break;
    events.push(...visible);
    nextAfter = first.commit;
    consumed = end;
  }
  return { kind: 'page', events, nextAfter, isEnd: reachedEnd && consumed === fresh.length };
}

/** Which part of a stream can hold the original write of a retried batch. */
export type ReplayWindow =
  | { direction: 'forwards'; fromRevision: bigint; maxCount: number }
  | { direction: 'backwards'; maxCount: number };

export function replayWindow(expected: ExpectedRevision, batchSize: number): ReplayWindow {
  // A retry carries the expected revision of the original attempt, so an exact revision (or
  // 'no_stream', i.e. before revision 0) says exactly where the original events must be.
  if (typeof expected === 'bigint') return { direction: 'forwards', fromRevision: expected + 1n, maxCount: batchSize };
  if (expected === 'no_stream') return { direction: 'forwards', fromRevision: 0n, maxCount: batchSize };
  return { direction: 'backwards', maxCount: IDEMPOTENCY_LOOKBACK_EVENTS + batchSize };
}

export interface StoredIdentity {
  eventId: string;
  revision: bigint;
  globalPosition: bigint;
  digestHex: string;
}

export type IdempotencyVerdict =
  | { kind: 'none' }
  | { kind: 'replay'; result: AppendResult }
  | { kind: 'conflict'; message: string; details: Record<string, unknown> };

/**
 * Compares a batch with stored events. None of its ids stored: a new append. All of them stored,
 * in order at consecutive revisions, with the same digests: a replay of the original append.
 * Anything else (changed content, part of the batch, another order) is an id conflict.
 */
export function judgeIdempotency(
  streamId: string,
  batch: Array<{ eventId: string; digestHex: string }>,
  stored: StoredIdentity[],
): IdempotencyVerdict {
  const byId = new Map(stored.map((event) => [event.eventId.toLowerCase(), event]));
  const found = batch.map((event) => byId.get(event.eventId));
  if (found.every((event) => event === undefined)) return { kind: 'none' };
  const changed = batch.filter((event, index) => found[index] !== undefined && found[index]!.digestHex !== event.digestHex);
  if (changed.length > 0) {
    return {
      kind: 'conflict',
      message: `stream ${streamId}: event id ${changed[0]!.eventId} is already stored with different content`,
      details: { streamId, eventIds: changed.map((event) => event.eventId) },
    };
  }
  const first = found[0];
  const whole =
    first !== undefined &&
    found.every((event, index) => event !== undefined && event.revision === first.revision + BigInt(index));
  if (!whole) {
    return {
      kind: 'conflict',
      message: `stream ${streamId}: only part of this batch, or the batch in another order, was stored before`,
      details: { streamId, storedEventIds: batch.filter((_event, index) => found[index] !== undefined).map((event) => event.eventId) },
    };
  }
  const events = found.map((event) => ({ eventId: event!.eventId.toLowerCase(), revision: event!.revision, globalPosition: event!.globalPosition }));
  const last = events[events.length - 1]!;
  return {
    kind: 'replay',
    result: { nextExpectedRevision: last.revision, lastPosition: last.globalPosition, events, idempotentReplay: true },
  };
}

export type MultiIdempotencyVerdict =
  | { kind: 'none' }
  | { kind: 'replay'; results: AppendResult[] }
  | { kind: 'conflict'; message: string; details: Record<string, unknown> };

/**
 * Judges a multi-stream append from each stream's verdict (judgeIdempotency, in the caller's
 * order): nothing stored anywhere -> a new append; every stream stored whole -> a replay of the
 * whole call; a conflict in any stream, or some streams stored and others not -> a conflict.
 */
export function judgeMultiIdempotency(streamIds: string[], verdicts: IdempotencyVerdict[]): MultiIdempotencyVerdict {
  const conflict = verdicts.find((verdict) => verdict.kind === 'conflict');
  if (conflict?.kind === 'conflict') return conflict;
  const replays = verdicts.flatMap((verdict) => (verdict.kind === 'replay' ? [verdict.result] : []));
  if (replays.length === 0) return { kind: 'none' };
  if (replays.length === verdicts.length) return { kind: 'replay', results: replays };
  const missing = verdicts.findIndex((verdict) => verdict.kind === 'none');
  return {
    kind: 'conflict',
    message: `only part of this multi-stream append was stored before: stream ${streamIds[missing]} was not`,
    details: { streamId: streamIds[missing], appendIndex: missing },
  };
}

/** True for KurrentDB's own events, which the port's global log never shows. */
export function isSystemEvent(streamId: string, type: string): boolean {
  return type.startsWith('$') || streamId.startsWith('$');
}

export function matchesFilters(streamId: string, type: string, streamPrefixes: string[], eventTypes: string[]): boolean {
  if (isSystemEvent(streamId, type)) return false;
  if (streamPrefixes.length > 0 && !streamPrefixes.some((prefix) => streamId.startsWith(prefix))) return false;
  if (eventTypes.length > 0 && !eventTypes.includes(type)) return false;
  return true;
}

/** A regular expression that matches exactly the given event types (KurrentDB's filter regex is a search, hence anchors). */
export function exactTypesRegex(eventTypes: string[]): string {
  return `^(?:${eventTypes.map((type) => type.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`;
}

/**
 * The server-side filter for a readAll: a server filter covers one dimension, so stream prefixes
 * (the common case, and the more selective one) go to the server and event types are also checked
 * client side. Without filters the server still drops system events so they are not shipped.
 */
export function serverFilterFor(streamPrefixes: string[], eventTypes: string[]): Filter {
  if (streamPrefixes.length > 0) return streamNameFilter({ prefixes: streamPrefixes });
  if (eventTypes.length > 0) return eventTypeFilter({ regex: exactTypesRegex(eventTypes) });
  return excludeSystemEvents();
}

// ---------------------------------------------------------------------------------------------
// The adapter.
// ---------------------------------------------------------------------------------------------

/** The fields of a client RecordedEvent the adapter reads, whatever its JSON/binary type parameter. */
interface StoredRecord {
  streamId: string;
  id: string;
  revision: bigint;
  type: string;
  isJson: boolean;
  data: unknown;
  metadata: unknown;
  created: Date;
  position?: Position;
}

interface StoredResolved {
  event?: unknown;
  commitPosition?: bigint;
}

interface StoredEvent {
  /** Undefined when the event is not one the port can represent (binary or non-object JSON). */
  recorded: RecordedEvent | undefined;
  streamId: string;
  type: string;
  revision: bigint;
  position: Position;
  /** The digest stored with the event; undefined for events written by other tools. */
  storedDigestHex: string | undefined;
}

function isPlainJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Uint8Array);
}

function positionOf(resolved: StoredResolved, record: StoredRecord): Position {
  if (record.position) return record.position;
  if (resolved.commitPosition !== undefined) return { commit: resolved.commitPosition, prepare: resolved.commitPosition };
  // Stream reads carry positions only from server 22.6 on; a global position cannot be made up.
  throw new Error(`KurrentDB returned event ${record.id} without a log position; the adapter needs server 22.6 or later`);
}

function toStoredEvent(resolved: StoredResolved): StoredEvent | undefined {
  // Links are not resolved (resolveLinkTos is off), so a missing event only means "nothing here".
  const record = resolved.event as StoredRecord | undefined;
  if (!record) return undefined;
  const position = positionOf(resolved, record);
  const base = { streamId: record.streamId, type: record.type, revision: record.revision, position };
  if (!record.isJson || !isPlainJsonObject(record.data)) return { ...base, recorded: undefined, storedDigestHex: undefined };
  const { metadata, schemaVersion, digestHex } = unpackMetadata(record.metadata);
  const recorded: RecordedEvent = {
    eventId: record.id.toLowerCase(),
    streamId: record.streamId,
    revision: record.revision,
    type: record.type,
    schemaVersion,
    data: record.data,
    metadata,
    recordedAt: record.created,
    globalPosition: position.commit,
  };
  return { ...base, recorded, storedDigestHex: digestHex };
}

function isStreamNotFound(error: unknown): boolean {
  return error instanceof StreamNotFoundError || (error as { type?: unknown } | null)?.type === ErrorType.STREAM_NOT_FOUND;
}

function isWrongExpectedVersion(error: unknown): error is WrongExpectedVersionError {
  return error instanceof WrongExpectedVersionError || (error as { type?: unknown } | null)?.type === ErrorType.WRONG_EXPECTED_VERSION;
}

export interface KurrentDbEventStoreOptions {
  /** Keep a live subscribeToAll that wakes this process's subscriptions on any append (default true). */
  liveWakeups?: boolean;
  /** Dispose the client in close() (default true, also for a client passed in). */
  disposeClientOnClose?: boolean;
}

type AppendAttempt = { kind: 'written'; nextExpectedRevision: bigint } | { kind: 'wrong_expected'; actual: string | undefined };
type MultiAppendAttempt =
  | { kind: 'written'; revisions: Map<string, bigint> }
  /** streamId: the stream the server named (undefined if it named none). */
  | { kind: 'wrong_expected'; streamId: string | undefined; actual: string | undefined };

/** Runs `work` over `items` with at most `limit` at a time; results in the items' order. */
async function mapLimited<T, R>(items: readonly T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next;
      next += 1;
      results[index] = await work(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, () => worker()));
  return results;
}

/**
 * The KurrentDB adapter. Validation and limits are the shared prepareAppend, so bad input fails
 * exactly as on PostgreSQL. The global position of an event is its $all commit position; a
 * subscription checkpoint is therefore a commit position. Event ids are unique per stream here,
 * not per store: KurrentDB has no global id index, so the id checks cover the target stream only.
 */
export class KurrentDbEventStore implements EventStore {
  readonly adapterName = 'kurrentdb';
  private readonly client: KurrentDBClient;
  private readonly waker = new Waker();
  private readonly subscriptions = new Set<SubscriptionHandle>();
  private live: AllStreamSubscription | undefined;
  private liveTimer: NodeJS.Timeout | undefined;
  private liveFailures = 0;
  private closed = false;

  constructor(
    connection: string | KurrentDBClient,
    private readonly options: KurrentDbEventStoreOptions = {},
  ) {
    this.client = typeof connection === 'string' ? KurrentDBClient.connectionString(connection) : connection;
  }

  async appendToStream(streamId: string, events: EventToAppend[], options: AppendOptions = {}): Promise<AppendResult> {
    const prepared = prepareAppend(streamId, events, options.expectedRevision);
    const stream = prepared.streamId;
    const expected = prepared.expected;
    const batch = prepared.events.map((event) => ({ eventId: event.eventId, digestHex: event.digest.toString('hex') }));
    const eventData = prepared.events.map(toEventData);
    // Ids the adapter generated are fresh UUIDs, so only caller-supplied ids can be stored already.
    const callerIds = prepared.events.some((_event, index) => (events[index] as EventToAppend | undefined)?.eventId !== undefined);

    if (!callerIds) {
      const attempt = await this.tryAppend(stream, eventData, toStreamState(expected));
      if (attempt.kind === 'wrong_expected') {
        throw new ConcurrencyError(stream, String(expected), attempt.actual ?? (await this.currentRevisionText(stream)));
      }
      return this.confirmAppend(stream, batch, attempt.nextExpectedRevision);
    }

    for (let attemptNumber = 1; ; attemptNumber += 1) {
      const inspection = await this.inspect(stream, batch, expected);
      if (inspection.verdict.kind === 'replay') return inspection.verdict.result;
      if (inspection.verdict.kind === 'conflict') {
        throw new EventIdConflictError(inspection.verdict.message, inspection.verdict.details);
      }
      // 'any' and 'stream_exists' pin the revision just checked, so that no append can slip in
      // between the id check and the write: KurrentDB makes the check-then-write atomic for us.
      const pinned = attemptNumber <= PINNED_APPEND_ATTEMPTS ? pinnedState(expected, inspection.lastRevision) : undefined;
      const attempt = await this.tryAppend(stream, eventData, pinned ?? toStreamState(expected));
      if (attempt.kind === 'written') return this.confirmAppend(stream, batch, attempt.nextExpectedRevision);
      // A pinned state is the adapter's own stricter check: losing that race means "check again".
      if (pinned !== undefined) continue;
      // The caller's own expectation failed. A concurrent retry of this very batch may have won.
      const again = await this.inspect(stream, batch, expected);
      if (again.verdict.kind === 'replay') return again.verdict.result;
      if (again.verdict.kind === 'conflict') throw new EventIdConflictError(again.verdict.message, again.verdict.details);
      throw new ConcurrencyError(stream, String(expected), attempt.actual ?? (await this.currentRevisionText(stream)));
    }
  }

  /**
   * Atomic over all streams through multiStreamAppend. With caller ids every stream is inspected
   * first (one read each; KurrentDB has no id index) and 'any' / 'stream_exists' streams are pinned
   * to the revision seen, exactly as a single append does, so no append slips in between the check
   * and the write; a pin that loses a race means "check again", not an error for the caller.
   */
  /**
   * A group append as a loop of single appends, one stream after another in the order given:
   * KurrentDB has no per-stream-outcome form of multiStreamAppend (it is all or nothing), and the
   * server batches its own writes, so there is no commit to share. Each stream is still answered
   * on its own; only bad input (validated for the whole call first) or a failing server throws.
   */
  async appendEach(appends: readonly StreamAppend[]): Promise<StreamAppendOutcome[]> {
    prepareMultiAppend(appends);
    const outcomes: StreamAppendOutcome[] = [];
    for (const append of appends) {
      try {
        const result = await this.appendToStream(append.streamId, append.events, { expectedRevision: append.expectedRevision ?? 'any' });
        outcomes.push({ ok: true, result });
      } catch (error) {
        if (!(error instanceof ConcurrencyError || error instanceof EventIdConflictError)) throw error;
        outcomes.push({ ok: false, error });
      }
    }
    return outcomes;
  }

  async appendToStreams(appends: readonly StreamAppend[]): Promise<AppendResult[]> {
    const parts = prepareMultiAppend(appends);
    const streamIds = parts.map((part) => part.streamId);
    const batches = parts.map((part) => part.events.map((event) => ({ eventId: event.eventId, digestHex: event.digest.toString('hex') })));
    const eventData = parts.map((part) => part.events.map(toMultiAppendEventData));
    const callerIds = parts.some((part) => part.callerIds);
    const inspectAll = async (): Promise<Array<{ verdict: IdempotencyVerdict; lastRevision: bigint | 'no_stream' | undefined }>> =>
      mapLimited(parts, MULTI_APPEND_READ_CONCURRENCY, (part, index) => this.inspect(part.streamId, batches[index]!, part.expected));

    for (let attemptNumber = 1; ; attemptNumber += 1) {
      let pins: Array<AppendStreamState | undefined> = parts.map(() => undefined);
      if (callerIds) {
        const inspections = await inspectAll();
        const verdict = judgeMultiIdempotency(streamIds, inspections.map((inspection) => inspection.verdict));
        if (verdict.kind === 'replay') return verdict.results;
        if (verdict.kind === 'conflict') throw new EventIdConflictError(verdict.message, verdict.details);
        if (attemptNumber <= PINNED_APPEND_ATTEMPTS) pins = parts.map((part, index) => pinnedState(part.expected, inspections[index]!.lastRevision));
      }
      const attempt = await this.tryMultiAppend(
        parts.map((part, index) => ({ streamName: part.streamId, events: eventData[index]!, expectedState: pins[index] ?? toStreamState(part.expected) })),
      );
      if (attempt.kind === 'written') {
        const results = await mapLimited(parts, MULTI_APPEND_READ_CONCURRENCY, (part, index) => {
          const revision = attempt.revisions.get(part.streamId);
          if (revision === undefined) throw new Error(`KurrentDB's multi-stream append answered no revision for stream ${part.streamId}`);
          return this.readBack(part.streamId, batches[index]!, revision);
        });
        this.waker.notify();
        return results;
      }
      const failedIndex = attempt.streamId === undefined ? -1 : streamIds.indexOf(attempt.streamId);
      if (failedIndex >= 0 && pins[failedIndex] !== undefined) continue;
      if (callerIds) {
        // A caller's own expectation failed; a concurrent retry of this very call may have won.
        const verdict = judgeMultiIdempotency(streamIds, (await inspectAll()).map((inspection) => inspection.verdict));
        if (verdict.kind === 'replay') return verdict.results;
        if (verdict.kind === 'conflict') throw new EventIdConflictError(verdict.message, verdict.details);
      }
      const failed = failedIndex >= 0 ? parts[failedIndex]! : await this.staleStream(parts);
      throw new ConcurrencyError(failed.streamId, String(failed.expected), (failedIndex >= 0 ? attempt.actual : undefined) ?? (await this.currentRevisionText(failed.streamId)));
    }
  }

  /** One multiStreamAppend; a wrong expected revision is an outcome here, not an exception. */
  private async tryMultiAppend(requests: AppendStreamRequest[]): Promise<MultiAppendAttempt> {
    try {
      const result = await this.client.multiStreamAppend(requests);
      return { kind: 'written', revisions: new Map(result.responses.map((response) => [response.streamName, response.revision])) };
    } catch (error) {
      if (isWrongExpectedVersion(error)) {
        const named = (error as { streamName?: unknown }).streamName;
        return { kind: 'wrong_expected', streamId: typeof named === 'string' && named !== '' ? named : undefined, actual: actualRevisionText(error.actualState) };
      }
      if (error instanceof AppendConsistencyViolationError) {
        const violation = error.violations[0];
        return { kind: 'wrong_expected', streamId: violation?.streamName, actual: violation ? actualRevisionText(violation.actualState) : undefined };
      }
      if (error instanceof MaxAppendSizeExceededError || error instanceof TransactionMaxSizeExceededError || error instanceof AppendRecordSizeExceededError) {
        throw new EventStoreValidationError('EVENTSTORE.APPEND_TOO_LARGE', `KurrentDB refused the multi-stream append as too large: ${error.message}`, {
          streams: requests.length,
        });
      }
      if ((error as { code?: unknown } | null)?.code === GRPC_UNIMPLEMENTED) {
        throw new Error(`this KurrentDB server has no multi-stream append (it needs KurrentDB 25.1 or later): ${(error as Error).message}`);
      }
      throw error;
    }
  }

  /**
   * The stream of a refused multi-stream append when the server did not name it: the first (in
   * the caller's order) whose expectation does not hold now. Only a fallback; the server names it.
   */
  private async staleStream(parts: PreparedStreamAppend[]): Promise<PreparedStreamAppend> {
    for (const part of parts) {
      if (part.expected === 'any') continue;
      const actual = await this.currentRevisionText(part.streamId);
      const holds =
        part.expected === 'no_stream' ? actual === 'no_stream' : part.expected === 'stream_exists' ? actual !== 'no_stream' : actual === part.expected.toString();
      if (!holds) return part;
    }
    return parts.find((part) => part.expected !== 'any') ?? parts[0]!;
  }

  /** Appends once; a wrong expected revision is an outcome here, not an exception. */
  private async tryAppend(streamId: string, eventData: EventData[], streamState: AppendStreamState): Promise<AppendAttempt> {
    try {
      const result = await this.client.appendToStream(streamId, eventData, { streamState });
      // A client built with throwOnAppendFailure: false reports the failure in the result instead.
      if (!result.success) return { kind: 'wrong_expected', actual: undefined };
      return { kind: 'written', nextExpectedRevision: result.nextExpectedRevision };
    } catch (error) {
      if (isWrongExpectedVersion(error)) return { kind: 'wrong_expected', actual: actualRevisionText(error.actualState) };
      if (error instanceof MaxAppendSizeExceededError || error instanceof TransactionMaxSizeExceededError) {
        // The server's size limit (1 MiB by default) can be below LIMITS.appendMaxBytes.
        throw new EventStoreValidationError('EVENTSTORE.APPEND_TOO_LARGE', `KurrentDB refused the append as too large: ${error.message}`, {
          streamId,
        });
      }
      throw error;
    }
  }

  /**
   * Reads the events just written to learn each one's global position (the append response carries
   * one position for the whole batch) and to check them: the server deduplicates by id alone, so an
   * append it treated as a duplicate of different content would otherwise pass unnoticed. When
   * the server deduplicated a batch with the same content (a concurrent retry won between our
   * check and our append), the result is the original one but idempotentReplay reads false: the
   * append response does not say whether anything was written.
   */
  private async confirmAppend(
    streamId: string,
    batch: Array<{ eventId: string; digestHex: string }>,
    nextExpectedRevision: bigint,
  ): Promise<AppendResult> {
    const result = await this.readBack(streamId, batch, nextExpectedRevision);
    this.waker.notify();
    return result;
  }

  /** confirmAppend without the wake-up, which a multi-stream append sends once for all its streams. */
  private async readBack(
    streamId: string,
    batch: Array<{ eventId: string; digestHex: string }>,
    nextExpectedRevision: bigint,
  ): Promise<AppendResult> {
    const fromRevision = nextExpectedRevision - BigInt(batch.length) + 1n;
    const stored = (await this.readStored(streamId, { direction: 'forwards', fromRevision, maxCount: batch.length })) ?? [];
    const identities = stored.flatMap(storedIdentity);
    const verdict = judgeIdempotency(streamId, batch, identities);
    if (verdict.kind === 'conflict') throw new EventIdConflictError(verdict.message, verdict.details);
    if (verdict.kind !== 'replay' || verdict.result.events.length !== batch.length || verdict.result.events[0]?.revision !== fromRevision) {
      throw new Error(`stream ${streamId}: the events at revisions ${fromRevision}..${nextExpectedRevision} are not the ones just appended`);
    }
    return { ...verdict.result, idempotentReplay: false };
  }

  /** Reads where the original write of this batch would be and judges it; also reports the stream's last revision. */
  private async inspect(
    streamId: string,
    batch: Array<{ eventId: string; digestHex: string }>,
    expected: ExpectedRevision,
  ): Promise<{ verdict: IdempotencyVerdict; lastRevision: bigint | 'no_stream' | undefined }> {
    const window = replayWindow(expected, batch.length);
    const stored = await this.readStored(streamId, window);
    if (stored === undefined) return { verdict: { kind: 'none' }, lastRevision: 'no_stream' };
    const ascending = window.direction === 'backwards' ? [...stored].reverse() : stored;
    // Only a backwards read starts at the stream's end; an empty one means the stream was truncated.
    const lastRevision = window.direction === 'backwards' ? stored[0]?.revision : undefined;
    return { verdict: judgeIdempotency(streamId, batch, ascending.flatMap(storedIdentity)), lastRevision };
  }

  private async currentRevisionText(streamId: string): Promise<string> {
    const stored = await this.readStored(streamId, { direction: 'backwards', maxCount: 1 });
    return actualRevisionText(stored?.[0]?.revision);
  }

  /** Reads a stream; undefined when the stream does not exist. */
  private async readStored(
    streamId: string,
    options: { direction: 'forwards' | 'backwards'; fromRevision?: bigint; maxCount: number },
  ): Promise<StoredEvent[] | undefined> {
    const stored: StoredEvent[] = [];
    try {
      const reader = this.client.readStream(streamId, {
        direction: options.direction === 'backwards' ? BACKWARDS : FORWARDS,
        fromRevision: options.fromRevision ?? (options.direction === 'backwards' ? END : KURRENT_START),
        maxCount: options.maxCount,
      });
      for await (const resolved of reader) {
        const event = toStoredEvent(resolved as StoredResolved);
        if (event) stored.push(event);
      }
    } catch (error) {
      if (isStreamNotFound(error)) return undefined;
      throw error;
    }
    return stored;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const { limit: maxCount, backwards, from } = validateReadStream(streamId, options);
    const stored = await this.readStored(streamId, {
      direction: backwards ? 'backwards' : 'forwards',
      ...(from === undefined ? {} : { fromRevision: from }),
      maxCount,
    });
    return (stored ?? []).map((event) => {
      if (!event.recorded) {
        throw new Error(`stream ${streamId} revision ${event.revision} is not a JSON object event; it was not written through this port`);
      }
      return event.recorded;
    });
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    const after = options.after ?? START;
    if (typeof after !== 'bigint' || after < START) {
      throw new EventStoreValidationError('EVENTSTORE.POSITION_INVALID', 'after must be a bigint position or START');
    }
    const limit = clampLimit(options.limit, 1000, READ_LIMIT_MAX);
    const prefixes = options.streamPrefixes ?? [];
    const types = options.eventTypes ?? [];
    if (prefixes.length > 100 || types.length > 100) {
      throw new EventStoreValidationError('EVENTSTORE.FILTER_TOO_LARGE', 'at most 100 stream prefixes and 100 event types');
    }
    const filter = serverFilterFor(prefixes, types);
    // One event more than the page: the read is inclusive of `after`, which was delivered already.
    let requested = limit + 1;
    for (;;) {
      const scanned: Array<ScannedEvent<RecordedEvent>> = [];
      let fetched = 0;
      for await (const resolved of this.client.readAll({ fromPosition: readPositionAfter(after), direction: FORWARDS, maxCount: requested, filter })) {
        fetched += 1;
        const event = toStoredEvent(resolved as StoredResolved);
        if (!event) continue;
        const visible = event.recorded !== undefined && matchesFilters(event.streamId, event.type, prefixes, types);
        scanned.push({ commit: event.position.commit, prepare: event.position.prepare, item: visible ? event.recorded : undefined });
      }
      const outcome = pageFromScan(scanned, after, limit, fetched < requested);
      if (outcome.kind === 'page') return { events: outcome.events, nextAfter: outcome.nextAfter, isEnd: outcome.isEnd };
      if (requested >= READ_AHEAD_MAX_EVENTS) {
        throw new Error(`a legacy KurrentDB transaction after position ${after} is larger than ${READ_AHEAD_MAX_EVENTS} events`);
      }
      requested = Math.min(requested * 4, READ_AHEAD_MAX_EVENTS);
    }
  }

  subscribe(options: SubscribeOptions): SubscriptionHandle {
    if (this.closed) throw new Error('event store is closed');
    if (this.options.liveWakeups !== false) this.startLive();
    const handle = runSubscription((read) => this.readAll(read), this.waker, options);
    this.subscriptions.add(handle);
    return {
      stop: async () => {
        this.subscriptions.delete(handle);
        if (this.subscriptions.size === 0) this.stopLive();
        await handle.stop();
      },
    };
  }

  /**
   * Starts the live subscription that turns appends by any process into wake-ups. It reads from the
   * end and carries no data the subscriptions use: they always read through readAll, so a missed
   * wake-up only costs a poll interval.
   */
  private startLive(): void {
    if (this.closed || this.live || this.liveTimer) return;
    const live = this.client.subscribeToAll({ fromPosition: END, filter: excludeSystemEvents() });
    this.live = live;
    let over = false;
    const restart = (): void => {
      if (over) return;
      over = true;
      if (this.live === live) this.live = undefined;
      live.unsubscribe().catch(() => undefined);
      if (this.closed || this.subscriptions.size === 0) return;
      // The client never resubscribes by itself, so the adapter does, with exponential back-off.
      this.liveFailures += 1;
      const delayMs = Math.min(LIVE_RESUBSCRIBE_MAX_MS, LIVE_RESUBSCRIBE_MIN_MS * 2 ** Math.min(this.liveFailures, 10));
      this.liveTimer = setTimeout(() => {
        this.liveTimer = undefined;
        this.startLive();
      }, delayMs);
      this.liveTimer.unref();
    };
    live.on('confirmation', () => {
      this.liveFailures = 0;
      // Appends made while no live subscription was open sent no wake-up; look once now.
      this.waker.notify();
    });
    live.on('data', () => this.waker.notify());
    live.on('error', restart);
    live.on('end', restart);
    live.on('close', restart);
  }

  private stopLive(): void {
    if (this.liveTimer) clearTimeout(this.liveTimer);
    this.liveTimer = undefined;
    const live = this.live;
    this.live = undefined;
    // Removing the listeners first keeps the stop from scheduling a resubscription.
    live?.removeAllListeners();
    live?.on('error', () => undefined);
    live?.unsubscribe().catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopLive();
    await Promise.all([...this.subscriptions].map((handle) => handle.stop()));
    this.subscriptions.clear();
    if (this.options.disposeClientOnClose !== false) await this.client.dispose();
  }
}

function toEventData(event: PreparedEvent): EventData {
  return jsonEvent({
    id: event.eventId,
    type: event.type,
    data: event.data,
    metadata: packMetadata(event.metadata, event.schemaVersion, event.digest.toString('hex')),
  });
}

/** As toEventData, with the metadata packed into one string (see PACKED_METADATA_KEY). */
function toMultiAppendEventData(event: PreparedEvent): EventData {
  return jsonEvent({
    id: event.eventId,
    type: event.type,
    data: event.data,
    metadata: packMetadataForMultiAppend(event.metadata, event.schemaVersion, event.digest.toString('hex')),
  });
}

function storedIdentity(event: StoredEvent): StoredIdentity[] {
  const recorded = event.recorded;
  if (!recorded) return [];
  // Events written without a stored digest (by other tools) are judged by recomputing it.
  const digestHex = event.storedDigestHex ?? contentDigest(recorded).toString('hex');
  return [{ eventId: recorded.eventId, revision: event.revision, globalPosition: event.position.commit, digestHex }];
}

/**
 * The stream state an id-checked append is written with: for 'any' and 'stream_exists' the
 * revision the check saw (so a concurrent append makes this one fail and re-check instead of
 * slipping past the check); for exact revisions and 'no_stream' the caller's own state.
 */
function pinnedState(expected: ExpectedRevision, lastRevision: bigint | 'no_stream' | undefined): AppendStreamState | undefined {
  if (expected !== 'any' && expected !== 'stream_exists') return undefined;
  if (lastRevision === undefined) return undefined;
  if (lastRevision === 'no_stream') return expected === 'any' ? NO_STREAM : undefined;
  return lastRevision;
}
