import { randomUUID } from 'node:crypto';
import { ConcurrencyError, EventIdConflictError, EventStoreValidationError } from '../../src/eventstore/errors';
import { START, type EventStore, type EventToAppend, type RecordedEvent, type StreamAppend } from '../../src/eventstore/event-store';
import { LIMITS } from '../../src/eventstore/validation';
import { DEADLINE_MS, testTimeout, waitFor } from '../support/wait-for';

/**
 * The contract every EventStore adapter passes. Each test uses streams with a prefix of its own,
 * so the suite also runs against a shared server (KurrentDB) without collisions.
 */
export interface ContractFixture {
  store: EventStore;
  cleanup(): Promise<void>;
}

export function event(type = 'PointsEarned', data: Record<string, unknown> = { points: 10 }): EventToAppend {
  return {
    eventId: randomUUID(),
    type,
    data: data as EventToAppend['data'],
    metadata: { occurredAt: new Date().toISOString(), commandId: randomUUID(), actor: { type: 'member', id: 'm-1' } },
  };
}

export function uniquePrefix(): string {
  return `t${randomUUID().replace(/-/g, '').slice(0, 12)}`;
}

async function expectCode(promise: Promise<unknown>, errorClass: abstract new (...args: never[]) => Error, code: string) {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(errorClass);
  expect((error as { code: string }).code).toBe(code);
}

