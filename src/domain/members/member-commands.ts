import { DomainError, invariant, periodsOf, pointsPosting, previousDay } from '../shared';
import { CAP_PERIODS, type EarningAction, type RuleId, type RuleSet } from '../earning';
import { accounts, awardKey, fold, type InsuranceGrant, type MemberEvent, type MemberState, type PointsGrantedData } from './member';
import { decideLifecycle, type LifecycleCommand } from './member-lifecycle';

/**
 * The member's commands: one pure function per command, and `decide`, which only releases expired
 * holds and dispatches. Each function returns the new events or throws a DomainError.
 */

export interface Context {
  now: Date;
  rules: RuleSet;
}

export type MemberCommand =
  | { type: 'EnrolMember'; memberId: string; orgId: string; name: string; idHmac: string; piiCipher: string }
  /** `loginKey`: the WeChat login that proved possession of the member's phone, bound by the activation. */
  | { type: 'ActivateMember'; name: string; loginKey?: string }
  | { type: 'RebindLogin'; loginKey: string; adminId: string }
  | { type: 'CheckIn' }
  | { type: 'AnswerQuiz'; quizId: string; answer: string; correctAnswer: string }
  | { type: 'ReadArticle'; articleId: string }
  | { type: 'PostComment'; commentId: string; targetId: string }
  | { type: 'SubmitEvaluation'; campaignId: string; overall: number; items: Record<string, number>; suggestion: string | null }
  | { type: 'ParticipateActivity'; activityId: string }
  | { type: 'HoldPoints'; holdId: string; points: number; purpose: string; expiresAtMs: number }
  | { type: 'PostHold'; holdId: string }
  | { type: 'VoidHold'; holdId: string }
  /** Gives a posted hold back whole, once (a returned mall order). */
  | { type: 'RefundHold'; holdId: string }
  | { type: 'SpendPoints'; spendId: string; points: number; purpose: string }
  /** Credits a prize's points once per `awardId` (a lottery's points prize: `source` = `lottery:<id>`). */
  | { type: 'AwardPoints'; awardId: string; points: number; source: string }
  | { type: 'ReleaseExpiredHolds' }
  /** The insurer's answer to an InsuranceGrantRequested (recorded by the insurance worker). */
  | { type: 'RecordInsuranceGranted'; grantId: string; policyNumber: string; validFrom: string; validUntil: string }
  | { type: 'RecordInsuranceGrantFailed'; grantId: string; reason: string }
  | LifecycleCommand;

type CommandOf<Type extends MemberCommand['type']> = Extract<MemberCommand, { type: Type }>;

export const ACTIVATION_INSURANCE = { product: 'accident-mutual-aid', termYears: 1 } as const;
export const MAX_POINTS_PER_SPEND = 10_000_000;
/** The longest refusal reason stored (an insurer's message is cut to it before it is recorded). */
export const MAX_INSURANCE_REASON_LENGTH = 200;
const POLICY_NUMBER = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$/;
const CALENDAR_DAY = /^\d{4}-\d{2}-\d{2}$/;

// ---------------------------------------------------------------- shared checks

function requireActive(state: MemberState): void {
  if (state.status === 'none') throw new DomainError('MEMBER.NOT_FOUND', 'no such member', 404);
  if (state.status !== 'active') throw new DomainError('MEMBER.NOT_ACTIVE', 'the member has not activated their account', 403);
  if (state.left) throw new DomainError('MEMBER.LEFT', 'the member has left the union', 403);
}

/**
 * The once-only rule of quizzes, articles, comments, evaluations and activities: the member must
 * be active, and `key` (kept in state.done by evolve) must not have been recorded yet.
 */
function requireFirstTime(state: MemberState, key: string, code: string, message: string, details: Record<string, unknown>): void {
  requireActive(state);
  if (state.done.has(key)) throw new DomainError(code, message, 409, details);
}

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

// ---------------------------------------------------------------- earning

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
      postings: [pointsPosting(accounts.issuer(ruleId), accounts.available(state.memberId), points)],
    },
  };
}

