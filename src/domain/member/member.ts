import { periodsOf, previousDay, type Periods } from '../shared/calendar';
import { DomainError, invariant } from '../shared/errors';
import { CAP_PERIODS, type EarningAction, type RuleId, type RuleSet } from './earning-rules';

/**
 * The member aggregate (stream `member-<memberId>`): enrolment from the roster, activation,
 * earning by rules with caps, and the two-phase spending primitive. Pure functions only:
 * `evolve(state, event)` folds, one `decide*` per command returns the new events or throws a
 * DomainError. Every movement of points carries its postings (double entry).
 */

// ---------------------------------------------------------------- events

export interface Posting {
  debit: string;
  credit: string;
  points: number;
}

export interface PointsGrantedData {
  grantId: string;
  memberId: string;
  orgId: string;
  action: EarningAction;
  ruleId: RuleId;
  ruleVersion: number;
  points: number;
  periods: Periods;
  /** What the rule looked at: enough to recompute the grant from the pinned rule version. */
  inputs: Record<string, string | number | boolean | null>;
  postings: Posting[];
}

export type MemberEvent =
  | { type: 'MemberEnrolled'; data: { memberId: string; orgId: string; name: string; idHmac: string; piiCipher: string } }
  | { type: 'MemberActivated'; data: { memberId: string; orgId: string; day: string } }
  | { type: 'InsuranceGrantRequested'; data: { memberId: string; grantId: string; product: string; termYears: number } }
  | { type: 'PointsGranted'; data: PointsGrantedData }
  | { type: 'CheckedIn'; data: { memberId: string; day: string; streak: number } }
  | { type: 'QuizAnswered'; data: { memberId: string; quizId: string; correct: boolean } }
  | { type: 'ArticleRead'; data: { memberId: string; articleId: string } }
  | { type: 'CommentPosted'; data: { memberId: string; commentId: string; targetId: string } }
  | {
      type: 'EvaluationSubmitted';
      data: {
        memberId: string;
        orgId: string;
        campaignId: string;
        overall: number;
        items: Record<string, number>;
        suggestion: string | null;
        day: string;
      };
    }
  | { type: 'ActivityParticipated'; data: { memberId: string; activityId: string } }
  | { type: 'PointsHeld'; data: { memberId: string; holdId: string; points: number; purpose: string; expiresAtMs: number; postings: Posting[] } }
  | { type: 'HoldPosted'; data: { memberId: string; holdId: string; points: number; purpose: string; postings: Posting[] } }
  | { type: 'HoldVoided'; data: { memberId: string; holdId: string; points: number; reason: 'voided' | 'expired'; postings: Posting[] } }
  | { type: 'PointsSpent'; data: { memberId: string; spendId: string; points: number; purpose: string; postings: Posting[] } };

export type MemberEventType = MemberEvent['type'];
export const MEMBER_EVENT_TYPES: readonly MemberEventType[] = [
  'MemberEnrolled',
  'MemberActivated',
  'InsuranceGrantRequested',
  'PointsGranted',
  'CheckedIn',
  'QuizAnswered',
  'ArticleRead',
  'CommentPosted',
  'EvaluationSubmitted',
  'ActivityParticipated',
  'PointsHeld',
  'HoldPosted',
  'HoldVoided',
  'PointsSpent',
];

export const memberStream = (memberId: string): string => `member-${memberId}`;
export const accounts = {
  available: (memberId: string) => `member:${memberId}:available`,
  held: (memberId: string) => `member:${memberId}:held`,
  issuer: (ruleId: RuleId) => `issuer:${ruleId}`,
  spent: (purpose: string) => `spent:${purpose}`,
};

// ---------------------------------------------------------------- state

interface Counter {
  key: string;
  count: number;
  points: number;
}

interface Hold {
  points: number;
  purpose: string;
  expiresAtMs: number;
  status: 'held' | 'posted' | 'voided' | 'expired';
}

export interface MemberState {
  status: 'none' | 'enrolled' | 'active';
  memberId: string;
  orgId: string;
  name: string;
  idHmac: string;
  piiCipher: string;
  available: number;
  held: number;
  lifetimeEarned: number;
  lastCheckInDay: string | null;
  streak: number;
  /** Grants per rule per period, for caps. Only the current period of each kind is kept. */
  counters: Partial<Record<RuleId, Partial<Record<'day' | 'week' | 'year', Counter>>>>;
  /** Once-only keys: `quiz:<id>`, `article:<id>`, `activity:<id>`, `campaign:<id>`, `comment:<id>`. */
  done: ReadonlySet<string>;
  holds: ReadonlyMap<string, Hold>;
  spends: ReadonlySet<string>;
}

