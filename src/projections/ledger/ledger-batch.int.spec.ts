import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { testTimeout } from '../../../test/support/wait-for';
import type { RecordedEvent } from '../../eventstore/event-store';
import { PostgresEventStore } from '../../eventstore/postgres/postgres-event-store';
import { catchUpProjection, dumpTables, loadCheckpoint, rebuildProjection } from '..';
import { LEDGER_PROJECTION, LEDGER_TABLES, ledgerProjection } from './ledger-projection';

/**
 * The ledger projection writes a whole batch at once (balances folded per member, one INSERT per
 * table). These specs show that batching changes nothing: any split of a history into batches
 * gives the tables that applying it event by event gives, and a batch that fails leaves rows and
 * checkpoint where the last committed batch left them.
 */

jest.setTimeout(testTimeout(4));

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
});

afterAll(async () => {
  await database.drop();
});

type Step =
  | { kind: 'enrol'; member: number }
  | { kind: 'grant' | 'spend' | 'hold'; member: number; points: number }
  | { kind: 'settle'; member: number; post: boolean }
  | { kind: 'fund'; fen: number };

const stepArbitrary: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('enrol' as const), member: fc.nat(4) }),
  fc.record({ kind: fc.constantFrom('grant' as const, 'spend' as const, 'hold' as const), member: fc.nat(4), points: fc.integer({ min: 1, max: 500 }) }),
  fc.record({ kind: fc.constant('settle' as const), member: fc.nat(4), post: fc.boolean() }),
  fc.record({ kind: fc.constant('fund' as const), fen: fc.integer({ min: 1, max: 1_000_000 }) }),
);

/**
 * A history of recorded events as the feed would deliver it: member streams (enrolment first,
 * revisions from 0) whose postings never take a balance below zero, and a budget stream with
 * money postings. Only what the projection reads is filled in.
 */
function historyOf(steps: Step[], run: string): RecordedEvent[] {
  const events: RecordedEvent[] = [];
  const revisions = new Map<string, bigint>();
  const balances = new Map<number, { available: number; held: number; holds: Array<{ holdId: string; points: number }> }>();
  let position = 0n;
  const record = (streamId: string, type: string, data: Record<string, unknown>): void => {
    const revision = revisions.get(streamId) ?? 0n;
    revisions.set(streamId, revision + 1n);
    position += 1n;
    events.push({
      eventId: randomUUID(),
      streamId,
      revision,
      type,
      schemaVersion: 1,
      data: data as RecordedEvent['data'],
      metadata: { occurredAt: new Date(Date.UTC(2026, 10, 1) + Number(position) * 60_000).toISOString() },
      recordedAt: new Date(),
      globalPosition: position,
    });
  };
  const posting = (debit: string, credit: string, amount: number, asset = 'POINTS'): Record<string, unknown> => ({ debit, credit, amount, asset });
  for (const step of steps) {
    if (step.kind === 'fund') {
      record(`budget-${run}`, 'BudgetFunded', { postings: [posting('bank:cny', `budget:${run}`, step.fen, 'CNY_FEN')] });
      continue;
    }
    const memberId = `${run}-m${step.member}`;
    const account = (part: 'available' | 'held'): string => `member:${memberId}:${part}`;
    const stream = `member-${memberId}`;
    let balance = balances.get(step.member);
    if (!balance) {
      // Every member stream starts with its enrolment, as the domain's does.
      balance = { available: 0, held: 0, holds: [] };
      balances.set(step.member, balance);
      record(stream, 'MemberEnrolled', { memberId, orgId: `org-${step.member % 2}` });
      if (step.kind === 'enrol') continue;
    }
    if (step.kind === 'enrol') {
      record(stream, 'MemberActivated', { memberId });
    } else if (step.kind === 'grant') {
      balance.available += step.points;
      record(stream, 'PointsGranted', {
        memberId,
        grantId: randomUUID(),
        points: step.points,
        ruleId: 'check-in',
        ruleVersion: 2,
        postings: [posting('points:issued', account('available'), step.points)],
      });
    } else if (step.kind === 'spend' || step.kind === 'hold') {
      const points = Math.min(step.points, balance.available);
      if (points === 0) continue;
      balance.available -= points;
      if (step.kind === 'spend') {
        record(stream, 'PointsSpent', { memberId, spendId: randomUUID(), points, postings: [posting(account('available'), 'points:spent', points)] });
      } else {
        const holdId = randomUUID();
        balance.held += points;
        balance.holds.push({ holdId, points });
        record(stream, 'PointsHeld', { memberId, holdId, points, postings: [posting(account('available'), account('held'), points)] });
      }
    } else if (step.kind === 'settle') {
      const hold = balance.holds.shift();
      if (!hold) continue;
      balance.held -= hold.points;
      if (step.post) {
        record(stream, 'HoldPosted', { memberId, holdId: hold.holdId, postings: [posting(account('held'), 'points:spent', hold.points)] });
      } else {
        balance.available += hold.points;
        record(stream, 'HoldVoided', { memberId, holdId: hold.holdId, postings: [posting(account('held'), account('available'), hold.points)] });
      }
    }
  }
  return events;
}

