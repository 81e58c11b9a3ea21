import { randomUUID } from 'node:crypto';
import type { Database } from '../../infra/database';
import { NaturalBatcher } from '../../infra/natural-batcher';
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
import { clampLimit, LIMITS, prepareAppend, prepareMultiAppend, validateReadStream, type PreparedEvent, type PreparedStreamAppend } from '../validation';

export const NOTIFY_CHANNEL = 'ul_events';
/** A filtered read looks at most this many rows per call, so a rare filter cannot scan the whole log at once. */
const FILTER_SCAN_ROWS = 10_000;
/**
 * Forward stream reads gathered into one statement (readStream): the command handler reads a
 * stream whenever its cache cannot decide (a member's first command since the process started, a
 * refusal to confirm), which bench:checkin measured at about one read per check-in on a fresh
 * process. At most STREAM_READ_BATCH_MAX reads share a statement, each of at most
 * STREAM_READ_BATCHED_LIMIT events (the command handler's page), so a statement answers at most
 * 32,000 rows; a read that asks for more goes in a statement of its own.
 */
const STREAM_READ_BATCH_MAX = 32;
const STREAM_READ_BATCHED_LIMIT = 1000;
/** A forward stream read waiting for its statement (readStream). */
interface StreamRead {
  streamId: string;
  from: bigint;
  limit: number;
}

/** Cross-process wake-ups are coalesced to at most one NOTIFY per this interval per process. */
const NOTIFY_MIN_INTERVAL_MS = 25;
const LISTEN_RECONNECT_MS = 1000;
const KNOWN_POSITIONS_MAX = 1024;

interface EventRow {
  global_position: string;
  stream_id: string;
  stream_revision: string;
  event_id: string;
  event_type: string;
  schema_version: number;
  data: JsonObject;
  metadata: EventMetadata;
  recorded_ms: string;
}


/** [expression, name] of the columns an event is read with. */
const EVENT_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['global_position', 'global_position'],
  ['stream_id', 'stream_id'],
  ['stream_revision', 'stream_revision'],
  ['event_id', 'event_id'],
  ['event_type', 'event_type'],
  ['schema_version', 'schema_version'],
  ['data', 'data'],
  ['metadata', 'metadata'],
  // Epoch milliseconds: parsing timestamptz text costs more than the JSON of a small event.
  ['(extract(epoch FROM recorded_at) * 1000)::bigint', 'recorded_ms'],
];
const EVENT_COLUMNS = EVENT_FIELDS.map(([expression, name]) => (expression === name ? name : `${expression} AS ${name}`)).join(', ');
/** The same columns taken from `ul_events e` in a join. */
const JOINED_EVENT_COLUMNS = EVENT_FIELDS.map(([expression, name]) =>
  expression === name ? `e.${name}` : `${expression.replace('recorded_at', 'e.recorded_at')} AS ${name}`,
).join(', ');

function toRecordedEvent(row: EventRow): RecordedEvent {
  return {
    eventId: row.event_id,
    streamId: row.stream_id,
    revision: BigInt(row.stream_revision),
    type: row.event_type,
    schemaVersion: row.schema_version,
    data: row.data,
    metadata: row.metadata,
    recordedAt: new Date(Number(row.recorded_ms)),
    globalPosition: BigInt(row.global_position),
  };
}

function expectedParts(expected: ExpectedRevision): [kind: string, revision: string | null] {
  return typeof expected === 'bigint' ? ['exact', expected.toString()] : [expected, null];
}

/** ul_append's p_events: the events as one JSON array, built from the JSON validation produced. */
function eventsPayload(events: PreparedEvent[]): string {
  return `[${events
    .map(
      (event) =>
        `{"id":${JSON.stringify(event.eventId)},"type":${JSON.stringify(event.type)},"v":${event.schemaVersion},` +
        `"data":${event.dataJson},"meta":${event.metadataJson},"digest":"${event.digest.toString('hex')}"}`,
    )
    .join(',')}]`;
}

/**
 * A multi-stream append: ul_append once per stream, in one statement and so in one implicit
 * transaction. The streams come sorted by id, and the lateral calls run in that order (the join
 * can only be a nested loop driven by the unnest, which yields its rows in array order; EXPLAIN
 * and the "evaluates in stream order" test show it), so every multi-append takes its stream
 * locks in the same order and two of them over overlapping streams cannot deadlock. $4 holds
 * each stream's events, in the same order, as one JSON array (no text[] escaping of JSON).
 */
const MULTI_APPEND_SQL = `SELECT a.ord, r.out_event_id, r.out_revision, r.out_position
  FROM unnest($1::text[], $2::text[], $3::bigint[]) WITH ORDINALITY AS a(stream_id, kind, revision, ord)
  CROSS JOIN LATERAL ul_append(a.stream_id, a.kind, a.revision, $4::jsonb -> (a.ord::integer - 1)) AS r`;

