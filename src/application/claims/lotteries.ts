import { randomBytes } from 'node:crypto';
import {
  DRAW_DEADLINE_AFTER_CLOSE_MS,
  HOLD_AFTER_CLOSE_MS,
  SEED_BYTES,
  checkEntry,
  createLottery,
  drawLottery,
  drawWinners,
  entered,
  entriesHash,
  evolveLottery,
  initialLotteryState,
  lapseLottery,
  returnUnawardedOfEarlierSettlement,
  lotteryHoldId,
  lotteryPurpose,
  lotteryStream,
  prizeAwardId,
  prizeBatchOf,
  prizeOf,
  seedCommitment,
  settleLottery,
  settlementOf,
  sortEntries,
  type CreateLottery,
  type LotteryEvent,
  type LotteryState,
  type LotteryTerms,
} from '../../domain/claims';
import { evolveProgramme, initialProgrammeState, programmeStream, voucherGrant, walletStream, type ProgrammeEvent, type ProgrammeState } from '../../domain/benefits';
import { DomainError, schemaVersionOf } from '../../domain/shared';
import { ConcurrencyError, EventIdConflictError } from '../../eventstore/errors';
import type { AppendResult, EventStore, ExpectedRevision, StreamAppend } from '../../eventstore/event-store';
import type { Queryable } from '../../infra/database';
import type { PiiVault } from '../../infra/pii';
import { undrawnLotteries, unsettledLotteries } from '../../projections/claims';
import { CommandHandler, eventsToAppend, type CommandMeta } from '../command-handler';
import type { MemberService } from '../members';
import type { OrgAccess, Principal } from '../orgs';

/**
 * Points lotteries: creation with a sealed seed and its published commitment, entries paid by a
 * points hold, the reveal and draw, the settlement of every entry, and the audit that recomputes
 * the winners from the log alone (`union-ledger audit lottery <id>`).
 */

export interface LotteriesDeps {
  store: EventStore;
  /** The claims read model: which lotteries are overdue for lapsing. */
  db: Queryable;
  members: Pick<MemberService, 'load' | 'execute'>;
  orgAccess: OrgAccess;
  vault: () => PiiVault;
  clock?: () => Date;
}

export type LotteryInput = Omit<CreateLottery, 'commitment' | 'sealedSeed' | 'createdBy'>;

export interface LotteryAudit {
  lotteryId: string;
  status: LotteryState['status'];
  commitment: string;
  seed: string | null;
  /** SHA-256 of the revealed seed equals the commitment published at creation. */
  commitmentOk: boolean;
  entries: number;
  entriesHash: string;
  /** The draw's recorded hash of the entry list equals the one recomputed from the entries. */
  entriesHashOk: boolean;
  prizes: number;
  recordedWinners: string[];
  recomputedWinners: string[];
  ok: boolean;
}

const MAX_CREATE_ATTEMPTS = 8;
/** Entries settled at once: each is a member command and, for a winner, a wallet append. */
const SETTLE_CONCURRENCY = 8;
/** Lotteries one sweep lapses, and settles: bounded work per run (the next run takes the rest). */
const SWEEP_PER_RUN = 20;
/** A stream is read in pages; this bounds a lottery's read at MAX_ENTRIES and then some. */
const READ_PAGE = 1000;
const MAX_READ_PAGES = 200;
const schemaVersion = (event: { data: object }): number => schemaVersionOf(event.data);
const sealOwner = (lotteryId: string): string => `lottery-${lotteryId}`;
/** An already settled hold: nothing to do (the settlement ran before, or the hold ran out and was refunded). */
const SETTLED_HOLD = new Set(['HOLD.ALREADY_POSTED', 'HOLD.ALREADY_VOIDED', 'HOLD.ALREADY_EXPIRED', 'HOLD.NOT_FOUND']);
/**
 * A hold its member can no longer settle: they left the union (or were never active). It is left
 * to run out (HOLD_AFTER_CLOSE_MS after entries close), which gives the points back; a winner who
 * left still gets the prize. Settling the others must not wait on it.
 */
