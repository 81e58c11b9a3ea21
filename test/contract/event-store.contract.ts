import { randomUUID } from 'node:crypto';
import { ConcurrencyError, EventIdConflictError, EventStoreValidationError } from '../../src/eventstore/errors';
import { START, type EventStore, type EventToAppend, type RecordedEvent } from '../../src/eventstore/event-store';
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
