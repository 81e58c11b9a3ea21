import { ANY, NO_STREAM, START as KURRENT_START, STREAM_EXISTS } from '@kurrent/kurrentdb-client';
import { START as START_POSITION, type EventMetadata } from '../event-store';
import {
  DIGEST_KEY,
  IDEMPOTENCY_LOOKBACK_EVENTS,
  PACKED_METADATA_KEY,
  SCHEMA_VERSION_KEY,
  actualRevisionText,
  exactTypesRegex,
  isSystemEvent,
  judgeIdempotency,
  judgeMultiIdempotency,
  matchesFilters,
  packMetadata,
  packMetadataForMultiAppend,
  pageFromScan,
  readPositionAfter,
  replayWindow,
  serverFilterFor,
  toStreamState,
  unpackMetadata,
  type IdempotencyVerdict,
  type ScannedEvent,
  type StoredIdentity,
} from './kurrentdb-event-store';

/** Pure mapping helpers of the KurrentDB adapter; no server and no network. */

const DIGEST_A = 'a'.repeat(64);
const DIGEST_B = 'b'.repeat(64);

describe('expected revision mapping', () => {
  it.each([
    ['any', ANY],
    ['no_stream', NO_STREAM],
    ['stream_exists', STREAM_EXISTS],
  ] as const)('maps %s to the client constant', (expected, state) => {
    expect(toStreamState(expected)).toBe(state);
  });

  it('passes an exact revision through as the same bigint', () => {
    expect(toStreamState(0n)).toBe(0n);
    expect(toStreamState(2n ** 62n)).toBe(2n ** 62n);
  });

  it('reports the actual revision as a string, and anything else as no_stream', () => {
    expect(actualRevisionText(4n)).toBe('4');
    expect(actualRevisionText(0n)).toBe('0');
    expect(actualRevisionText('no_stream')).toBe('no_stream');
    expect(actualRevisionText(-5n)).toBe('no_stream'); // A deleted stream.
    expect(actualRevisionText(undefined)).toBe('no_stream');
  });
});

