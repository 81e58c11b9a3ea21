import {
  CLOSE_AFTER_WINDOW_MS,
  campaignStream,
  checkEligible,
  closeCampaign,
  closeMallPrizeCampaign,
  createMallPrizeCampaign,
  checkWindow,
  claimStream,
  createCampaign,
  evolveCampaign,
  evolveClaim,
  grantClaim,
  initialCampaignState,
  initialClaimState,
  slotStream,
  type CampaignEvent,
  type CampaignState,
  type CampaignTerms,
  type ClaimEvent,
  type ClaimState,
  type CreateCampaign,
} from '../../domain/claims';
import { evolveProgramme, initialProgrammeState, programmeStream, walletStream, type ProgrammeEvent, type ProgrammeState } from '../../domain/benefits';
import { orderStream, stockStream, type StockState } from '../../domain/mall';
import { DomainError, schemaVersionOf } from '../../domain/shared';
import { ConcurrencyError, EventIdConflictError } from '../../eventstore/errors';
import type { AppendResult, EventStore, StreamAppend } from '../../eventstore/event-store';
import type { Database } from '../../infra/database';
import { CheckpointMovedError, catchUpProjection } from '../../projections';
import { campaignsClosingAfter, campaignsToClose, claimCampaign, claimsOf, claimsProjection } from '../../projections/claims';
import { CommandHandler, eventsToAppend, type CommandMeta } from '../command-handler';
import { deterministicEventId } from '../event-ids';
import type { Mall } from '../mall';
import type { MemberService } from '../members';
import type { OrgAccess, Principal } from '../orgs';
import type { ClaimGate } from './gate';

/**
 * Limited-quota claims: the burst path and its repair.
 *
 *   claim ─► window (campaign terms, cached: they never change) ─► gate.peek: sold out? answer now
 *         ─► eligibility (the member's stream, the union tree) ─► gate.admit (Lua: slot or sold out)
 *         ─► one commit: claim stream (no_stream) + slot stream (no_stream) + wallet voucher
 *         ─► gate.recorded (the admission leaves the pending set)
 *
 * A crash between admission and commit leaves a slot in the gate's pending set with nothing in
 * the log. The slot is RECORDED, not released: the gate admitted the member in arrival order, and
 * eligibility was checked before. Either the member retries (the gate answers "holder" and the
 * claim is recorded then), or `reconcile` records every admission pending longer than
 * RECONCILE_AFTER_MS. Releasing instead would hand the slot to a later arrival and break first
 * come first served.
 */

/** An admission pending this long is taken to have lost its request (a crash): reconcile records it. */
export const RECONCILE_AFTER_MS = 30_000;
/** Admissions reconciled per campaign per round, and campaigns per round. */
const RECONCILE_PAGE = 500;
const RECONCILE_CAMPAIGNS = 100;
/** Closed campaigns are still reconciled this long after their window (a crash at the last second). */
const RECONCILE_AFTER_CLOSE_MS = 24 * 3600 * 1000;
const MAX_CREATE_ATTEMPTS = 8;
const MAX_CATCH_UP_ATTEMPTS = 8;
/** PostgreSQL's unique_violation: a racing applier inserted the row first. */
const UNIQUE_VIOLATION = '23505';
const TERMS_CACHE_ENTRIES = 10_000;

export interface ClaimsDeps {
  store: EventStore;
  db: Database;
  members: Pick<MemberService, 'load'>;
  orgAccess: OrgAccess;
  gate: () => ClaimGate;
  /** The mall, for campaigns whose prize is a mall SKU (its stock at creation and close, a pickup code per granted claim). */
  mall?: Pick<Mall, 'skuState' | 'stock' | 'newPickupCode'>;
  clock?: () => Date;
}

export interface ClaimOutcome {
  campaignId: string;
  memberId: string;
  status: 'granted';
  seq: number;
  voucherId: string | null;
  /** The granted claim's mall order (a prize that is a mall SKU): its member sees its pickup code at GET /v1/mall/orders/:id. */
  orderId: string | null;
  admittedAt: string;
  /** The same request answered again from the log (a retry with the same Idempotency-Key). */
  replayed?: boolean;
}

