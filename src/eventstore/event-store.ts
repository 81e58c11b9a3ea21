/**
 * The event store port. Every adapter (PostgreSQL, KurrentDB) implements this interface and
 * passes the same contract suite (test/contract/event-store.contract.ts).
 *
 * Revisions are 0-based like KurrentDB: the first event of a stream has revision 0n.
 * Positions and revisions are bigint so that no adapter ever rounds them.
 */

import type { EventStoreError } from './errors';

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Who caused an event. `type` is a role such as 'member', 'admin', 'system'. */
export interface Actor {
  type: string;
  id: string;
}

/**
 * Metadata every stored event carries. `occurredAt` is when the fact happened in the world
 * (ISO-8601, UTC); the store adds `recordedAt` itself.
 */
export interface EventMetadata {
  commandId?: string;
  causationId?: string;
  correlationId?: string;
  actor?: Actor;
  occurredAt: string;
  [key: string]: JsonValue | Actor | undefined;
}

export interface EventToAppend {
  /** A UUID. Supplying it makes the append idempotent: the same ids again return the original result. */
  eventId?: string;
  type: string;
  schemaVersion?: number;
  data: JsonObject;
  metadata: EventMetadata;
}

export interface RecordedEvent {
  eventId: string;
  streamId: string;
  revision: bigint;
  type: string;
  schemaVersion: number;
  data: JsonObject;
  metadata: EventMetadata;
  recordedAt: Date;
  globalPosition: bigint;
}

/**
 * The expected state of a stream before an append.
 * - 'any': no check
 * - 'no_stream': the stream must not exist
 * - 'stream_exists': the stream must have at least one event
 * - bigint: the revision of the stream's last event (0-based)
 */
export type ExpectedRevision = 'any' | 'no_stream' | 'stream_exists' | bigint;

export interface AppendOptions {
  expectedRevision?: ExpectedRevision;
}

/** One stream's part of a multi-stream append (EventStore.appendToStreams). */
export interface StreamAppend {
  streamId: string;
  events: EventToAppend[];
  /** As for appendToStream; 'any' when omitted. */
  expectedRevision?: ExpectedRevision;
}

export interface AppendResult {
  /** Revision of the last event now in the stream; pass it as the next expectedRevision. */
  nextExpectedRevision: bigint;
  /** Global position of the last event written by this append. */
  lastPosition: bigint;
  /** One entry per appended event, in order. */
  events: Array<{ eventId: string; revision: bigint; globalPosition: bigint }>;
  /** True when every event id was already stored with the same content and nothing was written. */
  idempotentReplay: boolean;
}

/**
 * One stream's answer in a group append (EventStore.appendEach): its result, or why this stream,
 * and only this one, was not written (a ConcurrencyError carrying the actual revision, or an
 * EventIdConflictError).
 */
export type StreamAppendOutcome = { ok: true; result: AppendResult } | { ok: false; error: EventStoreError };

export interface ReadStreamOptions {
  direction?: 'forwards' | 'backwards';
  /** Inclusive start revision; defaults to the first (forwards) or last (backwards) event. */
  fromRevision?: bigint;
  /** At most this many events; defaults to and is capped at READ_LIMIT_MAX. */
  maxCount?: number;
}

export interface ReadAllOptions {
  /** Read events after this global position; omit (or START) to read from the beginning. */
  after?: bigint;
  /** At most this many events; defaults to 1000 and is capped at READ_LIMIT_MAX. */
  limit?: number;
  /** Only events whose stream id starts with one of these prefixes. */
  streamPrefixes?: string[];
  /** Only events of these types. */
  eventTypes?: string[];
}

export interface ReadAllResult {
  events: RecordedEvent[];
  /**
   * The position to pass as `after` for the next page. With filters it may be past the last
   * returned event (rows that did not match were scanned), so filtered readers still advance.
   * Equals the input `after` when nothing new was visible.
   */
  nextAfter: bigint;
  /** True when the page ended because no further committed events were visible. */
  isEnd: boolean;
}