const UNSETTLEABLE_HOLD = new Set(['MEMBER.LEFT', 'MEMBER.NOT_ACTIVE']);
const holdIsDone = (error: unknown): boolean => error instanceof DomainError && (SETTLED_HOLD.has(error.code) || UNSETTLEABLE_HOLD.has(error.code));
/** A lottery drawn this long ago and still not settled (its settlement was interrupted) is settled by the sweep. */
const SETTLE_AFTER_DRAW_MS = 5 * 60 * 1000;

/** Runs `settle` for every member, SETTLE_CONCURRENCY at a time. */
async function inParallel(memberIds: readonly string[], settle: (memberId: string) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < memberIds.length) await settle(memberIds[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(SETTLE_CONCURRENCY, memberIds.length) }, worker));
}

export class Lotteries {
  private readonly lotteries: CommandHandler<LotteryState, LotteryEvent>;
  private readonly programmes: CommandHandler<ProgrammeState, ProgrammeEvent>;
  private readonly clock: () => Date;

  constructor(private readonly deps: LotteriesDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.lotteries = new CommandHandler(deps.store, { name: 'lottery', initialState: initialLotteryState, evolve: evolveLottery }, { cacheEntries: 1000, clock: this.clock });
    this.programmes = new CommandHandler(deps.store, { name: 'programme', initialState: initialProgrammeState, evolve: evolveProgramme }, { cacheEntries: 100, clock: this.clock });
  }

  /**
   * A union admin creates a lottery: a fresh random seed is sealed by the vault (owner
   * `lottery-<id>`) and only its SHA-256 is published; the prizes' vouchers are reserved from the
   * union's budget in the same commit. A retry of the same request answers the lottery it created.
   */
  async create(caller: Principal, input: LotteryInput, key: string): Promise<LotteryTerms> {
    if (caller.role !== 'admin') throw new DomainError('AUTH.FORBIDDEN', 'only a union admin creates lotteries', 403);
    await this.deps.orgAccess.assertCanView(caller, input.orgId);
    const meta: CommandMeta = { commandId: `${caller.sub}:${key}`, actor: { type: caller.role, id: caller.sub } };
    const stream = lotteryStream(input.lotteryId);
    const [first] = await this.deps.store.readStream(stream, { maxCount: 1 });
    if (first && first.metadata.commandId === meta.commandId) return (await this.lotteries.load(stream)).state.terms!;
    const seed = randomBytes(SEED_BYTES).toString('hex');
    const command: CreateLottery = {
      ...input,
      commitment: seedCommitment(seed),
      sealedSeed: await this.deps.vault().sealText(sealOwner(input.lotteryId), seed),
      createdBy: caller.sub,
    };
    const programmeId = input.programmeId;
    for (let attempt = 1; attempt <= MAX_CREATE_ATTEMPTS; attempt += 1) {
      const lottery = await this.lotteries.load(stream);
      // A points prize touches no programme (the domain refuses one named with it).
      const programme = programmeId === null ? { state: initialProgrammeState, revision: -1n } : await this.programmes.load(programmeStream(programmeId));
      const now = this.clock();
      const decided = createLottery(lottery.state, programme.state, command, now);
      try {
        await this.commit(stream, 'no_stream', programmeId, programme.revision, decided, meta, now);
        return command;
      } catch (error) {
        if (error instanceof ConcurrencyError || error instanceof EventIdConflictError) continue;
        throw error;
      }
    }
    throw new ConcurrencyError(programmeId === null ? stream : programmeStream(programmeId), 'any', `still contended after ${MAX_CREATE_ATTEMPTS} attempts`);
  }

  async state(lotteryId: string): Promise<LotteryState> {
    const { state } = await this.lotteries.load(lotteryStream(lotteryId));
    if (state.status === 'none') throw new DomainError('LOTTERY.NOT_FOUND', 'no such lottery', 404, { lotteryId });
    return state;
  }

  /** Members see the lotteries of their own unions, admins those of their subtree, auditors all (else LOTTERY.NOT_FOUND). */
  async visibleTerms(caller: Principal, lotteryId: string): Promise<LotteryTerms> {
    const state = await this.state(lotteryId);
    const terms = state.terms!;
    const visible =
      caller.role === 'auditor' ||
      ((caller.role === 'admin' || caller.role === 'finance') && (await this.deps.orgAccess.isWithin(terms.orgId, caller.org))) ||
      (caller.role === 'member' && (await this.deps.orgAccess.isWithin(caller.org, terms.orgId)));
    if (!visible) throw new DomainError('LOTTERY.NOT_FOUND', 'no such lottery', 404, { lotteryId });
    return terms;
  }

