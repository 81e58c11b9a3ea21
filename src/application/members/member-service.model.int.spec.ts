import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { waitForFeedEnd } from '../../../test/support/feed';
import { testTimeout } from '../../../test/support/wait-for';
import { comparableModel, comparableState, emptyModel, outcomeOf, step, type MemberModel } from '../../../test/support/member-model';
import type { RuleSet } from '../../domain/earning';
import { fold, memberStream, type MemberCommand, type MemberEvent } from '../../domain/members';
import { decideRegister, initialOrgState, orgStream, type OrgLevel } from '../../domain/orgs';
import { DomainError } from '../../domain/shared';
import { START } from '../../eventstore/event-store';
import { ConcurrencyError } from '../../eventstore/errors';
import { PostgresEventStore } from '../../eventstore/postgres/postgres-event-store';
import { catchUpProjection, dumpTables, loadCheckpoint, rebuildProjection } from '../../projections';
import { LEDGER_PROJECTION, LEDGER_TABLES, ledgerProjection } from '../../projections/ledger';
import type { CommittedEvent } from '../command-handler';
import { RuleBook } from '../earning';
import { MemberService, type MemberCommandResult } from './member-service';

/**
 * The real stack (PostgreSQL event store, rule book, command handler, ledger projection) against
 * the simple member model of test/support/member-model.ts. Some commands run concurrently, so
 * the handler's optimistic-concurrency retries are exercised; their outcome must match the model
 * for some serial order consistent with the revisions the store gave them (linearisability).
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const ORG = 'js-nj-01';
const MEMBERS_PER_RUN = 3;
const RUNS = 25;

/** Counts version conflicts, to show the handler's optimistic-concurrency retries really ran. */
class ConflictCountingStore extends PostgresEventStore {
  conflicts = 0;

  override async appendToStream(...args: Parameters<PostgresEventStore['appendToStream']>): ReturnType<PostgresEventStore['appendToStream']> {
    try {
      return await super.appendToStream(...args);
    } catch (error) {
      if (error instanceof ConcurrencyError) this.conflicts += 1;
      throw error;
    }
  }
}

let database: TestDatabase;
let store: ConflictCountingStore;
let rules: RuleBook;
let nowMs = Date.parse('2026-11-23T09:00:00+08:00');
const clock = (): Date => new Date(nowMs);
/** Several handlers over one store, like several API processes, each with its own cache. */
let services: MemberService[];
let memberCounter = 0;

beforeAll(async () => {
  database = await createTestDatabase();
  store = new ConflictCountingStore(database.db, { listen: false });
  rules = new RuleBook(store);
  services = [0, 1, 2].map(() => new MemberService(store, rules, { clock }));
  const tree: Array<[string, OrgLevel, string | null]> = [
    ['js', 'province', null],
    ['js-nj', 'city', 'js'],
    [ORG, 'grassroots', 'js-nj'],
  ];
  for (const [orgId, level, parentId] of tree) {
    const parent = parentId ? { ...initialOrgState, registered: true, orgId: parentId, name: parentId, parentId: null, level: tree.find(([id]) => id === parentId)![1] } : null;
    const events = decideRegister(initialOrgState, { orgId, name: `${orgId} union`, parentId, level }, parent);
    await store.appendToStream(
      orgStream(orgId),
      events.map((event) => ({ type: event.type, data: { ...event.data }, metadata: { occurredAt: clock().toISOString() } })),
      { expectedRevision: 'no_stream' },
    );
  }
});

afterAll(async () => {
  await store.close();
  await database.drop();
});

const meta = (memberId: string, commandId: string = randomUUID()) => ({ commandId, actor: { type: 'member', id: memberId } });
const toMemberEvents = (events: ReadonlyArray<{ type: string; data: unknown }>): MemberEvent[] => events.map((event) => ({ type: event.type, data: event.data }) as unknown as MemberEvent);

/** Enrols and activates a new member through the handler, and steps the model through the same commands. */
async function newActiveMember(service: MemberService, ruleSet?: RuleSet): Promise<{ memberId: string; model: MemberModel }> {
  memberCounter += 1;
  const memberId = `mem-${memberCounter}`;
  const name = `member ${memberCounter}`;
  const commands: MemberCommand[] = [
    { type: 'EnrolMember', memberId, orgId: ORG, name, idHmac: `hmac-${memberId}`, piiCipher: 'not-really-encrypted' },
    { type: 'ActivateMember', name },
  ];
  let model = emptyModel;
  for (const command of commands) {
    await service.execute(memberId, command, meta(memberId));
    if (!ruleSet) continue;
    const expected = step(model, command, clock(), ruleSet);
    if (!expected.ok) throw new Error(`the model refuses ${command.type}: ${expected.code}`);
    model = expected.model;
  }
  return { memberId, model };
}

