import { deciderSpec } from '../../../test/support/given-when-then';
import { periodsOf } from '../shared';
import { DEFAULT_RULES, type EarningAction, type RuleId, type RuleSet } from '../earning';
import {
  decide,
  evolve,
  initialState,
  MAX_POINTS_PER_SPEND,
  type Context,
  type MemberCommand,
  type MemberEvent,
  type PointsGrantedData,
} from '.';

const member = deciderSpec({ initialState, evolve, decide });

const M = 'm1';
const ORG = 'grassroots-1';
const NAME = '张三';
const rules: RuleSet = { version: 1, ...DEFAULT_RULES };

/** A local time in Shanghai, e.g. sh('2026-11-23 10:00'). 2026-11-23 is a Monday (2026-W48). */
const sh = (local: string): string => `${local.replace(' ', 'T')}:00+08:00`;
const ctx = (local: string, ruleSet: RuleSet = rules): Context => ({ now: new Date(sh(local)), rules: ruleSet });
const ms = (local: string): number => new Date(sh(local)).getTime();

const enrolled: MemberEvent = {
  type: 'MemberEnrolled',
  data: { memberId: M, orgId: ORG, name: NAME, idHmac: 'hmac-1', piiCipher: 'cipher-1' },
};
const activated: MemberEvent = { type: 'MemberActivated', data: { memberId: M, orgId: ORG, day: '2026-11-01' } };
/** An active member with `points` available (granted by an activity long ago, so no cap of today is touched). */
const activeWith = (points: number): MemberEvent[] => [
  enrolled,
  activated,
  granted({ action: 'activity', key: 'old', points, at: '2025-01-01 10:00', inputs: { activityId: 'old' } }),
];
const active: MemberEvent[] = [enrolled, activated];

function granted(options: {
  action: EarningAction;
  ruleId?: RuleId;
  key: string;
  points: number;
  at: string;
  inputs: PointsGrantedData['inputs'];
  basePoints?: number;
  cappedBy?: string | null;
  ruleVersion?: number;
}): MemberEvent {
  const ruleId = options.ruleId ?? options.action;
  return {
    type: 'PointsGranted',
    data: {
      grantId: `${M}:${ruleId}:${options.key}`,
      memberId: M,
      orgId: ORG,
      action: options.action,
      ruleId,
      ruleVersion: options.ruleVersion ?? 1,
      points: options.points,
      periods: periodsOf(new Date(sh(options.at))),
      inputs: { ...options.inputs, basePoints: options.basePoints ?? options.points, cappedBy: options.cappedBy ?? null },
      postings: [{ debit: `issuer:${ruleId}`, credit: `member:${M}:available`, amount: options.points, asset: 'POINTS' }],
    },
  };
}

/** Events of earlier accepted commands, decided one after another: the history a `given` starts from. */
function history(start: MemberEvent[], steps: Array<[MemberCommand, string, RuleSet?]>): MemberEvent[] {
  const events = [...start];
  for (const [command, local, ruleSet] of steps) events.push(...decide(member.given(events).state(), command, ctx(local, ruleSet)));
  return events;
}

const grantsOf = (events: MemberEvent[]): PointsGrantedData[] =>
  events.flatMap((event) => (event.type === 'PointsGranted' ? [event.data] : []));

const checkedIn = (day: string, streak: number): MemberEvent => ({ type: 'CheckedIn', data: { memberId: M, day, streak } });

describe('EnrolMember', () => {
  const enrol: MemberCommand = { type: 'EnrolMember', memberId: M, orgId: ORG, name: NAME, idHmac: 'hmac-1', piiCipher: 'cipher-1' };

  it('enrols a roster member who is not yet known', () => {
    member.given([]).when(enrol, ctx('2026-11-23 10:00')).then([enrolled]);
  });

  it('changes nothing when the same roster row is imported again, even re-encrypted', () => {
    member.given([enrolled]).when(enrol, ctx('2026-11-23 10:00')).then([]);
    member.given([enrolled]).when({ ...enrol, piiCipher: 'cipher-2' }, ctx('2026-11-23 10:00')).then([]);
    member.given([enrolled, activated]).when(enrol, ctx('2026-11-23 10:00')).then([]);
  });

  it.each([
    ['another name', { name: '李四' }],
    ['another organisation', { orgId: 'grassroots-2' }],
    ['another national ID number', { idHmac: 'hmac-2' }],
  ])('refuses the same member with %s as MEMBER.ALREADY_ENROLLED', (_label, change) => {
    member.given([enrolled]).when({ ...enrol, ...change }, ctx('2026-11-23 10:00')).thenFails('MEMBER.ALREADY_ENROLLED');
  });
});