function earning(state: MemberState, ctx: Context, action: EarningAction, key: string, inputs: PointsGrantedData['inputs']): MemberEvent[] {
  const event = grant(state, ctx, action, action, key, ctx.rules.rules[action].points, inputs, action);
  return event ? [event] : [];
}

// ---------------------------------------------------------------- one function per command

export function enrol(state: MemberState, command: CommandOf<'EnrolMember'>): MemberEvent[] {
  if (state.status !== 'none') {
    const same = state.orgId === command.orgId && state.name === command.name && state.idHmac === command.idHmac;
    if (same) return []; // Re-importing the same roster row changes nothing.
    throw new DomainError('MEMBER.ALREADY_ENROLLED', 'a member with this national ID number is already enrolled with other details', 409);
  }
  const { memberId, orgId, name, idHmac, piiCipher } = command;
  return [{ type: 'MemberEnrolled', data: { memberId, orgId, name, idHmac, piiCipher } }];
}

export function activate(state: MemberState, command: CommandOf<'ActivateMember'>, ctx: Context): MemberEvent[] {
  // Not found and a wrong name give the same answer, so the endpoint cannot probe the roster.
  if (state.status === 'none' || state.name !== command.name.trim()) {
    throw new DomainError('ACTIVATION.NO_MATCH', 'no roster entry matches this national ID number and name', 422);
  }
  if (state.status === 'active') throw new DomainError('MEMBER.ALREADY_ACTIVE', 'the member is already activated', 409);
  if (state.left) throw new DomainError('MEMBER.LEFT', 'the member has left the union', 403);
  const { memberId } = state;
  const day = periodsOf(ctx.now).day;
  const reward = grant(state, ctx, 'activation', 'activation', 'once', ctx.rules.rules.activation.points, { day }, 'activation');
  const login: MemberEvent[] = command.loginKey
    ? [{ type: 'LoginBound', data: { memberId, loginKey: command.loginKey, previousLoginKey: null, byAdminId: null } }]
    : [];
  return [
    { type: 'MemberActivated', data: { memberId, orgId: state.orgId, day } },
    ...login,
    ...(reward ? [reward] : []),
    { type: 'InsuranceGrantRequested', data: { memberId, grantId: `${memberId}:activation-insurance`, ...ACTIVATION_INSURANCE } },
  ];
}

/** An admin of the member's union binds a new WeChat login (the member changed phone or account). */
export function rebindLogin(state: MemberState, command: CommandOf<'RebindLogin'>): MemberEvent[] {
  requireActive(state);
  if (state.loginKey === command.loginKey) return [];
  return [
    { type: 'LoginBound', data: { memberId: state.memberId, loginKey: command.loginKey, previousLoginKey: state.loginKey, byAdminId: command.adminId } },
  ];
}

export function checkIn(state: MemberState, ctx: Context): MemberEvent[] {
  requireActive(state);
  const day = periodsOf(ctx.now).day;
  if (state.lastCheckInDay === day) throw new DomainError('CHECKIN.ALREADY_TODAY', 'already checked in today', 409, { day });
  const streak = state.lastCheckInDay === previousDay(day) ? state.streak + 1 : 1;
  const events: MemberEvent[] = [{ type: 'CheckedIn', data: { memberId: state.memberId, day, streak } }, ...earning(state, ctx, 'checkin', day, { day, streak })];
  const bonus = ctx.rules.streakBonus;
  if (bonus && bonus.points > 0 && streak % bonus.everyDays === 0) {
    const bonusGrant = grant(state, ctx, 'checkin', 'checkin.streakBonus', day, bonus.points, { day, streak, everyDays: bonus.everyDays }, null);
    if (bonusGrant) events.push(bonusGrant);
  }
  return events;
}

export function answerQuiz(state: MemberState, command: CommandOf<'AnswerQuiz'>, ctx: Context): MemberEvent[] {
  const { quizId } = command;
  requireFirstTime(state, `quiz:${quizId}`, 'QUIZ.ALREADY_ANSWERED', 'this quiz was already answered', { quizId });
  const correct = command.answer === command.correctAnswer;
  return [
    { type: 'QuizAnswered', data: { memberId: state.memberId, quizId, correct } },
    ...(correct ? earning(state, ctx, 'quiz', quizId, { quizId, correct }) : []),
  ];
}

