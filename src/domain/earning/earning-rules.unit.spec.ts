import { DomainError } from '../shared/errors';
import { DEFAULT_RULES, MAX_POINTS_PER_GRANT, validateRuleSetBody } from './earning-rules';

/** The problems a refused body lists, or a failure if the body was accepted. */
function problemsOf(body: unknown): string[] {
  try {
    validateRuleSetBody(body);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    expect(error.code).toBe('RULES.INVALID');
    expect(error.httpStatus).toBe(400);
    return error.details.problems as string[];
  }
  throw new Error(`expected RULES.INVALID for ${JSON.stringify(body)}`);
}

const clone = (): typeof DEFAULT_RULES => structuredClone(DEFAULT_RULES);

describe('validateRuleSetBody', () => {
  it('accepts the default rules unchanged', () => {
    expect(validateRuleSetBody(clone())).toEqual(DEFAULT_RULES);
  });

  it('accepts rules without a streak bonus, as null', () => {
    expect(validateRuleSetBody({ ...clone(), streakBonus: null }).streakBonus).toBeNull();
    const { streakBonus: _omitted, ...withoutBonus } = clone();
    expect(validateRuleSetBody(withoutBonus).streakBonus).toBeNull();
  });

  it('accepts the limits: 0 and the maximum points per grant, caps of 0', () => {
    const body = clone();
    body.rules.quiz = { points: 0, caps: { day: { maxCount: 0, maxPoints: 0 } } };
    body.rules.article = { points: MAX_POINTS_PER_GRANT };
    body.streakBonus = { everyDays: 2, points: MAX_POINTS_PER_GRANT };
    expect(validateRuleSetBody(body)).toEqual(body);
  });

  it.each([null, undefined, 42, 'rules', [], {}, { rules: null }, { rules: 'x' }])('refuses %p without a rules object', (body) => {
    expect(problemsOf(body)).toEqual(['rules is missing']);
  });

  it('lists every missing action', () => {
    expect(problemsOf({ rules: {}, streakBonus: null })).toEqual([
      'rules.activation is missing',
      'rules.checkin is missing',
      'rules.quiz is missing',
      'rules.article is missing',
      'rules.comment is missing',
      'rules.evaluation is missing',
      'rules.activity is missing',
    ]);
  });

  it('refuses an unknown action and an unknown cap period', () => {
    const body = clone() as unknown as { rules: Record<string, unknown> };
    body.rules.lottery = { points: 5 };
    (body.rules.quiz as { caps: Record<string, unknown> }).caps.month = { maxCount: 1 };
    expect(problemsOf(body)).toEqual(['rules.lottery is not a known action', 'rules.quiz.caps.month is not day, week or year']);
  });

  it.each([-1, 1.5, MAX_POINTS_PER_GRANT + 1, '5', null, Number.NaN])('refuses %p as the points of a rule', (points) => {
    const body = clone() as unknown as { rules: { checkin: { points: unknown } } };
    body.rules.checkin.points = points;
    expect(problemsOf(body)).toEqual([`rules.checkin.points must be an integer from 0 to ${MAX_POINTS_PER_GRANT}`]);
  });

  it.each([-1, 0.5, 10_000_001, '3'])('refuses %p as a cap', (cap) => {
    const body = clone() as unknown as { rules: { comment: { caps: { week: Record<string, unknown> } } } };
    body.rules.comment.caps.week = { maxCount: cap, maxPoints: cap };
    expect(problemsOf(body)).toEqual([
      'rules.comment.caps.week.maxCount must be an integer from 0 to 10000000',
      'rules.comment.caps.week.maxPoints must be an integer from 0 to 10000000',
    ]);
  });

  it('refuses a streak bonus every day or beyond a year, or with bad points', () => {
    expect(problemsOf({ ...clone(), streakBonus: { everyDays: 1, points: 10 } })).toEqual(['streakBonus.everyDays must be an integer from 2 to 366']);
    expect(problemsOf({ ...clone(), streakBonus: { everyDays: 367, points: -5 } })).toEqual([
      'streakBonus.everyDays must be an integer from 2 to 366',
      `streakBonus.points must be an integer from 0 to ${MAX_POINTS_PER_GRANT}`,
    ]);
  });

  it('refuses the whole body with every problem listed at once', () => {
    const body = clone() as unknown as { rules: Record<string, unknown>; streakBonus: unknown };
    delete body.rules.activity;
    (body.rules.quiz as { points: number }).points = -3;
    body.rules.bogus = {};
    body.streakBonus = { everyDays: 0, points: 1 };
    expect(problemsOf(body)).toHaveLength(4);
  });
});