async function streamOf(memberId: string): Promise<MemberEvent[]> {
  return toMemberEvents(await store.readStream(memberStream(memberId)));
}

/**
 * Runs the ledger projection until it has applied the last committed event. The feed only shows
 * events below the oldest running transaction of the whole cluster, so a transaction open
 * anywhere in it holds them back for as long as it stays open: first wait (up to the deadline)
 * until the last event shows, then one catch-up reads to it.
 */
async function catchUpFully(): Promise<void> {
  const last = await waitForFeedEnd(database.db);
  await catchUpProjection(store, database.db, ledgerProjection());
  expect(await loadCheckpoint(database.db, LEDGER_PROJECTION)).toBe(last);
}

/** Every member stream, read through the global feed in a few pages rather than one read per member. */
async function allMemberStreams(): Promise<Map<string, MemberEvent[]>> {
  const streams = new Map<string, MemberEvent[]>();
  let after = START;
  for (let page = 0; page < 1000; page += 1) {
    const result = await store.readAll({ after, limit: 10_000, streamPrefixes: ['member-'] });
    for (const event of result.events) {
      const stream = streams.get(event.streamId) ?? [];
      // The feed keeps each stream in revision order; check it rather than assume it.
      expect(event.revision).toBe(BigInt(stream.length));
      stream.push(...toMemberEvents([event]));
      streams.set(event.streamId, stream);
    }
    after = result.nextAfter;
    if (result.isEnd) break;
  }
  return streams;
}

interface BalanceRow {
  member_id: string;
  org_id: string | null;
  available: string;
  held: string;
  lifetime_earned: string;
}

/** Every invariant of the projected ledger, each member's row against the fold of their stream, and against the model where given. */
async function checkLedger(models: Map<string, MemberModel>): Promise<void> {
  await catchUpFully();
  const db = database.db;
  const balances = await db.any<BalanceRow>('SELECT member_id, org_id, available::text, held::text, lifetime_earned::text FROM ul_balances ORDER BY member_id');
  expect(balances.length).toBe(memberCounter);
  const streams = await allMemberStreams();
  for (const row of balances) {
    const state = fold(streams.get(memberStream(row.member_id)) ?? []);
    const projected = { orgId: row.org_id, available: Number(row.available), held: Number(row.held), lifetime: Number(row.lifetime_earned) };
    expect({ member: row.member_id, ...projected }).toEqual({
      member: row.member_id,
      orgId: state.orgId,
      available: state.available,
      held: state.held,
      lifetime: state.lifetimeEarned,
    });
    const model = models.get(row.member_id);
    if (model) {
      expect({ member: row.member_id, available: projected.available, held: projected.held, lifetime: projected.lifetime }).toEqual({
        member: row.member_id,
        available: model.available,
        held: model.held,
        lifetime: model.lifetime,
      });
    }
  }
  // Double entry: the whole journal and each event's lines sum to zero.
  expect(await db.one<{ total: string | null }>('SELECT sum(amount)::text AS total FROM ul_journal')).toEqual({ total: '0' });
  expect(await db.any('SELECT event_id, sum(amount) FROM ul_journal GROUP BY event_id HAVING sum(amount) <> 0')).toEqual([]);
  expect(await db.any('SELECT member_id FROM ul_balances WHERE available < 0 OR held < 0')).toEqual([]);
  expect(await db.any('SELECT member_id, revision FROM ul_statement WHERE available_after < 0 OR held_after < 0')).toEqual([]);
  // The member accounts of the journal add up to the balances.
  const accounts = await db.any<{ account: string; total: string }>(
    "SELECT account, sum(amount)::text AS total FROM ul_journal WHERE account LIKE 'member:%' GROUP BY account",
  );
  const byAccount = new Map(accounts.map((row) => [row.account, Number(row.total)]));
  for (const row of balances) {
    expect([row.member_id, byAccount.get(`member:${row.member_id}:available`) ?? 0, byAccount.get(`member:${row.member_id}:held`) ?? 0]).toEqual([
      row.member_id,
      Number(row.available),
      Number(row.held),
    ]);
  }
}