export function readArticle(state: MemberState, command: CommandOf<'ReadArticle'>, ctx: Context): MemberEvent[] {
  const { articleId } = command;
  requireFirstTime(state, `article:${articleId}`, 'ARTICLE.ALREADY_READ', 'this article was already read', { articleId });
  return [{ type: 'ArticleRead', data: { memberId: state.memberId, articleId } }, ...earning(state, ctx, 'article', articleId, { articleId })];
}

export function postComment(state: MemberState, command: CommandOf<'PostComment'>, ctx: Context): MemberEvent[] {
  const { commentId, targetId } = command;
  requireFirstTime(state, `comment:${commentId}`, 'COMMENT.DUPLICATE', 'this comment was already recorded', { commentId });
  return [
    { type: 'CommentPosted', data: { memberId: state.memberId, commentId, targetId } },
    ...earning(state, ctx, 'comment', commentId, { commentId, targetId }),
  ];
}

export function submitEvaluation(state: MemberState, command: CommandOf<'SubmitEvaluation'>, ctx: Context): MemberEvent[] {
  const { campaignId, overall, items, suggestion } = command;
  requireFirstTime(state, `campaign:${campaignId}`, 'EVALUATION.ALREADY_SUBMITTED', 'already evaluated in this campaign', { campaignId });
  const day = periodsOf(ctx.now).day;
  return [
    { type: 'EvaluationSubmitted', data: { memberId: state.memberId, orgId: state.orgId, campaignId, overall, items, suggestion, day } },
    ...earning(state, ctx, 'evaluation', campaignId, { campaignId, overall }),
  ];
}

export function participate(state: MemberState, command: CommandOf<'ParticipateActivity'>, ctx: Context): MemberEvent[] {
  const { activityId } = command;
  requireFirstTime(state, `activity:${activityId}`, 'ACTIVITY.ALREADY_JOINED', 'participation in this activity is already recorded', { activityId });
  return [{ type: 'ActivityParticipated', data: { memberId: state.memberId, activityId } }, ...earning(state, ctx, 'activity', activityId, { activityId })];
}

export function holdPoints(state: MemberState, command: CommandOf<'HoldPoints'>, ctx: Context): MemberEvent[] {
  requireActive(state);
  const { memberId } = state;
  const { holdId, points, purpose, expiresAtMs } = command;
  checkPoints(points);
  if (state.holds.has(holdId)) throw new DomainError('HOLD.DUPLICATE', 'a hold with this id exists', 409, { holdId });
  // Events are stored as JSON, where NaN and Infinity become null, which a reload would read as long expired.
  if (!Number.isSafeInteger(expiresAtMs) || expiresAtMs <= ctx.now.getTime()) {
    throw new DomainError('HOLD.EXPIRY_INVALID', 'a hold must expire in the future, at a whole millisecond', 400);
  }
  requireAvailable(state, points);
  return [
    {
      type: 'PointsHeld',
      data: { memberId, holdId, points, purpose, expiresAtMs, postings: [pointsPosting(accounts.available(memberId), accounts.held(memberId), points)] },
    },
  ];
}

/** Posts or voids a hold that is still held. */
export function settleHold(state: MemberState, command: CommandOf<'PostHold' | 'VoidHold'>): MemberEvent[] {
  requireActive(state);
  const { memberId } = state;
  const { holdId } = command;
  const hold = state.holds.get(holdId);
  if (!hold) throw new DomainError('HOLD.NOT_FOUND', 'no such hold', 404, { holdId });
  if (hold.status !== 'held') {
    throw new DomainError(`HOLD.ALREADY_${hold.status.toUpperCase()}`, `the hold is already ${hold.status}`, 409, { holdId, status: hold.status });
  }
  const { points, purpose } = hold;
  if (command.type === 'PostHold') {
    return [{ type: 'HoldPosted', data: { memberId, holdId, points, purpose, postings: [pointsPosting(accounts.held(memberId), accounts.spent(purpose), points)] } }];
  }
  return [
    {
      type: 'HoldVoided',
      data: { memberId, holdId, points, reason: 'voided', postings: [pointsPosting(accounts.held(memberId), accounts.available(memberId), points)] },
    },
  ];
}