describe('ActivateMember', () => {
  it('activates, grants the activation points with rule id, version and inputs, and requests the insurance', () => {
    member
      .given([enrolled])
      .when({ type: 'ActivateMember', name: NAME }, ctx('2026-11-23 10:00'))
      .then([
        { type: 'MemberActivated', data: { memberId: M, orgId: ORG, day: '2026-11-23' } },
        {
          type: 'PointsGranted',
          data: {
            grantId: 'm1:activation:once',
            memberId: M,
            orgId: ORG,
            action: 'activation',
            ruleId: 'activation',
            ruleVersion: 1,
            points: 100,
            periods: { day: '2026-11-23', week: '2026-W48', month: '2026-11', year: '2026' },
            inputs: { day: '2026-11-23', basePoints: 100, cappedBy: null },
            postings: [{ debit: 'issuer:activation', credit: 'member:m1:available', amount: 100, asset: 'POINTS' }],
          },
        },
        {
          type: 'InsuranceGrantRequested',
          data: { memberId: M, grantId: 'm1:activation-insurance', product: 'accident-mutual-aid', termYears: 1 },
        },
      ]);
  });

  it('pins the version of the rules in force and takes the day in Shanghai', () => {
    const { events, state } = member
      .given([enrolled])
      .when({ type: 'ActivateMember', name: `  ${NAME} ` }, { now: new Date('2026-11-23T16:30:00Z'), rules: { ...rules, version: 7 } })
      .result();
    expect(grantsOf(events)).toEqual([expect.objectContaining({ ruleVersion: 7, periods: expect.objectContaining({ day: '2026-11-24' }) })]);
    expect(state).toMatchObject({ status: 'active', available: 100, held: 0, lifetimeEarned: 100 });
  });

  it('activates without a grant when the rule gives no points', () => {
    const noReward: RuleSet = { ...rules, rules: { ...rules.rules, activation: { points: 0 } } };
    const events = member.given([enrolled]).when({ type: 'ActivateMember', name: NAME }, ctx('2026-11-23 10:00', noReward)).result().events;
    expect(events.map((event) => event.type)).toEqual(['MemberActivated', 'InsuranceGrantRequested']);
  });

  it('refuses a second activation as MEMBER.ALREADY_ACTIVE', () => {
    member.given([enrolled, activated]).when({ type: 'ActivateMember', name: NAME }, ctx('2026-11-23 10:00')).thenFails('MEMBER.ALREADY_ACTIVE');
  });

  it('answers a wrong name and an unknown member alike with ACTIVATION.NO_MATCH, so the roster cannot be probed', () => {
    const wrongName = member.given([enrolled]).when({ type: 'ActivateMember', name: '李四' }, ctx('2026-11-23 10:00')).thenFails('ACTIVATION.NO_MATCH');
    const unknown = member.given([]).when({ type: 'ActivateMember', name: NAME }, ctx('2026-11-23 10:00')).thenFails('ACTIVATION.NO_MATCH');
    expect([unknown.message, unknown.httpStatus, unknown.details]).toEqual([wrongName.message, wrongName.httpStatus, wrongName.details]);
    member.given([enrolled, activated]).when({ type: 'ActivateMember', name: '李四' }, ctx('2026-11-23 10:00')).thenFails('ACTIVATION.NO_MATCH');
  });
});