// ---------------------------------------------------------------- the model-based run

type Action =
  | { kind: 'command'; command: Exclude<MemberCommand, { type: 'HoldPoints' }> }
  | { kind: 'hold'; holdId: string; points: number; expiresInMs: number };
interface Call {
  member: number;
  action: Action;
}
type Op = { kind: 'call'; call: Call } | { kind: 'concurrent'; calls: Call[] } | { kind: 'advance'; ms: number } | { kind: 'retryLast' };

const amount = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 1, max: 60 }) }, { weight: 1, arbitrary: fc.constantFrom(0, 150, 10_000_001) });
const id = (prefix: string, max: number) => fc.nat(max).map((n) => `${prefix}${n}`);
const actionArbitrary: fc.Arbitrary<Action> = fc.oneof(
  { weight: 3, arbitrary: fc.constant<Action>({ kind: 'command', command: { type: 'CheckIn' } }) },
  { weight: 2, arbitrary: id('q', 4).map<Action>((quizId) => ({ kind: 'command', command: { type: 'AnswerQuiz', quizId, answer: 'B', correctAnswer: quizId === 'q0' ? 'A' : 'B' } })) },
  { weight: 2, arbitrary: id('a', 6).map<Action>((articleId) => ({ kind: 'command', command: { type: 'ReadArticle', articleId } })) },
  { weight: 2, arbitrary: id('c', 8).map<Action>((commentId) => ({ kind: 'command', command: { type: 'PostComment', commentId, targetId: 't' } })) },
  { weight: 1, arbitrary: id('e', 2).map<Action>((campaignId) => ({ kind: 'command', command: { type: 'SubmitEvaluation', campaignId, overall: 5, items: { a: 5 }, suggestion: null } })) },
  { weight: 1, arbitrary: id('act', 4).map<Action>((activityId) => ({ kind: 'command', command: { type: 'ParticipateActivity', activityId } })) },
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('hold' as const), holdId: id('h', 4), points: amount, expiresInMs: fc.integer({ min: -MINUTE, max: 2 * DAY }) }),
  },
  { weight: 2, arbitrary: id('h', 4).map<Action>((holdId) => ({ kind: 'command', command: { type: 'PostHold', holdId } })) },
  { weight: 2, arbitrary: id('h', 4).map<Action>((holdId) => ({ kind: 'command', command: { type: 'VoidHold', holdId } })) },
  {
    weight: 4,
    arbitrary: fc.record({ spendId: id('s', 6), points: amount }).map<Action>(({ spendId, points }) => ({ kind: 'command', command: { type: 'SpendPoints', spendId, points, purpose: 'mall' } })),
  },
  { weight: 1, arbitrary: fc.constant<Action>({ kind: 'command', command: { type: 'ReleaseExpiredHolds' } }) },
);
const callArbitrary = fc.record({ member: fc.nat(MEMBERS_PER_RUN - 1), action: actionArbitrary });
const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: callArbitrary.map<Op>((call) => ({ kind: 'call', call })) },
  {
    weight: 3,
    // Mostly one member, to make the calls race for the same stream.
    arbitrary: fc
      .tuple(fc.nat(MEMBERS_PER_RUN - 1), fc.array(fc.tuple(fc.nat(3), actionArbitrary), { minLength: 2, maxLength: 5 }))
      .map<Op>(([member, calls]) => ({ kind: 'concurrent', calls: calls.map(([pick, action]) => ({ member: pick === 3 ? (member + 1) % MEMBERS_PER_RUN : member, action })) })),
  },
  { weight: 3, arbitrary: fc.oneof(fc.integer({ min: 1, max: 3 * HOUR }), fc.constant(DAY), fc.integer({ min: DAY, max: 3 * DAY })).map<Op>((ms) => ({ kind: 'advance', ms })) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'retryLast' }) },
);

const commandOf = (action: Action): MemberCommand =>
  action.kind === 'hold' ? { type: 'HoldPoints', holdId: action.holdId, points: action.points, purpose: 'mall', expiresAtMs: nowMs + action.expiresInMs } : action.command;

function* permutations<T>(items: readonly T[]): Generator<T[]> {
  if (items.length <= 1) {
    yield [...items];
    return;
  }
  for (let index = 0; index < items.length; index += 1) {
    const rest = [...items.slice(0, index), ...items.slice(index + 1)];
    for (const tail of permutations(rest)) yield [items[index]!, ...tail];
  }
}

