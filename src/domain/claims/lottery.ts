import { createHash } from 'node:crypto';
import { DomainError, invariant } from '../shared';
import { checkAmountFen, issueVouchers, returnUnclaimedVouchers, type ProgrammeEvent, type ProgrammeState, type VoucherTerms } from '../benefits';
import { MAX_POINTS_PER_SPEND } from '../members';
import { CAMPAIGN_ID, MAX_NAME_CHARS, MAX_WINDOW_MS } from './campaign';
import { drawWinners, isSeedHex, seedCommitment, sortEntries } from './draw';

/**
 * Points lotteries (积分抽奖), stream `lottery-<lotteryId>`. An entry costs points, held on the
 * member's stream (a two-phase hold, purpose `lottery:<id>`) until the draw; the union commits to
 * SHA-256 of a secret seed at creation (the seed itself is stored sealed, never in plaintext),
 * reveals it after entries close, and the winners are `drawWinners(seed, sorted entries, prizes)`
 * (draw.ts): anyone can recompute them from the stream. Winners' holds are posted and each gets a
 * voucher from the union's budget (reserved at creation); losers' holds are voided (refunded) or
 * posted (spent) as the lottery's rules say. An entry recorded after the draw (it raced the
 * close) is late: it takes no part and its hold is voided. Voucher prizes nobody won (fewer
 * entries than prizes) go back to the budget that reserved them, in the settlement's commit.
 */

export const MAX_PRIZES = 500;
export const MAX_ENTRIES = 100_000;
/** Holds last this long after entries close: a draw that never happens gives every point back by itself. */
export const HOLD_AFTER_CLOSE_MS = 30 * 24 * 3600 * 1000;
/** The draw must happen before the holds run out (a day of margin for settling). */
export const DRAW_DEADLINE_AFTER_CLOSE_MS = HOLD_AFTER_CLOSE_MS - 24 * 3600 * 1000;

export type LoserRule = 'refund' | 'spend';

export interface LotteryTerms {
  lotteryId: string;
  orgId: string;
  name: string;
  entryPoints: number;
  prizes: number;
  opensAtMs: number;
  closesAtMs: number;
  losers: LoserRule;
  maxEntries: number;
  /** The benefits programme whose budget (of `orgId`) pays the prize vouchers; null for a points prize. */
  programmeId: string | null;
  /** Each prize is one such voucher; null when the prize is points. */
  voucher: VoucherTerms | null;
  /** Each prize is this many points, credited to the winner (absent or null: the prize is a voucher). */
  prizePoints?: number | null;
  /** SHA-256 (hex) of the seed: published before entries open. */
  commitment: string;
  /** The seed sealed by the personal-data vault (owner `lottery-<id>`): not readable from the log. */
  sealedSeed: string;
  createdBy: string;
}

export type LotteryEvent =
  | { type: 'LotteryCreated'; data: LotteryTerms }
  | { type: 'LotteryEntered'; data: { lotteryId: string; memberId: string; holdId: string; points: number; enteredAtMs: number } }
  | {
      type: 'LotteryDrawn';
      data: {
        lotteryId: string;
        /** The revealed seed, hex: SHA-256 of its bytes is the commitment. */
        seed: string;
        commitment: string;
        entryCount: number;
        /** SHA-256 (hex) of the sorted entry ids joined by "\n": names the exact list the draw used. */
        entriesHash: string;
        /** Member ids in prize order. */
        winners: string[];
      };
    }
  | {
      type: 'LotterySettled';
      data: {
        lotteryId: string;
        won: number;
        refunded: number;
        spent: number;
        late: number;
        /** Prizes nobody won, and the value of those that were vouchers, back in the budget (absent in events recorded before either was). */
        unawarded?: number;
        returnedFen?: number;
      };
    }
  | {
      /** Never drawn by its deadline: every entry is refunded, and every voucher prize's value goes back to the budget. */
      type: 'LotteryLapsed';
      data: { lotteryId: string; entryCount: number; unawarded: number; returnedFen: number };
    };

