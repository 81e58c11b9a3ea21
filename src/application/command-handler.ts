import { ConcurrencyError, EventIdConflictError } from '../eventstore/errors';
import type { Actor, AppendResult, EventStore, EventToAppend, JsonObject, RecordedEvent, StreamAppend } from '../eventstore/event-store';
import { DomainError, schemaVersionOf } from '../domain/shared';
import { deterministicEventId } from './event-ids';

/**
 * The one command handler every aggregate uses: take the cached state (or read the stream from it
 * onwards), fold, decide, append with the expected revision, and retry only on a version conflict. Event
 * ids derive from the command id, so a retried command (a client retry, a crash between append
 * and answer, another instance racing it) is answered from the stream instead of being written
 * twice. Nothing here knows a domain: the aggregate brings `initialState` and `evolve`, the caller
 * brings the decision.
 */

/** What every aggregate gives the handler: how to fold its events. */
export interface Aggregate<State, Event extends DomainEvent> {
  /** For errors and logs. */
  name: string;
  initialState: State;
  evolve(state: State, event: Event): State;
  /** The schema version new events of this type are stored at (default 1). */
  schemaVersion?(event: Event): number;
  /**
   * Events that time alone has made due (a member's expired holds), whatever the command: folded
   * before the command is decided, and recorded whatever the decision. An accepted command appends
   * them with its own events, in one append under its command id, as before. A refused command
   * (or any decision that throws) has them appended on their own, under `<command id>:due`, and
   * then its error is thrown: a fact that is due does not vanish because the command that noticed
   * it was refused. The separate command id keeps a retry of the refused command from being
   * answered with them as its result: the retry is decided again, on a state that holds them.
   */
  due?(state: State, now: Date): Event[];
}

export interface DomainEvent {
  type: string;
  data: object;
}

export interface CommandMeta {
  /** Unique per command; retries of the same command carry the same id (actor + idempotency key). */
  commandId: string;
  actor: Actor;
  correlationId?: string;
  /**
   * A digest of the request that carried the command (hex), stored in its events' metadata: a
   * repeated command id with another digest is the same key reused for another request, refused
   * with COMMAND_ID_REUSED instead of being answered with the first request's events.
   */
  requestHash?: string;
}

/** An event as the command stored it: enough to answer the caller without reading it back. */
export interface CommittedEvent {
  eventId: string;
  type: string;
  data: JsonObject;
  revision: bigint;
  globalPosition: bigint;
  metadata: { commandId?: string };
}

export interface CommandResult<State> {
  events: CommittedEvent[];
  state: State;
  /** Revision of the stream's last event after the command; -1n for a stream that is still empty. */
  revision: bigint;
  /** True when this command id had already been executed and its original events are returned. */
  replayed: boolean;
}

/** Decides on the current state at `now`: the events to append (none: nothing to do), or throws a DomainError. */
export type Decision<State, Event> = (state: State, now: Date) => Event[] | Promise<Event[]>;

/**
 * Facts a decision also records on other streams, in the same commit as the aggregate's own
 * events: for example a capture on a member's wallet is also a line on the merchant's stream.
 * They are appended at any revision (they must not need a check of their own: the aggregate's
 * decision is the one that counts), and they get their ids from the command id too, after the
 * aggregate's, so a retried command writes them once.
 */
export type Alongside<Event> = (events: readonly Event[]) => Array<{ streamId: string; events: DomainEvent[] }>;

export interface CommandHandlerOptions {
  /** Streams whose state is kept between commands (least recently written evicted first). */
  cacheEntries?: number;
  /** Version conflicts decided again before giving up with a ConcurrencyError. */
  maxAttempts?: number;
  clock?: () => Date;
}

interface CacheEntry<State> {
  state: State;
  /** Revision of the last folded event; -1n for an empty stream. */
  revision: bigint;
  /** Recent command ids and the revisions of their events, to answer a retried command. */
  commands: Map<string, { first: bigint; count: number }>;
}

/** The code of the refusal of a command id already used with another request digest (CommandMeta.requestHash). */
export const COMMAND_ID_REUSED = 'COMMAND.ID_REUSED';

const DEFAULT_CACHE_ENTRIES = 100_000;
const DEFAULT_MAX_ATTEMPTS = 8;
const RECENT_COMMANDS_PER_STREAM = 64;
const READ_PAGE = 1000;
/** A stream is read in pages; this bounds the loop at a billion events. */
const MAX_READ_PAGES = 1_000_000;

