import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { comparableModel, comparableState, emptyModel, outcomeOf, step, type MemberModel } from '../../../test/support/member-model';
import { DomainError } from '../shared/errors';
import { CAP_PERIODS, DEFAULT_RULES, type EarningAction, type RuleSet } from '../earning';
import { decide, due, fold, initialState, MAX_POINTS_PER_SPEND, type MemberCommand, type MemberEvent, type MemberState } from '.';

/**
 * Model-based test of the member decider (TigerBeetle style): random command sequences with a
 * random clock, checked against the simple model in test/support/member-model.ts after every
 * step, together with the ledger's invariants: balances never negative, postings balanced,
 * per-account sums equal the state, caps never exceeded, a hold settles at most once.
 */

const M = 'm1';
const NAME = '王五';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const defaultRules: RuleSet = { version: 1, ...DEFAULT_RULES };
/** Small caps that bite within a few commands, with points that do not divide them (partial grants). */
const tightRules: RuleSet = {
  version: 2,
  rules: {
    activation: { points: 30 },
    checkin: { points: 4, caps: { week: { maxPoints: 10 } } },
    quiz: { points: 7, caps: { day: { maxCount: 2, maxPoints: 10 } } },
    article: { points: 3, caps: { day: { maxPoints: 7 }, week: { maxCount: 4 } } },
    comment: { points: 5, caps: { day: { maxCount: 3 }, week: { maxPoints: 12 } } },
    evaluation: { points: 40, caps: { year: { maxPoints: 50 } } },
    activity: { points: 25, caps: { week: { maxCount: 2 }, year: { maxPoints: 60 } } },
  },
  streakBonus: { everyDays: 2, points: 3 },
};

/** Operations are plain data, so a counterexample prints readably. A hold's expiry is relative to the clock. */
type Op =
  | { kind: 'command'; command: Exclude<MemberCommand, { type: 'HoldPoints' }> }
  | { kind: 'hold'; holdId: string; points: number; expiresInMs: number }
  | { kind: 'advance'; ms: number }
  /** Moves the clock to an edge: a hold's expiry instant, or just before / at the next Shanghai midnight. */
  | { kind: 'advanceTo'; edge: 'expiry'; holdId: string }
  | { kind: 'advanceTo'; edge: 'midnight'; offsetMs: -1 | 0 };

const amount = fc.oneof(
  { arbitrary: fc.integer({ min: 1, max: 60 }), weight: 8 },
  { arbitrary: fc.integer({ min: 61, max: 400 }), weight: 2 },
  { arbitrary: fc.constantFrom(0, -5, 1.5, Number.NaN, MAX_POINTS_PER_SPEND, MAX_POINTS_PER_SPEND + 1), weight: 1 },
);
const id = (prefix: string, max: number) => fc.nat(max).map((n) => `${prefix}${n}`);
const command = (arbitrary: fc.Arbitrary<Exclude<MemberCommand, { type: 'HoldPoints' }>>): fc.Arbitrary<Op> =>
  arbitrary.map((next) => ({ kind: 'command', command: next }));

const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: command(fc.constant({ type: 'CheckIn' })) },
  {
    weight: 3,
    arbitrary: command(
      fc.record({ quizId: id('q', 8), correct: fc.boolean() }).map(({ quizId, correct }) => ({ type: 'AnswerQuiz', quizId, answer: correct ? 'B' : 'C', correctAnswer: 'B' })),
    ),
  },
  { weight: 3, arbitrary: command(id('a', 15).map((articleId) => ({ type: 'ReadArticle', articleId }))) },
  { weight: 3, arbitrary: command(id('c', 25).map((commentId) => ({ type: 'PostComment', commentId, targetId: 't' }))) },
  { weight: 1, arbitrary: command(id('e', 3).map((campaignId) => ({ type: 'SubmitEvaluation', campaignId, overall: 4, items: { a: 4 }, suggestion: null }))) },
  { weight: 2, arbitrary: command(id('act', 8).map((activityId) => ({ type: 'ParticipateActivity', activityId }))) },
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('hold' as const),
      holdId: id('h', 6),
      points: amount,
      expiresInMs: fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: -MINUTE, max: 0 }) },
        { weight: 6, arbitrary: fc.integer({ min: 1, max: 3 * HOUR }) },
        { weight: 6, arbitrary: fc.integer({ min: 1, max: 3 * DAY }) },
        { weight: 1, arbitrary: fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, 0.5) },
      ),
    }),
  },
  { weight: 3, arbitrary: command(id('h', 6).map((holdId) => ({ type: 'PostHold', holdId }))) },
  { weight: 2, arbitrary: command(id('h', 6).map((holdId) => ({ type: 'VoidHold', holdId }))) },
  {
    weight: 4,
    arbitrary: command(
      fc.record({ spendId: id('s', 12), points: amount, purpose: fc.constantFrom('mall', 'benefit') }).map(({ spendId, points, purpose }) => ({ type: 'SpendPoints', spendId, points, purpose })),
    ),
  },
  { weight: 1, arbitrary: command(fc.constant({ type: 'ReleaseExpiredHolds' })) },
  { weight: 1, arbitrary: command(fc.constantFrom(NAME, ` ${NAME} `, '赵六').map((name) => ({ type: 'ActivateMember', name }))) },
  {
    weight: 5,
    arbitrary: fc
      .oneof(
        fc.integer({ min: 1, max: 30 * MINUTE }),
        fc.integer({ min: 1, max: 6 * HOUR }),
        fc.constant(DAY),
        fc.integer({ min: DAY, max: 3 * DAY }),
        fc.constant(7 * DAY),
      )
      .map((ms): Op => ({ kind: 'advance', ms })),
  },
  { weight: 1, arbitrary: id('h', 6).map((holdId): Op => ({ kind: 'advanceTo', edge: 'expiry', holdId })) },
  { weight: 1, arbitrary: fc.constantFrom(-1 as const, 0 as const).map((offsetMs): Op => ({ kind: 'advanceTo', edge: 'midnight', offsetMs })) },
);