describe('CheckIn', () => {
  const checkIn: MemberCommand = { type: 'CheckIn' };

  it('checks in once on a Shanghai natural day with streak 1 and the check-in points', () => {
    member
      .given(active)
      .when(checkIn, ctx('2026-11-23 10:00'))
      .then([
        checkedIn('2026-11-23', 1),
        granted({ action: 'checkin', key: '2026-11-23', points: 5, at: '2026-11-23 10:00', inputs: { day: '2026-11-23', streak: 1 } }),
      ]);
  });

  it('refuses a second check-in on the same Shanghai day as CHECKIN.ALREADY_TODAY', () => {
    const morning = history(active, [[checkIn, '2026-11-23 00:00']]);
    member.given(morning).when(checkIn, ctx('2026-11-23 23:59')).thenFails('CHECKIN.ALREADY_TODAY', { day: '2026-11-23' });
  });

  it('counts 23:59 and 00:01 Shanghai time as two days, continuing the streak', () => {
    const lateEvening = history(active, [[checkIn, '2026-11-23 23:59']]);
    member
      .given(lateEvening)
      .when(checkIn, ctx('2026-11-24 00:01'))
      .then([
        checkedIn('2026-11-24', 2),
        granted({ action: 'checkin', key: '2026-11-24', points: 5, at: '2026-11-24 00:01', inputs: { day: '2026-11-24', streak: 2 } }),
      ]);
  });

  it('continues the streak over consecutive days, also across a year end', () => {
    expect(member.given([...active, checkedIn('2026-11-22', 3)]).when(checkIn, ctx('2026-11-23 08:00')).result().events[0]).toEqual(
      checkedIn('2026-11-23', 4),
    );
    expect(member.given([...active, checkedIn('2026-12-31', 2)]).when(checkIn, ctx('2027-01-01 08:00')).result().events[0]).toEqual(
      checkedIn('2027-01-01', 3),
    );
  });

  it('starts the streak again after a missed day', () => {
    expect(member.given([...active, checkedIn('2026-11-21', 5)]).when(checkIn, ctx('2026-11-23 08:00')).result().events[0]).toEqual(
      checkedIn('2026-11-23', 1),
    );
  });

  it('adds the streak bonus on the 7th consecutive day, with its own rule id and inputs', () => {
    member
      .given([...active, checkedIn('2026-11-22', 6)])
      .when(checkIn, ctx('2026-11-23 09:00'))
      .then([
        checkedIn('2026-11-23', 7),
        granted({ action: 'checkin', key: '2026-11-23', points: 5, at: '2026-11-23 09:00', inputs: { day: '2026-11-23', streak: 7 } }),
        granted({
          action: 'checkin',
          ruleId: 'checkin.streakBonus',
          key: '2026-11-23',
          points: 20,
          at: '2026-11-23 09:00',
          inputs: { day: '2026-11-23', streak: 7, everyDays: 7 },
        }),
      ]);
  });

  it('grants the bonus on days 7 and 14 of a run and on no other day', () => {
    const days = Array.from({ length: 15 }, (_, index) => `2026-11-${String(10 + index).padStart(2, '0')} 12:00`);
    const events = history(
      active,
      days.map((day) => [checkIn, day]),
    );
    const bonusDays = grantsOf(events)
      .filter((grant) => grant.ruleId === 'checkin.streakBonus')
      .map((grant) => grant.inputs.day);
    expect(bonusDays).toEqual(['2026-11-16', '2026-11-23']);
    expect(member.given(events).state()).toMatchObject({ streak: 15, available: 15 * 5 + 2 * 20, lastCheckInDay: '2026-11-24' });
  });
});

describe('AnswerQuiz', () => {
  const quiz = (quizId: string, answer = 'B'): MemberCommand => ({ type: 'AnswerQuiz', quizId, answer, correctAnswer: 'B' });

  it('records a correct answer and grants the quiz points', () => {
    member
      .given(active)
      .when(quiz('q1'), ctx('2026-11-23 10:00'))
      .then([
        { type: 'QuizAnswered', data: { memberId: M, quizId: 'q1', correct: true } },
        granted({ action: 'quiz', key: 'q1', points: 10, at: '2026-11-23 10:00', inputs: { quizId: 'q1', correct: true } }),
      ]);
  });

  it('records an incorrect answer without points', () => {
    member
      .given(active)
      .when(quiz('q1', 'A'), ctx('2026-11-23 10:00'))
      .then([{ type: 'QuizAnswered', data: { memberId: M, quizId: 'q1', correct: false } }]);
  });

  it('refuses a quiz answered before, right or wrong, as QUIZ.ALREADY_ANSWERED', () => {
    member.given(history(active, [[quiz('q1', 'A'), '2026-11-23 10:00']])).when(quiz('q1'), ctx('2026-11-25 10:00')).thenFails('QUIZ.ALREADY_ANSWERED', { quizId: 'q1' });
  });

  it('stops granting after five quizzes a day and grants again the next day', () => {
    const five = history(
      active,
      ['q1', 'q2', 'q3', 'q4', 'q5'].map((id) => [quiz(id), '2026-11-23 10:00']),
    );
    member.given(five).when(quiz('q6'), ctx('2026-11-23 23:59')).then([{ type: 'QuizAnswered', data: { memberId: M, quizId: 'q6', correct: true } }]);
    expect(grantsOf(member.given(five).when(quiz('q6'), ctx('2026-11-24 00:00')).result().events)).toHaveLength(1);
  });
});

describe('ReadArticle', () => {
  const read = (articleId: string): MemberCommand => ({ type: 'ReadArticle', articleId });

  it('grants the article points once per article', () => {
    member
      .given(active)
      .when(read('a1'), ctx('2026-11-23 10:00'))
      .then([
        { type: 'ArticleRead', data: { memberId: M, articleId: 'a1' } },
        granted({ action: 'article', key: 'a1', points: 2, at: '2026-11-23 10:00', inputs: { articleId: 'a1' } }),
      ]);
    member.given(history(active, [[read('a1'), '2026-11-23 10:00']])).when(read('a1'), ctx('2026-12-30 10:00')).thenFails('ARTICLE.ALREADY_READ');
  });

  it('grants at most 20 points a day for articles', () => {
    const ten = history(
      active,
      Array.from({ length: 10 }, (_, index): [MemberCommand, string] => [read(`a${index}`), '2026-11-23 10:00']),
    );
    expect(member.given(ten).state().available).toBe(20);
    member.given(ten).when(read('a10'), ctx('2026-11-23 11:00')).then([{ type: 'ArticleRead', data: { memberId: M, articleId: 'a10' } }]);
  });
});