const claimAggregate = { name: 'claim', initialState: initialClaimState, evolve: evolveClaim };
const schemaVersion = (event: { data: object }): number => schemaVersionOf(event.data);

export class Claims {
  private readonly campaigns: CommandHandler<CampaignState, CampaignEvent>;
  private readonly programmes: CommandHandler<ProgrammeState, ProgrammeEvent>;
  private readonly claims: CommandHandler<ClaimState, ClaimEvent>;
  /** Terms never change once created: the burst reads them from here, not from the store. */
  private readonly terms = new Map<string, CampaignTerms>();
  private readonly clock: () => Date;

  constructor(private readonly deps: ClaimsDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.campaigns = new CommandHandler(deps.store, { name: 'claim-campaign', initialState: initialCampaignState, evolve: evolveCampaign }, { cacheEntries: 1000, clock: this.clock });
    this.programmes = new CommandHandler(deps.store, { name: 'programme', initialState: initialProgrammeState, evolve: evolveProgramme }, { cacheEntries: 100, clock: this.clock });
    // Claim streams are read once each (at most N per campaign): a small cache is enough.
    this.claims = new CommandHandler(deps.store, claimAggregate, { cacheEntries: 1000, clock: this.clock });
  }

  /** A union admin offers N units to the active members of a union of their subtree; N vouchers are reserved from its budget now. */
  async createCampaign(caller: Principal, input: Omit<CreateCampaign, 'createdBy' | 'prize'> & { prizeSkuId?: string | undefined }, key: string): Promise<CampaignTerms> {
    if (caller.role !== 'admin') throw new DomainError('AUTH.FORBIDDEN', 'only a union admin creates claim campaigns', 403);
    await this.deps.orgAccess.assertCanView(caller, input.orgId);
    const meta: CommandMeta = { commandId: `${caller.sub}:${key}`, actor: { type: caller.role, id: caller.sub } };
    const { prizeSkuId, ...terms } = input;
    if (prizeSkuId !== undefined) return this.createMallPrizeCampaign(caller, terms, prizeSkuId, meta);
    const command: CreateCampaign = { ...terms, createdBy: caller.sub };
    if (command.programmeId === null) throw new DomainError('CLAIM.PRIZE_INVALID', 'a campaign gives vouchers of a programme, or units of a mall SKU', 400);
    const programmeId = command.programmeId;
    for (let attempt = 1; attempt <= MAX_CREATE_ATTEMPTS; attempt += 1) {
      const campaign = await this.campaigns.load(campaignStream(input.campaignId));
      const programme = await this.programmes.load(programmeStream(programmeId));
      const now = this.clock();
      const decided = createCampaign(campaign.state, programme.state, command, now);
      if (decided.campaign.length > 0) {
        const appends: StreamAppend[] = [
          { streamId: campaignStream(input.campaignId), events: eventsToAppend(decided.campaign, meta, now, schemaVersion), expectedRevision: 'no_stream' },
          {
            streamId: programmeStream(programmeId),
            events: eventsToAppend(decided.programme, meta, now, schemaVersion, decided.campaign.length),
            expectedRevision: programme.revision < 0n ? 'no_stream' : programme.revision,
          },
        ];
        try {
          await this.deps.store.appendToStreams(appends);
        } catch (error) {
          // Another command moved the programme (or created the campaign): decide again on what is there now.
          if (error instanceof ConcurrencyError || error instanceof EventIdConflictError) continue;
          throw error;
        }
      }
      const terms = (await this.campaigns.load(campaignStream(input.campaignId))).state.terms!;
      await this.deps.gate().open(terms.campaignId, terms.units);
      return terms;
    }
    throw new ConcurrencyError(programmeStream(programmeId), 'any', `still contended after ${MAX_CREATE_ATTEMPTS} attempts`);
  }

