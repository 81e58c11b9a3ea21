import { DomainError, invariant } from '../shared';
import { checkAmountFen, issueVouchers, returnUnclaimedVouchers, voucherGrant, voucherIdOf, type ProgrammeEvent, type ProgrammeState, type VoucherTerms, type WalletEvent } from '../benefits';

/**
 * Limited-quota claims (限量领取): a union admin offers N units (tickets, vouchers) to the active
 * members of their subtree within a time window, first come first served, one per member.
 *
 * Three kinds of stream, so that the burst never meets a hot stream:
 * - `claimcampaign-<campaignId>`: the campaign's terms, written once at creation (with the
 *   programme's reservation of the N vouchers' value in the same commit);
 * - `claim-<campaignId>:<memberId>`: one member's claim, written at `no_stream` (a member cannot
 *   be granted twice, whatever the gate in front of the log says);
 * - `claimslot-<campaignId>:<seq>`: slot `seq` (1..N) of the campaign, written at `no_stream`
 *   in the same commit: at most one claim per slot, and slots above N are refused by the decider,
 *   so the log itself can never hold N+1 grants, whatever happened to Redis.
 * The gate (src/application/claims/gate.ts) hands out the slots in arrival order.
 */

export const MAX_UNITS = 100_000;
/** A window is at most 31 days: a claim campaign is an event, not a shop. */
export const MAX_WINDOW_MS = 31 * 24 * 3600 * 1000;
export const MAX_MIN_POINTS = 10_000_000;
export const CAMPAIGN_ID = /^[a-z0-9][a-z0-9-]{0,47}$/;
export const MAX_NAME_CHARS = 100;

export interface CampaignTerms {
  campaignId: string;
  /** The union whose subtree's active members may claim; the vouchers are paid from its budget. */
  orgId: string;
  name: string;
  units: number;
  opensAtMs: number;
  closesAtMs: number;
  /** 0: no minimum. Otherwise the member's available points at the moment of the claim. */
  minPoints: number;
  /** The benefits programme whose budget (of `orgId`) pays the vouchers. */
  programmeId: string;
  voucher: VoucherTerms;
  createdBy: string;
}

export type CampaignEvent =
  | { type: 'ClaimCampaignCreated'; data: CampaignTerms }
  /** After the window: `granted` claims are in the log, the `unclaimed` units' value went back to the budget (same commit). */
  | { type: 'ClaimCampaignClosed'; data: { campaignId: string; granted: number; unclaimed: number; returnedFen: number } };

export type ClaimEvent =
  /** On the member's claim stream: the member holds slot `seq`, admitted by the gate at `admittedAtMs`. */
  | { type: 'ClaimGranted'; data: { campaignId: string; memberId: string; orgId: string; seq: number; admittedAtMs: number; voucherId: string } }
  /** On the slot's stream, in the same commit: who holds the slot. */
  | { type: 'ClaimSlotTaken'; data: { campaignId: string; seq: number; memberId: string } };

export const campaignStream = (campaignId: string): string => `claimcampaign-${campaignId}`;
export const claimStream = (campaignId: string, memberId: string): string => `claim-${campaignId}:${memberId}`;
export const slotStream = (campaignId: string, seq: number): string => `claimslot-${campaignId}:${seq}`;
/** The benefits batch id the vouchers are issued under: a colon keeps it apart from every real batch id (BENEFIT_ID has none). */
export const voucherBatchOf = (campaignId: string): string => `claim:${campaignId}`;

export interface CampaignState {
  status: 'none' | 'created' | 'closed';
  terms: CampaignTerms | null;
}

export const initialCampaignState: CampaignState = { status: 'none', terms: null };

/**
 * The close waits this long after the window: an admission taken at the last millisecond is
 * recorded by then (its request, or reconciliation, which the close runs first).
 */
export const CLOSE_AFTER_WINDOW_MS = 60_000;

export function evolveCampaign(state: CampaignState, event: CampaignEvent): CampaignState {
  switch (event.type) {
    case 'ClaimCampaignCreated':
      return { status: 'created', terms: event.data };
    case 'ClaimCampaignClosed':
      return { ...state, status: 'closed' };
    default: {
      const unknown: never = event;
      throw new Error(`unknown campaign event ${(unknown as { type: string }).type}`);
    }
  }
}

export interface ClaimState {
  status: 'none' | 'granted';
  seq: number;
}