/**
 * A command's events as the store takes them: ids derived from the command id (so a retried
 * command appends the same ids), and the metadata every command's events carry. Exported for
 * commands that append to several streams in one commit (EventStore.appendToStreams); `first`
 * offsets the ids when one command writes to several streams.
 */
export function eventsToAppend<Event extends DomainEvent>(
  events: readonly Event[],
  meta: CommandMeta,
  now: Date,
  schemaVersion?: (event: Event) => number,
  first = 0,
): EventToAppend[] {
  return events.map((event, index) => ({
    eventId: deterministicEventId(meta.commandId, first + index),
    type: event.type,
    schemaVersion: schemaVersion?.(event) ?? 1,
    data: event.data as JsonObject,
    metadata: {
      occurredAt: now.toISOString(),
      commandId: meta.commandId,
      actor: meta.actor,
      ...(meta.correlationId ? { correlationId: meta.correlationId } : {}),
      ...(meta.requestHash ? { requestHash: meta.requestHash } : {}),
    },
  }));
}

const schemaVersionOfData = (event: DomainEvent): number => schemaVersionOf(event.data);

export class CommandHandler<State, Event extends DomainEvent> {
  private readonly cache = new Map<string, CacheEntry<State>>();

  constructor(
    private readonly store: EventStore,
    private readonly aggregate: Aggregate<State, Event>,
    private readonly options: CommandHandlerOptions = {},
  ) {}

  /** The stream's state, brought up to date with the store (one read when the cache is current). */
  async load(streamId: string): Promise<{ state: State; revision: bigint }> {
    const entry = await this.catchUp(streamId);
    return { state: entry.state, revision: entry.revision };
  }

  async handle(streamId: string, decision: Decision<State, Event>, meta: CommandMeta, alongside?: Alongside<Event>): Promise<CommandResult<State>> {
    const maxAttempts = this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    let idConflict: EventIdConflictError | undefined;
    // The first attempt decides on the cached state without reading the stream: the append checks
    // the revision inside the store (a stale cache fails it, and the next attempt reads), so an
    // accepted command costs one round trip. What the append cannot check is decided on a read
    // state only: a refusal and an empty decision on the unread cache are decided again after a read.
    let read = false;
    for (let attempt = 1; attempt <= maxAttempts; attempt += 1) {
      const cached = read ? undefined : this.cache.get(streamId);
      read = true;
      const unread = cached !== undefined;
      const entry = cached ?? (await this.catchUp(streamId));
      const seen = entry.commands.get(meta.commandId);
      if (idConflict && !seen) throw idConflict; // The ids belong to another stream: a reused command id.
      if (seen) {
        const events = await this.store.readStream(streamId, { fromRevision: seen.first, maxCount: seen.count });
        const storedHash = events[0]?.metadata.requestHash;
        if (meta.requestHash !== undefined && storedHash !== undefined && storedHash !== meta.requestHash) {
          // The HTTP layer answers it as IDEMPOTENCY.KEY_REUSED (a prefix domain errors may not use).
          throw new DomainError(COMMAND_ID_REUSED, `command id ${meta.commandId} was already used for a different request`, 409);
        }
        return { events, state: entry.state, revision: entry.revision, replayed: true };
      }
      const now = this.options.clock?.() ?? new Date();
      const due = this.aggregate.due?.(entry.state, now) ?? [];
      let decided: Event[];
      try {
        decided = [...due, ...(await decision(due.reduce(this.aggregate.evolve, entry.state), now))];
      } catch (refusal) {
        if (unread) continue; // Refused on the cache: read the stream and decide again.
        if (due.length === 0) throw refusal;
        try {
          const stored = await this.append(streamId, entry, due, now, { ...meta, commandId: `${meta.commandId}:due` });
          if (!stored) continue; // Already stored by a racing attempt: decide again on the stream as it is.
        } catch (error) {
          // Someone else appended first: decide again on what they wrote (the refusal may not stand).
          if (error instanceof ConcurrencyError || error instanceof EventIdConflictError) continue;
          throw error;
        }
        throw refusal;
      }
      if (decided.length === 0) {
        if (unread) continue; // Nothing to do on the cache: read the stream and decide again.
        return { events: [], state: entry.state, revision: entry.revision, replayed: false };
      }
      try {
        const stored = await this.append(streamId, entry, decided, now, meta, alongside);
        if (!stored) continue; // Stored by an earlier attempt: catch up and answer from the stream.
        return { events: stored.events, state: stored.entry.state, revision: stored.entry.revision, replayed: false };
      } catch (error) {
        if (error instanceof ConcurrencyError) continue; // Someone else appended: re-read and decide again.
        // The same command raced itself (a client retry in flight, another instance): its events
        // carry the same ids with another occurredAt. Re-read: the stream now answers it.
        if (error instanceof EventIdConflictError && !idConflict) {
          idConflict = error;
          continue;
        }
        throw error;
      }
    }
    throw new ConcurrencyError(streamId, 'any', `still contended after ${maxAttempts} attempts`);
  }