describe('PostComment', () => {
  const comment = (commentId: string): MemberCommand => ({ type: 'PostComment', commentId, targetId: 'article-9' });
  const commentsOn = (start: MemberEvent[], local: string, ids: string[], ruleSet?: RuleSet): MemberEvent[] =>
    history(
      start,
      ids.map((id) => [comment(id), local, ruleSet]),
    );

  it('grants the comment points and refuses a duplicate comment id as COMMENT.DUPLICATE', () => {
    member
      .given(active)
      .when(comment('c1'), ctx('2026-11-23 10:00'))
      .then([
        { type: 'CommentPosted', data: { memberId: M, commentId: 'c1', targetId: 'article-9' } },
        granted({ action: 'comment', key: 'c1', points: 3, at: '2026-11-23 10:00', inputs: { commentId: 'c1', targetId: 'article-9' } }),
      ]);
    member.given(commentsOn(active, '2026-11-23 10:00', ['c1'])).when(comment('c1'), ctx('2026-11-23 10:01')).thenFails('COMMENT.DUPLICATE');
  });

  it('records the 6th comment of a day without points and grants again the next day', () => {
    const five = commentsOn(active, '2026-11-23 10:00', ['c1', 'c2', 'c3', 'c4', 'c5']);
    member.given(five).when(comment('c6'), ctx('2026-11-23 22:00')).then([{ type: 'CommentPosted', data: { memberId: M, commentId: 'c6', targetId: 'article-9' } }]);
    expect(grantsOf(member.given(five).when(comment('c6'), ctx('2026-11-24 08:00')).result().events)).toHaveLength(1);
  });

  it('grants at most 60 points a week and starts again on Monday', () => {
    // 5 comments × 3 points on Monday to Thursday of 2026-W48 reach the 60-point week cap.
    let events = active;
    for (const day of ['23', '24', '25', '26']) events = commentsOn(events, `2026-11-${day} 10:00`, ['a', 'b', 'c', 'd', 'e'].map((id) => `${day}${id}`));
    expect(member.given(events).state().available).toBe(60);
    member.given(events).when(comment('fri'), ctx('2026-11-29 23:59')).then([{ type: 'CommentPosted', data: { memberId: M, commentId: 'fri', targetId: 'article-9' } }]);
    expect(grantsOf(member.given(events).when(comment('mon'), ctx('2026-11-30 00:00')).result().events)).toEqual([
      expect.objectContaining({ points: 3, periods: expect.objectContaining({ week: '2026-W49' }) }),
    ]);
  });

  it('grants the part of the points left under a points cap and says which cap cut it', () => {
    const tight: RuleSet = { ...rules, version: 2, rules: { ...rules.rules, comment: { points: 7, caps: { week: { maxPoints: 20 } } } } };
    const two = commentsOn(active, '2026-11-23 10:00', ['c1', 'c2'], tight);
    member
      .given(two)
      .when(comment('c3'), ctx('2026-11-23 10:00', tight))
      .then([
        { type: 'CommentPosted', data: { memberId: M, commentId: 'c3', targetId: 'article-9' } },
        granted({
          action: 'comment',
          key: 'c3',
          points: 6,
          basePoints: 7,
          cappedBy: 'week.maxPoints',
          ruleVersion: 2,
          at: '2026-11-23 10:00',
          inputs: { commentId: 'c3', targetId: 'article-9' },
        }),
      ]);
    const three = commentsOn(two, '2026-11-23 10:00', ['c3'], tight);
    expect(member.given(three).state().available).toBe(20);
    member.given(three).when(comment('c4'), ctx('2026-11-24 10:00', tight)).then([{ type: 'CommentPosted', data: { memberId: M, commentId: 'c4', targetId: 'article-9' } }]);
  });
});

describe('SubmitEvaluation', () => {
  const evaluate = (campaignId: string): MemberCommand => ({
    type: 'SubmitEvaluation',
    campaignId,
    overall: 5,
    items: { service: 5, openness: 4 },
    suggestion: null,
  });

  it('records the evaluation with the member organisation and day, and grants the evaluation points', () => {
    member
      .given(active)
      .when(evaluate('2026-h2'), ctx('2026-11-23 10:00'))
      .then([
        {
          type: 'EvaluationSubmitted',
          data: { memberId: M, orgId: ORG, campaignId: '2026-h2', overall: 5, items: { service: 5, openness: 4 }, suggestion: null, day: '2026-11-23' },
        },
        granted({ action: 'evaluation', key: '2026-h2', points: 50, at: '2026-11-23 10:00', inputs: { campaignId: '2026-h2', overall: 5 } }),
      ]);
  });

  it('accepts one evaluation per campaign (EVALUATION.ALREADY_SUBMITTED) and another campaign freely', () => {
    const once = history(active, [[evaluate('2026-h2'), '2026-11-23 10:00']]);
    member.given(once).when(evaluate('2026-h2'), ctx('2026-12-01 10:00')).thenFails('EVALUATION.ALREADY_SUBMITTED', { campaignId: '2026-h2' });
    expect(grantsOf(member.given(once).when(evaluate('2027-h1'), ctx('2026-11-23 10:05')).result().events)).toHaveLength(1);
  });
});

