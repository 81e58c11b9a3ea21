import { DomainError, invariant } from '../shared';
import { checkAmountFen, issueVouchers, returnUnclaimedVouchers, voucherGrant, voucherIdOf, type ProgrammeEvent, type ProgrammeState, type VoucherTerms, type WalletEvent } from '../benefits';
import { DEFAULT_ORDER_TTL_MS, evolveOrder, initialOrderState, placeOrder, reserveStock, settleAllotment, type OrderEvent, type StockEvent, type StockState } from '../mall';

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
  /** The benefits programme whose budget (of `orgId`) pays the vouchers; null when the prize is a mall SKU. */
  programmeId: string | null;
  voucher: VoucherTerms | null;
  /** The prize is one unit of a mall SKU (instead of a voucher): N units reserved on its stock at creation, each granted claim a pickup order. */
  prize?: MallPrize | null;
  createdBy: string;
}

export interface MallPrize {
  skuId: string;
  productId: string;
  name: string;
  /** The union that listed the SKU (an order's receivable is per listing union). */
  listingOrgId: string;
  /** Where the N units are reserved: per stock shard, under the reservation id `claim:<campaignId>` (allotmentIdOf). */
  allotments: Array<{ shard: number; quantity: number }>;
}

/** The stock reservation id of a campaign's N units on each shard it took them from. */
export const allotmentIdOf = (campaignId: string): string => `claim:${campaignId}`;

export type CampaignEvent =
  | { type: 'ClaimCampaignCreated'; data: CampaignTerms }
  /** After the window: `granted` claims are in the log, the `unclaimed` units' value went back to the budget (same commit). */
  | { type: 'ClaimCampaignClosed'; data: { campaignId: string; granted: number; unclaimed: number; returnedFen: number } };

export type ClaimEvent =
  /** On the member's claim stream: the member holds slot `seq`, admitted by the gate at `admittedAtMs`. */
  | { type: 'ClaimGranted'; data: { campaignId: string; memberId: string; orgId: string; seq: number; admittedAtMs: number; voucherId: string | null; orderId?: string | null } }
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
  checkTerms(command, now);
  const { voucher, programmeId, opensAtMs, closesAtMs } = command;
  if (!voucher || !programmeId) throw new DomainError('CLAIM.PRIZE_INVALID', 'a campaign gives vouchers of a programme, or units of a mall SKU', 400);
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

function checkTerms(command: Omit<CampaignTerms, 'programmeId' | 'voucher' | 'prize'>, now: Date): void {
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
}

/**
 * Creates a campaign whose prize is one unit of a mall SKU: its N units are reserved now, on the
 * SKU's shards in order (as much as each holds), under the reservation `claim:<campaignId>`, in
 * the same commit as the campaign. A claim then never touches the (hot) stock streams; the close
 * sells the granted units and gives the rest back. Fewer than N units in stock: MALL.OUT_OF_STOCK.
 */
export function createMallPrizeCampaign(
  state: CampaignState,
  shards: ReadonlyArray<{ shard: number; state: StockState }>,
  command: Omit<CreateCampaign, 'programmeId' | 'voucher' | 'prize'> & { prize: Omit<MallPrize, 'allotments'> },
  now: Date,
): { campaign: CampaignEvent[]; stock: Array<{ shard: number; events: StockEvent[] }> } {
  if (state.status !== 'none') {
    const terms = state.terms!;
    if (terms.prize?.skuId === command.prize.skuId && terms.units === command.units && terms.createdBy === command.createdBy) return { campaign: [], stock: [] };
    throw new DomainError('CLAIM.CAMPAIGN_EXISTS', 'a claim campaign with this id exists', 409, { campaignId: command.campaignId });
  }
  checkTerms(command, now);
  const allotmentId = allotmentIdOf(command.campaignId);
  const allotments: MallPrize['allotments'] = [];
  const stock: Array<{ shard: number; events: StockEvent[] }> = [];
  let remaining = command.units;
  for (const { shard, state: shardState } of shards) {
    const quantity = Math.min(remaining, shardState.available);
    if (quantity <= 0) continue;
    stock.push({ shard, events: reserveStock(shardState, { skuId: command.prize.skuId, shard, orderId: allotmentId, quantity }) });
    allotments.push({ shard, quantity });
    remaining -= quantity;
    if (remaining === 0) break;
  }
  if (remaining > 0) {
    throw new DomainError('MALL.OUT_OF_STOCK', 'the SKU has fewer units in stock than the campaign offers', 422, { units: command.units, available: command.units - remaining });
  }
  const terms: CampaignTerms = { ...command, programmeId: null, voucher: null, prize: { ...command.prize, allotments } };
  return { campaign: [{ type: 'ClaimCampaignCreated', data: terms }], stock };
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
  invariant(terms.voucher !== null, 'a voucher campaign is closed by closeCampaign, a mall-prize one by closeMallPrizeCampaign');
  const returned = returnUnclaimedVouchers(programme, { orgId: terms.orgId, batchId: voucherBatchOf(terms.campaignId), count: unclaimed, faceFen: terms.voucher.faceFen });
  return {
    campaign: [{ type: 'ClaimCampaignClosed', data: { campaignId: terms.campaignId, granted: command.granted, unclaimed, returnedFen: unclaimed * terms.voucher.faceFen } }],
    programme: returned,
  };
}

/**
 * Closes a campaign whose prize is a mall SKU: the granted units are sold and the unclaimed ones
 * are available again, on the shards of the allotment (the granted ones counted from the first
 * allotment on), in one decision with ClaimCampaignClosed (appended at the campaign's revision:
 * once). `shards` holds the state of every allotment's shard.
 */