interface Attempt {
  command: MemberCommand;
  result: PromiseSettledResult<MemberCommandResult>;
}

/** Outcomes that differ from the model are reported with the command, to read a failure at a glance. */
function describeOutcome(attempt: Attempt): string {
  const { result } = attempt;
  if (result.status === 'rejected') return `${attempt.command.type} -> ${(result.reason as DomainError).code}`;
  return `${attempt.command.type} -> [${result.value.events.map((event) => `${event.type}@${event.revision}`).join(', ')}]`;
}

/**
 * Finds a serial order of one member's concurrent commands that the model agrees with: commands
 * that appended keep their stream order, refused ones and no-ops may sit anywhere (a refused one
 * that released expired holds did append them, but the model releases them at the first command
 * of any order, as all of these share one clock).
 */
function linearise(model: MemberModel, attempts: Attempt[], now: Date, ruleSet: RuleSet): MemberModel {
  for (const order of permutations(attempts)) {
    const revisions = order.flatMap((attempt) => (attempt.result.status === 'fulfilled' && attempt.result.value.events.length > 0 ? [attempt.result.value.events[0]!.revision] : []));
    if (revisions.some((revision, index) => index > 0 && revision < revisions[index - 1]!)) continue;
    let current: MemberModel | null = model;
    for (const attempt of order) {
      const expected = step(current, attempt.command, now, ruleSet);
      if (attempt.result.status === 'rejected') {
        // A refused command still records the expired holds' releases (Aggregate.due).
        current = !expected.ok && expected.code === (attempt.result.reason as DomainError).code ? expected.model : null;
      } else {
        const observed = outcomeOf(toMemberEvents(attempt.result.value.events));
        const matches =
          expected.ok &&
          JSON.stringify([observed.types, [...observed.released].sort(), observed.grants]) === JSON.stringify([expected.types, [...expected.released].sort(), expected.grants]);
        current = matches && expected.ok ? expected.model : null;
      }
      if (!current) break;
    }
    if (current) return current;
  }
  throw new Error(`no serial order of these concurrent commands agrees with the model:\n${attempts.map(describeOutcome).join('\n')}`);
}

describe('the ledger on PostgreSQL against a simple model', () => {
  // Every run waits once for its events to show in the feed (checkLedger). With transactions held
  // open elsewhere in the cluster one after another, each such wait lasts until the one open at
  // the time ends: minutes in all under scripts/busy-machine-test.sh. Each wait fails on its own
  // deadline; the test's timeout only must not cut legitimate waits short.
  it('agrees with the model and the fold of every stream, keeps the journal balanced, and rebuilds identically', async () => {
    const ruleSet = await rules.currentRules();

    await fc.assert(
      fc.asyncProperty(fc.array(opArbitrary, { minLength: 10, maxLength: 30 }), async (ops) => {
        nowMs += 30 * DAY; // Each run starts in a fresh month with fresh members.
        const members: string[] = [];
        // This run's members only: a failed run (and fast-check's shrinking) cannot spoil the next.
        const models = new Map<string, MemberModel>();
        for (let index = 0; index < MEMBERS_PER_RUN; index += 1) {
          const { memberId, model } = await newActiveMember(services[index % services.length]!, ruleSet);
          members.push(memberId);
          models.set(memberId, model);
        }
        let last: { memberId: string; command: MemberCommand; commandId: string; service: MemberService; events: CommittedEvent[] } | null = null;

        const expectStateMatches = async (memberId: string): Promise<void> => {
          const { state } = await services[0]!.load(memberId);
          expect({ memberId, state: comparableState(state) }).toEqual({ memberId, state: comparableModel(models.get(memberId)!) });
        };

        for (const [index, op] of ops.entries()) {
          if (op.kind === 'advance') {
            nowMs += op.ms;
          } else if (op.kind === 'retryLast') {
            if (!last) continue;
            // A client retry with the same command id, landing on another process, answers with the
            // original events and writes nothing.
            const other = services[(services.indexOf(last.service) + 1) % services.length]!;
            const again = await other.execute(last.memberId, last.command, meta(last.memberId, last.commandId));
            expect({ replayed: again.replayed, ids: again.events.map((event) => event.eventId) }).toEqual({ replayed: true, ids: last.events.map((event) => event.eventId) });
          } else {
            const calls = op.kind === 'call' ? [op.call] : op.calls;
            const service = (position: number): MemberService => services[(index + position) % services.length]!;
            const commandIds = calls.map(() => randomUUID());
            const commands = calls.map((call) => commandOf(call.action));
            const results = await Promise.allSettled(
              calls.map((call, position) => service(position).execute(members[call.member]!, commands[position]!, meta(members[call.member]!, commandIds[position]))),
            );
            for (const result of results) {
              // A refusal is a DomainError with a code; anything else (a lost race, a crash) is a bug.
              if (result.status === 'rejected' && !(result.reason instanceof DomainError)) throw result.reason;
            }
            for (const [memberIndex, memberId] of members.entries()) {
              const attempts = calls.flatMap((call, position) => (call.member === memberIndex ? [{ command: commands[position]!, result: results[position]! }] : []));
              if (attempts.length === 0) continue;
              models.set(memberId, linearise(models.get(memberId)!, attempts, clock(), ruleSet));
              await expectStateMatches(memberId);
            }
            const appended = results.flatMap((result, position) =>
              result.status === 'fulfilled' && result.value.events.length > 0
                ? [{ memberId: members[calls[position]!.member]!, command: commands[position]!, commandId: commandIds[position]!, service: service(position), events: result.value.events }]
                : [],
            );
            last = appended[appended.length - 1] ?? last;
          }
        }
        await checkLedger(models);
      }),
      { numRuns: RUNS },
    );

    expect(store.conflicts).toBeGreaterThan(0); // Concurrent commands did race and were retried.

    // Rebuilding the read models from event zero gives exactly the live tables.
    const live = await dumpTables(database.db, LEDGER_TABLES);
    expect(live.ul_journal!.length).toBeGreaterThan(0);
    await rebuildProjection(store, database.db, ledgerProjection());
    await catchUpFully();
    expect(await dumpTables(database.db, LEDGER_TABLES)).toEqual(live);
  }, testTimeout(RUNS + 2));
});