describe('ParticipateActivity', () => {
  const join = (activityId: string): MemberCommand => ({ type: 'ParticipateActivity', activityId });

  it('grants the activity points once per activity (ACTIVITY.ALREADY_JOINED)', () => {
    member
      .given(active)
      .when(join('run'), ctx('2026-11-23 10:00'))
      .then([
        { type: 'ActivityParticipated', data: { memberId: M, activityId: 'run' } },
        granted({ action: 'activity', key: 'run', points: 20, at: '2026-11-23 10:00', inputs: { activityId: 'run' } }),
      ]);
    member.given(history(active, [[join('run'), '2026-11-23 10:00']])).when(join('run'), ctx('2026-11-23 11:00')).thenFails('ACTIVITY.ALREADY_JOINED');
  });

  it('grants for at most three activities a week, again from Monday', () => {
    const three = history(active, [
      [join('a1'), '2026-11-23 10:00'],
      [join('a2'), '2026-11-25 10:00'],
      [join('a3'), '2026-11-29 10:00'],
    ]);
    member.given(three).when(join('a4'), ctx('2026-11-29 23:59')).then([{ type: 'ActivityParticipated', data: { memberId: M, activityId: 'a4' } }]);
    expect(grantsOf(member.given(three).when(join('a4'), ctx('2026-11-30 00:00')).result().events)).toHaveLength(1);
  });

  it('stops at the yearly points cap with a partial grant and starts again on 1 January (Shanghai)', () => {
    const yearly: RuleSet = { ...rules, rules: { ...rules.rules, activity: { points: 30, caps: { year: { maxPoints: 50 } } } } };
    const events = history(active, [[join('a1'), '2026-03-01 10:00', yearly]]);
    const partial = member.given(events).when(join('a2'), ctx('2026-12-31 23:59', yearly)).result();
    expect(grantsOf(partial.events)).toEqual([expect.objectContaining({ points: 20, inputs: expect.objectContaining({ basePoints: 30, cappedBy: 'year.maxPoints' }) })]);
    member.given([...events, ...partial.events]).when(join('a3'), ctx('2026-12-31 23:59', yearly)).then([{ type: 'ActivityParticipated', data: { memberId: M, activityId: 'a3' } }]);
    expect(grantsOf(member.given([...events, ...partial.events]).when(join('a3'), ctx('2027-01-01 00:00', yearly)).result().events)).toEqual([
      expect.objectContaining({ points: 30 }),
    ]);
  });
});

describe('commands that need an active member', () => {
  const commands: MemberCommand[] = [
    { type: 'CheckIn' },
    { type: 'AnswerQuiz', quizId: 'q', answer: 'a', correctAnswer: 'a' },
    { type: 'ReadArticle', articleId: 'a' },
    { type: 'PostComment', commentId: 'c', targetId: 't' },
    { type: 'SubmitEvaluation', campaignId: 'c', overall: 5, items: {}, suggestion: null },
    { type: 'ParticipateActivity', activityId: 'a' },
    { type: 'HoldPoints', holdId: 'h', points: 1, purpose: 'mall', expiresAtMs: ms('2026-11-24 10:00') },
    { type: 'PostHold', holdId: 'h' },
    { type: 'VoidHold', holdId: 'h' },
    { type: 'SpendPoints', spendId: 's', points: 1, purpose: 'mall' },
  ];

  it.each(commands.map((command) => [command.type, command] as const))('refuses %s from an enrolled member who has not activated as MEMBER.NOT_ACTIVE', (_type, command) => {
    member.given([enrolled]).when(command, ctx('2026-11-23 10:00')).thenFails('MEMBER.NOT_ACTIVE');
  });

  it.each(commands.map((command) => [command.type, command] as const))('refuses %s for an unknown member as MEMBER.NOT_FOUND', (_type, command) => {
    member.given([]).when(command, ctx('2026-11-23 10:00')).thenFails('MEMBER.NOT_FOUND');
  });

  it('answers ReleaseExpiredHolds for an unknown member with nothing', () => {
    member.given([]).when({ type: 'ReleaseExpiredHolds' }, ctx('2026-11-23 10:00')).then([]);
  });
});

