import { invariant, type Periods, type Posting } from '../shared';
import { CAP_PERIODS, type EarningAction, type RuleId } from '../earning';

/**
 * The member aggregate (stream `member-<memberId>`): enrolment from the roster, activation,
 * earning by rules with caps, and the two-phase spending primitive. This file holds the events,
 * the state and `evolve`; member-commands.ts holds one pure function per command and `decide`.
 * Every movement of points carries its postings (double entry, asset POINTS).
 */

// ---------------------------------------------------------------- events

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

export interface InsuranceGrantedData {
  memberId: string;
  grantId: string;
  policyNumber: string;
  product: string;
  termYears: number;
  /** YYYY-MM-DD, the first day of cover. */
  validFrom: string;
  /** YYYY-MM-DD, the last day of cover. */
  validUntil: string;
}

export type MemberEvent =
  | { type: 'MemberEnrolled'; data: { memberId: string; orgId: string; name: string; idHmac: string; piiCipher: string } }
  | { type: 'MemberActivated'; data: { memberId: string; orgId: string; day: string } }
  /** The member's WeChat login (an HMAC of the openid): set at activation, changed by an admin of their union. */
  | { type: 'LoginBound'; data: { memberId: string; loginKey: string; previousLoginKey: string | null; byAdminId: string | null } }
  | { type: 'InsuranceGrantRequested'; data: { memberId: string; grantId: string; product: string; termYears: number } }
  /** The insurer enrolled the member (src/workers/insurance): the policy number and term it answered. Dates are Asia/Shanghai calendar days, both inclusive. */
  | { type: 'InsuranceGranted'; data: InsuranceGrantedData }
  /** The insurer refused the enrolment for good (not a failure to reach it: those are retried). */
  | { type: 'InsuranceGrantFailed'; data: { memberId: string; grantId: string; product: string; reason: string } }
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
  | { type: 'PointsSpent'; data: { memberId: string; spendId: string; points: number; purpose: string; postings: Posting[] } }
  /** A posted hold given back whole (a mall order returned): the points go from what they were spent on back to available. */
  | { type: 'PointsRefunded'; data: { memberId: string; holdId: string; points: number; purpose: string; postings: Posting[] } }
  /**
   * Points given as a prize (a lottery's points prize), once per award id: from the issuer of the
   * source (`issuer:<source>`, e.g. `issuer:lottery:<id>`) to available. Not an earning: no rule,
   * no caps, not counted in lifetimeEarned (leaderboards rank what members earned).
   */
  | { type: 'PointsAwarded'; data: { memberId: string; awardId: string; points: number; source: string; postings: Posting[] } }
  // ---- lifecycle (member-lifecycle.ts): every decision names the admin who took it
  /** A transfer (转会) asked for by the member (`byAdminId` null) or by an admin of the sending unit; the receiving unit decides. */
  | { type: 'MemberTransferRequested'; data: { memberId: string; transferId: string; fromOrgId: string; toOrgId: string; byAdminId: string | null } }
  | { type: 'MemberTransferDeclined'; data: { memberId: string; transferId: string; fromOrgId: string; toOrgId: string; byAdminId: string; reason: string } }
  /** Taken back by the member (`byAdminId` null) or an admin of their union before the receiving unit decided. */
  | { type: 'MemberTransferWithdrawn'; data: { memberId: string; transferId: string; fromOrgId: string; toOrgId: string; byAdminId: string | null } }
  /**
   * The member now belongs to `toOrgId`: accepted by an admin of the receiving unit (reason
   * 'transfer') or carried out by a merge of the sending unit (reason 'merge'). Points, wallet and
   * history are keyed by member and follow; leaderboards of the current periods move here.
   */
  | {
      type: 'MemberTransferred';
      data: { memberId: string; transferId: string; fromOrgId: string; toOrgId: string; byAdminId: string; reason: 'transfer' | 'merge' };
    }
  /** The member left their job: parked at the upper-level union (`toOrgId`) until a new unit takes them in by a transfer. */
  | { type: 'MemberParked'; data: { memberId: string; fromOrgId: string; toOrgId: string; byAdminId: string; reason: string } }
  /** The member left the union: no earning nor spending until reinstated; balances stay. */
  | { type: 'MemberLeft'; data: { memberId: string; orgId: string; byAdminId: string; reason: string } }
  | { type: 'MemberReinstated'; data: { memberId: string; orgId: string; byAdminId: string; reason: string } };

export const memberStream = (memberId: string): string => `member-${memberId}`;
/** The once-only key of an award in MemberState.done. */
export const awardKey = (awardId: string): string => `award:${awardId}`;
export const accounts = {
  available: (memberId: string) => `member:${memberId}:available`,
  held: (memberId: string) => `member:${memberId}:held`,
  issuer: (ruleId: RuleId) => `issuer:${ruleId}`,
  /** Where prize points come from (a lottery: `issuer:lottery:<id>`); an issuer account goes negative by what it gave. */
  prizeIssuer: (source: string) => `issuer:${source}`,
  spent: (purpose: string) => `spent:${purpose}`,
};