/** Applies `events` in batches of the given sizes (cycled), each call as the runner makes it, and dumps the tables. */
async function applyInBatches(events: RecordedEvent[], sizes: number[]): Promise<Record<string, string>> {
  await database.db.none(`TRUNCATE ${LEDGER_TABLES.join(', ')}`);
  const projection = ledgerProjection();
  await database.db.tx(async (tx) => {
    for (let start = 0, turn = 0; start < events.length; turn += 1) {
      const size = sizes[turn % sizes.length]!;
      await projection.apply(tx, events.slice(start, start + size));
      start += size;
    }
  });
  return dumpTables(database.db, LEDGER_TABLES);
}

describe('the ledger projection in batches', () => {
  it('gives the tables of an event-by-event apply, however a random history is split into batches', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stepArbitrary, { minLength: 1, maxLength: 60 }),
        fc.array(fc.integer({ min: 1, max: 25 }), { minLength: 1, maxLength: 5 }),
        async (steps, sizes) => {
          const events = historyOf(steps, randomUUID().slice(0, 8));
          const oneByOne = await applyInBatches(events, [1]);
          expect(await applyInBatches(events, sizes)).toEqual(oneByOne);
          expect(await applyInBatches(events, [events.length])).toEqual(oneByOne);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('leaves rows and checkpoint at the last committed batch when a batch fails, and resumes from there', async () => {
    const store = new PostgresEventStore(database.db, { listen: false });
    try {
      await database.db.none(`TRUNCATE ${LEDGER_TABLES.join(', ')}`);
      await database.db.none('DELETE FROM ul_checkpoints WHERE name = $1', [LEDGER_PROJECTION]);
      const run = randomUUID().slice(0, 8);
      const history = historyOf(
        Array.from({ length: 30 }, (_, index): Step => ({ kind: index % 3 === 2 ? 'spend' : 'grant', member: index % 4, points: 10 + index })),
        run,
      );
      for (const event of history) {
        await store.appendToStream(event.streamId, [{ eventId: event.eventId, type: event.type, data: event.data, metadata: event.metadata }]);
      }

      // The third batch writes its rows, then fails before its transaction commits.
      const real = ledgerProjection();
      let batches = 0;
      const crashing = {
        ...real,
        catchUpBatchSize: 7,
        async apply(...args: Parameters<typeof real.apply>) {
          await real.apply(...args);
          batches += 1;
          if (batches === 3) throw new Error('crash in the middle of a batch');
        },
      };
      await expect(catchUpProjection(store, database.db, crashing)).rejects.toThrow('crash in the middle of a batch');

      // Exactly the first two batches are there, with the checkpoint at their end.
      const checkpoint = await loadCheckpoint(database.db, LEDGER_PROJECTION);
      const feed = (await store.readAll({ limit: 10_000 })).events;
      expect(checkpoint).toBe(feed[13]!.globalPosition);
      const statementEvents = await database.db.map('SELECT event_id FROM ul_statement', [], (row: { event_id: string }) => row.event_id);
      const committed = new Set(feed.slice(0, 14).map((event) => event.eventId));
      expect(statementEvents.length).toBeGreaterThan(0);
      expect(statementEvents.every((eventId) => committed.has(eventId))).toBe(true);
      const expectedStatements = feed.slice(0, 14).filter((event) => Array.isArray(event.data.postings) && event.streamId.startsWith('member-')).length;
      expect(statementEvents).toHaveLength(expectedStatements);

      // Resuming (in whole pages) ends where a rebuild from zero, event by event, ends.
      await catchUpProjection(store, database.db, ledgerProjection());
      const resumed = await dumpTables(database.db, LEDGER_TABLES);
      await rebuildProjection(store, database.db, { ...ledgerProjection(), catchUpBatchSize: 1 });
      expect(resumed).toEqual(await dumpTables(database.db, LEDGER_TABLES));
    } finally {
      await store.close();
    }
  });
});