export const initialClaimState: ClaimState = { status: 'none', seq: 0 };

export function evolveClaim(state: ClaimState, event: ClaimEvent): ClaimState {
  switch (event.type) {
    case 'ClaimGranted':
      return { status: 'granted', seq: event.data.seq };
    case 'ClaimSlotTaken':
      return state; // Lives on the slot's stream; folded there only to say the slot is taken.
    default: {
      const unknown: never = event;
      throw new Error(`unknown claim event ${(unknown as { type: string }).type}`);
    }
  }
}

// ---------------------------------------------------------------- creation

export type CreateCampaign = Omit<CampaignTerms, 'createdBy'> & { createdBy: string };

/**
 * Creates the campaign and reserves the N vouchers' value from the union's budget in the same
 * commit: every claim the gate admits is then already paid for, and no claim ever has to touch
 * the (hot) programme stream.
 */
export function createCampaign(
  state: CampaignState,
  programme: ProgrammeState,
  command: CreateCampaign,
  now: Date,
): { campaign: CampaignEvent[]; programme: ProgrammeEvent[] } {
  if (state.status !== 'none') {
    const same = JSON.stringify(state.terms) === JSON.stringify(command);
    if (same) return { campaign: [], programme: [] };
    throw new DomainError('CLAIM.CAMPAIGN_EXISTS', 'a claim campaign with this id exists', 409, { campaignId: command.campaignId });
  }
  if (!CAMPAIGN_ID.test(command.campaignId)) throw new DomainError('CLAIM.CAMPAIGN_ID_INVALID', 'a campaign id is 1 to 48 of a-z, 0-9 and -', 400);
  if (command.name.trim().length < 1 || command.name.length > MAX_NAME_CHARS) {
    throw new DomainError('CLAIM.NAME_INVALID', `a campaign name is 1 to ${MAX_NAME_CHARS} characters`, 400);
  }
  if (!Number.isSafeInteger(command.units) || command.units < 1 || command.units > MAX_UNITS) {
    throw new DomainError('CLAIM.UNITS_INVALID', `a campaign offers 1 to ${MAX_UNITS} units`, 400, { units: command.units });
  }
  const { opensAtMs, closesAtMs } = command;
  if (!Number.isSafeInteger(opensAtMs) || !Number.isSafeInteger(closesAtMs) || closesAtMs <= opensAtMs || closesAtMs - opensAtMs > MAX_WINDOW_MS) {
    throw new DomainError('CLAIM.WINDOW_INVALID', 'the window must close after it opens, within 31 days', 400);
  }
  if (closesAtMs <= now.getTime()) throw new DomainError('CLAIM.WINDOW_INVALID', 'the window must close in the future', 400);
  if (!Number.isSafeInteger(command.minPoints) || command.minPoints < 0 || command.minPoints > MAX_MIN_POINTS) {
    throw new DomainError('CLAIM.MIN_POINTS_INVALID', `the minimum balance is 0 to ${MAX_MIN_POINTS} points`, 400);
  }
  const { voucher } = command;
  checkAmountFen(voucher.faceFen, 'face value');
  if (voucher.validUntilMs <= closesAtMs || voucher.validFromMs > opensAtMs) {
    throw new DomainError('CLAIM.VOUCHER_INVALID', 'the vouchers must be valid from the window’s opening until after it closes', 400);
  }
  // The programme decides whether the union's budget covers N vouchers (BUDGET.INSUFFICIENT otherwise).
  const reserved = issueVouchers(programme, {
    orgId: command.orgId,
    campaignId: voucherBatchOf(command.campaignId),
    chunk: 0,
    count: command.units,
    faceFen: voucher.faceFen,
  });
  return { campaign: [{ type: 'ClaimCampaignCreated', data: { ...command } }], programme: reserved };
}

// ---------------------------------------------------------------- closing

/**
 * Closes a campaign after its window: records how many claims the log holds and returns the
 * value of the units nobody claimed to the union's budget, in one decision on the campaign's
 * stream (appended at its revision: exactly once, whoever runs it). `granted` is counted from
 * the log by the caller after every pending admission was recorded.
 */