/** Gives a posted hold's points back to the member, once: what was spent on its purpose returns to available. */
export function refundHold(state: MemberState, command: CommandOf<'RefundHold'>): MemberEvent[] {
  requireActive(state);
  const { memberId } = state;
  const { holdId } = command;
  const hold = state.holds.get(holdId);
  if (!hold) throw new DomainError('HOLD.NOT_FOUND', 'no such hold', 404, { holdId });
  if (hold.status === 'refunded') throw new DomainError('HOLD.ALREADY_REFUNDED', 'the hold was already refunded', 409, { holdId });
  if (hold.status !== 'posted') throw new DomainError('HOLD.NOT_POSTED', `only a posted hold is refunded; this one is ${hold.status}`, 409, { holdId, status: hold.status });
  const { points, purpose } = hold;
  return [{ type: 'PointsRefunded', data: { memberId, holdId, points, purpose, postings: [pointsPosting(accounts.spent(purpose), accounts.available(memberId), points)] } }];
}

export function spend(state: MemberState, command: CommandOf<'SpendPoints'>): MemberEvent[] {
  requireActive(state);
  const { memberId } = state;
  const { spendId, points, purpose } = command;
  checkPoints(points);
  if (state.spends.has(spendId)) throw new DomainError('SPEND.DUPLICATE', 'a spend with this id exists', 409, { spendId });
  requireAvailable(state, points);
  return [
    { type: 'PointsSpent', data: { memberId, spendId, points, purpose, postings: [pointsPosting(accounts.available(memberId), accounts.spent(purpose), points)] } },
  ];
}

/** A prize's points, credited once per award id (a retried settlement finds it done: AWARD.DUPLICATE). */
export function awardPoints(state: MemberState, command: CommandOf<'AwardPoints'>): MemberEvent[] {
  requireActive(state);
  const { memberId } = state;
  const { awardId, points, source } = command;
  checkPoints(points);
  if (state.done.has(awardKey(awardId))) throw new DomainError('AWARD.DUPLICATE', 'these points were already awarded', 409, { awardId });
  return [{ type: 'PointsAwarded', data: { memberId, awardId, points, source, postings: [pointsPosting(accounts.prizeIssuer(source), accounts.available(memberId), points)] } }];
}

// ---------------------------------------------------------------- insurance

function requireRequestedGrant(state: MemberState, grantId: string): InsuranceGrant {
  const grant = state.insurance.get(grantId);
  if (!grant) throw new DomainError('INSURANCE.GRANT_NOT_FOUND', 'no insurance grant with this id was requested for the member', 404, { grantId });
  return grant;
}

/** A real calendar day (2026-02-30 is not one). */
function isCalendarDay(day: string): boolean {
  if (!CALENDAR_DAY.test(day)) return false;
  const date = new Date(`${day}T00:00:00Z`);
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === day;
}

/**
 * Records the insurer's policy for a requested grant. Idempotent per grant id: once a grant has
 * an outcome, recording one again decides nothing (the first answer stands), so a worker that
 * delivers the same answer twice, or races another worker, records it once.
 */
export function recordInsuranceGranted(state: MemberState, command: CommandOf<'RecordInsuranceGranted'>): MemberEvent[] {
  const { grantId, policyNumber, validFrom, validUntil } = command;
  const grant = requireRequestedGrant(state, grantId);
  if (grant.status !== 'requested') return [];
  if (!POLICY_NUMBER.test(policyNumber) || !isCalendarDay(validFrom) || !isCalendarDay(validUntil) || validUntil < validFrom) {
    throw new DomainError('INSURANCE.POLICY_INVALID', 'the insurer answered a policy without a usable number or term', 422, { grantId });
  }
  const { product, termYears } = grant;
  return [{ type: 'InsuranceGranted', data: { memberId: state.memberId, grantId, policyNumber, product, termYears, validFrom, validUntil } }];
}