describe('metadata packing', () => {
  const metadata: EventMetadata = {
    occurredAt: '2024-05-01T10:00:00.000Z',
    commandId: 'c-1',
    actor: { type: 'member', id: 'm-1' },
  };

  it('stores the schema version and digest under reserved keys and strips them when reading', () => {
    const stored = packMetadata(metadata, 3, DIGEST_A);
    expect(stored[SCHEMA_VERSION_KEY]).toBe(3);
    expect(stored[DIGEST_KEY]).toBe(DIGEST_A);
    expect(unpackMetadata(JSON.parse(JSON.stringify(stored)))).toEqual({ metadata, schemaVersion: 3, digestHex: DIGEST_A });
  });

  it("escapes a caller's keys that start with '$', so they neither collide with reserved keys nor get lost", () => {
    const tricky = { ...metadata, $schemaVersion: 'mine', $digest: 'mine too', $$double: 1 } as EventMetadata;
    const stored = packMetadata(tricky, 2, DIGEST_B);
    expect(stored[SCHEMA_VERSION_KEY]).toBe(2);
    expect(stored[`$${SCHEMA_VERSION_KEY}`]).toBe('mine');
    expect(unpackMetadata(JSON.parse(JSON.stringify(stored)))).toEqual({ metadata: tricky, schemaVersion: 2, digestHex: DIGEST_B });
  });

  it('packs metadata into one string for a multi-stream append, which takes string values only, and reads it back', () => {
    const tricky = { ...metadata, $packed: 'mine', count: 3, flag: true } as EventMetadata;
    const stored = packMetadataForMultiAppend(tricky, 4, DIGEST_A);
    expect(Object.keys(stored)).toEqual([PACKED_METADATA_KEY]);
    expect(Object.values(stored).every((value) => typeof value === 'string')).toBe(true);
    expect(unpackMetadata(JSON.parse(JSON.stringify(stored)))).toEqual({ metadata: tricky, schemaVersion: 4, digestHex: DIGEST_A });
    // Keys the server may add beside the packed string are not the caller's.
    const withServerKeys = { ...stored, '$schema.format': 'Json', '$schema.name': 'PointsEarned' };
    expect(unpackMetadata(withServerKeys)).toEqual({ metadata: tricky, schemaVersion: 4, digestHex: DIGEST_A });
  });

  it("reads a caller's own '$packed' key (stored as '$$packed') as plain metadata, and a packed value that is not JSON as data", () => {
    const stored = packMetadata({ ...metadata, $packed: '{"occurredAt":"x"}' } as EventMetadata, 1, DIGEST_A);
    expect(unpackMetadata(JSON.parse(JSON.stringify(stored))).metadata).toEqual({ ...metadata, $packed: '{"occurredAt":"x"}' });
    expect(unpackMetadata({ [PACKED_METADATA_KEY]: 'not json', occurredAt: 'y' }).metadata).toEqual({ [PACKED_METADATA_KEY]: 'not json', occurredAt: 'y' });
  });

  it("keeps a '__proto__' key as plain data", () => {
    const withProto = JSON.parse('{"occurredAt":"2024-05-01T10:00:00.000Z","__proto__":{"x":1}}') as EventMetadata;
    const stored = packMetadata(withProto, 1, DIGEST_A);
    expect(Object.getPrototypeOf(stored)).toBe(Object.prototype);
    expect(JSON.stringify(stored)).toContain('"__proto__":{"x":1}');
    const read = unpackMetadata(JSON.parse(JSON.stringify(stored)));
    expect(Object.getPrototypeOf(read.metadata)).toBe(Object.prototype);
    expect(Object.keys(read.metadata)).toEqual(['occurredAt', '__proto__']);
  });

  it('reads metadata written by other tools as schema version 1 without a digest', () => {
    expect(unpackMetadata({ occurredAt: 'x', $correlationId: 'k' })).toEqual({
      metadata: { occurredAt: 'x', $correlationId: 'k' },
      schemaVersion: 1,
      digestHex: undefined,
    });
    expect(unpackMetadata(undefined)).toEqual({ metadata: {}, schemaVersion: 1, digestHex: undefined });
    expect(unpackMetadata(new Uint8Array([1, 2]))).toEqual({ metadata: {}, schemaVersion: 1, digestHex: undefined });
    expect(unpackMetadata({ [SCHEMA_VERSION_KEY]: 1.5, [DIGEST_KEY]: 'not hex' })).toEqual({
      metadata: {},
      schemaVersion: 1,
      digestHex: undefined,
    });
  });
});