export const initialState: MemberState = {
  status: 'none',
  memberId: '',
  orgId: '',
  name: '',
  idHmac: '',
  piiCipher: '',
  available: 0,
  held: 0,
  lifetimeEarned: 0,
  lastCheckInDay: null,
  streak: 0,
  counters: {},
  done: new Set(),
  holds: new Map(),
  spends: new Set(),
};

function withDone(state: MemberState, key: string): MemberState {
  return { ...state, done: new Set(state.done).add(key) };
}

function withHold(state: MemberState, holdId: string, hold: Hold): MemberState {
  return { ...state, holds: new Map(state.holds).set(holdId, hold) };
}

export function evolve(state: MemberState, event: MemberEvent): MemberState {
  switch (event.type) {
    case 'MemberEnrolled':
      return { ...state, status: 'enrolled', ...event.data };
    case 'MemberActivated':
      return { ...state, status: 'active' };
    case 'InsuranceGrantRequested':
      return state;
    case 'PointsGranted': {
      const { ruleId, points, periods } = event.data;
      const previous = state.counters[ruleId] ?? {};
      const next: Partial<Record<'day' | 'week' | 'year', Counter>> = {};
      for (const period of CAP_PERIODS) {
        const key = periods[period];
        const counter = previous[period]?.key === key ? previous[period] : { key, count: 0, points: 0 };
        next[period] = { key, count: counter!.count + 1, points: counter!.points + points };
      }
      return {
        ...state,
        available: state.available + points,
        lifetimeEarned: state.lifetimeEarned + points,
        counters: { ...state.counters, [ruleId]: next },
      };
    }
    case 'CheckedIn':
      return { ...state, lastCheckInDay: event.data.day, streak: event.data.streak };
    case 'QuizAnswered':
      return withDone(state, `quiz:${event.data.quizId}`);
    case 'ArticleRead':
      return withDone(state, `article:${event.data.articleId}`);
    case 'CommentPosted':
      return withDone(state, `comment:${event.data.commentId}`);
    case 'EvaluationSubmitted':
      return withDone(state, `campaign:${event.data.campaignId}`);
    case 'ActivityParticipated':
      return withDone(state, `activity:${event.data.activityId}`);
    case 'PointsHeld': {
      const { holdId, points, purpose, expiresAtMs } = event.data;
      return withHold({ ...state, available: state.available - points, held: state.held + points }, holdId, {
        points,
        purpose,
        expiresAtMs,
        status: 'held',
      });
    }
    case 'HoldPosted': {
      const hold = state.holds.get(event.data.holdId);
      invariant(hold, `posted hold ${event.data.holdId} exists`);
      return withHold({ ...state, held: state.held - hold.points }, event.data.holdId, { ...hold, status: 'posted' });
    }
    case 'HoldVoided': {
      const hold = state.holds.get(event.data.holdId);
      invariant(hold, `voided hold ${event.data.holdId} exists`);
      return withHold(
        { ...state, held: state.held - hold.points, available: state.available + hold.points },
        event.data.holdId,
        { ...hold, status: event.data.reason === 'expired' ? 'expired' : 'voided' },
      );
    }
    case 'PointsSpent':
      return { ...state, available: state.available - event.data.points, spends: new Set(state.spends).add(event.data.spendId) };
    default: {
      const unknown: never = event;
      throw new Error(`unknown member event ${(unknown as { type: string }).type}`);
    }
  }
}

export function fold(events: readonly MemberEvent[], state: MemberState = initialState): MemberState {
  return events.reduce(evolve, state);
}

// ---------------------------------------------------------------- commands

export interface Context {
  now: Date;
  rules: RuleSet;
}

function requireActive(state: MemberState): void {
  if (state.status === 'none') throw new DomainError('MEMBER.NOT_FOUND', 'no such member', 404);
  if (state.status !== 'active') throw new DomainError('MEMBER.NOT_ACTIVE', 'the member has not activated their account', 403);
}

/**
 * Applies the rule and its caps. Returns the grant event, or null when a cap leaves nothing to
 * grant (the action itself is still recorded by the caller).
 */