// ---------------------------------------------------------------- races

describe('commands racing for one member', () => {
  it('lets exactly 5 of 20 concurrent 10-point spends through for a member with 50 points, never below zero', async () => {
    const { memberId } = await newActiveMember(services[0]!);
    await services[0]!.execute(memberId, { type: 'SpendPoints', spendId: 'warm-up', points: 50, purpose: 'mall' }, meta(memberId));
    expect((await services[1]!.load(memberId)).state.available).toBe(50);
    const conflictsBefore = store.conflicts;

    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, index) =>
        services[index % services.length]!.execute(memberId, { type: 'SpendPoints', spendId: `race-${index}`, points: 10, purpose: 'mall' }, meta(memberId)),
      ),
    );

    const accepted = results.filter((result) => result.status === 'fulfilled');
    const refused = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
    expect(accepted).toHaveLength(5);
    expect(refused.map((error) => (error instanceof DomainError ? error.code : String(error)))).toEqual(Array(15).fill('POINTS.INSUFFICIENT'));
    expect(store.conflicts).toBeGreaterThan(conflictsBefore);
    const state = fold(await streamOf(memberId));
    expect({ available: state.available, held: state.held }).toEqual({ available: 0, held: 0 });
    await checkLedger(new Map());
    const statement = await database.db.any<{ available_after: string }>(
      "SELECT available_after::text FROM ul_statement WHERE member_id = $1 AND kind = 'PointsSpent' ORDER BY revision",
      [memberId],
    );
    expect(statement.map((row) => Number(row.available_after))).toEqual([50, 40, 30, 20, 10, 0]);
  }, testTimeout());

  it('records exactly one check-in and one grant for 10 concurrent check-ins on one day', async () => {
    const { memberId } = await newActiveMember(services[0]!);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, (_, index) => services[index % services.length]!.execute(memberId, { type: 'CheckIn' }, meta(memberId))),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    expect(results.flatMap((result) => (result.status === 'rejected' ? [(result.reason as DomainError).code] : []))).toEqual(Array(9).fill('CHECKIN.ALREADY_TODAY'));
    const events = await streamOf(memberId);
    expect(events.filter((event) => event.type === 'CheckedIn')).toHaveLength(1);
    expect(events.filter((event) => event.type === 'PointsGranted' && event.data.ruleId === 'checkin')).toHaveLength(1);
    await checkLedger(new Map());
  }, testTimeout());
});