export function closeCampaign(
  state: CampaignState,
  programme: ProgrammeState,
  command: { granted: number },
  now: Date,
): { campaign: CampaignEvent[]; programme: ProgrammeEvent[] } {
  if (state.status === 'none' || !state.terms) throw new DomainError('CLAIM.CAMPAIGN_NOT_FOUND', 'no such claim campaign', 404);
  if (state.status === 'closed') return { campaign: [], programme: [] };
  const terms = state.terms;
  if (now.getTime() < terms.closesAtMs + CLOSE_AFTER_WINDOW_MS) {
    throw new DomainError('CLAIM.NOT_CLOSED', 'the campaign closes after its window (and a minute for the last admissions)', 409, { closesAt: new Date(terms.closesAtMs).toISOString() });
  }
  invariant(Number.isSafeInteger(command.granted) && command.granted >= 0 && command.granted <= terms.units, `granted ${command.granted} lies within 0..${terms.units}`);
  const unclaimed = terms.units - command.granted;
  const returned = returnUnclaimedVouchers(programme, { orgId: terms.orgId, batchId: voucherBatchOf(terms.campaignId), count: unclaimed, faceFen: terms.voucher.faceFen });
  return {
    campaign: [{ type: 'ClaimCampaignClosed', data: { campaignId: terms.campaignId, granted: command.granted, unclaimed, returnedFen: unclaimed * terms.voucher.faceFen } }],
    programme: returned,
  };
}

// ---------------------------------------------------------------- claiming

/** Refuses a claim outside the window, with a code the client can act on. */
export function checkWindow(terms: CampaignTerms, atMs: number): void {
  if (atMs < terms.opensAtMs) {
    throw new DomainError('CLAIM.NOT_OPEN', 'the campaign has not opened yet', 409, { opensAt: new Date(terms.opensAtMs).toISOString() });
  }
  if (atMs >= terms.closesAtMs) {
    throw new DomainError('CLAIM.CLOSED', 'the campaign has closed', 409, { closedAt: new Date(terms.closesAtMs).toISOString() });
  }
}

/** What eligibility looks at: the member's own stream, and whether their union lies in the campaign's subtree. */
export interface Claimant {
  memberId: string;
  status: 'none' | 'enrolled' | 'active';
  orgId: string;
  inSubtree: boolean;
  availablePoints: number;
}

export function checkEligible(terms: CampaignTerms, member: Claimant): void {
  if (member.status !== 'active' || !member.inSubtree) {
    throw new DomainError('CLAIM.NOT_ELIGIBLE', 'only active members of the campaign’s unions may claim', 403, { reason: member.status !== 'active' ? 'not_active' : 'outside_subtree' });
  }
  if (member.availablePoints < terms.minPoints) {
    throw new DomainError('CLAIM.NOT_ELIGIBLE', `claiming needs at least ${terms.minPoints} available points`, 403, {
      reason: 'min_points',
      minPoints: terms.minPoints,
    });
  }
}

/**
 * Records a claim the gate admitted to slot `seq`: the member's claim, the slot, and the voucher
 * on the member's wallet, all in one commit (the caller appends them at `no_stream`, `no_stream`
 * and any revision). The window is checked at the admission time, not now: a claim admitted in
 * the window and recorded after a crash (by reconciliation) is still a claim in the window.
 */
export function grantClaim(
  terms: CampaignTerms,
  claim: ClaimState,
  command: { memberId: string; orgId: string; seq: number; admittedAtMs: number },
): { claim: ClaimEvent[]; slot: ClaimEvent[]; wallet: WalletEvent[] } {
  if (claim.status === 'granted') {
    throw new DomainError('CLAIM.ALREADY_CLAIMED', 'this member has already claimed in this campaign', 409, { seq: claim.seq });
  }
  invariant(Number.isSafeInteger(command.seq) && command.seq >= 1 && command.seq <= terms.units, `slot ${command.seq} lies within 1..${terms.units}`);
  checkWindow(terms, command.admittedAtMs);
  const { campaignId } = terms;
  const batchId = voucherBatchOf(campaignId);
  const voucher = voucherGrant(command.memberId, { batchId, programmeId: terms.programmeId, orgId: terms.orgId }, terms.voucher);
  return {
    claim: [
      {
        type: 'ClaimGranted',
        data: { campaignId, memberId: command.memberId, orgId: command.orgId, seq: command.seq, admittedAtMs: command.admittedAtMs, voucherId: voucherIdOf(batchId, command.memberId) },
      },
    ],
    slot: [{ type: 'ClaimSlotTaken', data: { campaignId, seq: command.seq, memberId: command.memberId } }],
    wallet: [voucher],
  };
}