  /**
   * A campaign whose prize is one unit of a mall SKU (listed at the campaign's union or above it):
   * the N units are reserved on the SKU's shards in the same commit as the campaign (each shard at
   * its revision), so every claim the gate admits has its unit, and no claim touches the stock.
   */
  private async createMallPrizeCampaign(caller: Principal, terms: Omit<CreateCampaign, 'createdBy' | 'prize'>, skuId: string, meta: CommandMeta): Promise<CampaignTerms> {
    const mall = this.requireMall();
    const sku = await mall.skuState(skuId);
    const listing = sku.listing;
    if (!listing || sku.status !== 'listed' || !(await this.deps.orgAccess.isWithin(terms.orgId, listing.orgId))) {
      throw new DomainError('MALL.SKU_NOT_FOUND', `no SKU ${skuId} that the campaign's members can have`, 404, { skuId });
    }
    const { programmeId: _programmeId, voucher: _voucher, ...rest } = terms;
    const command = { ...rest, createdBy: caller.sub, prize: { skuId, productId: listing.productId, name: listing.name, listingOrgId: listing.orgId } };
    for (let attempt = 1; attempt <= MAX_CREATE_ATTEMPTS; attempt += 1) {
      const campaign = await this.campaigns.load(campaignStream(terms.campaignId));
      const shards: Array<{ shard: number; state: StockState; revision: bigint }> = [];
      for (let shard = 0; shard < listing.shards; shard += 1) shards.push({ shard, ...(await mall.stock.load(stockStream(skuId, shard))) });
      const now = this.clock();
      const decided = createMallPrizeCampaign(campaign.state, shards, command, now);
      if (decided.campaign.length > 0) {
        const appends: StreamAppend[] = [{ streamId: campaignStream(terms.campaignId), events: eventsToAppend(decided.campaign, meta, now, schemaVersion), expectedRevision: 'no_stream' }];
        let first = decided.campaign.length;
        for (const { shard, events } of decided.stock) {
          const revision = shards.find((candidate) => candidate.shard === shard)!.revision;
          appends.push({ streamId: stockStream(skuId, shard), events: eventsToAppend(events, meta, now, schemaVersion, first), expectedRevision: revision < 0n ? 'no_stream' : revision });
          first += events.length;
        }
        try {
          await this.deps.store.appendToStreams(appends);
        } catch (error) {
          // An order took units meanwhile (or the campaign was created): decide again on what is there now.
          if (error instanceof ConcurrencyError || error instanceof EventIdConflictError) continue;
          throw error;
        }
      }
      const created = (await this.campaigns.load(campaignStream(terms.campaignId))).state.terms!;
      await this.deps.gate().open(created.campaignId, created.units);
      return created;
    }
    throw new ConcurrencyError(campaignStream(terms.campaignId), 'no_stream', `still contended after ${MAX_CREATE_ATTEMPTS} attempts`);
  }

  private requireMall(): NonNullable<ClaimsDeps['mall']> {
    if (!this.deps.mall) throw new Error('invariant violated: a mall-prize campaign needs the mall (ClaimsDeps.mall)');
    return this.deps.mall;
  }

  /** The campaign's terms (from the cache once read); CLAIM.CAMPAIGN_NOT_FOUND when there is none. */
  async campaign(campaignId: string): Promise<CampaignTerms> {
    const cached = this.terms.get(campaignId);
    if (cached) return cached;
    const { state } = await this.campaigns.load(campaignStream(campaignId));
    if (!state.terms) throw new DomainError('CLAIM.CAMPAIGN_NOT_FOUND', 'no such claim campaign', 404, { campaignId });
    if (this.terms.size >= TERMS_CACHE_ENTRIES) this.terms.delete(this.terms.keys().next().value!);
    this.terms.set(campaignId, state.terms);
    return state.terms;
  }