export function closeMallPrizeCampaign(
  state: CampaignState,
  shards: ReadonlyMap<number, StockState>,
  command: { granted: number },
  now: Date,
): { campaign: CampaignEvent[]; stock: Array<{ shard: number; events: StockEvent[] }> } {
  if (state.status === 'none' || !state.terms) throw new DomainError('CLAIM.CAMPAIGN_NOT_FOUND', 'no such claim campaign', 404);
  if (state.status === 'closed') return { campaign: [], stock: [] };
  const terms = state.terms;
  invariant(terms.prize != null, 'a mall-prize campaign has its prize');
  if (now.getTime() < terms.closesAtMs + CLOSE_AFTER_WINDOW_MS) {
    throw new DomainError('CLAIM.NOT_CLOSED', 'the campaign closes after its window (and a minute for the last admissions)', 409, { closesAt: new Date(terms.closesAtMs).toISOString() });
  }
  invariant(Number.isSafeInteger(command.granted) && command.granted >= 0 && command.granted <= terms.units, `granted ${command.granted} lies within 0..${terms.units}`);
  let toSell = command.granted;
  const stock = terms.prize.allotments.map(({ shard, quantity }) => {
    const sold = Math.min(toSell, quantity);
    toSell -= sold;
    const shardState = shards.get(shard);
    invariant(shardState !== undefined, `the state of shard ${shard} is given`);
    return { shard, events: settleAllotment(shardState, { skuId: terms.prize!.skuId, shard, allotmentId: allotmentIdOf(terms.campaignId), sold }) };
  });
  const unclaimed = terms.units - command.granted;
  return { campaign: [{ type: 'ClaimCampaignClosed', data: { campaignId: terms.campaignId, granted: command.granted, unclaimed, returnedFen: 0 } }], stock };
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
  command: { memberId: string; orgId: string; seq: number; admittedAtMs: number; order?: ClaimOrder | undefined },
): { claim: ClaimEvent[]; slot: ClaimEvent[]; wallet: WalletEvent[]; order: OrderEvent[] } {
  if (claim.status === 'granted') {
    throw new DomainError('CLAIM.ALREADY_CLAIMED', 'this member has already claimed in this campaign', 409, { seq: claim.seq });
  }
  invariant(Number.isSafeInteger(command.seq) && command.seq >= 1 && command.seq <= terms.units, `slot ${command.seq} lies within 1..${terms.units}`);
  checkWindow(terms, command.admittedAtMs);
  const { campaignId } = terms;
  const slot: ClaimEvent[] = [{ type: 'ClaimSlotTaken', data: { campaignId, seq: command.seq, memberId: command.memberId } }];
  if (terms.prize) {
    invariant(command.order !== undefined, 'a mall-prize claim is granted with its order id and pickup code');
    const order = prizeOrder(terms, terms.prize, command.memberId, command.orgId, command.admittedAtMs, command.order);
    const claim: ClaimEvent[] = [
      {
        type: 'ClaimGranted',
        data: { campaignId, memberId: command.memberId, orgId: command.orgId, seq: command.seq, admittedAtMs: command.admittedAtMs, voucherId: null, orderId: command.order.orderId },
      },
    ];
    return { claim, slot, wallet: [], order };
  }
  invariant(terms.voucher !== null && terms.programmeId !== null, 'a voucher campaign has its programme and voucher terms');
  const batchId = voucherBatchOf(campaignId);
  const voucher = voucherGrant(command.memberId, { batchId, programmeId: terms.programmeId, orgId: terms.orgId }, terms.voucher);
  return {
    claim: [
      {
        type: 'ClaimGranted',
        data: { campaignId, memberId: command.memberId, orgId: command.orgId, seq: command.seq, admittedAtMs: command.admittedAtMs, voucherId: voucherIdOf(batchId, command.memberId) },
      },
    ],
    slot,
    wallet: [voucher],
    order: [],
  };
}

/** What the application gives a mall-prize grant: the order's id (from the campaign and the member) and its pickup code. */
export interface ClaimOrder {
  orderId: string;
  pickupCodeHash: string;
  pickupCodeSealed: string;
}

/**
 * The granted claim's order, born paid: placed (nothing to pay), reserved on the campaign's
 * allotment (its first shard is named; the units were reserved at creation), confirmed and
 * settled, so it waits at the member's unit for pickup like any paid order. Its stream is written
 * at no_stream in the claim's commit: one order per claim, however often the grant is recorded.
 */
function prizeOrder(terms: CampaignTerms, prize: MallPrize, memberId: string, orgId: string, atMs: number, order: ClaimOrder): OrderEvent[] {
  const sku = { skuId: prize.skuId, productId: prize.productId, productName: prize.name, name: prize.name, orgId: prize.listingOrgId, pricePoints: 0, priceFen: 0, shards: 1, listedBy: terms.createdBy };
  const placed = placeOrder(
    initialOrderState,
    { orderId: order.orderId, memberId, orgId, sku, quantity: 1, fulfilment: 'pickup', addressSealed: null, pickupCodeHash: order.pickupCodeHash, pickupCodeSealed: order.pickupCodeSealed, ttlMs: DEFAULT_ORDER_TTL_MS, claim: { campaignId: terms.campaignId } },
    new Date(atMs),
  );
  const events: OrderEvent[] = [
    ...placed,
    { type: 'OrderReserved', data: { orderId: order.orderId, shard: prize.allotments[0]!.shard, holdId: null, paymentId: null } },
    { type: 'OrderConfirmed', data: { orderId: order.orderId, memberId } },
    { type: 'OrderSettled', data: { orderId: order.orderId, settlement: 'captured' } },
  ];
  const state = events.reduce(evolveOrder, initialOrderState);
  invariant(state.status === 'confirmed' && state.settled.includes('captured'), 'a prize order is born paid');
  return events;
}