describe('holds (two-phase spending)', () => {
  const expiresAtMs = ms('2026-11-23 10:15');
  const hold = (holdId: string, points: number, expiry = expiresAtMs): MemberCommand => ({ type: 'HoldPoints', holdId, points, purpose: 'mall', expiresAtMs: expiry });
  const held = (holdId: string, points: number, expiry = expiresAtMs): MemberEvent => ({
    type: 'PointsHeld',
    data: { memberId: M, holdId, points, purpose: 'mall', expiresAtMs: expiry, postings: [{ debit: 'member:m1:available', credit: 'member:m1:held', amount: points, asset: 'POINTS' }] },
  });
  const voided = (holdId: string, points: number, reason: 'voided' | 'expired'): MemberEvent => ({
    type: 'HoldVoided',
    data: { memberId: M, holdId, points, reason, postings: [{ debit: 'member:m1:held', credit: 'member:m1:available', amount: points, asset: 'POINTS' }] },
  });
  const posted = (holdId: string, points: number): MemberEvent => ({
    type: 'HoldPosted',
    data: { memberId: M, holdId, points, purpose: 'mall', postings: [{ debit: 'member:m1:held', credit: 'spent:mall', amount: points, asset: 'POINTS' }] },
  });

  it('holds points: moves them from available to held', () => {
    const { events, state } = member.given(activeWith(100)).when(hold('h1', 30), ctx('2026-11-23 10:00')).result();
    expect(events).toEqual([held('h1', 30)]);
    expect(state).toMatchObject({ available: 70, held: 30 });
  });

  it('posts a hold: the held points leave for the purpose account', () => {
    const { events, state } = member.given([...activeWith(100), held('h1', 30)]).when({ type: 'PostHold', holdId: 'h1' }, ctx('2026-11-23 10:05')).result();
    expect(events).toEqual([posted('h1', 30)]);
    expect(state).toMatchObject({ available: 70, held: 0 });
  });

  it('voids a hold: the held points return to available', () => {
    const { events, state } = member.given([...activeWith(100), held('h1', 30)]).when({ type: 'VoidHold', holdId: 'h1' }, ctx('2026-11-23 10:05')).result();
    expect(events).toEqual([voided('h1', 30, 'voided')]);
    expect(state).toMatchObject({ available: 100, held: 0 });
  });

  it('posts or voids a hold exactly once', () => {
    const postedOnce = [...activeWith(100), held('h1', 30), posted('h1', 30)];
    member.given(postedOnce).when({ type: 'PostHold', holdId: 'h1' }, ctx('2026-11-23 10:06')).thenFails('HOLD.ALREADY_POSTED', { holdId: 'h1', status: 'posted' });
    member.given(postedOnce).when({ type: 'VoidHold', holdId: 'h1' }, ctx('2026-11-23 10:06')).thenFails('HOLD.ALREADY_POSTED');
    const voidedOnce = [...activeWith(100), held('h1', 30), voided('h1', 30, 'voided')];
    member.given(voidedOnce).when({ type: 'PostHold', holdId: 'h1' }, ctx('2026-11-23 10:06')).thenFails('HOLD.ALREADY_VOIDED', { holdId: 'h1', status: 'voided' });
    member.given(voidedOnce).when({ type: 'VoidHold', holdId: 'h1' }, ctx('2026-11-23 10:06')).thenFails('HOLD.ALREADY_VOIDED');
  });

  it('refunds a posted hold whole, once: the spent points return to available (a returned mall order)', () => {
    const postedOnce = [...activeWith(100), held('h1', 30), posted('h1', 30)];
    const { events, state } = member.given(postedOnce).when({ type: 'RefundHold', holdId: 'h1' }, ctx('2026-11-23 10:06')).result();
    expect(events).toEqual([
      { type: 'PointsRefunded', data: { memberId: M, holdId: 'h1', points: 30, purpose: 'mall', postings: [{ debit: 'spent:mall', credit: 'member:m1:available', amount: 30, asset: 'POINTS' }] } },
    ]);
    expect(state).toMatchObject({ available: 100, held: 0 });
    member.given([...postedOnce, ...events]).when({ type: 'RefundHold', holdId: 'h1' }, ctx('2026-11-23 10:07')).thenFails('HOLD.ALREADY_REFUNDED', { holdId: 'h1' });
    member.given([...activeWith(100), held('h1', 30)]).when({ type: 'RefundHold', holdId: 'h1' }, ctx('2026-11-23 10:07')).thenFails('HOLD.NOT_POSTED', { holdId: 'h1', status: 'held' });
    member.given(activeWith(100)).when({ type: 'RefundHold', holdId: 'h1' }, ctx('2026-11-23 10:07')).thenFails('HOLD.NOT_FOUND');
  });

  it('awards a prize’s points once per award id, from the issuer of its source (a lottery’s points prize)', () => {
    const { events, state } = member.given(activeWith(100)).when({ type: 'AwardPoints', awardId: 'lottery:l1', points: 500, source: 'lottery:l1' }, ctx('2026-11-23 10:06')).result();
    expect(events).toEqual([
      {
        type: 'PointsAwarded',
        data: { memberId: M, awardId: 'lottery:l1', points: 500, source: 'lottery:l1', postings: [{ debit: 'issuer:lottery:l1', credit: 'member:m1:available', amount: 500, asset: 'POINTS' }] },
      },
    ]);
    expect(state).toMatchObject({ available: 600 });
    member.given([...activeWith(100), ...events]).when({ type: 'AwardPoints', awardId: 'lottery:l1', points: 500, source: 'lottery:l1' }, ctx('2026-11-23 10:07')).thenFails('AWARD.DUPLICATE', { awardId: 'lottery:l1' });
    member.given(activeWith(100)).when({ type: 'AwardPoints', awardId: 'lottery:l1', points: 0, source: 'lottery:l1' }, ctx('2026-11-23 10:07')).thenFails('POINTS.AMOUNT_INVALID');
  });

  it('refuses an unknown hold (HOLD.NOT_FOUND), a reused hold id (HOLD.DUPLICATE) and an expiry not in the future (HOLD.EXPIRY_INVALID)', () => {
    member.given(activeWith(100)).when({ type: 'PostHold', holdId: 'nope' }, ctx('2026-11-23 10:00')).thenFails('HOLD.NOT_FOUND', { holdId: 'nope' });
    member.given([...activeWith(100), held('h1', 30), posted('h1', 30)]).when(hold('h1', 5), ctx('2026-11-23 10:00')).thenFails('HOLD.DUPLICATE');
    member.given(activeWith(100)).when(hold('h1', 5, ms('2026-11-23 10:00')), ctx('2026-11-23 10:00')).thenFails('HOLD.EXPIRY_INVALID');
    member.given(activeWith(100)).when(hold('h1', 5, ms('2026-11-23 09:00')), ctx('2026-11-23 10:00')).thenFails('HOLD.EXPIRY_INVALID');
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, ms('2026-11-23 11:00') + 0.5])(
    'refuses the expiry %p as HOLD.EXPIRY_INVALID, since stored JSON would not read it back the same',
    (expiry) => {
      // JSON turns NaN and Infinity into null, and `null <= now` holds: the reloaded hold would be
      // long expired while the process that decided it keeps it held for ever.
      member.given(activeWith(100)).when(hold('h1', 5, expiry), ctx('2026-11-23 10:00')).thenFails('HOLD.EXPIRY_INVALID');
    },
  );

  it('keeps a hold until its expiry, then the next command releases it first (reason expired)', () => {
    const given = [...activeWith(100), held('h1', 30)];
    member.given(given).when({ type: 'ReleaseExpiredHolds' }, { now: new Date(expiresAtMs - 1), rules }).then([]);
    const { events, state } = member.given(given).when({ type: 'CheckIn' }, { now: new Date(expiresAtMs), rules }).result();
    expect(events.map((event) => event.type)).toEqual(['HoldVoided', 'CheckedIn', 'PointsGranted']);
    expect(events[0]).toEqual(voided('h1', 30, 'expired'));
    expect(state).toMatchObject({ available: 105, held: 0 });
  });

  it('releases an expired hold exactly once', () => {
    const released = [...activeWith(100), held('h1', 30), voided('h1', 30, 'expired')];
    member.given(released).when({ type: 'ReleaseExpiredHolds' }, ctx('2026-11-30 10:00')).then([]);
    member.given(released).when({ type: 'CheckIn' }, ctx('2026-11-30 10:00')).then([
      checkedIn('2026-11-30', 1),
      granted({ action: 'checkin', key: '2026-11-30', points: 5, at: '2026-11-30 10:00', inputs: { day: '2026-11-30', streak: 1 } }),
    ]);
  });

  it('releases every expired hold, and only those, on an explicit ReleaseExpiredHolds', () => {
    member
      .given([...activeWith(100), held('h1', 10), held('h2', 20, ms('2026-11-23 11:00')), held('h3', 30, ms('2026-11-23 12:00'))])
      .when({ type: 'ReleaseExpiredHolds' }, ctx('2026-11-23 11:00'))
      .then([voided('h1', 10, 'expired'), voided('h2', 20, 'expired')]);
  });

  it('refuses to post or void a hold past its expiry as HOLD.ALREADY_EXPIRED, whether or not it was released', () => {
    const notYetReleased = [...activeWith(100), held('h1', 30)];
    member.given(notYetReleased).when({ type: 'PostHold', holdId: 'h1' }, ctx('2026-11-23 10:15')).thenFails('HOLD.ALREADY_EXPIRED', { holdId: 'h1', status: 'expired' });
    member.given(notYetReleased).when({ type: 'VoidHold', holdId: 'h1' }, ctx('2026-11-23 10:20')).thenFails('HOLD.ALREADY_EXPIRED');
    member.given([...notYetReleased, voided('h1', 30, 'expired')]).when({ type: 'PostHold', holdId: 'h1' }, ctx('2026-11-23 10:20')).thenFails('HOLD.ALREADY_EXPIRED');
  });

  it('makes released points spendable by the same command that releases them', () => {
    member
      .given([...activeWith(100), held('h1', 100)])
      .when({ type: 'SpendPoints', spendId: 's1', points: 100, purpose: 'mall' }, ctx('2026-11-23 10:15'))
      .then([
        voided('h1', 100, 'expired'),
        {
          type: 'PointsSpent',
          data: { memberId: M, spendId: 's1', points: 100, purpose: 'mall', postings: [{ debit: 'member:m1:available', credit: 'spent:mall', amount: 100, asset: 'POINTS' }] },
        },
      ]);
  });

  it('refuses to hold more than is available as POINTS.INSUFFICIENT, counting held points as unavailable', () => {
    member.given(activeWith(100)).when(hold('h1', 101), ctx('2026-11-23 10:00')).thenFails('POINTS.INSUFFICIENT', { availablePoints: 100, requestedPoints: 101 });
    member.given([...activeWith(100), held('h1', 60)]).when(hold('h2', 41), ctx('2026-11-23 10:00')).thenFails('POINTS.INSUFFICIENT', { availablePoints: 40, requestedPoints: 41 });
    member.given([...activeWith(100), held('h1', 60)]).when(hold('h2', 40), ctx('2026-11-23 10:00')).then([held('h2', 40)]);
  });
});