/** Orders stream ids by UTF-16 code units: the same order in every process, whatever the locale. */
function byStreamId(a: { streamId: string }, b: { streamId: string }): number {
  if (a.streamId === b.streamId) return 0;
  return a.streamId < b.streamId ? -1 : 1;
}

interface StoredIdRow {
  event_id: string;
  stream_revision: string;
  global_position: string;
  content_digest: Buffer;
}

/**
 * The original result of `events` when every one is stored with the same content (the digest
 * covers the stream id) at consecutive revisions in the same order; undefined otherwise.
 */
function storedResult(events: PreparedEvent[], byId: Map<string, StoredIdRow>): AppendResult | undefined {
  const matches = events.map((event) => byId.get(event.eventId));
  const first = matches[0];
  const whole =
    first !== undefined &&
    matches.every(
      (row, index) =>
        row !== undefined &&
        row.content_digest.equals(events[index]!.digest) &&
        BigInt(row.stream_revision) === BigInt(first.stream_revision) + BigInt(index),
    );
  if (!whole) return undefined;
  const last = matches[matches.length - 1]!;
  return {
    nextExpectedRevision: BigInt(last.stream_revision),
    lastPosition: BigInt(last.global_position),
    events: matches.map((row) => ({ eventId: row!.event_id, revision: BigInt(row!.stream_revision), globalPosition: BigInt(row!.global_position) })),
    idempotentReplay: true,
  };
}

function escapeLike(prefix: string): string {
  return prefix.replace(/[\\%_]/g, (char) => `\\${char}`);
}

interface PgError {
  code?: string;
  constraint?: string;
  detail?: string;
}

/**
 * ul_append_each (migration 11): every stream's part in one statement, answered per stream. The
 * streams come sorted by id, as for MULTI_APPEND_SQL, and the function takes them in array order.
 */
const APPEND_EACH_SQL = `SELECT out_ord, out_status, out_event_id, out_revision, out_position
  FROM ul_append_each($1::text[], $2::text[], $3::bigint[], $4::boolean[], $5::jsonb)`;

interface AppendEachRow {
  out_ord: number;
  out_status: 'appended' | 'conflict' | 'stored';
  out_event_id: string | null;
  out_revision: string | null;
  out_position: string | null;
}

export interface GroupCommitOptions {
  /** Appends gathered into one statement at most (default 256; at most LIMITS.streamsPerMultiAppend). */
  maxBatch?: number;
  /**
   * Group statements in flight at once (default 2). Appends that arrive while every slot is busy
   * wait for the next free one and go together: the wait is at most one statement's time, and
   * under no load an append goes alone, at once, through ul_append as without group commit.
   */
  maxInFlight?: number;
}

export interface PostgresEventStoreOptions {
  /** Open a LISTEN connection for cross-process wake-ups when the first subscription starts (default true). */
  listen?: boolean;
  /**
   * Group commit for appendToStream: concurrent single appends to different streams are gathered
   * and written by one appendEach statement, one transaction and one commit for all of them, each
   * answered as if it had been appended alone. Off when omitted.
   */
  groupCommit?: GroupCommitOptions | false;
}

export interface GroupCommitStats {
  /** Group statements started (a group of one counts: it is ul_append's statement). */
  statements: number;
  /** Appends those statements carried. */
  appends: number;
  /** Groups whose statement failed as a whole and whose appends were retried alone. */
  fallbacks: number;
}

/** A single append waiting in the group-commit queue, validated already. */
interface PendingAppend {
  part: PreparedStreamAppend;
  resolve(result: AppendResult): void;
  reject(error: unknown): void;
}

/** The group statement itself failed (so it wrote nothing), as opposed to what came after it. */
class GroupStatementFailed extends Error {
  constructor(override readonly cause: unknown) {
    super('the group append statement failed');
  }
}

const DEFAULT_GROUP_MAX_BATCH = 256;
const DEFAULT_GROUP_MAX_IN_FLIGHT = 2;
/** Appends waiting for a group at most; beyond it callers queue on the promise of a slot (bounded memory). */
const GROUP_QUEUE_MAX = 100_000;
/** Waiting appends looked at per group formed. */
const GROUP_SCAN_MAX = 4096;

/**
 * The PostgreSQL adapter. Appends run in one round trip through the ul_append function
 * (migration 1), which locks the stream, checks idempotency and the expected revision, and
 * extends the stream's hash chain. The global feed is ordered by (transaction_id, global_position)
 * and readers only see rows below pg_snapshot_xmin, so no reader skips a slow writer's events.
 */
