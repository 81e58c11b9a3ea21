import { ConcurrencyError, EventIdConflictError } from '../eventstore/errors';
import type { Actor, EventStore, JsonObject, RecordedEvent } from '../eventstore/event-store';
import { decide, evolve, initialState, memberStream, type MemberCommand, type MemberEvent, type MemberState } from '../domain/member/member';
import { deterministicEventId } from './event-ids';
import type { RuleBook } from './rule-book';

/**
 * The one command-handler shape: read the stream (from a cached state onwards), fold, decide,
 * append with the expected revision, and retry only on a version conflict.
 */

export interface CommandMeta {
  /** Unique per command; retries of the same command carry the same id (actor + idempotency key). */
  commandId: string;
  actor: Actor;
  correlationId?: string;
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

export interface CommandResult {
  events: CommittedEvent[];
  state: MemberState;
  revision: bigint;
  /** True when this command id had already been executed and its original events are returned. */
  replayed: boolean;
}

interface CacheEntry {
  state: MemberState;
  /** Revision of the last folded event; -1n for an empty stream. */
  revision: bigint;
  /** Recent command ids and the revisions of their events, to answer a retried command. */
  commands: Map<string, { first: bigint; count: number }>;
}

const MAX_ATTEMPTS = 8;
const RECENT_COMMANDS_PER_MEMBER = 64;
const READ_PAGE = 1000;

export class MemberService {
  private readonly cache = new Map<string, CacheEntry>();

  constructor(
    private readonly store: EventStore,
    private readonly rules: RuleBook,
    private readonly options: { clock?: () => Date; cacheEntries?: number } = {},
  ) {}

  /** The member's state, brought up to date with the stream. */
  async load(memberId: string): Promise<{ state: MemberState; revision: bigint }> {
    const entry = await this.catchUp(memberId);
    return { state: entry.state, revision: entry.revision };
  }

  async execute(memberId: string, command: MemberCommand, meta: CommandMeta): Promise<CommandResult> {
    let idConflict: EventIdConflictError | undefined;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt += 1) {
      const entry = await this.catchUp(memberId);
      const seen = entry.commands.get(meta.commandId);
      if (idConflict && !seen) throw idConflict; // The ids belong to another stream: a reused command id.
      if (seen) {
        const events = await this.store.readStream(memberStream(memberId), { fromRevision: seen.first, maxCount: seen.count });
        return { events, state: entry.state, revision: entry.revision, replayed: true };
      }
      const now = this.options.clock?.() ?? new Date();
      const decided = decide(entry.state, command, { now, rules: await this.rules.currentRules() });
      if (decided.length === 0) return { events: [], state: entry.state, revision: entry.revision, replayed: false };
      try {
        const result = await this.store.appendToStream(
          memberStream(memberId),
          decided.map((event, index) => ({
            eventId: deterministicEventId(meta.commandId, index),
            type: event.type,
            data: event.data as never,
            metadata: {
              occurredAt: now.toISOString(),
              commandId: meta.commandId,
              actor: meta.actor,
              ...(meta.correlationId ? { correlationId: meta.correlationId } : {}),
            },
          })),
          { expectedRevision: entry.revision < 0n ? 'no_stream' : entry.revision },
        );
        if (result.idempotentReplay) continue; // Stored by an earlier attempt: catch up and answer from the stream.
        // Built from what was appended rather than read back: one round trip less per command.
        const recorded: CommittedEvent[] = decided.map((event, index) => ({
          eventId: result.events[index]!.eventId,
          type: event.type,
          data: event.data as unknown as JsonObject,
          revision: result.events[index]!.revision,
          globalPosition: result.events[index]!.globalPosition,
          metadata: { commandId: meta.commandId },
        }));
        const updated = this.remember(memberId, entry, recorded);
        return { events: recorded, state: updated.state, revision: updated.revision, replayed: false };
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
    throw new ConcurrencyError(memberStream(memberId), 'any', `still contended after ${MAX_ATTEMPTS} attempts`);
  }

  private async catchUp(memberId: string): Promise<CacheEntry> {
    let entry = this.cache.get(memberId) ?? { state: initialState, revision: -1n, commands: new Map() };
    for (let page = 0; page < 1_000_000; page += 1) {
      const events = await this.store.readStream(memberStream(memberId), { fromRevision: entry.revision + 1n, maxCount: READ_PAGE });
      if (events.length === 0) break;
      entry = this.remember(memberId, entry, events);
      if (events.length < READ_PAGE) break;
    }
    return entry;
  }

  private remember(memberId: string, entry: CacheEntry, events: ReadonlyArray<Pick<RecordedEvent, 'revision' | 'type' | 'data'> & { metadata: { commandId?: string } }>): CacheEntry {
    let { state, revision } = entry;
    const commands = new Map(entry.commands);
    for (const event of events) {
      if (event.revision !== revision + 1n) break; // Only ever fold the next revision.
      state = evolve(state, { type: event.type, data: event.data } as unknown as MemberEvent);
      revision = event.revision;
      const commandId = event.metadata.commandId;
      if (commandId) {
        const seen = commands.get(commandId);
        commands.set(commandId, seen ? { first: seen.first, count: seen.count + 1 } : { first: event.revision, count: 1 });
        if (commands.size > RECENT_COMMANDS_PER_MEMBER) commands.delete(commands.keys().next().value!);
      }
    }
    const updated = { state, revision, commands };
    // A Map iterates in insertion order, so deleting the first key evicts the least recently written member.
    this.cache.delete(memberId);
    this.cache.set(memberId, updated);
    const limit = this.options.cacheEntries ?? 100_000;
    while (this.cache.size > limit) this.cache.delete(this.cache.keys().next().value!);
    return updated;
  }
}