  /** An admin may see a campaign of their subtree, an auditor every campaign. */
  async campaignFor(caller: Principal, campaignId: string): Promise<CampaignTerms> {
    const terms = await this.campaign(campaignId);
    if (caller.role === 'member') throw new DomainError('AUTH.FORBIDDEN', 'members see their own claims', 403);
    try {
      await this.deps.orgAccess.assertCanView(caller, terms.orgId);
    } catch (error) {
      // Another subtree's campaign is not there, as far as this caller knows.
      if (error instanceof DomainError && error.code === 'ORG.FORBIDDEN') throw new DomainError('CLAIM.CAMPAIGN_NOT_FOUND', 'no such claim campaign', 404, { campaignId });
      throw error;
    }
    return terms;
  }

  /**
   * A member claims one unit. Answers at once: granted (with the slot and the voucher), or
   * CLAIM.SOLD_OUT / NOT_OPEN / CLOSED / NOT_ELIGIBLE / ALREADY_CLAIMED. Nothing is held for a
   * member who is refused.
   */
  async claim(memberId: string, campaignId: string, requestId?: string): Promise<ClaimOutcome> {
    const terms = await this.campaign(campaignId);
    const nowMs = this.clock().getTime();
    checkWindow(terms, nowMs);
    const gate = this.deps.gate();
    // Sold out is answered from Redis alone: after the last unit, a claim costs one script call.
    let peeked = await gate.peek(campaignId, memberId);
    if (peeked.kind === 'no_gate') peeked = await this.restoreGate(terms).then(() => gate.peek(campaignId, memberId));
    if (peeked.kind === 'sold_out') throw soldOut(terms);
    if (peeked.kind === 'holder') return this.recordHeld(terms, memberId, peeked.seq, peeked.admittedAtMs, requestId);
    const member = await this.deps.members.load(memberId);
    const orgId = member.state.orgId;
    checkEligible(terms, {
      memberId,
      status: member.state.status,
      orgId,
      inSubtree: member.state.status !== 'none' && (await this.deps.orgAccess.isWithin(orgId, terms.orgId)),
      availablePoints: member.state.available,
    });
    const admission = await gate.admit(campaignId, memberId, nowMs);
    switch (admission.kind) {
      case 'sold_out':
        throw soldOut(terms);
      case 'no_gate':
        // Lost between the peek and now (Redis restarted without its data): the client may retry.
        throw new DomainError('CLAIM.BUSY', 'the claim could not be taken now; try again', 429);
      case 'holder':
        return this.recordHeld(terms, memberId, admission.seq, admission.admittedAtMs, requestId);
      case 'admitted':
        return this.record(terms, memberId, orgId, admission.seq, admission.admittedAtMs, requestId);
      default: {
        const unknown: never = admission;
        throw new Error(`unknown admission ${JSON.stringify(unknown)}`);
      }
    }
  }

  /** The member's claim in the campaign, from the log (no lag): null when they hold none. */
  async claimOf(memberId: string, campaignId: string): Promise<ClaimOutcome | null> {
    await this.campaign(campaignId);
    const events = await this.deps.store.readStream(claimStream(campaignId, memberId), { maxCount: 1 });
    const granted = events[0];
    if (!granted || granted.type !== 'ClaimGranted') return null;
    return outcomeOf((granted.data as Extract<ClaimEvent, { type: 'ClaimGranted' }>['data']));
  }

  /** Gate counters (admitted, pending) next to the campaign's terms: what the admins' view adds to the read model. */
  async gateCounts(campaignId: string): Promise<{ admitted: number; pending: number }> {
    const counts = await this.deps.gate().counts(campaignId);
    return { admitted: counts.taken, pending: counts.pending };
  }

