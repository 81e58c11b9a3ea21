import { periodsOf, previousDay, type Periods } from '../../src/domain/shared';
import type { CapPeriod, EarningAction, RuleId, RuleSet } from '../../src/domain/earning';
import type { MemberCommand, MemberEvent, MemberState } from '../../src/domain/members';

/**
 * A deliberately simple model of one member, for model-based tests: plain balances, a map of
 * holds and the list of every grant so far. Caps are recomputed from that list (filter and sum)
 * instead of the decider's rolling per-period counters, so the two are worked out differently.
 * `step` is pure: it returns a new model or the error code the command must be refused with.
 */
export interface ModelHold {
  points: number;
  expiresAtMs: number;
  status: 'held' | 'posted' | 'voided' | 'expired';
}

export interface ModelGrant {
  ruleId: RuleId;
  points: number;
  periods: Periods;
}

export interface MemberModel {
  status: 'none' | 'enrolled' | 'active';
  orgId: string;
  name: string;
  idHmac: string;
  available: number;
  held: number;
  lifetime: number;
  holds: ReadonlyMap<string, ModelHold>;
  spends: ReadonlySet<string>;
  /** Once-only actions already done: `quiz:<id>`, `article:<id>` ... */
  done: ReadonlySet<string>;
  lastDay: string | null;
  streak: number;
  grants: readonly ModelGrant[];
}

export const emptyModel: MemberModel = {
  status: 'none',
  orgId: '',
  name: '',
  idHmac: '',
  available: 0,
  held: 0,
  lifetime: 0,
  holds: new Map(),
  spends: new Set(),
  done: new Set(),
  lastDay: null,
  streak: 0,
  grants: [],
};

export type ModelOutcome =
  | {
      ok: true;
      model: MemberModel;
      /** Event types in order; the expiry releases first (their order among themselves is not specified). */
      types: string[];
      released: string[];
      grants: Array<{ ruleId: RuleId; points: number }>;
    }
  | {
      ok: false;
      code: string;
      /** The model after the refusal: expired holds are released whatever the command's outcome. */
      model: MemberModel;
      released: string[];
    };

const MAX_POINTS = 10_000_000;
const PERIODS: readonly CapPeriod[] = ['day', 'week', 'year'];

class Refused extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

/** The points a rule may still grant: the base points, cut to what every cap of the rule leaves. */
function allowed(model: MemberModel, rules: RuleSet, ruleId: RuleId, capsOf: EarningAction | null, base: number, periods: Periods): number {
  let points = base;
  const caps = capsOf ? rules.rules[capsOf].caps ?? {} : {};
  for (const period of PERIODS) {
    const cap = caps[period];
    if (!cap) continue;
    const same = model.grants.filter((grant) => grant.ruleId === ruleId && grant.periods[period] === periods[period]);
    const usedPoints = same.reduce((sum, grant) => sum + grant.points, 0);
    if (cap.maxCount !== undefined && same.length >= cap.maxCount) points = 0;
    if (cap.maxPoints !== undefined) points = Math.min(points, Math.max(0, cap.maxPoints - usedPoints));
  }
  return points;
}

