import { randomUUID } from 'node:crypto';
import { contentDigest } from './canonical';
import { EventStoreValidationError } from './errors';
import {
  READ_LIMIT_MAX,
  type EventMetadata,
  type EventToAppend,
  type ExpectedRevision,
  type JsonObject,
  type ReadStreamOptions,
  type StreamAppend,
} from './event-store';

/** Limits every adapter enforces before touching storage (documented in docs/EVENT-STORE.md). */
export const LIMITS = {
  eventsPerAppend: 1000,
  streamIdMaxLength: 200,
  eventTypeMaxLength: 100,
  dataMaxBytes: 64 * 1024,
  metadataMaxBytes: 8 * 1024,
  appendMaxBytes: 4 * 1024 * 1024,
  jsonMaxDepth: 32,
  schemaVersionMax: 32_767,
  // A multi-stream append (appendToStreams) is one transaction holding every stream's lock until it
  // commits; these bound how long that is and how much one call sends. Each stream's part also
  // keeps the limits of a single append above. A disbursement chunk (budget + batch + 500 wallets)
  // fits with room to spare.
  streamsPerMultiAppend: 1000,
  eventsPerMultiAppend: 10_000,
  multiAppendMaxBytes: 16 * 1024 * 1024,
} as const;

const STREAM_ID = /^[A-Za-z0-9][A-Za-z0-9_.:@/-]*$/;
const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An event checked, normalised and hashed, ready for an adapter to store. */
export interface PreparedEvent {
  eventId: string;
  type: string;
  schemaVersion: number;
  data: JsonObject;
  metadata: EventMetadata;
  dataJson: string;
  metadataJson: string;
  digest: Buffer;
}

function invalid(code: string, message: string, details: Record<string, unknown> = {}): never {
  throw new EventStoreValidationError(code, message, details);
}

export function validateStreamId(streamId: unknown): string {
  if (typeof streamId !== 'string' || streamId.length === 0) {
    invalid('EVENTSTORE.STREAM_ID_INVALID', 'stream id must be a non-empty string');
  }
  if (streamId.length > LIMITS.streamIdMaxLength) {
    invalid('EVENTSTORE.STREAM_ID_INVALID', `stream id is longer than ${LIMITS.streamIdMaxLength} characters`, {
      length: streamId.length,
    });
  }
  if (!STREAM_ID.test(streamId)) {
    invalid(
      'EVENTSTORE.STREAM_ID_INVALID',
      'stream id must start with a letter or digit and contain only letters, digits and _ . : @ / -',
      { streamId },
    );
  }
  return streamId;
}

export function validateExpectedRevision(expected: unknown): ExpectedRevision {
  if (expected === undefined) return 'any';
  if (expected === 'any' || expected === 'no_stream' || expected === 'stream_exists') return expected;
  if (typeof expected === 'bigint' && expected >= 0n) return expected;
  if (typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0) return BigInt(expected);
  return invalid(
    'EVENTSTORE.EXPECTED_REVISION_INVALID',
    "expected revision must be 'any', 'no_stream', 'stream_exists' or a non-negative integer revision",
    { expected: String(expected) },
  );
}