function grant(
  state: MemberState,
  ctx: Context,
  action: EarningAction,
  ruleId: RuleId,
  key: string,
  basePoints: number,
  inputs: PointsGrantedData['inputs'],
  capsFrom: EarningAction | null,
): MemberEvent | null {
  const periods = periodsOf(ctx.now);
  let points = basePoints;
  let cappedBy: string | null = null;
  const caps = capsFrom ? ctx.rules.rules[capsFrom].caps ?? {} : {};
  for (const period of CAP_PERIODS) {
    const cap = caps[period];
    if (!cap) continue;
    const counter = state.counters[ruleId]?.[period];
    const used = counter?.key === periods[period] ? counter : { count: 0, points: 0 };
    if (cap.maxCount !== undefined && used.count >= cap.maxCount) {
      points = 0;
      cappedBy = `${period}.maxCount`;
    }
    if (cap.maxPoints !== undefined && points > cap.maxPoints - used.points) {
      points = Math.max(0, cap.maxPoints - used.points);
      cappedBy = `${period}.maxPoints`;
    }
  }
  if (points <= 0) return null;
  return {
    type: 'PointsGranted',
    data: {
      grantId: `${state.memberId}:${ruleId}:${key}`,
      memberId: state.memberId,
      orgId: state.orgId,
      action,
      ruleId,
      ruleVersion: ctx.rules.version,
      points,
      periods,
      inputs: { ...inputs, basePoints, cappedBy },
      postings: [{ debit: accounts.issuer(ruleId), credit: accounts.available(state.memberId), points }],
    },
  };
}

function earning(state: MemberState, ctx: Context, action: EarningAction, key: string, inputs: PointsGrantedData['inputs']): MemberEvent[] {
  const event = grant(state, ctx, action, action, key, ctx.rules.rules[action].points, inputs, action);
  return event ? [event] : [];
}

/** Holds whose time is up are released before any other command, exactly once. */
export function releaseExpiredHolds(state: MemberState, now: Date): MemberEvent[] {
  const events: MemberEvent[] = [];
  for (const [holdId, hold] of state.holds) {
    if (hold.status === 'held' && hold.expiresAtMs <= now.getTime()) {
      events.push({
        type: 'HoldVoided',
        data: {
          memberId: state.memberId,
          holdId,
          points: hold.points,
          reason: 'expired',
          postings: [{ debit: accounts.held(state.memberId), credit: accounts.available(state.memberId), points: hold.points }],
        },
      });
    }
  }
  return events;
}

export type MemberCommand =
  | { type: 'EnrolMember'; memberId: string; orgId: string; name: string; idHmac: string; piiCipher: string }
  | { type: 'ActivateMember'; name: string }
  | { type: 'CheckIn' }
  | { type: 'AnswerQuiz'; quizId: string; answer: string; correctAnswer: string }
  | { type: 'ReadArticle'; articleId: string }
  | { type: 'PostComment'; commentId: string; targetId: string }
  | { type: 'SubmitEvaluation'; campaignId: string; overall: number; items: Record<string, number>; suggestion: string | null }
  | { type: 'ParticipateActivity'; activityId: string }
  | { type: 'HoldPoints'; holdId: string; points: number; purpose: string; expiresAtMs: number }
  | { type: 'PostHold'; holdId: string }
  | { type: 'VoidHold'; holdId: string }
  | { type: 'SpendPoints'; spendId: string; points: number; purpose: string }
  | { type: 'ReleaseExpiredHolds' };

export const ACTIVATION_INSURANCE = { product: 'accident-mutual-aid', termYears: 1 } as const;
export const MAX_POINTS_PER_SPEND = 10_000_000;
export const EVALUATION_ITEMS = 9;

function checkPoints(points: number): void {
  if (!Number.isSafeInteger(points) || points < 1 || points > MAX_POINTS_PER_SPEND) {
    throw new DomainError('POINTS.AMOUNT_INVALID', `points must be an integer from 1 to ${MAX_POINTS_PER_SPEND}`, 400);
  }
}

function requireAvailable(state: MemberState, points: number): void {
  if (state.available < points) {
    throw new DomainError('POINTS.INSUFFICIENT', 'not enough available points', 422, {
      availablePoints: state.available,
      requestedPoints: points,
    });
  }
}