  /**
   * Records every admission pending longer than RECONCILE_AFTER_MS in the campaigns whose
   * window is open or closed less than a day ago. Safe to run from several processes at once:
   * the claim streams refuse a second recording.
   */
  async reconcile(): Promise<{ campaigns: number; recorded: number; alreadyRecorded: number; closed: number }> {
    const nowMs = this.clock().getTime();
    const campaigns = await campaignsClosingAfter(this.deps.db, nowMs - RECONCILE_AFTER_CLOSE_MS, RECONCILE_CAMPAIGNS);
    const totals = { campaigns: campaigns.length, recorded: 0, alreadyRecorded: 0, closed: 0 };
    for (const row of campaigns) {
      const result = await this.reconcileCampaign(row.campaignId, nowMs - RECONCILE_AFTER_MS);
      totals.recorded += result.recorded;
      totals.alreadyRecorded += result.alreadyRecorded;
    }
    // Campaigns whose window ended: their unclaimed units' value goes back to the budget, once.
    for (const row of await campaignsToClose(this.deps.db, nowMs - CLOSE_AFTER_WINDOW_MS, RECONCILE_CAMPAIGNS)) {
      const closed = await this.closeCampaign(row.campaignId);
      if (closed.closedNow) totals.closed += 1;
    }
    return totals;
  }

  /**
   * Closes a campaign after its window (and CLOSE_AFTER_WINDOW_MS): every admission still pending
   * in the gate is recorded first, the read model is brought to the end of the log, and the
   * claims it holds are the campaign's grants; then ClaimCampaignClosed and the programme's
   * VoucherValueReturned (the unclaimed units' value from the campaign's voucher transit account
   * back to the union's budget) are appended in one commit, the campaign at its revision: the
   * value returns exactly once, however many processes run this. After the window no new
   * admission can be taken (the claim path checks the window before the gate), so the count is final.
   */
  async closeCampaign(campaignId: string): Promise<{ closedNow: boolean; granted: number; unclaimed: number; returnedFen: number }> {
    const terms = await this.campaign(campaignId);
    for (let page = 0; page <= terms.units / RECONCILE_PAGE; page += 1) {
      const { recorded, alreadyRecorded } = await this.reconcileCampaign(campaignId, Number.MAX_SAFE_INTEGER);
      if (recorded + alreadyRecorded < RECONCILE_PAGE) break;
    }
    await this.catchUpReadModel();
    const granted = (await claimCampaign(this.deps.db, campaignId))?.granted ?? 0;
    if (terms.prize) return this.closeMallPrizeCampaign(terms, granted);
    const programmeId = terms.programmeId!;
    for (let attempt = 1; attempt <= MAX_CREATE_ATTEMPTS; attempt += 1) {
      const campaign = await this.campaigns.load(campaignStream(campaignId));
      const programme = await this.programmes.load(programmeStream(programmeId));
      const now = this.clock();
      const decided = closeCampaign(campaign.state, programme.state, { granted }, now);
      const closedEvent = decided.campaign[0];
      if (!closedEvent) {
        const row = await claimCampaign(this.deps.db, campaignId);
        return { closedNow: false, granted: row?.granted ?? granted, unclaimed: row?.unclaimed ?? terms.units - granted, returnedFen: row?.returnedFen ?? 0 };
      }
      const meta: CommandMeta = { commandId: `claim-close:${campaignId}`, actor: { type: 'system', id: 'claims' } };
      const appends: StreamAppend[] = [{ streamId: campaignStream(campaignId), events: eventsToAppend(decided.campaign, meta, now, schemaVersion), expectedRevision: campaign.revision }];
      if (decided.programme.length > 0) {
        appends.push({
          streamId: programmeStream(programmeId),
          events: eventsToAppend(decided.programme, meta, now, schemaVersion, decided.campaign.length),
          expectedRevision: programme.revision,
        });
      }
      let results: AppendResult[];
      try {
        results = await this.deps.store.appendToStreams(appends);
      } catch (error) {
        if (error instanceof ConcurrencyError || error instanceof EventIdConflictError) continue; // Closed meanwhile, or the programme moved: decide again.
        throw error;
      }
      const data = (closedEvent as Extract<CampaignEvent, { type: 'ClaimCampaignClosed' }>).data;
      // The close's event ids come from its command id: a close racing this one with the same
      // decision is an idempotent replay of the same events, and this call closed nothing.
      return { closedNow: !results[0]!.idempotentReplay, granted: data.granted, unclaimed: data.unclaimed, returnedFen: data.returnedFen };
    }
    throw new ConcurrencyError(campaignStream(campaignId), 'any', `still contended after ${MAX_CREATE_ATTEMPTS} attempts`);
  }