describe('positions and pages of the global log', () => {
  const at = (position: bigint, item?: string, prepare = position): ScannedEvent<string> => ({ commit: position, prepare, item });

  it('reads from the start for START and from {after, after} otherwise', () => {
    expect(readPositionAfter(-1n)).toBe(KURRENT_START);
    expect(readPositionAfter(0n)).toEqual({ commit: 0n, prepare: 0n });
    expect(readPositionAfter(9_007_199_254_740_993n)).toEqual({ commit: 9_007_199_254_740_993n, prepare: 9_007_199_254_740_993n });
  });

  it('drops the event at `after`, which the inclusive read returns again', () => {
    const page = pageFromScan([at(100n, 'old'), at(200n, 'a'), at(300n, 'b')], 100n, 10, true);
    expect(page).toEqual({ kind: 'page', events: ['a', 'b'], nextAfter: 300n, isEnd: true });
  });

  it('stops at the limit and is not at the end while more events were read', () => {
    const page = pageFromScan([at(100n, 'old'), at(200n, 'a'), at(300n, 'b')], 100n, 1, false);
    expect(page).toEqual({ kind: 'page', events: ['a'], nextAfter: 200n, isEnd: false });
  });

  it('is not at the end when the read was full, even if every event fit the page', () => {
    const page = pageFromScan([at(200n, 'a'), at(300n, 'b')], START_POSITION, 5, false);
    expect(page).toEqual({ kind: 'page', events: ['a', 'b'], nextAfter: 300n, isEnd: false });
  });

  it('advances past events the reader does not see, so filtered readers move on', () => {
    const page = pageFromScan([at(200n), at(300n), at(400n)], 100n, 10, false);
    expect(page).toEqual({ kind: 'page', events: [], nextAfter: 400n, isEnd: false });
  });

  it('returns `after` unchanged when nothing new is visible', () => {
    expect(pageFromScan([at(100n, 'old')], 100n, 10, true)).toEqual({ kind: 'page', events: [], nextAfter: 100n, isEnd: true });
    expect(pageFromScan([], START_POSITION, 10, true)).toEqual({ kind: 'page', events: [], nextAfter: START_POSITION, isEnd: true });
  });

  it('never ends a page inside a legacy transaction whose events share one commit position', () => {
    const scanned = [at(200n, 'a'), at(500n, 't1', 300n), at(500n, 't2', 400n), at(600n, 'c')];
    // The transaction does not fit after 'a': the page ends before it.
    expect(pageFromScan(scanned, START_POSITION, 2, false)).toEqual({ kind: 'page', events: ['a'], nextAfter: 200n, isEnd: false });
    // Alone, it is delivered whole although that is more than the limit.
    expect(pageFromScan(scanned, 200n, 1, false)).toEqual({ kind: 'page', events: ['t1', 't2'], nextAfter: 500n, isEnd: false });
  });

  it('asks for a longer read when the window ends inside a legacy transaction and nothing else fits', () => {
    expect(pageFromScan([at(500n, 't1', 300n), at(500n, 't2', 400n)], START_POSITION, 1, false)).toEqual({ kind: 'read_more' });
    // At the end of the log the transaction is complete.
    expect(pageFromScan([at(500n, 't1', 300n), at(500n, 't2', 400n)], START_POSITION, 1, true)).toEqual({
      kind: 'page',
      events: ['t1', 't2'],
      nextAfter: 500n,
      isEnd: true,
    });
    // With earlier events on the page, the page ends before the transaction instead.
    expect(pageFromScan([at(200n, 'a'), at(500n, 't1', 300n)], START_POSITION, 5, false)).toEqual({
      kind: 'page',
      events: ['a'],
      nextAfter: 200n,
      isEnd: false,
    });
  });
});

describe('idempotency', () => {
  const stored = (eventId: string, revision: bigint, digestHex = DIGEST_A): StoredIdentity => ({
    eventId,
    revision,
    globalPosition: 1000n + revision * 10n,
    digestHex,
  });

  it('looks exactly where an exact revision or no_stream puts the original write, and back from the end otherwise', () => {
    expect(replayWindow(4n, 2)).toEqual({ direction: 'forwards', fromRevision: 5n, maxCount: 2 });
    expect(replayWindow('no_stream', 3)).toEqual({ direction: 'forwards', fromRevision: 0n, maxCount: 3 });
    expect(replayWindow('any', 2)).toEqual({ direction: 'backwards', maxCount: IDEMPOTENCY_LOOKBACK_EVENTS + 2 });
    expect(replayWindow('stream_exists', 1)).toEqual({ direction: 'backwards', maxCount: IDEMPOTENCY_LOOKBACK_EVENTS + 1 });
  });

  it('sees a new append when none of the ids is stored', () => {
    expect(judgeIdempotency('s', [{ eventId: 'x', digestHex: DIGEST_A }], [stored('y', 0n)])).toEqual({ kind: 'none' });
    expect(judgeIdempotency('s', [{ eventId: 'x', digestHex: DIGEST_A }], [])).toEqual({ kind: 'none' });
  });

  it('returns the original result for the same ids and content at consecutive revisions', () => {
    const verdict = judgeIdempotency(
      's',
      [
        { eventId: 'a', digestHex: DIGEST_A },
        { eventId: 'b', digestHex: DIGEST_B },
      ],
      [stored('z', 2n), stored('A', 3n), stored('b', 4n, DIGEST_B), stored('w', 5n)],
    );
    expect(verdict).toEqual({
      kind: 'replay',
      result: {
        nextExpectedRevision: 4n,
        lastPosition: 1040n,
        events: [
          { eventId: 'a', revision: 3n, globalPosition: 1030n },
          { eventId: 'b', revision: 4n, globalPosition: 1040n },
        ],
        idempotentReplay: true,
      },
    });
  });

  it('refuses an id stored with different content', () => {
    const verdict = judgeIdempotency('s', [{ eventId: 'a', digestHex: DIGEST_B }], [stored('a', 0n, DIGEST_A)]);
    expect(verdict).toMatchObject({ kind: 'conflict', details: { eventIds: ['a'] } });
  });

  it('refuses a batch of which only part was stored, or stored in another order', () => {
    const batch = [
      { eventId: 'a', digestHex: DIGEST_A },
      { eventId: 'b', digestHex: DIGEST_A },
    ];
    expect(judgeIdempotency('s', batch, [stored('b', 0n)])).toMatchObject({ kind: 'conflict' });
    expect(judgeIdempotency('s', batch, [stored('a', 0n)])).toMatchObject({ kind: 'conflict' });
    expect(judgeIdempotency('s', batch, [stored('b', 0n), stored('a', 1n)])).toMatchObject({ kind: 'conflict' });
    expect(judgeIdempotency('s', batch, [stored('a', 0n), stored('x', 1n), stored('b', 2n)])).toMatchObject({ kind: 'conflict' });
  });
});