describe('SpendPoints', () => {
  const spend = (spendId: string, points: number): MemberCommand => ({ type: 'SpendPoints', spendId, points, purpose: 'benefit' });

  it('spends available points into the purpose account, down to zero', () => {
    const { events, state } = member.given(activeWith(100)).when(spend('s1', 100), ctx('2026-11-23 10:00')).result();
    expect(events).toEqual([
      {
        type: 'PointsSpent',
        data: { memberId: M, spendId: 's1', points: 100, purpose: 'benefit', postings: [{ debit: 'member:m1:available', credit: 'spent:benefit', amount: 100, asset: 'POINTS' }] },
      },
    ]);
    expect(state).toMatchObject({ available: 0, held: 0, lifetimeEarned: 100 });
  });

  it('refuses to spend more than is available as POINTS.INSUFFICIENT with both amounts', () => {
    member.given(activeWith(100)).when(spend('s1', 101), ctx('2026-11-23 10:00')).thenFails('POINTS.INSUFFICIENT', { availablePoints: 100, requestedPoints: 101 });
  });

  it('refuses a spend id used before as SPEND.DUPLICATE', () => {
    member.given(history(activeWith(100), [[spend('s1', 10), '2026-11-23 10:00']])).when(spend('s1', 10), ctx('2026-11-23 10:01')).thenFails('SPEND.DUPLICATE', { spendId: 's1' });
  });
});