  /**
   * A member enters: the entry's points are held on their stream (purpose `lottery:<id>`, until
   * 30 days after entries close, so a lottery never drawn gives them back by itself), then the
   * entry is recorded on the lottery's stream. A crash between the two is repaired by the retry
   * (the hold is found and the entry recorded) or, if nobody retries, by the hold's expiry.
   */
  async enter(memberId: string, lotteryId: string): Promise<{ lotteryId: string; memberId: string; points: number; enteredAt: string }> {
    const stream = lotteryStream(lotteryId);
    const now = this.clock();
    const terms = checkEntry((await this.lotteries.load(stream)).state, memberId, now.getTime());
    const member = await this.deps.members.load(memberId);
    if (member.state.status !== 'active' || !(await this.deps.orgAccess.isWithin(member.state.orgId, terms.orgId))) {
      throw new DomainError('LOTTERY.NOT_ELIGIBLE', 'only active members of the lottery’s unions may enter', 403);
    }
    const commandId = `lottery:${lotteryId}:enter:${memberId}`;
    const actor = { type: 'member', id: memberId };
    try {
      await this.deps.members.execute(
        memberId,
        { type: 'HoldPoints', holdId: lotteryHoldId(lotteryId), points: terms.entryPoints, purpose: lotteryPurpose(lotteryId), expiresAtMs: terms.closesAtMs + HOLD_AFTER_CLOSE_MS },
        { commandId, actor },
      );
    } catch (error) {
      // The hold is there from an earlier attempt whose entry was not recorded: record it now.
      if (!(error instanceof DomainError && error.code === 'HOLD.DUPLICATE')) throw error;
    }
    const event = entered(terms, memberId, now.getTime());
    try {
      await this.deps.store.appendToStream(stream, eventsToAppend([event], { commandId: `${commandId}:entry`, actor }, now, schemaVersion), { expectedRevision: 'any' });
    } catch (error) {
      // The same entry recorded by a racing attempt (same event id, another time): it is there once.
      if (!(error instanceof EventIdConflictError)) throw error;
    }
    return { lotteryId, memberId, points: terms.entryPoints, enteredAt: now.toISOString() };
  }