  /**
   * The close of a mall-prize campaign: the granted units of its allotment are sold, the rest go
   * back on sale, on each allotment's shard at its revision, in the commit of ClaimCampaignClosed.
   */
  private async closeMallPrizeCampaign(terms: CampaignTerms, granted: number): Promise<{ closedNow: boolean; granted: number; unclaimed: number; returnedFen: number }> {
    const mall = this.requireMall();
    const prize = terms.prize!;
    for (let attempt = 1; attempt <= MAX_CREATE_ATTEMPTS; attempt += 1) {
      const campaign = await this.campaigns.load(campaignStream(terms.campaignId));
      const shards = new Map<number, { state: StockState; revision: bigint }>();
      for (const { shard } of prize.allotments) shards.set(shard, await mall.stock.load(stockStream(prize.skuId, shard)));
      const now = this.clock();
      const decided = closeMallPrizeCampaign(campaign.state, new Map([...shards].map(([shard, loaded]) => [shard, loaded.state])), { granted }, now);
      const closedEvent = decided.campaign[0];
      if (!closedEvent) {
        const row = await claimCampaign(this.deps.db, terms.campaignId);
        return { closedNow: false, granted: row?.granted ?? granted, unclaimed: row?.unclaimed ?? terms.units - granted, returnedFen: 0 };
      }
      const meta: CommandMeta = { commandId: `claim-close:${terms.campaignId}`, actor: { type: 'system', id: 'claims' } };
      const appends: StreamAppend[] = [{ streamId: campaignStream(terms.campaignId), events: eventsToAppend(decided.campaign, meta, now, schemaVersion), expectedRevision: campaign.revision }];
      let first = decided.campaign.length;
      for (const { shard, events } of decided.stock) {
        if (events.length === 0) continue;
        appends.push({ streamId: stockStream(prize.skuId, shard), events: eventsToAppend(events, meta, now, schemaVersion, first), expectedRevision: shards.get(shard)!.revision });
        first += events.length;
      }
      let results: AppendResult[];
      try {
        results = await this.deps.store.appendToStreams(appends);
      } catch (error) {
        if (error instanceof ConcurrencyError || error instanceof EventIdConflictError) continue; // Closed meanwhile, or an order moved a shard: decide again.
        throw error;
      }
      const data = (closedEvent as Extract<CampaignEvent, { type: 'ClaimCampaignClosed' }>).data;
      return { closedNow: !results[0]!.idempotentReplay, granted: data.granted, unclaimed: data.unclaimed, returnedFen: 0 };
    }
    throw new ConcurrencyError(campaignStream(terms.campaignId), 'any', `still contended after ${MAX_CREATE_ATTEMPTS} attempts`);
  }

  /** Records the campaign's admissions pending since before `beforeMs` (one page). */
  async reconcileCampaign(campaignId: string, beforeMs: number): Promise<{ recorded: number; alreadyRecorded: number }> {
    const terms = await this.campaign(campaignId);
    const gate = this.deps.gate();
    const result = { recorded: 0, alreadyRecorded: 0 };
    for (const pending of await gate.pendingBefore(campaignId, beforeMs, RECONCILE_PAGE)) {
      const claim = await this.claims.load(claimStream(campaignId, pending.memberId));
      if (claim.state.status === 'granted') {
        result.alreadyRecorded += 1;
        await gate.recorded(campaignId, pending.memberId);
        continue;
      }
      const member = await this.deps.members.load(pending.memberId);
      await this.record(terms, pending.memberId, member.state.orgId, pending.seq, pending.admittedAtMs);
      result.recorded += 1;
    }
    return result;
  }