export const lotteryStream = (lotteryId: string): string => `lottery-${lotteryId}`;
export const lotteryHoldId = (lotteryId: string): string => `lottery:${lotteryId}`;
export const lotteryPurpose = (lotteryId: string): string => `lottery:${lotteryId}`;
export const prizeBatchOf = (lotteryId: string): string => `lottery:${lotteryId}`;

export interface LotteryState {
  status: 'none' | 'open' | 'drawn' | 'settled' | 'lapsed';
  terms: LotteryTerms | null;
  /** Entries before the draw, in stream order. */
  entries: ReadonlyMap<string, { points: number; enteredAtMs: number }>;
  /** Entries recorded after the draw (they raced the close): refunded, never drawn. */
  late: ReadonlySet<string>;
  seed: string | null;
  winners: readonly string[];
  /** At settlement or lapse: the prizes nobody won and the voucher value returned for them (null before, or when the settlement did not record them). */
  unawarded: { prizes: number; returnedFen: number } | null;
}

export const initialLotteryState: LotteryState = { status: 'none', terms: null, entries: new Map(), late: new Set(), seed: null, winners: [], unawarded: null };

export function evolveLottery(state: LotteryState, event: LotteryEvent): LotteryState {
  switch (event.type) {
    case 'LotteryCreated':
      return { ...state, status: 'open', terms: event.data };
    case 'LotteryEntered': {
      const { memberId, points, enteredAtMs } = event.data;
      if (state.status !== 'open') return { ...state, late: new Set(state.late).add(memberId) };
      return { ...state, entries: new Map(state.entries).set(memberId, { points, enteredAtMs }) };
    }
    case 'LotteryDrawn':
      return { ...state, status: 'drawn', seed: event.data.seed, winners: event.data.winners };
    case 'LotterySettled': {
      const { unawarded, returnedFen } = event.data;
      return { ...state, status: 'settled', unawarded: unawarded === undefined ? null : { prizes: unawarded, returnedFen: returnedFen ?? 0 } };
    }
    case 'LotteryLapsed':
      return { ...state, status: 'lapsed', unawarded: { prizes: event.data.unawarded, returnedFen: event.data.returnedFen } };
    default: {
      const unknown: never = event;
      throw new Error(`unknown lottery event ${(unknown as { type: string }).type}`);
    }
  }
}

export type CreateLottery = Omit<LotteryTerms, 'commitment' | 'sealedSeed'> & { commitment: string; sealedSeed: string };