  /**
   * The union reveals the sealed seed and draws (after entries close), then settles every
   * entry. Safe to call again: the draw is recorded once, and each entry's settlement is a
   * command with its own id, so a second call finishes what a crash interrupted.
   */
  async draw(caller: Principal, lotteryId: string, key: string): Promise<LotteryState> {
    if (caller.role !== 'admin') throw new DomainError('AUTH.FORBIDDEN', 'only a union admin draws a lottery', 403);
    const terms = (await this.state(lotteryId)).terms!;
    try {
      await this.deps.orgAccess.assertCanView(caller, terms.orgId);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'ORG.FORBIDDEN') throw new DomainError('LOTTERY.NOT_FOUND', 'no such lottery', 404, { lotteryId });
      throw error;
    }
    const seed = await this.deps.vault().openText(sealOwner(lotteryId), terms.sealedSeed);
    if (seed === null) throw new DomainError('LOTTERY.SEED_LOST', 'the sealed seed can no longer be opened (its key was deleted)', 409);
    await this.lotteries.handle(lotteryStream(lotteryId), (state, now) => drawLottery(state, seed, now), {
      commandId: `${caller.sub}:${key}`,
      actor: { type: caller.role, id: caller.sub },
    });
    return this.settle(lotteryId);
  }

  /**
   * Posts or voids every entry's hold as the draw says and grants the winners' prizes; then
   * records LotterySettled, with the value of voucher prizes nobody won back to the budget in the
   * same commit (the lottery at its revision, the programme at its own): once, however many
   * callers settle at the same time.
   */
  async settle(lotteryId: string): Promise<LotteryState> {
    const stream = lotteryStream(lotteryId);
    const state = (await this.lotteries.load(stream)).state;
    if (state.status === 'settled' && state.unawarded === null) await this.returnUnawardedOfEarlierSettlement(lotteryId);
    if (state.status !== 'drawn') return state;
    const terms = state.terms!;
    await inParallel([...state.entries.keys(), ...state.late], (memberId) => this.settleEntry(state, terms, memberId));
    const meta: CommandMeta = { commandId: `lottery:${lotteryId}:settled`, actor: { type: 'system', id: 'lotteries' } };
    const programmeId = terms.programmeId;
    const lateSettled = new Set(state.late);
    for (let attempt = 1; attempt <= MAX_CREATE_ATTEMPTS; attempt += 1) {
      const lottery = await this.lotteries.load(stream);
      // An entry recorded late after the draw was read: its hold is voided before the settlement is.
      for (const memberId of lottery.state.late) {
        if (lateSettled.has(memberId)) continue;
        await this.settleEntry(lottery.state, terms, memberId);
        lateSettled.add(memberId);
      }
      const programme = programmeId === null ? { state: initialProgrammeState, revision: -1n } : await this.programmes.load(programmeStream(programmeId));
      const decided = settleLottery(lottery.state, programme.state);
      if (decided.lottery.length === 0) return lottery.state; // Settled by a racing caller.
      try {
        await this.commit(stream, lottery.revision, programmeId, programme.revision, decided, meta, this.clock());
      } catch (error) {
        // Settled meanwhile, an entry raced in late, or the programme moved: decide again.
        if (error instanceof ConcurrencyError || error instanceof EventIdConflictError) continue;
        throw error;
      }
      return (await this.lotteries.load(stream)).state;
    }
    throw new ConcurrencyError(stream, 'any', `still contended after ${MAX_CREATE_ATTEMPTS} attempts`);
  }

  /**
   * Lapses a lottery nobody drew by its deadline (LOTTERY.NOT_OVERDUE before): LotteryLapsed and
   * the programme's VoucherValueReturned for every voucher prize in one commit (the lottery at
   * its revision: once), then every entry's hold voided. A crash between the two leaves the holds
   * to run out by themselves a day later; calling again voids them.
   */
  async lapse(lotteryId: string): Promise<{ state: LotteryState; lapsedNow: boolean }> {
    const stream = lotteryStream(lotteryId);
    const meta: CommandMeta = { commandId: `lottery:${lotteryId}:lapsed`, actor: { type: 'system', id: 'lotteries' } };
    for (let attempt = 1; attempt <= MAX_CREATE_ATTEMPTS; attempt += 1) {
      const lottery = await this.lotteries.load(stream);
      if (lottery.state.status === 'none') throw new DomainError('LOTTERY.NOT_FOUND', 'no such lottery', 404, { lotteryId });
      const programmeId = lottery.state.terms!.programmeId;
      const programme = programmeId === null ? { state: initialProgrammeState, revision: -1n } : await this.programmes.load(programmeStream(programmeId));
      const now = this.clock();
      const decided = lapseLottery(lottery.state, programme.state, now);
      if (decided.lottery.length === 0) {
        if (lottery.state.status === 'lapsed') await this.refundEntries(lottery.state);
        return { state: lottery.state, lapsedNow: false };
      }
      let results: AppendResult[];
      try {
        results = await this.commit(stream, lottery.revision, programmeId, programme.revision, decided, meta, now);
      } catch (error) {
        if (error instanceof ConcurrencyError || error instanceof EventIdConflictError) continue; // Drawn or lapsed meanwhile, or the programme moved.
        throw error;
      }
      const lapsed = (await this.lotteries.load(stream)).state;
      await this.refundEntries(lapsed);
      // The event ids come from the command id: a racing lapse with the same decision is a replay, and this call lapsed nothing.
      return { state: lapsed, lapsedNow: !results[0]!.idempotentReplay };
    }
    throw new ConcurrencyError(stream, 'any', `still contended after ${MAX_CREATE_ATTEMPTS} attempts`);
  }

  /**
   * The schedule's sweep (claims-reconcile, every minute), from the claims read model: lotteries
   * still undrawn past their draw deadline lapse, and lotteries drawn SETTLE_AFTER_DRAW_MS ago or
   * more and still not settled (a crash interrupted the settlement) are settled. SWEEP_PER_RUN of
   * each; one that fails is reported to `onError` and tried again at the next run, without holding
   * up the others.
   */
  async sweep(onError: (lotteryId: string, error: Error) => void = () => undefined): Promise<{ lotteriesLapsed: number; lotteriesSettled: number; lotteriesFailed: number }> {
    const nowMs = this.clock().getTime();
    const counts = { lotteriesLapsed: 0, lotteriesSettled: 0, lotteriesFailed: 0 };
    const each = async (lotteryIds: readonly string[], work: (lotteryId: string) => Promise<boolean>): Promise<number> => {
      let done = 0;
      for (const lotteryId of lotteryIds) {
        try {
          if (await work(lotteryId)) done += 1;
        } catch (error) {
          counts.lotteriesFailed += 1;
          onError(lotteryId, error as Error);
        }
      }
      return done;
    };
    counts.lotteriesLapsed = await each(await undrawnLotteries(this.deps.db, nowMs - DRAW_DEADLINE_AFTER_CLOSE_MS - 1, SWEEP_PER_RUN), async (lotteryId) => (await this.lapse(lotteryId)).lapsedNow);
    counts.lotteriesSettled = await each(await unsettledLotteries(this.deps.db, nowMs - SETTLE_AFTER_DRAW_MS, SWEEP_PER_RUN), async (lotteryId) => (await this.settle(lotteryId)).status === 'settled');
    return counts;
  }

  /** The programme-only return of what nobody won in a lottery settled before settlements recorded it (returnUnawardedOfEarlierSettlement). */
  private async returnUnawardedOfEarlierSettlement(lotteryId: string): Promise<void> {
    const meta: CommandMeta = { commandId: `lottery:${lotteryId}:unawarded`, actor: { type: 'system', id: 'lotteries' } };
    for (let attempt = 1; attempt <= MAX_CREATE_ATTEMPTS; attempt += 1) {
      const { state } = await this.lotteries.load(lotteryStream(lotteryId));
      const programmeId = state.terms?.programmeId ?? null;
      if (programmeId === null) return;
      const programme = await this.programmes.load(programmeStream(programmeId));
      const events = returnUnawardedOfEarlierSettlement(state, programme.state);
      if (events.length === 0) return;
      try {
        await this.deps.store.appendToStream(programmeStream(programmeId), eventsToAppend(events, meta, this.clock(), schemaVersion), { expectedRevision: programme.revision });
        return;
      } catch (error) {
        if (error instanceof ConcurrencyError || error instanceof EventIdConflictError) continue; // The programme moved, or a racing call returned it: decide again.
        throw error;
      }
    }
    throw new ConcurrencyError(lotteryStream(lotteryId), 'any', `the prize programme still contended after ${MAX_CREATE_ATTEMPTS} attempts`);
  }

  /** A lapsed lottery's entries, every hold voided (each once: the command id is the one the settlement would have used). */
  private async refundEntries(state: LotteryState): Promise<void> {
    const lotteryId = state.terms!.lotteryId;
    await inParallel([...state.entries.keys(), ...state.late], async (memberId) => {
      try {
        await this.deps.members.execute(memberId, { type: 'VoidHold', holdId: lotteryHoldId(lotteryId) }, { commandId: `lottery:${lotteryId}:settle:${memberId}`, actor: { type: 'system', id: 'lotteries' } });
      } catch (error) {
        if (!holdIsDone(error)) throw error;
      }
    });
  }

  /**
   * A lottery decision and its programme events (a reservation or a return) in one commit, each
   * stream at the revision it was decided on; a points prize's decision touches no programme.
   */
  private commit(
    stream: string,
    lotteryRevision: ExpectedRevision,
    programmeId: string | null,
    programmeRevision: bigint,
    decided: { lottery: LotteryEvent[]; programme: ProgrammeEvent[] },
    meta: CommandMeta,
    now: Date,
  ): Promise<AppendResult[]> {
    const appends: StreamAppend[] = [{ streamId: stream, events: eventsToAppend(decided.lottery, meta, now, schemaVersion), expectedRevision: lotteryRevision }];
    if (programmeId !== null && decided.programme.length > 0) {
      appends.push({
        streamId: programmeStream(programmeId),
        events: eventsToAppend(decided.programme, meta, now, schemaVersion, decided.lottery.length),
        expectedRevision: programmeRevision < 0n ? 'no_stream' : programmeRevision,
      });
    }
    return this.deps.store.appendToStreams(appends);
  }

  private async settleEntry(state: LotteryState, terms: LotteryTerms, memberId: string): Promise<void> {
    const outcome = settlementOf(state, memberId);
    const actor = { type: 'system', id: 'lotteries' };
    const holdId = lotteryHoldId(terms.lotteryId);
    try {
      await this.deps.members.execute(memberId, { type: outcome === 'won' || outcome === 'spent' ? 'PostHold' : 'VoidHold', holdId }, { commandId: `lottery:${terms.lotteryId}:settle:${memberId}`, actor });
    } catch (error) {
      if (!holdIsDone(error)) throw error;
    }
    if (outcome !== 'won') return;
    const prizeTerms = prizeOf(terms);
    if (prizeTerms.kind === 'points') {
      // Credited once: the award id is the lottery's, and the member's stream refuses a second (AWARD.DUPLICATE).
      try {
        await this.deps.members.execute(
          memberId,
          { type: 'AwardPoints', awardId: prizeAwardId(terms.lotteryId), points: prizeTerms.points, source: `lottery:${terms.lotteryId}` },
          { commandId: `lottery:${terms.lotteryId}:prize:${memberId}`, actor },
        );
      } catch (error) {
        if (!(error instanceof DomainError && error.code === 'AWARD.DUPLICATE')) throw error;
      }
      return;
    }
    const now = this.clock();
    const prize = voucherGrant(memberId, { batchId: prizeBatchOf(terms.lotteryId), programmeId: prizeTerms.programmeId, orgId: terms.orgId }, prizeTerms.voucher);
    try {
      await this.deps.store.appendToStream(walletStream(memberId), eventsToAppend([prize], { commandId: `lottery:${terms.lotteryId}:prize:${memberId}`, actor }, now, schemaVersion), {
        expectedRevision: 'any',
      });
    } catch (error) {
      if (!(error instanceof EventIdConflictError)) throw error; // Granted by an earlier settlement: once.
    }
  }

  /** Recomputes the draw from the log alone: the commitment, the entry list and the winners. */
  async audit(lotteryId: string): Promise<LotteryAudit> {
    const stream = lotteryStream(lotteryId);
    let state = initialLotteryState;
    let drawn: Extract<LotteryEvent, { type: 'LotteryDrawn' }>['data'] | null = null;
    let from = 0n;
    for (let page = 0; page < MAX_READ_PAGES; page += 1) {
      const events = await this.deps.store.readStream(stream, { fromRevision: from, maxCount: READ_PAGE });
      for (const recorded of events) {
        const event = { type: recorded.type, data: recorded.data } as unknown as LotteryEvent;
        state = evolveLottery(state, event);
        if (event.type === 'LotteryDrawn') drawn = event.data;
      }
      if (events.length < READ_PAGE) break;
      from = events[events.length - 1]!.revision + 1n;
    }
    if (state.status === 'none') throw new DomainError('LOTTERY.NOT_FOUND', 'no such lottery', 404, { lotteryId });
    const terms = state.terms!;
    const sorted = sortEntries([...state.entries.keys()]);
    const hash = entriesHash(sorted);
    const seed = drawn?.seed ?? null;
    const commitmentOk = seed !== null && seedCommitment(seed) === terms.commitment;
    const recomputed = seed !== null && commitmentOk ? drawWinners(seed, sorted, terms.prizes) : [];
    const recorded = drawn?.winners ?? [];
    const entriesHashOk = drawn !== null && drawn.entriesHash === hash;
    return {
      lotteryId,
      status: state.status,
      commitment: terms.commitment,
      seed,
      commitmentOk,
      entries: sorted.length,
      entriesHash: hash,
      entriesHashOk,
      prizes: terms.prizes,
      recordedWinners: [...recorded],
      recomputedWinners: recomputed,
      ok: commitmentOk && entriesHashOk && JSON.stringify(recorded) === JSON.stringify(recomputed),
    };
  }
}