  /**
   * Sets the gate up again from the log when Redis has none for a live campaign (never opened
   * after a crash at creation, or Redis lost its data): the read model is brought up to the end
   * of the log first, and its claims are the slots already taken. An admission that was pending
   * when Redis lost it is lost with it (its member was never answered "granted"; a retry queues
   * again); a request still recording such a slot meets the slot's stream and is refused by the log.
   */
  async restoreGate(terms: CampaignTerms): Promise<void> {
    await this.catchUpReadModel();
    const restore: Array<{ memberId: string; seq: number; admittedAtMs: number }> = [];
    let afterSeq = 0;
    for (let page = 0; page <= terms.units / RECONCILE_PAGE; page += 1) {
      const rows = await claimsOf(this.deps.db, terms.campaignId, { afterSeq, limit: RECONCILE_PAGE });
      restore.push(...rows.map((row) => ({ memberId: row.memberId, seq: row.seq, admittedAtMs: row.admittedAtMs })));
      if (rows.length < RECONCILE_PAGE) break;
      afterSeq = rows[rows.length - 1]!.seq;
    }
    await this.deps.gate().open(terms.campaignId, terms.units, restore);
  }

  /**
   * Brings the claims read model to the end of the log. Another applier (the service's
   * subscription, a second close in another process) may apply the same batch at the same time:
   * one of the two then fails on the checkpoint's compare-and-set or on a row the other inserted,
   * rolls back, and simply continues from where the other left the checkpoint.
   */
  private async catchUpReadModel(): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await catchUpProjection(this.deps.store, this.deps.db, claimsProjection());
        return;
      } catch (error) {
        const raced = error instanceof CheckpointMovedError || (error as { code?: unknown }).code === UNIQUE_VIOLATION;
        if (!raced || attempt >= MAX_CATCH_UP_ATTEMPTS) throw error;
      }
    }
  }

  /** A member the gate already holds a slot for: in the log already (a second claim), or not yet (a crash, a retry). */
  private async recordHeld(terms: CampaignTerms, memberId: string, seq: number, admittedAtMs: number, requestId: string | undefined): Promise<ClaimOutcome> {
    const [granted] = await this.deps.store.readStream(claimStream(terms.campaignId, memberId), { maxCount: 1 });
    if (granted?.type === 'ClaimGranted') {
      const data = granted.data as Extract<ClaimEvent, { type: 'ClaimGranted' }>['data'];
      // The same request again (same Idempotency-Key and body): its answer, from the log.
      if (requestId !== undefined && granted.metadata.requestHash === requestId) return { ...outcomeOf(data), replayed: true };
      throw alreadyClaimed(data.seq);
    }
    const member = await this.deps.members.load(memberId);
    return this.record(terms, memberId, member.state.orgId, seq, admittedAtMs, requestId);
  }

  /**
   * One commit: the claim (no_stream), the slot (no_stream) and the voucher on the wallet. Event
   * ids come from `claim:<campaign>:<member>`, so two recordings of the same admission (a retry
   * racing reconciliation) store it once.
   */
  private async record(terms: CampaignTerms, memberId: string, orgId: string, seq: number, admittedAtMs: number, requestId?: string): Promise<ClaimOutcome> {
    const stream = claimStream(terms.campaignId, memberId);
    // A mall prize: the claim's order, its id from the campaign and the member (one order per claim, whoever records it).
    const order = terms.prize ? await this.claimOrder(terms, memberId) : undefined;
    // No read: the append at no_stream is the check (a claim already there fails it, handled below).
    const decided = grantClaim(terms, initialClaimState, { memberId, orgId, seq, admittedAtMs, order });
    const now = this.clock();
    // requestHash names the HTTP request (key and body) that made the claim, so that its retry is answered from the log.
    const meta: CommandMeta = { commandId: `claim:${terms.campaignId}:${memberId}`, actor: { type: 'member', id: memberId }, ...(requestId ? { requestHash: requestId } : {}) };
    const first = decided.claim.length;
    const appends: StreamAppend[] = [
      { streamId: stream, events: eventsToAppend(decided.claim, meta, now, schemaVersion), expectedRevision: 'no_stream' },
      { streamId: slotStream(terms.campaignId, seq), events: eventsToAppend(decided.slot, meta, now, schemaVersion, first), expectedRevision: 'no_stream' },
      order
        ? { streamId: orderStream(order.orderId), events: eventsToAppend(decided.order, meta, now, schemaVersion, first + decided.slot.length), expectedRevision: 'no_stream' }
        : { streamId: walletStream(memberId), events: eventsToAppend(decided.wallet, meta, now, schemaVersion, first + decided.slot.length), expectedRevision: 'any' },
    ];
    try {
      await this.deps.store.appendToStreams(appends);
    } catch (error) {
      if (!(error instanceof ConcurrencyError || error instanceof EventIdConflictError)) throw error;
      // Recorded meanwhile by a racing request for the same admission: that is this claim.
      const again = await this.claims.load(stream);
      if (again.state.status === 'granted' && again.state.seq === seq) return this.answer(terms, memberId, orgId, seq, admittedAtMs);
      if (again.state.status === 'granted') throw alreadyClaimed(again.state.seq);
      // The slot is someone else's in the log: the gate was restored behind the log. Never N+1: refused.
      throw new DomainError('CLAIM.BUSY', 'the claim could not be recorded now; try again', 429, { seq });
    }
    return this.answer(terms, memberId, orgId, seq, admittedAtMs);
  }

  /** The order a granted claim of a mall-prize campaign becomes: its id, and a new pickup code (sealed for the member). */
  private async claimOrder(terms: CampaignTerms, memberId: string): Promise<{ orderId: string; pickupCodeHash: string; pickupCodeSealed: string }> {
    const orderId = claimOrderIdOf(terms.campaignId, memberId);
    return { orderId, ...(await this.requireMall().newPickupCode(orderId, memberId)) };
  }

  private async answer(terms: CampaignTerms, memberId: string, orgId: string, seq: number, admittedAtMs: number): Promise<ClaimOutcome> {
    await this.deps.gate().recorded(terms.campaignId, memberId);
    const granted = grantClaimData(terms, memberId, orgId, seq, admittedAtMs);
    return outcomeOf(granted);
  }
}