/** Checks that a value is JSON that PostgreSQL's jsonb and every adapter store unchanged. */
function checkJson(value: unknown, path: string, depth: number): void {
  if (depth > LIMITS.jsonMaxDepth) {
    invalid('EVENTSTORE.DATA_INVALID', `${path} nests deeper than ${LIMITS.jsonMaxDepth} levels`);
  }
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) invalid('EVENTSTORE.DATA_INVALID', `${path} is not a finite number`);
    return;
  }
  if (typeof value === 'string') {
    // jsonb rejects NUL and lone surrogates; refusing them here keeps the stored bytes equal to the hashed ones.
    if (value.includes('\u0000') || !value.isWellFormed()) {
      invalid('EVENTSTORE.DATA_INVALID', `${path} contains NUL or an unpaired surrogate`);
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, index) => checkJson(item, `${path}[${index}]`, depth + 1));
    return;
  }
  if (typeof value === 'object') {
    const prototype = Object.getPrototypeOf(value);
    if (prototype !== Object.prototype && prototype !== null) {
      invalid('EVENTSTORE.DATA_INVALID', `${path} is not a plain JSON object`);
    }
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      checkJson(key, `${path} key`, depth + 1);
      checkJson(item, `${path}.${key}`, depth + 1);
    }
    return;
  }
  invalid('EVENTSTORE.DATA_INVALID', `${path} is a ${typeof value}, which has no JSON form`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function prepareEvent(streamId: string, event: EventToAppend, index: number): PreparedEvent {
  const at = `events[${index}]`;
  if (!isPlainObject(event)) invalid('EVENTSTORE.EVENT_INVALID', `${at} must be an object`);
  const eventId = event.eventId === undefined ? randomUUID() : event.eventId;
  if (typeof eventId !== 'string' || !UUID.test(eventId)) {
    invalid('EVENTSTORE.EVENT_ID_INVALID', `${at}.eventId must be a UUID`, { eventId: String(eventId) });
  }
  const { type } = event;
  if (typeof type !== 'string' || type.length === 0 || type.length > LIMITS.eventTypeMaxLength || !EVENT_TYPE.test(type)) {
    invalid(
      'EVENTSTORE.EVENT_TYPE_INVALID',
      `${at}.type must be 1-${LIMITS.eventTypeMaxLength} characters: a letter, then letters, digits and _ . : -`,
      { type: String(type) },
    );
  }
  const schemaVersion = event.schemaVersion ?? 1;
  if (!Number.isInteger(schemaVersion) || schemaVersion < 1 || schemaVersion > LIMITS.schemaVersionMax) {
    invalid('EVENTSTORE.SCHEMA_VERSION_INVALID', `${at}.schemaVersion must be an integer from 1 to ${LIMITS.schemaVersionMax}`);
  }
  if (!isPlainObject(event.data)) invalid('EVENTSTORE.DATA_INVALID', `${at}.data must be a JSON object`);
  checkJson(event.data, `${at}.data`, 0);
  if (!isPlainObject(event.metadata)) invalid('EVENTSTORE.METADATA_INVALID', `${at}.metadata must be an object`);
  checkJson(event.metadata, `${at}.metadata`, 0);
  const occurredAt = event.metadata.occurredAt;
  if (typeof occurredAt !== 'string' || Number.isNaN(Date.parse(occurredAt))) {
    invalid('EVENTSTORE.METADATA_INVALID', `${at}.metadata.occurredAt must be an ISO-8601 timestamp`);
  }

  const dataJson = JSON.stringify(event.data);
  const dataBytes = Buffer.byteLength(dataJson, 'utf8');
  if (dataBytes > LIMITS.dataMaxBytes) {
    invalid('EVENTSTORE.DATA_TOO_LARGE', `${at}.data is ${dataBytes} bytes of JSON; the limit is ${LIMITS.dataMaxBytes}`, {
      bytes: dataBytes,
      limit: LIMITS.dataMaxBytes,
    });
  }
  const metadataJson = JSON.stringify(event.metadata);
  const metadataBytes = Buffer.byteLength(metadataJson, 'utf8');
  if (metadataBytes > LIMITS.metadataMaxBytes) {
    invalid(
      'EVENTSTORE.METADATA_TOO_LARGE',
      `${at}.metadata is ${metadataBytes} bytes of JSON; the limit is ${LIMITS.metadataMaxBytes}`,
      { bytes: metadataBytes, limit: LIMITS.metadataMaxBytes },
    );
  }
  // checkJson admitted only plain JSON values (finite numbers, well-formed strings, plain objects),
  // for which canonicalJson and JSON.stringify agree value for value: what is hashed is what is stored.
  const data = event.data;
  const metadata = event.metadata;
  const normalisedId = eventId.toLowerCase();
  const digest = contentDigest({ eventId: normalisedId, streamId, type, schemaVersion, data, metadata });
  return { eventId: normalisedId, type, schemaVersion, data, metadata, dataJson, metadataJson, digest };
}

/** Validates a whole append; throws EventStoreValidationError and so writes nothing on bad input. */
export function prepareAppend(
  streamId: unknown,
  events: unknown,
  expectedRevision: unknown,
): { streamId: string; events: PreparedEvent[]; expected: ExpectedRevision } {
  const checkedStreamId = validateStreamId(streamId);
  const expected = validateExpectedRevision(expectedRevision);
  if (!Array.isArray(events) || events.length === 0) {
    invalid('EVENTSTORE.EMPTY_APPEND', 'an append needs at least one event');
  }
  if (events.length > LIMITS.eventsPerAppend) {
    invalid('EVENTSTORE.TOO_MANY_EVENTS', `an append takes at most ${LIMITS.eventsPerAppend} events`, {
      count: events.length,
    });
  }
  const prepared = events.map((event, index) => prepareEvent(checkedStreamId, event as EventToAppend, index));
  const ids = new Set(prepared.map((event) => event.eventId));
  if (ids.size !== prepared.length) invalid('EVENTSTORE.EVENT_ID_DUPLICATE', 'an append lists the same event id twice');
  const totalBytes = prepared.reduce((sum, event) => sum + event.dataJson.length + event.metadataJson.length, 0);
  if (totalBytes > LIMITS.appendMaxBytes) {
    invalid('EVENTSTORE.APPEND_TOO_LARGE', `an append carries at most ${LIMITS.appendMaxBytes} bytes of JSON`, {
      bytes: totalBytes,
    });
  }
  return { streamId: checkedStreamId, events: prepared, expected };
}

/** One stream's part of a checked multi-stream append; `index` is its place in the caller's list. */
export interface PreparedStreamAppend {
  index: number;
  streamId: string;
  events: PreparedEvent[];
  expected: ExpectedRevision;
  /** True when the caller supplied at least one event id (only those can be stored already). */
  callerIds: boolean;
}

/**
 * Validates a whole multi-stream append before any I/O: the counts first (cheap, and they bound
 * the work below), then every stream's part as a single append, then what only a whole call can
 * get wrong (a stream twice, an event id in two streams, the total size). Throws
 * EventStoreValidationError, so bad input writes nothing. Parts come back in the caller's order.
 */
export function prepareMultiAppend(appends: unknown): PreparedStreamAppend[] {
  if (!Array.isArray(appends) || appends.length === 0) {
    invalid('EVENTSTORE.EMPTY_APPEND', 'a multi-stream append needs at least one stream');
  }
  if (appends.length > LIMITS.streamsPerMultiAppend) {
    invalid('EVENTSTORE.TOO_MANY_STREAMS', `a multi-stream append takes at most ${LIMITS.streamsPerMultiAppend} streams`, {
      count: appends.length,
      limit: LIMITS.streamsPerMultiAppend,
    });
  }
  let eventCount = 0;
  appends.forEach((append: unknown, index) => {
    if (!isPlainObject(append)) invalid('EVENTSTORE.APPEND_INVALID', `appends[${index}] must be an object`);
    if (Array.isArray(append.events)) eventCount += append.events.length;
  });
  if (eventCount > LIMITS.eventsPerMultiAppend) {
    invalid('EVENTSTORE.TOO_MANY_EVENTS', `a multi-stream append takes at most ${LIMITS.eventsPerMultiAppend} events in all`, {
      count: eventCount,
      limit: LIMITS.eventsPerMultiAppend,
    });
  }
  const prepared = (appends as StreamAppend[]).map((append, index): PreparedStreamAppend => {
    try {
      const part = prepareAppend(append.streamId, append.events, append.expectedRevision);
      return { index, ...part, callerIds: append.events.some((event) => event?.eventId !== undefined) };
    } catch (error) {
      // Same code as the single append, with the part it was found in.
      if (error instanceof EventStoreValidationError) {
        throw new EventStoreValidationError(error.code, `appends[${index}]: ${error.message}`, { ...error.details, appendIndex: index });
      }
      throw error;
    }
  });
  const streams = new Map<string, number>();
  const eventIds = new Map<string, number>();
  let totalBytes = 0;
  for (const part of prepared) {
    const earlier = streams.get(part.streamId);
    if (earlier !== undefined) {
      invalid('EVENTSTORE.STREAM_DUPLICATE', `appends[${part.index}]: stream ${part.streamId} is already appends[${earlier}]; a stream may appear once per call`, {
        streamId: part.streamId,
        appendIndexes: [earlier, part.index],
      });
    }
    streams.set(part.streamId, part.index);
    for (const event of part.events) {
      const other = eventIds.get(event.eventId);
      if (other !== undefined) {
        invalid('EVENTSTORE.EVENT_ID_DUPLICATE', `appends[${part.index}]: event id ${event.eventId} also appears in appends[${other}]`, {
          eventId: event.eventId,
          appendIndexes: [other, part.index],
        });
      }
      eventIds.set(event.eventId, part.index);
      totalBytes += event.dataJson.length + event.metadataJson.length;
    }
  }
  if (totalBytes > LIMITS.multiAppendMaxBytes) {
    invalid('EVENTSTORE.APPEND_TOO_LARGE', `a multi-stream append carries at most ${LIMITS.multiAppendMaxBytes} bytes of JSON`, {
      bytes: totalBytes,
      limit: LIMITS.multiAppendMaxBytes,
    });
  }
  return prepared;
}

export function clampLimit(limit: number | undefined, fallback: number, max: number): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1) {
    invalid('EVENTSTORE.LIMIT_INVALID', `limit must be a positive integer (at most ${max})`, { limit });
  }
  return Math.min(limit, max);
}

/** Checks readStream's arguments the same way for every adapter. */
export function validateReadStream(
  streamId: unknown,
  options: ReadStreamOptions,
): { streamId: string; limit: number; backwards: boolean; from: bigint | undefined } {
  const checkedStreamId = validateStreamId(streamId);
  const limit = clampLimit(options.maxCount, READ_LIMIT_MAX, READ_LIMIT_MAX);
  const backwards = options.direction === 'backwards';
  if (options.direction !== undefined && options.direction !== 'forwards' && !backwards) {
    invalid('EVENTSTORE.DIRECTION_INVALID', "direction must be 'forwards' or 'backwards'");
  }
  const from = options.fromRevision;
  if (from !== undefined && (typeof from !== 'bigint' || from < 0n)) {
    invalid('EVENTSTORE.REVISION_INVALID', 'fromRevision must be a non-negative bigint');
  }
  return { streamId: checkedStreamId, limit, backwards, from };
}