export class PostgresEventStore implements EventStore {
  readonly adapterName = 'postgres';
  private readonly waker = new Waker();
  private notifyPending = false;
  private lastNotifyAtMs = 0;
  private listener: { done(): void } | undefined;
  private listenerStarting = false;
  private closed = false;
  private readonly subscriptions = new Set<SubscriptionHandle>();
  private readonly knownPositions = new Set<bigint>();
  /** Payload of this instance's NOTIFYs, so it can ignore its own (it woke its subscriptions already). */
  private readonly notifierId = randomUUID();
  private readonly groupQueue: PendingAppend[] = [];
  private groupsInFlight = 0;
  private pumpScheduled = false;
  private readonly streamsInFlight = new Set<string>();
  private readonly groupMaxBatch: number;
  private readonly groupMaxInFlight: number;
  private readonly groupCounts: GroupCommitStats = { statements: 0, appends: 0, fallbacks: 0 };
  private readonly streamReads = new NaturalBatcher<StreamRead, RecordedEvent[]>((reads) => this.readStreamsAtOnce(reads), STREAM_READ_BATCH_MAX);

  constructor(
    private readonly db: Database,
    private readonly options: PostgresEventStoreOptions = {},
  ) {
    const group = options.groupCommit || {};
    this.groupMaxBatch = Math.min(LIMITS.streamsPerMultiAppend, Math.max(1, Math.floor(group.maxBatch ?? DEFAULT_GROUP_MAX_BATCH)));
    this.groupMaxInFlight = Math.max(1, Math.floor(group.maxInFlight ?? DEFAULT_GROUP_MAX_IN_FLIGHT));
  }

  async appendToStream(streamId: string, events: EventToAppend[], options: AppendOptions = {}): Promise<AppendResult> {
    const prepared = prepareAppend(streamId, events, options.expectedRevision);
    const callerIds = events.some((event) => event?.eventId !== undefined);
    if (!this.options.groupCommit) return this.appendOne(prepared, callerIds);
    if (this.groupQueue.length >= GROUP_QUEUE_MAX) throw new Error(`group commit queue is full (${GROUP_QUEUE_MAX} appends waiting)`);
    return new Promise<AppendResult>((resolve, reject) => {
      this.groupQueue.push({ part: { index: 0, ...prepared, callerIds }, resolve, reject });
      this.schedulePump();
    });
  }