describe('idempotency of a multi-stream append', () => {
  const replay = (revision: bigint): IdempotencyVerdict => ({
    kind: 'replay',
    result: { nextExpectedRevision: revision, lastPosition: 10n, events: [], idempotentReplay: true },
  });

  it('is a new append when no stream has any of its ids', () => {
    expect(judgeMultiIdempotency(['a', 'b'], [{ kind: 'none' }, { kind: 'none' }])).toEqual({ kind: 'none' });
  });

  it('replays the whole call, in the order given, when every stream has its batch', () => {
    const verdict = judgeMultiIdempotency(['a', 'b'], [replay(1n), replay(7n)]);
    expect(verdict.kind === 'replay' && verdict.results.map((result) => result.nextExpectedRevision)).toEqual([1n, 7n]);
  });

  it('refuses a call of which some streams were stored and others not, naming one that was not', () => {
    expect(judgeMultiIdempotency(['a', 'b', 'c'], [replay(1n), { kind: 'none' }, replay(2n)])).toMatchObject({
      kind: 'conflict',
      details: { streamId: 'b', appendIndex: 1 },
    });
  });

  it("passes a stream's own conflict on", () => {
    const conflict: IdempotencyVerdict = { kind: 'conflict', message: 'stream b: changed', details: { streamId: 'b' } };
    expect(judgeMultiIdempotency(['a', 'b'], [replay(1n), conflict])).toEqual(conflict);
  });
});

describe('filters', () => {
  it('hides system events and streams', () => {
    expect(isSystemEvent('member-1', '$metadata')).toBe(true);
    expect(isSystemEvent('$stats-127.0.0.1:2113', 'StatsCollected')).toBe(true);
    expect(isSystemEvent('member-1', 'PointsEarned')).toBe(false);
    expect(matchesFilters('$ce-member', '$>', [], [])).toBe(false);
  });

  it('applies stream prefixes and exact event types', () => {
    expect(matchesFilters('t1-a', 'A1', ['t1'], [])).toBe(true);
    expect(matchesFilters('t2-a', 'A1', ['t1'], [])).toBe(false);
    expect(matchesFilters('t1-a', 'A1', ['t1'], ['A2'])).toBe(false);
    expect(matchesFilters('t1-a', 'A2', [], ['A1', 'A2'])).toBe(true);
  });

  it('builds an anchored, escaped regular expression for exact event types', () => {
    const regex = exactTypesRegex(['Points.Earned', 'A2']);
    expect(regex).toBe('^(?:Points\\.Earned|A2)$');
    expect(new RegExp(regex).test('Points.Earned')).toBe(true);
    expect(new RegExp(regex).test('PointsXEarned')).toBe(false);
    expect(new RegExp(regex).test('A22')).toBe(false);
  });

  it('sends stream prefixes to the server first, then event types, else excludes system events', () => {
    expect(serverFilterFor(['t1'], ['A1'])).toMatchObject({ filterOn: 'streamName', prefixes: ['t1'] });
    expect(serverFilterFor([], ['A1'])).toMatchObject({ filterOn: 'eventType', regex: '^(?:A1)$' });
    expect(serverFilterFor([], [])).toMatchObject({ filterOn: 'eventType', regex: '^[^$].*' });
  });
});