const scenarioArbitrary = fc.record({
  // Around any time of year, or in the last days of a year, where ISO weeks and years part.
  startMs: fc.oneof(
    fc.integer({ min: Date.UTC(2024, 0, 1), max: Date.UTC(2030, 0, 1) }),
    fc.integer({ min: Date.UTC(2026, 11, 26), max: Date.UTC(2027, 0, 1) }),
  ),
  startActive: fc.boolean(),
  rules: fc.constantFrom(defaultRules, tightRules),
  ops: fc.array(opArbitrary, { minLength: 20, maxLength: 60 }),
});

/** A fast equality check for the hot loop (Jest's matchers cost too much at 100k steps); Jest shows the diff on failure. */
function same(actual: unknown, expected: unknown): void {
  if (!isDeepStrictEqual(actual, expected)) expect(actual).toEqual(expected);
}

const SHANGHAI_OFFSET_MS = 8 * HOUR;
/** The first Shanghai midnight after `nowMs` (Shanghai is UTC+8 all year). */
function nextShanghaiMidnightMs(nowMs: number): number {
  return Math.floor((nowMs + SHANGHAI_OFFSET_MS) / DAY + 1) * DAY - SHANGHAI_OFFSET_MS;
}

const isMemberAccount = (account: string): boolean => account.startsWith('member:');

/** Observed across all runs, to show the generator reaches the interesting cases. */
const seenCodes = new Set<string>();
const seenEvents = new Set<string>();

function checkPostings(event: MemberEvent, ledger: Map<string, number>): void {
  if (!('postings' in event.data)) return;
  const { postings } = event.data;
  if (postings.length === 0) throw new Error(`${event.type} without postings`);
  for (const posting of postings) {
    if (!Number.isSafeInteger(posting.amount) || posting.amount <= 0) throw new Error(`posting of ${posting.amount} in ${event.type}`);
    if (posting.asset !== 'POINTS') throw new Error(`a member's points event posts ${posting.asset} in ${event.type}`);
    if (posting.debit === posting.credit) throw new Error(`posting from ${posting.debit} to itself in ${event.type}`);
    ledger.set(posting.debit, (ledger.get(posting.debit) ?? 0) - posting.amount);
    ledger.set(posting.credit, (ledger.get(posting.credit) ?? 0) + posting.amount);
  }
  // The event's own amount is what its postings move.
  const moved = postings.reduce((sum, posting) => sum + posting.amount, 0);
  same(moved, event.data.points);
}

function checkCaps(events: readonly MemberEvent[], rules: RuleSet, totals: Map<string, { count: number; points: number }>): void {
  for (const event of events) {
    if (event.type !== 'PointsGranted') continue;
    const { ruleId, periods, points } = event.data;
    if (ruleId === 'checkin.streakBonus') continue; // The bonus has no caps of its own.
    const caps = rules.rules[ruleId as EarningAction].caps ?? {};
    for (const period of CAP_PERIODS) {
      const key = `${ruleId}|${period}|${periods[period]}`;
      const total = totals.get(key) ?? { count: 0, points: 0 };
      total.count += 1;
      total.points += points;
      totals.set(key, total);
      const cap = caps[period];
      if (cap?.maxCount !== undefined && total.count > cap.maxCount) throw new Error(`${key}: ${total.count} grants over the cap of ${cap.maxCount}`);
      if (cap?.maxPoints !== undefined && total.points > cap.maxPoints) throw new Error(`${key}: ${total.points} points over the cap of ${cap.maxPoints}`);
    }
  }
}