export function createLottery(state: LotteryState, programme: ProgrammeState, command: CreateLottery, now: Date): { lottery: LotteryEvent[]; programme: ProgrammeEvent[] } {
  if (state.status !== 'none') throw new DomainError('LOTTERY.EXISTS', 'a lottery with this id exists', 409, { lotteryId: command.lotteryId });
  if (!CAMPAIGN_ID.test(command.lotteryId)) throw new DomainError('LOTTERY.ID_INVALID', 'a lottery id is 1 to 48 of a-z, 0-9 and -', 400);
  if (command.name.trim().length < 1 || command.name.length > MAX_NAME_CHARS) throw new DomainError('LOTTERY.NAME_INVALID', `a name is 1 to ${MAX_NAME_CHARS} characters`, 400);
  if (!Number.isSafeInteger(command.entryPoints) || command.entryPoints < 1 || command.entryPoints > MAX_POINTS_PER_SPEND) {
    throw new DomainError('LOTTERY.ENTRY_POINTS_INVALID', `an entry costs 1 to ${MAX_POINTS_PER_SPEND} points`, 400);
  }
  if (!Number.isSafeInteger(command.prizes) || command.prizes < 1 || command.prizes > MAX_PRIZES) {
    throw new DomainError('LOTTERY.PRIZES_INVALID', `a lottery has 1 to ${MAX_PRIZES} prizes`, 400);
  }
  if (!Number.isSafeInteger(command.maxEntries) || command.maxEntries < 1 || command.maxEntries > MAX_ENTRIES) {
    throw new DomainError('LOTTERY.MAX_ENTRIES_INVALID', `a lottery takes 1 to ${MAX_ENTRIES} entries`, 400);
  }
  const { opensAtMs, closesAtMs } = command;
  if (!Number.isSafeInteger(opensAtMs) || !Number.isSafeInteger(closesAtMs) || closesAtMs <= opensAtMs || closesAtMs - opensAtMs > MAX_WINDOW_MS) {
    throw new DomainError('LOTTERY.WINDOW_INVALID', 'entries must close after they open, within 31 days', 400);
  }
  // The commitment is published before entries open: a lottery created after they opened could have chosen its seed late.
  if (opensAtMs < now.getTime()) throw new DomainError('LOTTERY.WINDOW_INVALID', 'entries must open after the lottery (and its commitment) is published', 400);
  invariant(/^[0-9a-f]{64}$/.test(command.commitment), 'a commitment is SHA-256 in hex');
  const prizePoints = command.prizePoints ?? null;
  if (prizePoints !== null) {
    // A points prize: credited to each winner at settlement, from the lottery's issuer account; no budget is touched.
    if (command.voucher !== null || command.programmeId !== null) throw new DomainError('LOTTERY.PRIZE_INVALID', 'a prize is either points or a voucher paid from a programme, not both', 400);
    if (!Number.isSafeInteger(prizePoints) || prizePoints < 1 || prizePoints > MAX_POINTS_PER_SPEND) {
      throw new DomainError('LOTTERY.PRIZE_INVALID', `a points prize is 1 to ${MAX_POINTS_PER_SPEND} points`, 400);
    }
    return { lottery: [{ type: 'LotteryCreated', data: { ...command, prizePoints } }], programme: [] };
  }
  if (command.voucher === null || command.programmeId === null) throw new DomainError('LOTTERY.PRIZE_INVALID', 'a prize is points, or a voucher paid from a programme', 400);
  checkAmountFen(command.voucher.faceFen, 'face value');
  if (command.voucher.validUntilMs <= closesAtMs) throw new DomainError('LOTTERY.VOUCHER_INVALID', 'the prize vouchers must be valid after entries close', 400);
  const reserved = issueVouchers(programme, { orgId: command.orgId, campaignId: prizeBatchOf(command.lotteryId), chunk: 0, count: command.prizes, faceFen: command.voucher.faceFen });
  return { lottery: [{ type: 'LotteryCreated', data: { ...command } }], programme: reserved };
}

/** The prize each winner gets: points credited, or a voucher from the programme. */
export function prizeOf(terms: LotteryTerms): { kind: 'points'; points: number } | { kind: 'voucher'; programmeId: string; voucher: VoucherTerms } {
  if (terms.prizePoints !== undefined && terms.prizePoints !== null) return { kind: 'points', points: terms.prizePoints };
  invariant(terms.voucher !== null && terms.programmeId !== null, 'a lottery without a points prize has a voucher prize');
  return { kind: 'voucher', programmeId: terms.programmeId, voucher: terms.voucher };
}

/** The award id of a winner's points prize: once per lottery on the member's stream. */
export const prizeAwardId = (lotteryId: string): string => `lottery:${lotteryId}`;