export function describeEventStoreContract(adapter: string, makeFixture: () => Promise<ContractFixture>): void {
  describe(`EventStore contract: ${adapter}`, () => {
    let fixture: ContractFixture;
    let store: EventStore;
    let prefix: string;

    beforeAll(async () => {
      fixture = await makeFixture();
      store = fixture.store;
    });
    afterAll(async () => {
      await fixture?.cleanup();
    });
    beforeEach(() => {
      prefix = uniquePrefix();
    });

    describe('append and read a stream', () => {
      it('numbers revisions from 0 and reads them back unchanged, forwards and backwards', async () => {
        const stream = `${prefix}-member-1`;
        const written = [event('MemberActivated', { name: '张三', points: 100, nested: { a: [1, 2.5, 'x'] } }), event(), event()];
        const result = await store.appendToStream(stream, written, { expectedRevision: 'no_stream' });
        expect(result.nextExpectedRevision).toBe(2n);
        expect(result.events.map((item) => item.revision)).toEqual([0n, 1n, 2n]);
        expect(result.idempotentReplay).toBe(false);

        const forwards = await store.readStream(stream);
        expect(forwards.map((item) => item.revision)).toEqual([0n, 1n, 2n]);
        expect(forwards.map((item) => item.eventId)).toEqual(written.map((item) => item.eventId));
        expect(forwards[0]?.data).toEqual({ name: '张三', points: 100, nested: { a: [1, 2.5, 'x'] } });
        expect(forwards[0]?.type).toBe('MemberActivated');
        expect(forwards[0]?.schemaVersion).toBe(1);
        expect(forwards[0]?.metadata).toEqual(written[0]?.metadata);
        expect(forwards[0]?.recordedAt).toBeInstanceOf(Date);
        expect(forwards[2]!.globalPosition > forwards[0]!.globalPosition).toBe(true);

        const backwards = await store.readStream(stream, { direction: 'backwards', maxCount: 2 });
        expect(backwards.map((item) => item.revision)).toEqual([2n, 1n]);
        const fromOne = await store.readStream(stream, { fromRevision: 1n });
        expect(fromOne.map((item) => item.revision)).toEqual([1n, 2n]);
        expect(await store.readStream(`${prefix}-missing`)).toEqual([]);
      });

      it('checks every form of expected revision and writes nothing when it does not hold', async () => {
        const stream = `${prefix}-s`;
        await expectCode(
          store.appendToStream(stream, [event()], { expectedRevision: 'stream_exists' }),
          ConcurrencyError,
          'EVENTSTORE.WRONG_EXPECTED_REVISION',
        );
        await expectCode(store.appendToStream(stream, [event()], { expectedRevision: 0n }), ConcurrencyError, 'EVENTSTORE.WRONG_EXPECTED_REVISION');
        await store.appendToStream(stream, [event()], { expectedRevision: 'no_stream' });
        await store.appendToStream(stream, [event()], { expectedRevision: 0n });
        await store.appendToStream(stream, [event()], { expectedRevision: 'stream_exists' });
        await store.appendToStream(stream, [event()], { expectedRevision: 'any' });
        await store.appendToStream(stream, [event()]);
        const before = await store.readStream(stream);
        expect(before).toHaveLength(5);

        const stale = store.appendToStream(stream, [event()], { expectedRevision: 2n });
        await expectCode(stale, ConcurrencyError, 'EVENTSTORE.WRONG_EXPECTED_REVISION');
        const staleError = (await stale.catch((error: unknown) => error)) as ConcurrencyError;
        expect(staleError.actual).toBe('4');
        await expectCode(
          store.appendToStream(stream, [event()], { expectedRevision: 'no_stream' }),
          ConcurrencyError,
          'EVENTSTORE.WRONG_EXPECTED_REVISION',
        );
        expect(await store.readStream(stream)).toEqual(before);
        const result = await store.appendToStream(stream, [event()], { expectedRevision: 4n });
        expect(result.nextExpectedRevision).toBe(5n);
      });

      it('lets exactly one of several concurrent writers with the same expected revision win', async () => {
        const stream = `${prefix}-race`;
        await store.appendToStream(stream, [event()], { expectedRevision: 'no_stream' });
        const outcomes = await Promise.allSettled(
          Array.from({ length: 8 }, () => store.appendToStream(stream, [event()], { expectedRevision: 0n })),
        );
        expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
        for (const outcome of outcomes) {
          if (outcome.status === 'rejected') expect(outcome.reason).toBeInstanceOf(ConcurrencyError);
        }
        expect(await store.readStream(stream)).toHaveLength(2);
      });
    });

    describe('idempotency by event id', () => {
      it('returns the original result for the same events and writes nothing', async () => {
        const stream = `${prefix}-idem`;
        const batch = [event(), event()];
        const first = await store.appendToStream(stream, batch, { expectedRevision: 'no_stream' });
        // A retry carries the same expected revision as the original attempt.
        const again = await store.appendToStream(stream, batch, { expectedRevision: 'no_stream' });
        expect(again.idempotentReplay).toBe(true);
        expect(again.events).toEqual(first.events);
        expect(again.nextExpectedRevision).toBe(first.nextExpectedRevision);
        expect(await store.readStream(stream)).toHaveLength(2);
      });

      it('refuses the same event id with different content', async () => {
        const stream = `${prefix}-idem2`;
        const original = event('PointsEarned', { points: 10 });
        await store.appendToStream(stream, [original]);
        await expectCode(
          store.appendToStream(stream, [{ ...original, data: { points: 11 } }]),
          EventIdConflictError,
          'EVENTSTORE.EVENT_ID_CONFLICT',
        );
        expect(await store.readStream(stream)).toHaveLength(1);
      });
    });

    describe('bad input is refused and writes nothing', () => {
      const cases: Array<[string, () => [string, EventToAppend[], unknown], string]> = [
        ['an empty event list', () => [`${prefix}-bad`, [], 'any'], 'EVENTSTORE.EMPTY_APPEND'],
        ['an empty stream id', () => ['', [event()], 'any'], 'EVENTSTORE.STREAM_ID_INVALID'],
        ['an over-long stream id', () => ['s'.repeat(LIMITS.streamIdMaxLength + 1), [event()], 'any'], 'EVENTSTORE.STREAM_ID_INVALID'],
        ['a stream id with spaces', () => [`${prefix} bad`, [event()], 'any'], 'EVENTSTORE.STREAM_ID_INVALID'],
        [
          'event data over the size limit',
          () => [`${prefix}-bad`, [event('Big', { blob: 'x'.repeat(LIMITS.dataMaxBytes) })], 'any'],
          'EVENTSTORE.DATA_TOO_LARGE',
        ],
        ['an unknown expected-revision form', () => [`${prefix}-bad`, [event()], 'latest'], 'EVENTSTORE.EXPECTED_REVISION_INVALID'],
        ['a negative expected revision', () => [`${prefix}-bad`, [event()], -1n], 'EVENTSTORE.EXPECTED_REVISION_INVALID'],
        ['an event type with spaces', () => [`${prefix}-bad`, [event('Points Earned')], 'any'], 'EVENTSTORE.EVENT_TYPE_INVALID'],
        ['a NUL character in data', () => [`${prefix}-bad`, [event('X', { s: 'a\u0000b' })], 'any'], 'EVENTSTORE.DATA_INVALID'],
        [
          'a missing occurredAt',
          () => [`${prefix}-bad`, [{ type: 'X', data: {}, metadata: {} as EventToAppend['metadata'] }], 'any'],
          'EVENTSTORE.METADATA_INVALID',
        ],
      ];
      it.each(cases)('refuses %s', async (_label, makeArgs, code) => {
        const [stream, events, expected] = makeArgs();
        await expectCode(
          store.appendToStream(stream, events, { expectedRevision: expected as never }),
          EventStoreValidationError,
          code,
        );
        if (stream) {
          const stored = await store.readStream(stream.slice(0, LIMITS.streamIdMaxLength)).catch(() => []);
          expect(stored).toEqual([]);
        }
      });
    });

    describe('multi-stream append', () => {
      /** A disbursement chunk: a budget and a batch stream at exact revisions, and wallets with 'any'. */
      async function chunkFixture(wallets: number): Promise<{ budget: string; batch: string; walletIds: string[] }> {
        const budget = `${prefix}-budget`;
        const batch = `${prefix}-batch`;
        await store.appendToStream(budget, [event('BudgetOpened'), event('BudgetFunded')], { expectedRevision: 'no_stream' });
        await store.appendToStream(batch, [event('BatchOpened')], { expectedRevision: 'no_stream' });
        return { budget, batch, walletIds: Array.from({ length: wallets }, (_unused, index) => `${prefix}-wallet-${index}`) };
      }

      function chunk(ids: { budget: string; batch: string; walletIds: string[] }, budgetAt: bigint, batchAt: bigint): StreamAppend[] {
        return [
          { streamId: ids.budget, events: [event('BudgetDebited')], expectedRevision: budgetAt },
          ...ids.walletIds.map((streamId) => ({ streamId, events: [event('WalletCredited')] })),
          { streamId: ids.batch, events: [event('ChunkPaid'), event('ChunkClosed')], expectedRevision: batchAt },
        ];
      }

      it('appends to every stream at once and answers in the order given', async () => {
        const ids = await chunkFixture(5);
        // Given in an order that is not the streams' sorted order.
        const appends = chunk(ids, 1n, 0n).reverse();
        const results = await store.appendToStreams(appends);
        expect(results).toHaveLength(appends.length);
        for (const [index, append] of appends.entries()) {
          const result = results[index]!;
          expect(result.idempotentReplay).toBe(false);
          expect(result.events.map((item) => item.eventId)).toEqual(append.events.map((item) => item.eventId));
          const stored = await store.readStream(append.streamId);
          expect(stored.slice(-append.events.length).map((item) => item.eventId)).toEqual(append.events.map((item) => item.eventId));
          expect(result.nextExpectedRevision).toBe(stored[stored.length - 1]!.revision);
          expect(result.events.map((item) => item.revision)).toEqual(stored.slice(-append.events.length).map((item) => item.revision));
          expect(result.lastPosition).toBe(result.events[result.events.length - 1]!.globalPosition);
        }
        expect((await store.readStream(ids.budget)).map((item) => item.type)).toEqual(['BudgetOpened', 'BudgetFunded', 'BudgetDebited']);
        expect(results[0]!.events.map((item) => item.revision)).toEqual([1n, 2n]); // the batch, given first
        expect(results[results.length - 1]!.nextExpectedRevision).toBe(2n); // the budget, given last
      });

      it.each([
        ['the budget (first)', 'budget'],
        ['the batch (last)', 'batch'],
      ] as const)('writes nothing when one stream among many is not at its expected revision, and names it: %s', async (_label, stale) => {
        const ids = await chunkFixture(40);
        const appends = chunk(ids, stale === 'budget' ? 0n : 1n, stale === 'batch' ? 5n : 0n);
        const error = (await store.appendToStreams(appends).catch((caught: unknown) => caught)) as ConcurrencyError;
        expect(error).toBeInstanceOf(ConcurrencyError);
        expect(error.code).toBe('EVENTSTORE.WRONG_EXPECTED_REVISION');
        expect(error.streamId).toBe(stale === 'budget' ? ids.budget : ids.batch);
        expect(error.actual).toBe(stale === 'budget' ? '1' : '0');
        for (const streamId of ids.walletIds) expect(await store.readStream(streamId)).toEqual([]);
        expect(await store.readStream(ids.budget)).toHaveLength(2);
        expect(await store.readStream(ids.batch)).toHaveLength(1);
      });

      it("checks 'no_stream' and 'stream_exists' per stream too", async () => {
        const existing = `${prefix}-existing`;
        await store.appendToStream(existing, [event()]);
        const fresh = `${prefix}-fresh`;
        const refused = store.appendToStreams([
          { streamId: fresh, events: [event()], expectedRevision: 'no_stream' },
          { streamId: existing, events: [event()], expectedRevision: 'no_stream' },
        ]);
        await expect(refused).rejects.toMatchObject({ code: 'EVENTSTORE.WRONG_EXPECTED_REVISION', streamId: existing, actual: '0' });
        await expect(
          store.appendToStreams([
            { streamId: existing, events: [event()], expectedRevision: 'stream_exists' },
            { streamId: fresh, events: [event()], expectedRevision: 'stream_exists' },
          ]),
        ).rejects.toMatchObject({ code: 'EVENTSTORE.WRONG_EXPECTED_REVISION', streamId: fresh, actual: 'no_stream' });
        expect(await store.readStream(fresh)).toEqual([]);
        const results = await store.appendToStreams([
          { streamId: existing, events: [event()], expectedRevision: 'stream_exists' },
          { streamId: fresh, events: [event()], expectedRevision: 'no_stream' },
        ]);
        expect(results.map((result) => result.nextExpectedRevision)).toEqual([1n, 0n]);
      });

      it('returns the original results for the same call again and writes nothing', async () => {
        const ids = await chunkFixture(10);
        const appends = chunk(ids, 1n, 0n);
        const first = await store.appendToStreams(appends);
        // A retry carries the same expected revisions as the original attempt.
        const again = await store.appendToStreams(appends);
        expect(again.map((result) => result.idempotentReplay)).toEqual(appends.map(() => true));
        expect(again.map((result) => result.events)).toEqual(first.map((result) => result.events));
        expect(again.map((result) => result.nextExpectedRevision)).toEqual(first.map((result) => result.nextExpectedRevision));
        // With 'any' everywhere nothing fails on a revision: the stored ids decide alone.
        const anyOnly = appends.map(({ streamId, events }) => ({ streamId, events }));
        const third = await store.appendToStreams(anyOnly);
        expect(third.every((result) => result.idempotentReplay)).toBe(true);
        expect(await store.readStream(ids.budget)).toHaveLength(3);
        expect(await store.readStream(ids.batch)).toHaveLength(3);
        for (const streamId of ids.walletIds) expect(await store.readStream(streamId)).toHaveLength(1);
      });

      it('refuses a call of which only part was stored before, or with the same ids and other content', async () => {
        const ids = await chunkFixture(4);
        const appends = chunk(ids, 1n, 0n);
        // One wallet's credit was appended on its own earlier, with the same event id.
        const early = appends[2]!;
        await store.appendToStream(early.streamId, early.events);
        await expectCode(store.appendToStreams(appends), EventIdConflictError, 'EVENTSTORE.EVENT_ID_CONFLICT');
        expect(await store.readStream(ids.budget)).toHaveLength(2);
        expect(await store.readStream(appends[1]!.streamId)).toEqual([]);

        const whole = chunk(ids, 1n, 0n);
        await store.appendToStreams(whole);
        const changed = whole.map((append, index) =>
          index === 3 ? { ...append, events: [{ ...append.events[0]!, data: { points: 999 } }] } : append,
        );
        await expectCode(store.appendToStreams(changed), EventIdConflictError, 'EVENTSTORE.EVENT_ID_CONFLICT');
        expect(await store.readStream(whole[3]!.streamId)).toHaveLength(1);
      });

      describe('bad input is refused before anything is written', () => {
        const one = (streamId: string): StreamAppend => ({ streamId, events: [event()] });
        const cases: Array<[string, () => StreamAppend[], string]> = [
          ['no streams', () => [], 'EVENTSTORE.EMPTY_APPEND'],
          ['a stream with no events', () => [one(`${prefix}-ok`), { streamId: `${prefix}-empty`, events: [] }], 'EVENTSTORE.EMPTY_APPEND'],
          ['the same stream twice', () => [one(`${prefix}-ok`), one(`${prefix}-twice`), one(`${prefix}-twice`)], 'EVENTSTORE.STREAM_DUPLICATE'],
          [
            'the same event id in two streams',
            () => {
              const shared = event();
              return [{ streamId: `${prefix}-ok`, events: [shared] }, { streamId: `${prefix}-other`, events: [shared] }];
            },
            'EVENTSTORE.EVENT_ID_DUPLICATE',
          ],
          [
            `more than ${LIMITS.streamsPerMultiAppend} streams`,
            () => Array.from({ length: LIMITS.streamsPerMultiAppend + 1 }, (_unused, index) => one(`${prefix}-s${index}`)),
            'EVENTSTORE.TOO_MANY_STREAMS',
          ],
          [
            `more than ${LIMITS.eventsPerMultiAppend} events`,
            () => {
              const perStream = LIMITS.eventsPerAppend;
              const streams = Math.floor(LIMITS.eventsPerMultiAppend / perStream) + 1;
              return Array.from({ length: streams }, (_unused, index) => ({
                streamId: `${prefix}-s${index}`,
                events: Array.from({ length: perStream }, () => event()),
              }));
            },
            'EVENTSTORE.TOO_MANY_EVENTS',
          ],
          [
            `more than ${LIMITS.multiAppendMaxBytes} bytes of JSON`,
            () => {
              const blob = 'x'.repeat(LIMITS.dataMaxBytes - 100);
              const perStream = Math.floor(LIMITS.appendMaxBytes / LIMITS.dataMaxBytes) - 1;
              const streams = Math.ceil(LIMITS.multiAppendMaxBytes / (perStream * blob.length)) + 1;
              return Array.from({ length: streams }, (_unused, index) => ({
                streamId: `${prefix}-s${index}`,
                events: Array.from({ length: perStream }, () => event('Big', { blob })),
              }));
            },
            'EVENTSTORE.APPEND_TOO_LARGE',
          ],
          ['a bad stream id in one part', () => [one(`${prefix}-ok`), one(`${prefix} bad`)], 'EVENTSTORE.STREAM_ID_INVALID'],
          ['a bad expected revision in one part', () => [one(`${prefix}-ok`), { ...one(`${prefix}-x`), expectedRevision: -1n }], 'EVENTSTORE.EXPECTED_REVISION_INVALID'],
        ];
        it.each(cases)('refuses %s', async (_label, makeAppends, code) => {
          const appends = makeAppends();
          await expectCode(store.appendToStreams(appends), EventStoreValidationError, code);
          expect(await store.readStream(`${prefix}-ok`)).toEqual([]);
          expect(await store.readStream(`${prefix}-s0`)).toEqual([]);
        });

        it('says which part was wrong', async () => {
          const error = (await store.appendToStreams([one(`${prefix}-ok`), one(`${prefix}-ok2`), one('')]).catch((caught: unknown) => caught)) as EventStoreValidationError;
          expect(error).toBeInstanceOf(EventStoreValidationError);
          expect(error.code).toBe('EVENTSTORE.STREAM_ID_INVALID');
          expect(error.details.appendIndex).toBe(2);
          expect(error.message).toMatch(/^appends\[2\]/);
        });
      });
    });

    describe('group append (appendEach): one call, an answer per stream', () => {
      it('writes the streams that are at their expected revision and refuses only the stale one, with its actual revision', async () => {
        const stale = `${prefix}-stale`;
        const exact = `${prefix}-exact`;
        await store.appendToStream(stale, [event(), event()], { expectedRevision: 'no_stream' });
        await store.appendToStream(exact, [event()], { expectedRevision: 'no_stream' });
        const appends: StreamAppend[] = [
          { streamId: `${prefix}-z-new`, events: [event('A'), event('B')], expectedRevision: 'no_stream' },
          { streamId: stale, events: [event('Lost')], expectedRevision: 0n },
          { streamId: exact, events: [event('C')], expectedRevision: 0n },
          { streamId: `${prefix}-a-any`, events: [event('D')] },
        ];
        const outcomes = await store.appendEach(appends);
        expect(outcomes.map((outcome) => outcome.ok)).toEqual([true, false, true, true]);
        const refused = outcomes[1]!;
        if (refused.ok) throw new Error('unreachable');
        expect(refused.error).toBeInstanceOf(ConcurrencyError);
        expect(refused.error).toMatchObject({ code: 'EVENTSTORE.WRONG_EXPECTED_REVISION', streamId: stale, expected: '0', actual: '1' });
        expect((await store.readStream(stale)).map((item) => item.type)).toEqual(['PointsEarned', 'PointsEarned']);
        for (const [index, append] of appends.entries()) {
          const outcome = outcomes[index]!;
          if (!outcome.ok) continue;
          const stored = await store.readStream(append.streamId);
          expect(outcome.result.idempotentReplay).toBe(false);
          expect(outcome.result.events.map((item) => item.eventId)).toEqual(append.events.map((item) => item.eventId));
          expect(stored.slice(-append.events.length).map((item) => item.eventId)).toEqual(append.events.map((item) => item.eventId));
          expect(outcome.result.nextExpectedRevision).toBe(stored[stored.length - 1]!.revision);
          expect(outcome.result.lastPosition).toBe(stored[stored.length - 1]!.globalPosition);
        }
        expect(outcomes[2]!.ok && outcomes[2]!.result.nextExpectedRevision).toBe(1n);
      });

      it("answers 'no_stream' and 'stream_exists' per stream", async () => {
        const existing = `${prefix}-existing`;
        await store.appendToStream(existing, [event()]);
        const outcomes = await store.appendEach([
          { streamId: existing, events: [event()], expectedRevision: 'no_stream' },
          { streamId: `${prefix}-fresh`, events: [event()], expectedRevision: 'stream_exists' },
          { streamId: `${prefix}-other`, events: [event()], expectedRevision: 'no_stream' },
        ]);
        expect(outcomes.map((outcome) => (outcome.ok ? 'ok' : (outcome.error as ConcurrencyError).actual))).toEqual(['0', 'no_stream', 'ok']);
        expect(await store.readStream(`${prefix}-fresh`)).toEqual([]);
        expect(await store.readStream(existing)).toHaveLength(1);
      });

      it('answers a stream whose events are stored already with its original result, and one with other content with a conflict, while the rest commit', async () => {
        const replayed: StreamAppend = { streamId: `${prefix}-replayed`, events: [event(), event()], expectedRevision: 'no_stream' };
        const first = await store.appendToStream(replayed.streamId, replayed.events, { expectedRevision: 'no_stream' });
        const changedEvent = event();
        await store.appendToStream(`${prefix}-changed`, [changedEvent]);
        const anyEvents = [event()];
        const firstAny = await store.appendToStream(`${prefix}-replayed-any`, anyEvents);
        await store.appendToStream(`${prefix}-replayed-any`, [event()]);
        const outcomes = await store.appendEach([
          replayed,
          { streamId: `${prefix}-changed`, events: [{ ...changedEvent, data: { points: 999 } }] },
          { streamId: `${prefix}-fresh`, events: [event()] },
          // A retry with 'any' after the stream moved on: the stored ids decide alone.
          { streamId: `${prefix}-replayed-any`, events: anyEvents },
        ]);
        expect(outcomes[0]).toEqual({ ok: true, result: { ...first, idempotentReplay: true } });
        expect(outcomes[1]!.ok).toBe(false);
        if (!outcomes[1]!.ok) expect(outcomes[1]!.error).toBeInstanceOf(EventIdConflictError);
        expect(outcomes[2]!.ok).toBe(true);
        expect(outcomes[3]).toEqual({ ok: true, result: { ...firstAny, idempotentReplay: true } });
        expect(await store.readStream(replayed.streamId)).toHaveLength(2);
        expect(await store.readStream(`${prefix}-replayed-any`)).toHaveLength(2);
        expect(await store.readStream(`${prefix}-changed`)).toHaveLength(1);
        const again = await store.appendEach([{ streamId: replayed.streamId, events: replayed.events }]);
        expect(again).toEqual([{ ok: true, result: { ...first, idempotentReplay: true } }]);
      });

      it('refuses bad input for the whole call before anything is written', async () => {
        const streamId = `${prefix}-twice`;
        await expectCode(
          store.appendEach([
            { streamId, events: [event()] },
            { streamId, events: [event()] },
          ]),
          EventStoreValidationError,
          'EVENTSTORE.STREAM_DUPLICATE',
        );
        await expectCode(store.appendEach([]), EventStoreValidationError, 'EVENTSTORE.EMPTY_APPEND');
        await expectCode(store.appendEach([{ streamId: `${prefix}-empty`, events: [] }]), EventStoreValidationError, 'EVENTSTORE.EMPTY_APPEND');
        expect(await store.readStream(streamId)).toEqual([]);
      });

      it('answers every one of many concurrent one-event appends of single writers on their own', async () => {
        // What group commit sends: many streams, one event each, some of them stale.
        const streams = Array.from({ length: 40 }, (_unused, index) => `${prefix}-w${index}`);
        await Promise.all(streams.filter((_id, index) => index % 4 === 0).map((streamId) => store.appendToStream(streamId, [event()])));
        const outcomes = await store.appendEach(streams.map((streamId) => ({ streamId, events: [event()], expectedRevision: 'no_stream' as const })));
        expect(outcomes.map((outcome) => outcome.ok)).toEqual(streams.map((_id, index) => index % 4 !== 0));
        for (const streamId of streams) expect(await store.readStream(streamId)).toHaveLength(1);
      });
    });

    describe('the global log', () => {
      it('reads all events in commit order, page by page, with stream-prefix and type filters', async () => {
        const a = `${prefix}-a`;
        const b = `${prefix}-b`;
        await store.appendToStream(a, [event('A1'), event('A2')]);
        await store.appendToStream(b, [event('B1')]);
        await store.appendToStream(a, [event('A3')]);

        // A reader may see committed events late (PostgreSQL hides everything after the cluster's
        // oldest open transaction, for as long as it stays open), so it keeps paging, as a
        // subscriber would, until all arrived.
        const seen: RecordedEvent[] = [];
        let after = START;
        await waitFor(
          async () => {
            const result = await store.readAll({ after, limit: 2, streamPrefixes: [prefix] });
            seen.push(...result.events);
            after = result.nextAfter;
            return seen.length >= 4;
          },
          { what: 'the four events in the global log', seen: () => seen.map((item) => item.type).join(', ') },
        );
        expect(seen.map((item) => item.type)).toEqual(['A1', 'A2', 'B1', 'A3']);

        const afterEnd = await store.readAll({ after, streamPrefixes: [prefix] });
        expect(afterEnd.events).toEqual([]);
        const onlyB = await store.readAll({ streamPrefixes: [b] });
        expect(onlyB.events.map((item) => item.type)).toEqual(['B1']);
        const byType = await store.readAll({ streamPrefixes: [prefix], eventTypes: ['A2', 'A3'] });
        expect(byType.events.map((item) => item.type)).toEqual(['A2', 'A3']);
        const afterLast = await store.readAll({ after: byType.nextAfter, streamPrefixes: [prefix] });
        expect(afterLast.events).toEqual([]);
        expect(afterLast.isEnd).toBe(true);
      }, testTimeout());

      it('refuses a limit that is not a positive integer', async () => {
        await expectCode(store.readAll({ limit: 0 }), EventStoreValidationError, 'EVENTSTORE.LIMIT_INVALID');
      });
    });

    describe('subscriptions', () => {
      it('resumes from the stored checkpoint and is woken by new appends', async () => {
        const stream = `${prefix}-sub`;
        await store.appendToStream(stream, [event('E0'), event('E1')]);
        // E0 shows in the global log once no transaction open in the cluster hides it any more.
        const first = await waitFor(
          async () => {
            const page = await store.readAll({ streamPrefixes: [prefix], limit: 1 });
            return page.events.length > 0 && page;
          },
          { what: 'E0 in the global log' },
        );
        let checkpoint = first.nextAfter; // E0 was "processed" before the subscription started.

        const received: string[] = [];
        const handle = store.subscribe({
          name: `${prefix}-sub`,
          streamPrefixes: [prefix],
          // Far beyond the test's deadlines: only a wake-up (and the fast polls after it) can
          // deliver E2 in time, never a scheduled poll.
          pollIntervalMs: 10 * DEADLINE_MS,
          loadCheckpoint: async () => checkpoint,
          handle: async (events, nextAfter) => {
            received.push(...events.map((item) => item.type));
            checkpoint = nextAfter;
          },
        });
        try {
          // E1 was visible with E0: once it is delivered the subscription has caught up and idles.
          await waitFor(() => received.includes('E1'), { what: 'the subscription to deliver E1', seen: () => received.join(', ') });
          await store.appendToStream(stream, [event('E2')]);
          // PostgreSQL may hide E2 from every reader for as long as a transaction is open anywhere
          // in the cluster, longer than the fast polls after E2's wake-up last. Then, once a plain
          // reader sees E2, the wake-up of one more append must bring it. Either way E2 arrives
          // through a wake-up.
          let nudged = false;
          await waitFor(
            async () => {
              if (received.includes('E2')) return true;
              if (!nudged && (await store.readAll({ streamPrefixes: [stream], eventTypes: ['E2'] })).events.length > 0) {
                nudged = true;
                await store.appendToStream(`${prefix}-nudge`, [event('Nudge')]);
              }
              return false;
            },
            { what: 'the subscription to deliver E2', seen: () => `${received.join(', ')}${nudged ? ' (nudged)' : ''}` },
          );
          expect(received.filter((type) => type !== 'Nudge')).toEqual(['E1', 'E2']);
        } finally {
          await handle.stop();
        }
      }, testTimeout(3));
    });
  });
}