describe('member decider against a simple model (random command sequences)', () => {
  it('agrees with the model after every step and keeps every ledger invariant', () => {
    fc.assert(
      fc.property(scenarioArbitrary, ({ startMs, startActive, rules, ops }) => {
        let nowMs = startMs;
        const all: MemberEvent[] = [];
        let state: MemberState = initialState;
        let model: MemberModel = emptyModel;
        const ledger = new Map<string, number>();
        const capTotals = new Map<string, { count: number; points: number }>();
        const settled = new Set<string>();

        const run = (next: MemberCommand): void => {
          const ctx = { now: new Date(nowMs), rules };
          let events: MemberEvent[] | undefined;
          let refused: DomainError | undefined;
          try {
            events = decide(state, next, ctx);
          } catch (error) {
            if (!(error instanceof DomainError)) throw error; // Anything else is a decider bug.
            refused = error;
          }
          const expected = step(model, next, ctx.now, rules);
          if (refused) {
            seenCodes.add(refused.code);
            same({ command: next.type, code: refused.code }, { command: next.type, code: expected.ok ? '(accepted by the model)' : expected.code });
            if (expected.ok) return;
            // What the command handler records whatever the decision (Aggregate.due): the releases of expired holds.
            events = due(state, ctx.now);
            same([...outcomeOf(events).released].sort(), [...expected.released].sort());
            if (events.length > 0) seenEvents.add('HoldVoided:expired-on-refusal');
          } else {
            if (!expected.ok) throw new Error(`${next.type}: the decider accepted what the model refuses with ${expected.code}`);
            const observed = outcomeOf(events!);
            same({ ...observed, released: [...observed.released].sort() }, {
              types: expected.types,
              released: [...expected.released].sort(),
              grants: expected.grants,
            });
          }
          for (const event of events!) {
            seenEvents.add(event.type === 'HoldVoided' ? `HoldVoided:${event.data.reason}` : event.type === 'PointsGranted' ? `PointsGranted:${event.data.ruleId}` : event.type);
            if (event.type === 'PointsGranted' && event.data.inputs.cappedBy !== null) seenEvents.add('PointsGranted:partial-or-capped');
            checkPostings(event, ledger);
            if (event.type === 'HoldPosted' || event.type === 'HoldVoided') {
              if (settled.has(event.data.holdId)) throw new Error(`hold ${event.data.holdId} settled twice`);
              settled.add(event.data.holdId);
            }
          }
          checkCaps(events!, rules, capTotals);
          all.push(...events!);
          state = fold(events!, state);
          model = expected.model;

          same(comparableState(state), comparableModel(model));
          if (state.available < 0 || state.held < 0) throw new Error(`negative balance ${state.available}/${state.held}`);
          // Double entry: per-account sums from zero give the member's balances; the trial balance is zero.
          same(ledger.get(`member:${M}:available`) ?? 0, state.available);
          same(ledger.get(`member:${M}:held`) ?? 0, state.held);
          let trial = 0;
          let issued = 0;
          let spent = 0;
          for (const [account, sum] of ledger) {
            trial += sum;
            if (account.startsWith('issuer:')) issued -= sum;
            else if (account.startsWith('spent:')) spent += sum;
            else if (!isMemberAccount(account)) throw new Error(`unexpected account ${account}`);
          }
          same({ trial, issued, inAccounts: issued - spent }, { trial: 0, issued: state.lifetimeEarned, inAccounts: state.available + state.held });
        };

        run({ type: 'EnrolMember', memberId: M, orgId: 'g1', name: NAME, idHmac: 'hmac', piiCipher: 'cipher' });
        if (startActive) run({ type: 'ActivateMember', name: NAME });
        for (const op of ops) {
          if (op.kind === 'command') run(op.command);
          else if (op.kind === 'hold') run({ type: 'HoldPoints', holdId: op.holdId, points: op.points, purpose: 'mall', expiresAtMs: nowMs + op.expiresInMs });
          else if (op.kind === 'advance') nowMs += op.ms;
          else if (op.edge === 'midnight') nowMs = nextShanghaiMidnightMs(nowMs) + op.offsetMs;
          else nowMs = Math.max(nowMs, model.holds.get(op.holdId)?.expiresAtMs ?? nowMs); // The clock never goes back.
        }
        // Folding the whole stream from scratch, as stored (JSON), gives the state built step by step.
        same(comparableState(fold(JSON.parse(JSON.stringify(all)) as MemberEvent[])), comparableState(state));
      }),
      { numRuns: 2500 },
    );

    // The generator reached the cases that matter (a guard against a silently weak generator).
    expect([...seenCodes].sort()).toEqual(
      expect.arrayContaining([
        'ACTIVATION.NO_MATCH',
        'ARTICLE.ALREADY_READ',
        'CHECKIN.ALREADY_TODAY',
        'COMMENT.DUPLICATE',
        'HOLD.ALREADY_EXPIRED',
        'HOLD.ALREADY_POSTED',
        'HOLD.ALREADY_VOIDED',
        'HOLD.DUPLICATE',
        'HOLD.EXPIRY_INVALID',
        'HOLD.NOT_FOUND',
        'MEMBER.ALREADY_ACTIVE',
        'MEMBER.NOT_ACTIVE',
        'POINTS.AMOUNT_INVALID',
        'POINTS.INSUFFICIENT',
        'QUIZ.ALREADY_ANSWERED',
        'SPEND.DUPLICATE',
      ]),
    );
    expect([...seenEvents]).toEqual(
      expect.arrayContaining(['HoldVoided:expired', 'HoldVoided:expired-on-refusal', 'HoldVoided:voided', 'HoldPosted', 'PointsSpent', 'PointsGranted:checkin.streakBonus', 'PointsGranted:partial-or-capped']),
    );
  });
});