/** Records that the insurer refused a requested grant for good; idempotent per grant id like recordInsuranceGranted. */
export function recordInsuranceGrantFailed(state: MemberState, command: CommandOf<'RecordInsuranceGrantFailed'>): MemberEvent[] {
  const { grantId, reason } = command;
  const grant = requireRequestedGrant(state, grantId);
  if (grant.status !== 'requested') return [];
  if (reason.length < 1 || reason.length > MAX_INSURANCE_REASON_LENGTH) {
    throw new DomainError('INSURANCE.REASON_INVALID', `a refusal needs a reason of 1 to ${MAX_INSURANCE_REASON_LENGTH} characters`, 422, { grantId });
  }
  return [{ type: 'InsuranceGrantFailed', data: { memberId: state.memberId, grantId, product: grant.product, reason } }];
}

/** Holds whose time is up are released before any other command, exactly once. */
export function releaseExpiredHolds(state: MemberState, now: Date): MemberEvent[] {
  const events: MemberEvent[] = [];
  for (const [holdId, hold] of state.holds) {
    if (hold.status === 'held' && hold.expiresAtMs <= now.getTime()) {
      const { memberId } = state;
      events.push({
        type: 'HoldVoided',
        data: { memberId, holdId, points: hold.points, reason: 'expired', postings: [pointsPosting(accounts.held(memberId), accounts.available(memberId), hold.points)] },
      });
    }
  }
  return events;
}

/**
 * What time alone has made due, whatever the command: the release of every hold whose expiry has
 * passed. `decide` releases them first; the command handler also records them when the command
 * is then refused (Aggregate.due in src/application/command-handler.ts), so a refused post of an
 * expired hold cannot leave its points held.
 */
export function due(state: MemberState, now: Date): MemberEvent[] {
  return state.status === 'none' ? [] : releaseExpiredHolds(state, now);
}

// ---------------------------------------------------------------- decide

function decideCommand(state: MemberState, command: MemberCommand, ctx: Context): MemberEvent[] {
  switch (command.type) {
    case 'EnrolMember':
      return enrol(state, command);
    case 'ActivateMember':
      return activate(state, command, ctx);
    case 'RebindLogin':
      return rebindLogin(state, command);
    case 'CheckIn':
      return checkIn(state, ctx);
    case 'AnswerQuiz':
      return answerQuiz(state, command, ctx);
    case 'ReadArticle':
      return readArticle(state, command, ctx);
    case 'PostComment':
      return postComment(state, command, ctx);
    case 'SubmitEvaluation':
      return submitEvaluation(state, command, ctx);
    case 'ParticipateActivity':
      return participate(state, command, ctx);
    case 'HoldPoints':
      return holdPoints(state, command, ctx);
    case 'PostHold':
    case 'VoidHold':
      return settleHold(state, command);
    case 'SpendPoints':
      return spend(state, command);
    case 'RefundHold':
      return refundHold(state, command);
    case 'AwardPoints':
      return awardPoints(state, command);
    case 'ReleaseExpiredHolds':
      return []; // decide() has already released them.
    case 'RecordInsuranceGranted':
      return recordInsuranceGranted(state, command);
    case 'RecordInsuranceGrantFailed':
      return recordInsuranceGrantFailed(state, command);
    case 'RequestTransfer':
    case 'AcceptTransfer':
    case 'DeclineTransfer':
    case 'WithdrawTransfer':
    case 'TransferByMerge':
    case 'ParkMember':
    case 'LeaveUnion':
    case 'ReinstateMember':
      return decideLifecycle(state, command);
    default: {
      const unknown: never = command;
      throw new Error(`unknown member command ${(unknown as { type: string }).type}`);
    }
  }
}

/**
 * Decides a command: first releases expired holds (so a hold expires exactly once, by whichever
 * command comes first), then the command itself on the resulting state. The invariants are
 * asserted on the outcome: a decider bug must crash, never store a negative balance. When the
 * command is refused, the releases are not lost: see `due`.
 */
export function decide(state: MemberState, command: MemberCommand, ctx: Context): MemberEvent[] {
  const releases = due(state, ctx.now);
  const events = [...releases, ...decideCommand(fold(releases, state), command, ctx)];
  const after = fold(events, state);
  invariant(after.available >= 0 && after.held >= 0, 'member balances are never negative');
  return events;
}