export function step(start: MemberModel, command: MemberCommand, now: Date, rules: RuleSet): ModelOutcome {
  // Holds whose time has come are released first, and stay released even if the command is refused.
  let model: MemberModel = start;
  const released: string[] = [];
  if (model.status !== 'none') {
    const holds = new Map(model.holds);
    let { available, held } = model;
    for (const [holdId, hold] of holds) {
      if (hold.status === 'held' && hold.expiresAtMs <= now.getTime()) {
        holds.set(holdId, { ...hold, status: 'expired' });
        available += hold.points;
        held -= hold.points;
        released.push(holdId);
      }
    }
    model = { ...model, holds, available, held };
  }
  const afterReleases = model;
  const types: string[] = released.map(() => 'HoldVoided');
  const grants: Array<{ ruleId: RuleId; points: number }> = [];
  const periods = periodsOf(now);

  const grant = (ruleId: RuleId, capsOf: EarningAction | null, base: number): void => {
    const points = allowed(model, rules, ruleId, capsOf, base, periods);
    if (points <= 0) return;
    model = {
      ...model,
      available: model.available + points,
      lifetime: model.lifetime + points,
      grants: [...model.grants, { ruleId, points, periods }],
    };
    grants.push({ ruleId, points });
    types.push('PointsGranted');
  };
  const mustBeActive = (): void => {
    if (model.status === 'none') throw new Refused('MEMBER.NOT_FOUND');
    if (model.status !== 'active') throw new Refused('MEMBER.NOT_ACTIVE');
  };
  const once = (key: string, code: string, type: string): void => {
    mustBeActive();
    if (model.done.has(key)) throw new Refused(code);
    model = { ...model, done: new Set(model.done).add(key) };
    types.push(type);
  };
  const validAmount = (points: number): void => {
    if (!Number.isInteger(points) || points < 1 || points > MAX_POINTS) throw new Refused('POINTS.AMOUNT_INVALID');
  };
  const enough = (points: number): void => {
    if (model.available < points) throw new Refused('POINTS.INSUFFICIENT');
  };

  try {
    switch (command.type) {
      case 'EnrolMember':
        if (model.status !== 'none') {
          if (model.orgId === command.orgId && model.name === command.name && model.idHmac === command.idHmac) break;
          throw new Refused('MEMBER.ALREADY_ENROLLED');
        }
        model = { ...model, status: 'enrolled', orgId: command.orgId, name: command.name, idHmac: command.idHmac };
        types.push('MemberEnrolled');
        break;
      case 'ActivateMember':
        if (model.status === 'none' || model.name !== command.name.trim()) throw new Refused('ACTIVATION.NO_MATCH');
        if (model.status === 'active') throw new Refused('MEMBER.ALREADY_ACTIVE');
        model = { ...model, status: 'active' };
        types.push('MemberActivated');
        grant('activation', 'activation', rules.rules.activation.points);
        types.push('InsuranceGrantRequested');
        break;
      case 'CheckIn': {
        mustBeActive();
        if (model.lastDay === periods.day) throw new Refused('CHECKIN.ALREADY_TODAY');
        const streak = model.lastDay !== null && model.lastDay === previousDay(periods.day) ? model.streak + 1 : 1;
        model = { ...model, lastDay: periods.day, streak };
        types.push('CheckedIn');
        grant('checkin', 'checkin', rules.rules.checkin.points);
        const bonus = rules.streakBonus;
        if (bonus && bonus.points > 0 && streak % bonus.everyDays === 0) grant('checkin.streakBonus', null, bonus.points);
        break;
      }
      case 'AnswerQuiz':
        once(`quiz:${command.quizId}`, 'QUIZ.ALREADY_ANSWERED', 'QuizAnswered');
        if (command.answer === command.correctAnswer) grant('quiz', 'quiz', rules.rules.quiz.points);
        break;
      case 'ReadArticle':
        once(`article:${command.articleId}`, 'ARTICLE.ALREADY_READ', 'ArticleRead');
        grant('article', 'article', rules.rules.article.points);
        break;
      case 'PostComment':
        once(`comment:${command.commentId}`, 'COMMENT.DUPLICATE', 'CommentPosted');
        grant('comment', 'comment', rules.rules.comment.points);
        break;
      case 'SubmitEvaluation':
        once(`campaign:${command.campaignId}`, 'EVALUATION.ALREADY_SUBMITTED', 'EvaluationSubmitted');
        grant('evaluation', 'evaluation', rules.rules.evaluation.points);
        break;
      case 'ParticipateActivity':
        once(`activity:${command.activityId}`, 'ACTIVITY.ALREADY_JOINED', 'ActivityParticipated');
        grant('activity', 'activity', rules.rules.activity.points);
        break;
      case 'HoldPoints':
        mustBeActive();
        validAmount(command.points);
        if (model.holds.has(command.holdId)) throw new Refused('HOLD.DUPLICATE');
        // The expiry is stored as JSON, where NaN and Infinity become null: only whole milliseconds are valid.
        if (!Number.isSafeInteger(command.expiresAtMs) || command.expiresAtMs <= now.getTime()) throw new Refused('HOLD.EXPIRY_INVALID');
        enough(command.points);
        model = {
          ...model,
          available: model.available - command.points,
          held: model.held + command.points,
          holds: new Map(model.holds).set(command.holdId, { points: command.points, expiresAtMs: command.expiresAtMs, status: 'held' }),
        };
        types.push('PointsHeld');
        break;
      case 'PostHold':
      case 'VoidHold': {
        mustBeActive();
        const hold = model.holds.get(command.holdId);
        if (!hold) throw new Refused('HOLD.NOT_FOUND');
        if (hold.status !== 'held') throw new Refused(`HOLD.ALREADY_${hold.status.toUpperCase()}`);
        const posting = command.type === 'PostHold';
        model = {
          ...model,
          held: model.held - hold.points,
          available: posting ? model.available : model.available + hold.points,
          holds: new Map(model.holds).set(command.holdId, { ...hold, status: posting ? 'posted' : 'voided' }),
        };
        types.push(posting ? 'HoldPosted' : 'HoldVoided');
        break;
      }
      case 'SpendPoints':
        mustBeActive();
        validAmount(command.points);
        if (model.spends.has(command.spendId)) throw new Refused('SPEND.DUPLICATE');
        enough(command.points);
        model = { ...model, available: model.available - command.points, spends: new Set(model.spends).add(command.spendId) };
        types.push('PointsSpent');
        break;
      case 'ReleaseExpiredHolds':
        break;
    }
  } catch (error) {
    if (error instanceof Refused) return { ok: false, code: error.code, model: afterReleases, released };
    throw error;
  }
  return { ok: true, model, types, released, grants };
}

/** The parts of the decider's state the model predicts, in a shape both can be compared in. */
export function comparableState(state: MemberState): unknown {
  return {
    status: state.status,
    available: state.available,
    held: state.held,
    lifetime: state.lifetimeEarned,
    lastDay: state.lastCheckInDay,
    streak: state.streak,
    holds: [...state.holds].map(([id, hold]) => [id, hold.points, hold.expiresAtMs, hold.status]).sort(),
    spends: [...state.spends].sort(),
    done: [...state.done].sort(),
  };
}

export function comparableModel(model: MemberModel): unknown {
  return {
    status: model.status,
    available: model.available,
    held: model.held,
    lifetime: model.lifetime,
    lastDay: model.lastDay,
    streak: model.streak,
    holds: [...model.holds].map(([id, hold]) => [id, hold.points, hold.expiresAtMs, hold.status]).sort(),
    spends: [...model.spends].sort(),
    done: [...model.done].sort(),
  };
}

/** What a list of decided events says, in the shape of a model outcome, to compare the two. */
export function outcomeOf(events: readonly MemberEvent[]): { types: string[]; released: string[]; grants: Array<{ ruleId: RuleId; points: number }> } {
  const released = events.flatMap((event) => (event.type === 'HoldVoided' && event.data.reason === 'expired' ? [event.data.holdId] : []));
  return {
    types: events.map((event) => event.type),
    released,
    grants: events.flatMap((event) => (event.type === 'PointsGranted' ? [{ ruleId: event.data.ruleId, points: event.data.points }] : [])),
  };
}