export const START = -1n;
export const READ_LIMIT_MAX = 10_000;

export interface SubscriptionHandle {
  /** Resolves once the subscription loop has stopped (after the batch in progress). */
  stop(): Promise<void>;
}

export interface SubscribeOptions extends Omit<ReadAllOptions, 'after' | 'limit'> {
  /** A name for logs and errors. */
  name: string;
  /** Loads the stored checkpoint: START when nothing was processed yet. Called at start and after a failed batch. */
  loadCheckpoint(): Promise<bigint>;
  /**
   * Handles a batch and stores `nextAfter` as the checkpoint in the same transaction as any rows
   * it writes. If it throws, the batch is retried from the stored checkpoint after a back-off.
   * It may answer false, for a batch that held nothing for it (a partition's page of other
   * partitions' events), when it stored nothing: the loop then stores that checkpoint later, as
   * for a page with no events (emptyCheckpointDeferMs), by calling it with none. Called with no
   * events, it must store the checkpoint. An error it throws with `checkpointMoved: true` (another
   * runner stored the checkpoint first: a catch-up beside the live runner) is not reported and
   * waits no back-off: the loop reads the stored checkpoint again and carries on from there.
   */
  handle(events: RecordedEvent[], nextAfter: bigint): Promise<void | false>;
  batchSize?: number;
  /** Polling interval used when no wake-up arrives; default 1000 ms. */
  pollIntervalMs?: number;
  /** Reads at most once per this many ms, so events appended meanwhile make one batch; default GATHER_MS (subscription.ts). */
  gatherMs?: number;
  /** The longest gather time after reads that found nothing for this subscription; default IDLE_GATHER_MAX_MS (subscription.ts). */
  idleGatherMaxMs?: number;
  /**
   * How long the checkpoint past pages with no event for this subscription may wait before it is
   * stored (handle called with no events); default EMPTY_CHECKPOINT_DEFER_MS (subscription.ts), 0 stores every page.
   */
  emptyCheckpointDeferMs?: number;
  /** Called when a batch fails; the subscription retries. */
  onError?(error: unknown): void;
}

export interface EventStore {
  readonly adapterName: string;
  appendToStream(streamId: string, events: EventToAppend[], options?: AppendOptions): Promise<AppendResult>;
  /**
   * Appends to several streams at once, all or nothing; results in the order given. A stream may
   * appear once per call. When any stream is not at its expected revision nothing is written and
   * the ConcurrencyError names that stream. Idempotent like appendToStream, over the whole call:
   * every event already stored with the same content returns the original results (each with
   * idempotentReplay: true); only some of them stored, or other content, is an EventIdConflictError.
   * Limits: LIMITS.streamsPerMultiAppend, eventsPerMultiAppend, multiAppendMaxBytes (validation.ts).
   */
  appendToStreams(appends: readonly StreamAppend[]): Promise<AppendResult[]>;
  /**
   * Group append: appends to several streams in one transaction (on PostgreSQL one statement), but
   * answers PER STREAM, in the order given: a stream that is not at its expected revision, or
   * whose event ids are stored with other content, is not written and gets its error as its
   * outcome, while the other streams commit. A stream whose events are all stored already with the
   * same content gets its original result (idempotentReplay: true). The call as a whole throws only
   * for bad input (the same validation and limits as appendToStreams, nothing written) or when the
   * store fails (PostgreSQL: nothing was written if the statement failed; KurrentDB, which loops,
   * keeps the streams before the failure). This is what group commit batches concurrent commands into.
   */
  appendEach(appends: readonly StreamAppend[]): Promise<StreamAppendOutcome[]>;
  readStream(streamId: string, options?: ReadStreamOptions): Promise<RecordedEvent[]>;
  readAll(options?: ReadAllOptions): Promise<ReadAllResult>;
  /** Runs a checkpointed catch-up subscription over the global log, woken by new appends. */
  subscribe(options: SubscribeOptions): SubscriptionHandle;
  close(): Promise<void>;
}