function decideCommand(state: MemberState, command: MemberCommand, ctx: Context): MemberEvent[] {
  const memberId = state.memberId;
  switch (command.type) {
    case 'EnrolMember': {
      if (state.status !== 'none') {
        const same = state.orgId === command.orgId && state.name === command.name && state.idHmac === command.idHmac;
        if (same) return []; // Re-importing the same roster row changes nothing.
        throw new DomainError('MEMBER.ALREADY_ENROLLED', 'a member with this national ID number is already enrolled with other details', 409);
      }
      const { memberId: id, orgId, name, idHmac, piiCipher } = command;
      return [{ type: 'MemberEnrolled', data: { memberId: id, orgId, name, idHmac, piiCipher } }];
    }
    case 'ActivateMember': {
      // Not found and a wrong name give the same answer, so the endpoint cannot probe the roster.
      if (state.status === 'none' || state.name !== command.name.trim()) {
        throw new DomainError('ACTIVATION.NO_MATCH', 'no roster entry matches this national ID number and name', 422);
      }
      if (state.status === 'active') throw new DomainError('MEMBER.ALREADY_ACTIVE', 'the member is already activated', 409);
      const day = periodsOf(ctx.now).day;
      const reward = grant(state, ctx, 'activation', 'activation', 'once', ctx.rules.rules.activation.points, { day }, 'activation');
      return [
        { type: 'MemberActivated', data: { memberId, orgId: state.orgId, day } },
        ...(reward ? [reward] : []),
        {
          type: 'InsuranceGrantRequested',
          data: { memberId, grantId: `${memberId}:activation-insurance`, ...ACTIVATION_INSURANCE },
        },
      ];
    }
    case 'CheckIn': {
      requireActive(state);
      const day = periodsOf(ctx.now).day;
      if (state.lastCheckInDay === day) throw new DomainError('CHECKIN.ALREADY_TODAY', 'already checked in today', 409, { day });
      const streak = state.lastCheckInDay === previousDay(day) ? state.streak + 1 : 1;
      const events: MemberEvent[] = [{ type: 'CheckedIn', data: { memberId, day, streak } }];
      events.push(...earning(state, ctx, 'checkin', day, { day, streak }));
      const bonus = ctx.rules.streakBonus;
      if (bonus && bonus.points > 0 && streak % bonus.everyDays === 0) {
        const bonusGrant = grant(state, ctx, 'checkin', 'checkin.streakBonus', day, bonus.points, { day, streak, everyDays: bonus.everyDays }, null);
        if (bonusGrant) events.push(bonusGrant);
      }
      return events;
    }
    case 'AnswerQuiz': {
      requireActive(state);
      if (state.done.has(`quiz:${command.quizId}`)) {
        throw new DomainError('QUIZ.ALREADY_ANSWERED', 'this quiz was already answered', 409, { quizId: command.quizId });
      }
      const correct = command.answer === command.correctAnswer;
      const events: MemberEvent[] = [{ type: 'QuizAnswered', data: { memberId, quizId: command.quizId, correct } }];
      if (correct) events.push(...earning(state, ctx, 'quiz', command.quizId, { quizId: command.quizId, correct }));
      return events;
    }
    case 'ReadArticle': {
      requireActive(state);
      if (state.done.has(`article:${command.articleId}`)) {
        throw new DomainError('ARTICLE.ALREADY_READ', 'this article was already read', 409, { articleId: command.articleId });
      }
      return [
        { type: 'ArticleRead', data: { memberId, articleId: command.articleId } },
        ...earning(state, ctx, 'article', command.articleId, { articleId: command.articleId }),
      ];
    }
    case 'PostComment': {
      requireActive(state);
      if (state.done.has(`comment:${command.commentId}`)) {
        throw new DomainError('COMMENT.DUPLICATE', 'this comment was already recorded', 409, { commentId: command.commentId });
      }
      return [
        { type: 'CommentPosted', data: { memberId, commentId: command.commentId, targetId: command.targetId } },
        ...earning(state, ctx, 'comment', command.commentId, { commentId: command.commentId, targetId: command.targetId }),
      ];
    }
    case 'SubmitEvaluation': {
      requireActive(state);
      if (state.done.has(`campaign:${command.campaignId}`)) {
        throw new DomainError('EVALUATION.ALREADY_SUBMITTED', 'already evaluated in this campaign', 409, { campaignId: command.campaignId });
      }
      const day = periodsOf(ctx.now).day;
      return [
        {
          type: 'EvaluationSubmitted',
          data: {
            memberId,
            orgId: state.orgId,
            campaignId: command.campaignId,
            overall: command.overall,
            items: command.items,
            suggestion: command.suggestion,
            day,
          },
        },
        ...earning(state, ctx, 'evaluation', command.campaignId, { campaignId: command.campaignId, overall: command.overall }),
      ];
    }
    case 'ParticipateActivity': {
      requireActive(state);
      if (state.done.has(`activity:${command.activityId}`)) {
        throw new DomainError('ACTIVITY.ALREADY_JOINED', 'participation in this activity is already recorded', 409, {
          activityId: command.activityId,
        });
      }
      return [
        { type: 'ActivityParticipated', data: { memberId, activityId: command.activityId } },
        ...earning(state, ctx, 'activity', command.activityId, { activityId: command.activityId }),
      ];
    }
    case 'HoldPoints': {
      requireActive(state);
      checkPoints(command.points);
      if (state.holds.has(command.holdId)) throw new DomainError('HOLD.DUPLICATE', 'a hold with this id exists', 409, { holdId: command.holdId });
      // Events are stored as JSON, where NaN and Infinity become null, which a reload would read as long expired.
      if (!Number.isSafeInteger(command.expiresAtMs) || command.expiresAtMs <= ctx.now.getTime()) {
        throw new DomainError('HOLD.EXPIRY_INVALID', 'a hold must expire in the future, at a whole millisecond', 400);
      }
      requireAvailable(state, command.points);
      return [
        {
          type: 'PointsHeld',
          data: {
            memberId,
            holdId: command.holdId,
            points: command.points,
            purpose: command.purpose,
            expiresAtMs: command.expiresAtMs,
            postings: [{ debit: accounts.available(memberId), credit: accounts.held(memberId), points: command.points }],
          },
        },
      ];
    }
    case 'PostHold':
    case 'VoidHold': {
      requireActive(state);
      const hold = state.holds.get(command.holdId);
      if (!hold) throw new DomainError('HOLD.NOT_FOUND', 'no such hold', 404, { holdId: command.holdId });
      if (hold.status !== 'held') {
        throw new DomainError(`HOLD.ALREADY_${hold.status.toUpperCase()}`, `the hold is already ${hold.status}`, 409, {
          holdId: command.holdId,
          status: hold.status,
        });
      }
      if (command.type === 'PostHold') {
        return [
          {
            type: 'HoldPosted',
            data: {
              memberId,
              holdId: command.holdId,
              points: hold.points,
              purpose: hold.purpose,
              postings: [{ debit: accounts.held(memberId), credit: accounts.spent(hold.purpose), points: hold.points }],
            },
          },
        ];
      }
      return [
        {
          type: 'HoldVoided',
          data: {
            memberId,
            holdId: command.holdId,
            points: hold.points,
            reason: 'voided',
            postings: [{ debit: accounts.held(memberId), credit: accounts.available(memberId), points: hold.points }],
          },
        },
      ];
    }
    case 'SpendPoints': {
      requireActive(state);
      checkPoints(command.points);
      if (state.spends.has(command.spendId)) throw new DomainError('SPEND.DUPLICATE', 'a spend with this id exists', 409, { spendId: command.spendId });
      requireAvailable(state, command.points);
      return [
        {
          type: 'PointsSpent',
          data: {
            memberId,
            spendId: command.spendId,
            points: command.points,
            purpose: command.purpose,
            postings: [{ debit: accounts.available(memberId), credit: accounts.spent(command.purpose), points: command.points }],
          },
        },
      ];
    }
    case 'ReleaseExpiredHolds':
      return []; // decide() has already released them.
    default: {
      const unknown: never = command;
      throw new Error(`unknown member command ${(unknown as { type: string }).type}`);
    }
  }
}

/**
 * Decides a command: first releases expired holds (so a hold expires exactly once, by whichever
 * command comes first), then the command itself on the resulting state. The invariants are
 * asserted on the outcome: a decider bug must crash, never store a negative balance.
 */
export function decide(state: MemberState, command: MemberCommand, ctx: Context): MemberEvent[] {
  const releases = state.status === 'none' ? [] : releaseExpiredHolds(state, ctx.now);
  const afterReleases = fold(releases, state);
  const events = [...releases, ...decideCommand(afterReleases, command, ctx)];
  const after = fold(events, state);
  invariant(after.available >= 0 && after.held >= 0, 'member balances are never negative');
  return events;
}