// ---------------------------------------------------------------- state

interface Counter {
  key: string;
  count: number;
  points: number;
}

/** An insurance grant the member's activation requested, and its outcome once the insurer answered. */
export interface InsuranceGrant {
  product: string;
  termYears: number;
  status: 'requested' | 'granted' | 'failed';
  policyNumber: string | null;
  validFrom: string | null;
  validUntil: string | null;
  /** Why the insurer refused, when it did. */
  reason: string | null;
}

interface Hold {
  points: number;
  purpose: string;
  expiresAtMs: number;
  status: 'held' | 'posted' | 'voided' | 'expired' | 'refunded';
}

export interface MemberState {
  status: 'none' | 'enrolled' | 'active';
  /** The bound WeChat login; null before activation through a login (or for members activated before logins existed). */
  loginKey: string | null;
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
  /** Insurance grants by grant id (one today: the activation's). */
  insurance: ReadonlyMap<string, InsuranceGrant>;
  /** True after MemberLeft until MemberReinstated. */
  left: boolean;
  /** The unit the member was parked from (their union is then its upper-level union), until a transfer takes them in. */
  parkedFrom: string | null;
  /** The transfer waiting for the receiving unit's decision (one at a time). */
  pendingTransfer: { transferId: string; toOrgId: string } | null;
  /** Transfer ids already used (requested, declined or done), so an id names one transfer. */
  transfers: ReadonlySet<string>;
}

export const initialState: MemberState = {
  status: 'none',
  loginKey: null,
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
  insurance: new Map(),
  left: false,
  parkedFrom: null,
  pendingTransfer: null,
  transfers: new Set(),
};

function withDone(state: MemberState, key: string): MemberState {
  return { ...state, done: new Set(state.done).add(key) };
}

function withInsurance(state: MemberState, grantId: string, grant: InsuranceGrant): MemberState {
  return { ...state, insurance: new Map(state.insurance).set(grantId, grant) };
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
    case 'LoginBound':
      return { ...state, loginKey: event.data.loginKey };
    case 'InsuranceGrantRequested': {
      const { grantId, product, termYears } = event.data;
      return withInsurance(state, grantId, { product, termYears, status: 'requested', policyNumber: null, validFrom: null, validUntil: null, reason: null });
    }
    case 'InsuranceGranted': {
      const { grantId, product, termYears, policyNumber, validFrom, validUntil } = event.data;
      return withInsurance(state, grantId, { product, termYears, status: 'granted', policyNumber, validFrom, validUntil, reason: null });
    }
    case 'InsuranceGrantFailed': {
      const grant = state.insurance.get(event.data.grantId);
      invariant(grant, `failed insurance grant ${event.data.grantId} was requested`);
      return withInsurance(state, event.data.grantId, { ...grant, status: 'failed', reason: event.data.reason });
    }
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
    case 'PointsRefunded': {
      const hold = state.holds.get(event.data.holdId);
      invariant(hold, `refunded hold ${event.data.holdId} exists`);
      return withHold({ ...state, available: state.available + hold.points }, event.data.holdId, { ...hold, status: 'refunded' });
    }
    case 'PointsAwarded':
      return { ...state, available: state.available + event.data.points, done: new Set(state.done).add(awardKey(event.data.awardId)) };
    case 'MemberTransferRequested':
      return {
        ...state,
        pendingTransfer: { transferId: event.data.transferId, toOrgId: event.data.toOrgId },
        transfers: new Set(state.transfers).add(event.data.transferId),
      };
    case 'MemberTransferDeclined':
    case 'MemberTransferWithdrawn':
      return { ...state, pendingTransfer: null };
    case 'MemberTransferred':
      return {
        ...state,
        orgId: event.data.toOrgId,
        parkedFrom: null,
        // A merge moves the member whatever they asked for; a transfer they asked for elsewhere still waits.
        pendingTransfer: state.pendingTransfer?.transferId === event.data.transferId ? null : state.pendingTransfer,
        transfers: new Set(state.transfers).add(event.data.transferId),
      };
    case 'MemberParked':
      return { ...state, orgId: event.data.toOrgId, parkedFrom: event.data.fromOrgId };
    case 'MemberLeft':
      return { ...state, left: true, pendingTransfer: null };
    case 'MemberReinstated':
      return { ...state, left: false };
    default: {
      const unknown: never = event;
      throw new Error(`unknown member event ${(unknown as { type: string }).type}`);
    }
  }
}

export function fold(events: readonly MemberEvent[], state: MemberState = initialState): MemberState {
  return events.reduce(evolve, state);
}