/** Refuses an entry the lottery cannot take; the caller then holds the points and records the entry. */
export function checkEntry(state: LotteryState, memberId: string, nowMs: number): LotteryTerms {
  if (state.status === 'none' || !state.terms) throw new DomainError('LOTTERY.NOT_FOUND', 'no such lottery', 404);
  const terms = state.terms;
  if (nowMs < terms.opensAtMs) throw new DomainError('LOTTERY.NOT_OPEN', 'entries have not opened yet', 409, { opensAt: new Date(terms.opensAtMs).toISOString() });
  if (nowMs >= terms.closesAtMs || state.status !== 'open') throw new DomainError('LOTTERY.CLOSED', 'entries have closed', 409);
  if (state.entries.has(memberId)) throw new DomainError('LOTTERY.ALREADY_ENTERED', 'this member has already entered', 409);
  // Entries are recorded at any revision (no hot stream): the limit may be passed by the entries in flight, never by more.
  if (state.entries.size >= terms.maxEntries) throw new DomainError('LOTTERY.FULL', 'the lottery has taken all the entries it can', 409, { maxEntries: terms.maxEntries });
  return terms;
}

export function entered(terms: LotteryTerms, memberId: string, nowMs: number): LotteryEvent {
  return { type: 'LotteryEntered', data: { lotteryId: terms.lotteryId, memberId, holdId: lotteryHoldId(terms.lotteryId), points: terms.entryPoints, enteredAtMs: nowMs } };
}

export const entriesHash = (sorted: readonly string[]): string => createHash('sha256').update(sorted.join('\n'), 'utf8').digest('hex');

/** Reveals the seed and draws; the seed must be the one committed to. */
export function drawLottery(state: LotteryState, seedHex: string, now: Date): LotteryEvent[] {
  if (state.status === 'none' || !state.terms) throw new DomainError('LOTTERY.NOT_FOUND', 'no such lottery', 404);
  if (state.status === 'lapsed') throw new DomainError('LOTTERY.LAPSED', 'the lottery was not drawn by its deadline: its entries were refunded', 409);
  if (state.status !== 'open') return []; // Drawn already: the draw is recorded once.
  const terms = state.terms;
  if (now.getTime() < terms.closesAtMs) throw new DomainError('LOTTERY.NOT_CLOSED', 'the draw comes after entries close', 409, { closesAt: new Date(terms.closesAtMs).toISOString() });
  if (now.getTime() > terms.closesAtMs + DRAW_DEADLINE_AFTER_CLOSE_MS) {
    throw new DomainError('LOTTERY.DRAW_TOO_LATE', 'the draw deadline has passed: the lottery lapses, its entries are refunded and its prizes’ value returned', 409);
  }
  if (!isSeedHex(seedHex) || seedCommitment(seedHex) !== terms.commitment) {
    throw new DomainError('LOTTERY.SEED_MISMATCH', 'the revealed seed does not match the published commitment', 422);
  }
  const sorted = sortEntries([...state.entries.keys()]);
  return [
    {
      type: 'LotteryDrawn',
      data: {
        lotteryId: terms.lotteryId,
        seed: seedHex,
        commitment: terms.commitment,
        entryCount: sorted.length,
        entriesHash: entriesHash(sorted),
        winners: drawWinners(seedHex, sorted, terms.prizes),
      },
    },
  ];
}

/** What happens to an entry's hold at settlement: the winner's and a spending loser's are posted, the others voided. */
export function settlementOf(state: LotteryState, memberId: string): 'won' | 'refunded' | 'spent' | 'late' {
  invariant(state.status === 'drawn' || state.status === 'settled', 'entries are settled after the draw');
  if (state.late.has(memberId) || !state.entries.has(memberId)) return 'late';
  if (state.winners.includes(memberId)) return 'won';
  return state.terms!.losers === 'spend' ? 'spent' : 'refunded';
}

/**
 * Records the settlement once every entry is settled: the counts, and the prizes nobody won
 * (fewer entries than prizes). A voucher prize's unawarded vouchers were reserved at creation
 * (`VouchersIssued` into the lottery's transit account): their value goes back to the union's
 * budget (to the root union's funds once the programme is closed) as one expiry
 * `unclaimed:lottery:<id>`, in the same decision, so it is returned once with the settlement.
 * `programme` is the prize programme's state (ignored for a points prize).
 */