describe('amount validation for holds and spends', () => {
  const amounts = [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, MAX_POINTS_PER_SPEND + 1, 2 ** 53];
  const inAnHour = ms('2026-11-23 11:00');

  it.each(amounts)('refuses %p points as POINTS.AMOUNT_INVALID', (points) => {
    member.given(activeWith(100)).when({ type: 'SpendPoints', spendId: 's', points, purpose: 'mall' }, ctx('2026-11-23 10:00')).thenFails('POINTS.AMOUNT_INVALID');
    member.given(activeWith(100)).when({ type: 'HoldPoints', holdId: 'h', points, purpose: 'mall', expiresAtMs: inAnHour }, ctx('2026-11-23 10:00')).thenFails('POINTS.AMOUNT_INVALID');
  });

  it('accepts 1 and the maximum as amounts (the maximum then fails only for want of points)', () => {
    expect(member.given(activeWith(100)).when({ type: 'SpendPoints', spendId: 's', points: 1, purpose: 'mall' }, ctx('2026-11-23 10:00')).result().state.available).toBe(99);
    member.given(activeWith(100)).when({ type: 'SpendPoints', spendId: 's', points: MAX_POINTS_PER_SPEND, purpose: 'mall' }, ctx('2026-11-23 10:00')).thenFails('POINTS.INSUFFICIENT');
    member
      .given(activeWith(MAX_POINTS_PER_SPEND))
      .when({ type: 'HoldPoints', holdId: 'h', points: MAX_POINTS_PER_SPEND, purpose: 'mall', expiresAtMs: inAnHour }, ctx('2026-11-23 10:00'))
      .then([expect.objectContaining({ type: 'PointsHeld' })]);
  });
});