  /**
   * Appends events at the entry's revision with ids from the command id, and remembers them;
   * undefined when the store answers that these very events were already stored (a replay).
   */
  private async append(
    streamId: string,
    entry: CacheEntry<State>,
    events: Event[],
    now: Date,
    meta: CommandMeta,
    alongside?: Alongside<Event>,
  ): Promise<{ events: CommittedEvent[]; entry: CacheEntry<State> } | undefined> {
    const own: StreamAppend = {
      streamId,
      events: eventsToAppend(events, meta, now, this.aggregate.schemaVersion),
      expectedRevision: entry.revision < 0n ? 'no_stream' : entry.revision,
    };
    const others = (alongside?.(events) ?? []).filter((other) => other.events.length > 0);
    let result: AppendResult;
    if (others.length === 0) {
      result = await this.store.appendToStream(streamId, own.events, { expectedRevision: own.expectedRevision! });
    } else {
      let first = events.length;
      const appends: StreamAppend[] = [own];
      for (const other of others) {
        appends.push({ streamId: other.streamId, events: eventsToAppend(other.events, meta, now, schemaVersionOfData, first), expectedRevision: 'any' });
        first += other.events.length;
      }
      result = (await this.store.appendToStreams(appends))[0]!;
    }
    if (result.idempotentReplay) return undefined;
    // Built from what was appended rather than read back: one round trip less per command.
    const recorded: CommittedEvent[] = events.map((event, index) => ({
      eventId: result.events[index]!.eventId,
      type: event.type,
      data: event.data as JsonObject,
      revision: result.events[index]!.revision,
      globalPosition: result.events[index]!.globalPosition,
      metadata: { commandId: meta.commandId },
    }));
    return { events: recorded, entry: this.remember(streamId, entry, recorded) };
  }

  private async catchUp(streamId: string): Promise<CacheEntry<State>> {
    let entry = this.cache.get(streamId) ?? { state: this.aggregate.initialState, revision: -1n, commands: new Map() };
    for (let page = 0; page < MAX_READ_PAGES; page += 1) {
      const events = await this.store.readStream(streamId, { fromRevision: entry.revision + 1n, maxCount: READ_PAGE });
      if (events.length === 0) break;
      entry = this.remember(streamId, entry, events);
      if (events.length < READ_PAGE) break;
    }
    return entry;
  }

  private remember(
    streamId: string,
    entry: CacheEntry<State>,
    events: ReadonlyArray<Pick<RecordedEvent, 'revision' | 'type' | 'data'> & { metadata: { commandId?: string } }>,
  ): CacheEntry<State> {
    let { state, revision } = entry;
    const commands = new Map(entry.commands);
    for (const event of events) {
      if (event.revision !== revision + 1n) break; // Only ever fold the next revision.
      state = this.aggregate.evolve(state, { type: event.type, data: event.data } as unknown as Event);
      revision = event.revision;
      const commandId = event.metadata.commandId;
      if (commandId) {
        const seen = commands.get(commandId);
        commands.set(commandId, seen ? { first: seen.first, count: seen.count + 1 } : { first: event.revision, count: 1 });
        if (commands.size > RECENT_COMMANDS_PER_STREAM) commands.delete(commands.keys().next().value!);
      }
    }
    const updated = { state, revision, commands };
    // A Map iterates in insertion order, so deleting the first key evicts the least recently written stream.
    this.cache.delete(streamId);
    this.cache.set(streamId, updated);
    const limit = this.options.cacheEntries ?? DEFAULT_CACHE_ENTRIES;
    while (this.cache.size > limit) this.cache.delete(this.cache.keys().next().value!);
    return updated;
  }
}