/** A mall-prize claim's order id: from the campaign and the member, so every recording of the claim names the same order. */
const claimOrderIdOf = (campaignId: string, memberId: string): string => deterministicEventId(`claim-order:${campaignId}:${memberId}`, 0);

function grantClaimData(terms: CampaignTerms, memberId: string, orgId: string, seq: number, admittedAtMs: number): Extract<ClaimEvent, { type: 'ClaimGranted' }>['data'] {
  // The answer needs the claim's data only: a mall prize's pickup code does not matter here.
  const order = terms.prize ? { orderId: claimOrderIdOf(terms.campaignId, memberId), pickupCodeHash: '-', pickupCodeSealed: '-' } : undefined;
  const event = grantClaim(terms, initialClaimState, { memberId, orgId, seq, admittedAtMs, order }).claim[0]!;
  return event.data as Extract<ClaimEvent, { type: 'ClaimGranted' }>['data'];
}

function outcomeOf(data: Extract<ClaimEvent, { type: 'ClaimGranted' }>['data']): ClaimOutcome {
  return { campaignId: data.campaignId, memberId: data.memberId, status: 'granted', seq: data.seq, voucherId: data.voucherId, orderId: data.orderId ?? null, admittedAt: new Date(data.admittedAtMs).toISOString() };
}

const soldOut = (terms: CampaignTerms): DomainError => new DomainError('CLAIM.SOLD_OUT', 'every unit has been claimed', 409, { units: terms.units });
const alreadyClaimed = (seq: number): DomainError => new DomainError('CLAIM.ALREADY_CLAIMED', 'this member has already claimed in this campaign', 409, { seq });