export function settleLottery(state: LotteryState, programme: ProgrammeState): { lottery: LotteryEvent[]; programme: ProgrammeEvent[] } {
  if (state.status !== 'drawn') return { lottery: [], programme: [] };
  const terms = state.terms!;
  const counts = { won: 0, refunded: 0, spent: 0, late: state.late.size };
  for (const memberId of state.entries.keys()) {
    const outcome = settlementOf(state, memberId);
    if (outcome !== 'late') counts[outcome] += 1;
  }
  const unawarded = terms.prizes - state.winners.length;
  invariant(unawarded >= 0 && counts.won === state.winners.length, 'the winners are entries, at most one per prize');
  const prize = prizeOf(terms);
  const returned =
    prize.kind === 'voucher' ? returnUnclaimedVouchers(programme, { orgId: terms.orgId, batchId: prizeBatchOf(terms.lotteryId), count: unawarded, faceFen: prize.voucher.faceFen }) : [];
  const returnedFen = prize.kind === 'voucher' ? unawarded * prize.voucher.faceFen : 0;
  return { lottery: [{ type: 'LotterySettled', data: { lotteryId: terms.lotteryId, ...counts, unawarded, returnedFen } }], programme: returned };
}

/**
 * A lottery settled before settlements recorded what nobody won (`unawarded` null, events of
 * before this was built): the value of the voucher prizes nobody won, still in the lottery's
 * transit account, goes back now, on the programme alone. Once: the expiry id
 * `unclaimed:lottery:<id>` is returned once by the programme, however often this is decided.
 */
export function returnUnawardedOfEarlierSettlement(state: LotteryState, programme: ProgrammeState): ProgrammeEvent[] {
  if (state.status !== 'settled' || state.unawarded !== null || !state.terms) return [];
  const prize = prizeOf(state.terms);
  if (prize.kind !== 'voucher') return [];
  return returnUnclaimedVouchers(programme, { orgId: state.terms.orgId, batchId: prizeBatchOf(state.terms.lotteryId), count: state.terms.prizes - state.winners.length, faceFen: prize.voucher.faceFen });
}

/** When an undrawn lottery lapses: the draw deadline (DRAW_DEADLINE_AFTER_CLOSE_MS after entries close). */
export const lapsesAtMs = (terms: LotteryTerms): number => terms.closesAtMs + DRAW_DEADLINE_AFTER_CLOSE_MS;

/**
 * A lottery nobody drew by its deadline lapses: no draw can come after (LOTTERY.LAPSED), the
 * entries' holds are voided (the caller does that after this commit; they would run out a day
 * later anyway), and every voucher prize's reserved value goes back to the budget, as one expiry
 * `unclaimed:lottery:<id>`, in the same decision. Once: a lapsed, drawn or settled lottery decides nothing.
 */
export function lapseLottery(state: LotteryState, programme: ProgrammeState, now: Date): { lottery: LotteryEvent[]; programme: ProgrammeEvent[] } {
  if (state.status === 'none' || !state.terms) throw new DomainError('LOTTERY.NOT_FOUND', 'no such lottery', 404);
  if (state.status !== 'open') return { lottery: [], programme: [] };
  const terms = state.terms;
  if (now.getTime() <= lapsesAtMs(terms)) {
    throw new DomainError('LOTTERY.NOT_OVERDUE', 'a lottery lapses only once its draw deadline has passed', 409, { drawBy: new Date(lapsesAtMs(terms)).toISOString() });
  }
  const prize = prizeOf(terms);
  const returned =
    prize.kind === 'voucher' ? returnUnclaimedVouchers(programme, { orgId: terms.orgId, batchId: prizeBatchOf(terms.lotteryId), count: terms.prizes, faceFen: prize.voucher.faceFen }) : [];
  const returnedFen = prize.kind === 'voucher' ? terms.prizes * prize.voucher.faceFen : 0;
  return { lottery: [{ type: 'LotteryLapsed', data: { lotteryId: terms.lotteryId, entryCount: state.entries.size, unawarded: terms.prizes, returnedFen } }], programme: returned };
}