  /**
   * Forms groups once the current turn of the event loop is over, not at each append: the appends
   * that callers make in one turn (typically the callers a finished group just answered, each
   * making its next append) then leave together instead of the first leaving alone in a group of
   * one and the others waiting for the next free slot. setImmediate runs once the turn's promise
   * callbacks are done, in the same iteration of the loop, so an append on an idle store still
   * leaves at once (no timer).
   */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pumpGroups();
    });
  }

  /** Counters of group commit since this store was made (how well appends gather; see bench:eventstore). */
  groupCommitStats(): Readonly<GroupCommitStats> {
    return { ...this.groupCounts };
  }

  /**
   * Starts a group while a slot is free: the waiting appends in arrival order, one per stream, at
   * most groupMaxBatch. A stream may appear once per statement, and an append to a stream that a
   * group in flight writes waits for that group to end: so one process's appends to one stream
   * are written in the order they came, and a group never waits in PostgreSQL for a lock that
   * another group of this process holds (which would stall all its other streams). A group of
   * one goes through ul_append, the single append's path.
   */
  private pumpGroups(): void {
    while (this.groupsInFlight < this.groupMaxInFlight && this.groupQueue.length > 0) {
      // The waiting appends are shared evenly among the free slots. Taken all at once, they would
      // leave and come back together, and the answered callers' next appends would again all
      // leave together: one group in flight at a time, PostgreSQL idle while this process prepares
      // the next group and this process idle while PostgreSQL runs it. Two half groups alternate
      // instead, and each side works on one while the other is away.
      const share = Math.ceil(this.groupQueue.length / (this.groupMaxInFlight - this.groupsInFlight));
      const batch: PendingAppend[] = [];
      const streams = new Set<string>();
      const eventIds = new Set<string>();
      let bytes = 0;
      let events = 0;
      // The scan is bounded too: a queue full of appends to one hot stream costs no quadratic time.
      for (let index = 0, scanned = 0; index < this.groupQueue.length && batch.length < this.groupMaxBatch && batch.length < share && scanned < GROUP_SCAN_MAX; scanned += 1) {
        const pending = this.groupQueue[index]!;
        const size = pending.part.events.reduce((sum, event) => sum + event.dataJson.length + event.metadataJson.length, 0);
        const fits =
          !streams.has(pending.part.streamId) &&
          !this.streamsInFlight.has(pending.part.streamId) &&
          !pending.part.events.some((event) => eventIds.has(event.eventId)) &&
          (batch.length === 0 || (bytes + size <= LIMITS.multiAppendMaxBytes && events + pending.part.events.length <= LIMITS.eventsPerMultiAppend));
        if (!fits) {
          index += 1;
          continue;
        }
        this.groupQueue.splice(index, 1);
        batch.push(pending);
        streams.add(pending.part.streamId);
        for (const event of pending.part.events) eventIds.add(event.eventId);
        bytes += size;
        events += pending.part.events.length;
      }
      if (batch.length === 0) return; // Every waiting append is to a stream a group in flight writes.
      this.groupCounts.statements += 1;
      this.groupCounts.appends += batch.length;
      this.groupsInFlight += 1;
      for (const stream of streams) this.streamsInFlight.add(stream);
      void this.runGroup(batch).finally(() => {
        this.groupsInFlight -= 1;
        for (const stream of streams) this.streamsInFlight.delete(stream);
        this.schedulePump();
      });
    }
  }

  private async runGroup(batch: PendingAppend[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [PendingAppend];
      await this.appendOne(only.part, only.part.callerIds).then(only.resolve, only.reject);
      return;
    }
    let outcomes: StreamAppendOutcome[];
    try {
      outcomes = await this.appendPrepared(batch.map((pending, index) => ({ ...pending.part, index })));
    } catch (error) {
      if (!(error instanceof GroupStatementFailed)) {
        // After the statement (looking up stored ids failed): what was written stays written, and
        // each caller learns that its answer is unknown, as from a lost connection.
        for (const pending of batch) pending.reject(error);
        return;
      }
      // The statement failed as a whole and wrote nothing: an event id being stored concurrently
      // under another stream (a reused command id), a deadlock of colliding lock hashes, a lost
      // connection. Each append then goes alone, and gets its own answer or error.
      this.groupCounts.fallbacks += 1;
      await Promise.all(batch.map((pending) => this.appendOne(pending.part, pending.part.callerIds).then(pending.resolve, pending.reject)));
      return;
    }
    batch.forEach((pending, index) => {
      const outcome = outcomes[index]!;
      if (outcome.ok) pending.resolve(outcome.result);
      else pending.reject(outcome.error);
    });
  }

  /** One append through ul_append, in its own statement. */
  private async appendOne(prepared: { streamId: string; events: PreparedEvent[]; expected: ExpectedRevision }, callerIds: boolean): Promise<AppendResult> {
    const [kind, revision] = expectedParts(prepared.expected);
    const payload = eventsPayload(prepared.events);
    let rows: Array<{ out_event_id: string; out_revision: string; out_position: string }>;
    try {
      rows = await this.db.any({
        name: 'ul-append',
        text: 'SELECT out_event_id, out_revision, out_position FROM ul_append($1, $2, $3, $4::jsonb)',
        values: [prepared.streamId, kind, revision, payload],
      });
    } catch (error) {
      const translated = this.translateAppendError(error, prepared.streamId, prepared.expected);
      // A repeated append fails on the revision or on the unique event id; with ids of the
      // caller's own, the stored copies decide whether it is a replay or a conflict.
      if (callerIds && (translated instanceof ConcurrencyError || translated instanceof EventIdConflictError)) {
        const replay = await this.replayOrConflict(prepared.streamId, prepared.events);
        if (replay) return replay;
      }
      throw translated;
    }
    const last = rows[rows.length - 1];
    if (!last) throw new Error(`ul_append returned no rows for ${prepared.streamId}`);
    this.announceAppend();
    return {
      nextExpectedRevision: BigInt(last.out_revision),
      lastPosition: BigInt(last.out_position),
      events: rows.map((row) => ({
        eventId: row.out_event_id,
        revision: BigInt(row.out_revision),
        globalPosition: BigInt(row.out_position),
      })),
      idempotentReplay: false,
    };
  }

  /**
   * The original result when every event id is stored with the same content at consecutive
   * revisions in the same order; undefined when none is stored (the original error stands);
   * EventIdConflictError for anything in between.
   */
  private async replayOrConflict(streamId: string, events: PreparedEvent[]): Promise<AppendResult | undefined> {
    const stored = await this.storedIds(events.map((event) => event.eventId));
    if (stored.size === 0) return undefined;
    const replay = storedResult(events, stored);
    if (!replay) {
      throw new EventIdConflictError(`stream ${streamId}: event ids already stored with different content or in another batch`, {
        streamId,
        storedIds: stored.size,
        appendedIds: events.length,
      });
    }
    return replay;
  }

  private async storedIds(eventIds: string[]): Promise<Map<string, StoredIdRow>> {
    const stored = await this.db.any<StoredIdRow>(
      'SELECT event_id, stream_revision, global_position, content_digest FROM ul_events WHERE event_id = ANY($1::uuid[])',
      [eventIds],
    );
    return new Map(stored.map((row) => [row.event_id, row]));
  }

  async appendToStreams(appends: readonly StreamAppend[]): Promise<AppendResult[]> {
    const parts = prepareMultiAppend(appends);
    // Every multi-append takes its stream locks in stream-id order (see MULTI_APPEND_SQL).
    const ordered = [...parts].sort(byStreamId);
    const expected = ordered.map((part) => expectedParts(part.expected));
    let rows: Array<{ ord: string; out_event_id: string; out_revision: string; out_position: string }>;
    try {
      rows = await this.db.any({
        name: 'ul-append-many',
        text: MULTI_APPEND_SQL,
        values: [
          ordered.map((part) => part.streamId),
          expected.map(([kind]) => kind),
          expected.map(([, revision]) => revision),
          `[${ordered.map((part) => eventsPayload(part.events)).join(',')}]`,
        ],
      });
    } catch (error) {
      const translated = this.translateMultiAppendError(error, ordered);
      // As for a single append: a repeated call fails on a revision or on a unique event id, and
      // only then are the ids looked up, for the whole call at once.
      const callerIds = parts.some((part) => part.callerIds);
      if (callerIds && (translated instanceof ConcurrencyError || translated instanceof EventIdConflictError)) {
        const replay = await this.replayOrConflictMany(parts);
        if (replay) return replay;
      }
      throw translated;
    }
    const byOrd = new Map<number, typeof rows>();
    for (const row of rows) {
      const ord = Number(row.ord);
      const group = byOrd.get(ord);
      if (group) group.push(row);
      else byOrd.set(ord, [row]);
    }
    const results: AppendResult[] = new Array<AppendResult>(parts.length);
    ordered.forEach((part, position) => {
      const group = (byOrd.get(position + 1) ?? []).sort((a, b) => Number(BigInt(a.out_revision) - BigInt(b.out_revision)));
      const last = group[group.length - 1];
      if (!last || group.length !== part.events.length) {
        throw new Error(`invariant violated: ul_append returned ${group.length} rows for the ${part.events.length} events of ${part.streamId}`);
      }
      results[part.index] = {
        nextExpectedRevision: BigInt(last.out_revision),
        lastPosition: BigInt(last.out_position),
        events: group.map((row) => ({ eventId: row.out_event_id, revision: BigInt(row.out_revision), globalPosition: BigInt(row.out_position) })),
        idempotentReplay: false,
      };
    });
    // One wake-up for the whole call.
    this.announceAppend();
    return results;
  }

  async appendEach(appends: readonly StreamAppend[]): Promise<StreamAppendOutcome[]> {
    try {
      return await this.appendPrepared(prepareMultiAppend(appends));
    } catch (error) {
      throw error instanceof GroupStatementFailed ? error.cause : error;
    }
  }

  /**
   * ul_append_each over validated parts (`index` = the part's place in the answer). Streams whose
   * ids were stored already are looked up together afterwards, as a failed single append's are,
   * and answered with their original result or an EventIdConflictError.
   */
  private async appendPrepared(parts: PreparedStreamAppend[]): Promise<StreamAppendOutcome[]> {
    // The same lock order as every multi-append (see MULTI_APPEND_SQL).
    const ordered = [...parts].sort(byStreamId);
    const expected = ordered.map((part) => expectedParts(part.expected));
    let rows: AppendEachRow[];
    try {
      rows = await this.db.any<AppendEachRow>({
        name: 'ul-append-each',
        text: APPEND_EACH_SQL,
        values: [
          ordered.map((part) => part.streamId),
          expected.map(([kind]) => kind),
          expected.map(([, revision]) => revision),
          ordered.map((part) => part.callerIds),
          `[${ordered.map((part) => eventsPayload(part.events)).join(',')}]`,
        ],
      });
    } catch (error) {
      throw new GroupStatementFailed(error);
    }
    const byOrd = new Map<number, AppendEachRow[]>();
    for (const row of rows) {
      const group = byOrd.get(row.out_ord);
      if (group) group.push(row);
      else byOrd.set(row.out_ord, [row]);
    }
    const outcomes: StreamAppendOutcome[] = new Array<StreamAppendOutcome>(parts.length);
    const stored: PreparedStreamAppend[] = [];
    let appended = false;
    ordered.forEach((part, position) => {
      const group = byOrd.get(position + 1) ?? [];
      const status = group[0]?.out_status;
      if (status === 'conflict' && group.length === 1) {
        const actual = group[0]!.out_revision;
        outcomes[part.index] = { ok: false, error: new ConcurrencyError(part.streamId, String(part.expected), actual ?? 'no_stream') };
      } else if (status === 'stored' && group.length === 1) {
        stored.push(part);
      } else if (status === 'appended' && group.length === part.events.length && group.every((row) => row.out_status === 'appended')) {
        appended = true;
        const last = group[group.length - 1]!;
        outcomes[part.index] = {
          ok: true,
          result: {
            nextExpectedRevision: BigInt(last.out_revision!),
            lastPosition: BigInt(last.out_position!),
            events: group.map((row) => ({ eventId: row.out_event_id!, revision: BigInt(row.out_revision!), globalPosition: BigInt(row.out_position!) })),
            idempotentReplay: false,
          },
        };
      } else {
        throw new Error(`invariant violated: ul_append_each answered ${group.length} rows (${status ?? 'none'}) for the ${part.events.length} events of ${part.streamId}`);
      }
    });
    if (appended) this.announceAppend();
    if (stored.length > 0) {
      const byId = await this.storedIds(stored.flatMap((part) => part.events.map((event) => event.eventId)));
      for (const part of stored) {
        const replay = storedResult(part.events, byId);
        outcomes[part.index] = replay
          ? { ok: true, result: replay }
          : {
              ok: false,
              error: new EventIdConflictError(`stream ${part.streamId}: event ids already stored with different content or in another batch`, {
                streamId: part.streamId,
                appendIndex: part.index,
              }),
            };
      }
    }
    return outcomes;
  }

  /**
   * The multi-stream form of replayOrConflict, over the whole call: every event of every stream
   * stored as that stream's original append -> the original results, in the caller's order; none
   * stored -> undefined (the original error stands); anything else -> EventIdConflictError naming
   * the first stream (in the caller's order) that is not stored whole.
   */
  private async replayOrConflictMany(parts: PreparedStreamAppend[]): Promise<AppendResult[] | undefined> {
    const eventIds = parts.flatMap((part) => part.events.map((event) => event.eventId));
    const stored = await this.storedIds(eventIds);
    if (stored.size === 0) return undefined;
    return parts.map((part) => {
      const replay = storedResult(part.events, stored);
      if (!replay) {
        throw new EventIdConflictError(
          `stream ${part.streamId}: event ids of this call already stored with different content, in another batch, or only part of the call stored`,
          { streamId: part.streamId, appendIndex: part.index, storedIds: stored.size, appendedIds: eventIds.length },
        );
      }
      return replay;
    });
  }

  /** translateAppendError for a multi-stream append: finds the stream each error is about. */
  private translateMultiAppendError(error: unknown, parts: PreparedStreamAppend[]): unknown {
    const pgError = error as PgError & { hint?: string };
    const partOf = (streamId: string | undefined): PreparedStreamAppend | undefined => parts.find((part) => part.streamId === streamId);
    if (pgError.code === 'UL409') {
      // ul_append names the stream in HINT (migration 10).
      const part = partOf(pgError.hint);
      if (!part) return new Error(`invariant violated: ul_append raised a wrong expected revision without naming a stream of this call (${pgError.hint ?? 'no hint'})`);
      return new ConcurrencyError(part.streamId, String(part.expected), pgError.detail ?? 'unknown');
    }
    if (pgError.code === '23505' && pgError.constraint === 'ul_events_event_id_key') {
      // "Key (event_id)=(<uuid>) already exists."
      const eventId = /=\(([0-9a-f-]{36})\)/i.exec(pgError.detail ?? '')?.[1]?.toLowerCase();
      const part = parts.find((candidate) => candidate.events.some((event) => event.eventId === eventId));
      return new EventIdConflictError(`stream ${part?.streamId ?? '?'}: event id ${eventId ?? '?'} is already stored`, {
        streamId: part?.streamId,
        eventId,
      });
    }
    if (pgError.code === '23505' && pgError.constraint === 'ul_events_stream_revision_key') {
      // Only reachable if two writers bypass the advisory lock. "Key (stream_id, stream_revision)=(<id>, <n>) already exists."
      const streamId = /=\((.*), \d+\)/.exec(pgError.detail ?? '')?.[1];
      const part = partOf(streamId);
      return new ConcurrencyError(part?.streamId ?? streamId ?? '?', part ? String(part.expected) : '?', 'changed concurrently');
    }
    return error;
  }

  private translateAppendError(error: unknown, streamId: string, expected: ExpectedRevision): unknown {
    const pgError = error as PgError;
    if (pgError.code === 'UL409') {
      return new ConcurrencyError(streamId, String(expected), pgError.detail ?? 'unknown');
    }
    if (pgError.code === '23505' && pgError.constraint === 'ul_events_event_id_key') {
      return new EventIdConflictError(`stream ${streamId}: an event id is already stored in another stream`, { streamId });
    }
    if (pgError.code === '23505' && pgError.constraint === 'ul_events_stream_revision_key') {
      // Only reachable if two writers bypass the advisory lock; report it as the race it is.
      return new ConcurrencyError(streamId, String(expected), 'changed concurrently');
    }
    return error;
  }

  /**
   * Forward reads that arrive while another forward read runs go together in the next statement
   * (natural batching: a lone read still goes at once, and each read's statement starts after it
   * was asked, so it sees everything committed before). Backward reads and reads of more than
   * STREAM_READ_BATCHED_LIMIT events go alone.
   */
  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<RecordedEvent[]> {
    const checked = validateReadStream(streamId, options);
    if (!checked.backwards && checked.limit <= STREAM_READ_BATCHED_LIMIT) {
      return this.streamReads.submit({ streamId: checked.streamId, from: checked.from ?? 0n, limit: checked.limit });
    }
    return this.readStreamAlone(checked);
  }

  /** Reads counted since this store was made: statements and the stream reads they carried (see readStream). */
  streamReadStats(): Readonly<{ statements: number; reads: number }> {
    return { statements: this.streamReads.stats.batches, reads: this.streamReads.stats.items };
  }

  private async readStreamsAtOnce(reads: StreamRead[]): Promise<RecordedEvent[][]> {
    if (reads.length === 1) {
      const [read] = reads as [StreamRead];
      return [await this.readStreamAlone({ streamId: read.streamId, from: read.from, limit: read.limit, backwards: false })];
    }
    // One index range scan per read (ul_events' (stream_id, stream_revision) key), each with its own limit.
    const rows = await this.db.any<EventRow & { ord: string }>(
      `SELECT r.ord, e.* FROM unnest($1::text[], $2::bigint[], $3::int[]) WITH ORDINALITY AS r(stream_id, from_revision, max_count, ord)
        CROSS JOIN LATERAL (
          SELECT ${EVENT_COLUMNS} FROM ul_events
           WHERE stream_id = r.stream_id AND stream_revision >= r.from_revision
           ORDER BY stream_revision ASC LIMIT r.max_count) e
        ORDER BY r.ord, e.stream_revision`,
      [reads.map((read) => read.streamId), reads.map((read) => read.from.toString()), reads.map((read) => read.limit)],
    );
    const answers: RecordedEvent[][] = reads.map(() => []);
    for (const row of rows) answers[Number(row.ord) - 1]!.push(toRecordedEvent(row));
    return answers;
  }

  private async readStreamAlone({ streamId, limit, backwards, from }: ReturnType<typeof validateReadStream>): Promise<RecordedEvent[]> {
    const rows = await this.db.any<EventRow>(
      `SELECT ${EVENT_COLUMNS} FROM ul_events
        WHERE stream_id = $1 AND ($2::bigint IS NULL OR stream_revision ${backwards ? '<=' : '>='} $2::bigint)
        ORDER BY stream_revision ${backwards ? 'DESC' : 'ASC'} LIMIT $3`,
      [streamId, from === undefined ? null : from.toString(), limit],
    );
    return rows.map(toRecordedEvent);
  }

  async readAll(options: ReadAllOptions = {}): Promise<ReadAllResult> {
    const after = options.after ?? START;
    if (typeof after !== 'bigint' || after < START) {
      throw new EventStoreValidationError('EVENTSTORE.POSITION_INVALID', 'after must be a bigint position or START');
    }
    const limit = clampLimit(options.limit, 1000, READ_LIMIT_MAX);
    const prefixes = options.streamPrefixes ?? [];
    const types = options.eventTypes ?? [];
    const filtered = prefixes.length > 0 || types.length > 0;
    if (prefixes.length > 100 || types.length > 100) {
      throw new EventStoreValidationError('EVENTSTORE.FILTER_TOO_LARGE', 'at most 100 stream prefixes and 100 event types');
    }
    const feedAfter = `transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            AND ($1::bigint < 0 OR (transaction_id, global_position) >
                 ((SELECT transaction_id FROM ul_events WHERE global_position = $1::bigint), $1::bigint))`;
    if (!filtered) {
      const rows = await this.db.any<EventRow>(
        `SELECT ${EVENT_COLUMNS} FROM ul_events WHERE ${feedAfter} ORDER BY transaction_id, global_position LIMIT $2`,
        [after.toString(), limit],
      );
      if (rows.length === 0 && after >= 0n) await this.assertPositionExists(after);
      const last = rows[rows.length - 1];
      return { events: rows.map(toRecordedEvent), nextAfter: last ? BigInt(last.global_position) : after, isEnd: rows.length < limit };
    }
    // Filtered: look at up to FILTER_SCAN_ROWS feed rows, but fetch the data of the first `limit`
    // matching ones only. The summary row says how far the scan went, so a reader whose filter
    // matched nothing still moves past the rows it looked at.
    const scanRows = Math.max(limit, FILTER_SCAN_ROWS);
    const matchSql = `(${prefixes.length > 0 ? 'stream_id LIKE ANY ($4::text[])' : 'true'}) AND (${types.length > 0 ? 'event_type = ANY ($5::text[])' : 'true'})`;
    const rows = await this.db.any<Partial<EventRow> & { scanned: string; scan_end: string | null }>(
      `WITH scanned AS (
         SELECT transaction_id, global_position, ${matchSql} AS m FROM ul_events
          WHERE ${feedAfter} ORDER BY transaction_id, global_position LIMIT $2),
       picked AS (
         SELECT global_position FROM scanned WHERE m ORDER BY transaction_id, global_position LIMIT $3),
       summary AS (
         SELECT count(*) AS scanned,
                (SELECT global_position FROM scanned ORDER BY transaction_id DESC, global_position DESC LIMIT 1) AS scan_end
           FROM scanned)
       SELECT s.scanned, s.scan_end, ${JOINED_EVENT_COLUMNS}
         FROM summary s LEFT JOIN (picked p JOIN ul_events e ON e.global_position = p.global_position) ON true
        ORDER BY e.transaction_id, e.global_position`,
      [after.toString(), scanRows, limit, prefixes.map((prefix) => `${escapeLike(prefix)}%`), types],
    );
    const summary = rows[0]!;
    const scanned = Number(summary.scanned);
    if (scanned === 0 && after >= 0n) await this.assertPositionExists(after);
    const events = rows.filter((row) => row.global_position !== null && row.global_position !== undefined).map((row) => toRecordedEvent(row as EventRow));
    if (events.length === limit) return { events, nextAfter: events[events.length - 1]!.globalPosition, isEnd: false };
    return { events, nextAfter: summary.scan_end === null ? after : BigInt(summary.scan_end), isEnd: scanned < scanRows };
  }

  private async assertPositionExists(position: bigint): Promise<void> {
    // An idle subscriber asks after the same position on every poll: check it once.
    if (this.knownPositions.has(position)) return;
    const row = await this.db.oneOrNone('SELECT 1 FROM ul_events WHERE global_position = $1', [position.toString()]);
    if (!row) {
      throw new EventStoreValidationError('EVENTSTORE.POSITION_UNKNOWN', `no stored event has global position ${position}`, {
        position: position.toString(),
      });
    }
    if (this.knownPositions.size >= KNOWN_POSITIONS_MAX) this.knownPositions.clear();
    this.knownPositions.add(position);
  }

  subscribe(options: SubscribeOptions): SubscriptionHandle {
    if (this.closed) throw new Error('event store is closed');
    if (this.options.listen !== false) void this.startListener();
    const handle = runSubscription((read) => this.readAll(read), this.waker, options);
    this.subscriptions.add(handle);
    return {
      stop: async () => {
        this.subscriptions.delete(handle);
        await handle.stop();
      },
    };
  }

  /** Wakes this process's subscriptions now and other processes' through a coalesced NOTIFY. */
  private announceAppend(): void {
    this.waker.notify();
    if (this.notifyPending || this.closed) return;
    this.notifyPending = true;
    const delayMs = Math.max(0, this.lastNotifyAtMs + NOTIFY_MIN_INTERVAL_MS - Date.now());
    setTimeout(() => {
      this.lastNotifyAtMs = Date.now();
      // any(), not none(): pg_notify returns a row, and none() would answer every wake-up with
      // a QueryResultError (a stack trace each) for the catch below to swallow.
      this.db
        .any('SELECT pg_notify($1, $2)', [NOTIFY_CHANNEL, this.notifierId])
        .catch(() => undefined) // A lost wake-up only delays readers until their next poll.
        .finally(() => {
          this.notifyPending = false;
        });
    }, delayMs).unref();
  }

  private async startListener(): Promise<void> {
    if (this.listener || this.listenerStarting || this.closed) return;
    this.listenerStarting = true;
    try {
      const connection = await this.db.connect({ direct: true });
      const client = connection.client;
      client.on('notification', (message: { payload?: string }) => {
        if (message.payload !== this.notifierId) this.waker.notify();
      });
      client.on('error', () => {
        // The connection is gone: polling keeps subscriptions going until it is back.
        this.listener = undefined;
        if (!this.closed) setTimeout(() => void this.startListener(), LISTEN_RECONNECT_MS).unref();
      });
      await connection.none('LISTEN $1:name', [NOTIFY_CHANNEL]);
      this.listener = connection;
      if (this.closed) connection.done();
    } catch {
      if (!this.closed) setTimeout(() => void this.startListener(), LISTEN_RECONNECT_MS).unref();
    } finally {
      this.listenerStarting = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.subscriptions].map((handle) => handle.stop()));
    this.subscriptions.clear();
    this.listener?.done();
    this.listener = undefined;
  }
}
