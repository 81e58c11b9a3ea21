import { commandSpec } from '../../../test/support/given-when-then';
import { evolveProgramme, fundBudget, initialProgrammeState, openProgramme, type ProgrammeEvent, type ProgrammeState } from '../benefits';
import { addStock, evolveStock, initialStockState, type StockState } from '../mall';
import {
  CLOSE_AFTER_WINDOW_MS,
  allotmentIdOf,
  checkEligible,
  closeMallPrizeCampaign,
  createMallPrizeCampaign,
  closeCampaign,
  checkEntry,
  checkWindow,
  createCampaign,
  createLottery,
  drawLottery,
  drawWinners,
  entered,
  evolveCampaign,
  evolveClaim,
  evolveLottery,
  grantClaim,
  initialCampaignState,
  initialClaimState,
  initialLotteryState,
  lapseLottery,
  lapsesAtMs,
  prizeOf,
  returnUnawardedOfEarlierSettlement,
  seedCommitment,
  settleLottery,
  settlementOf,
  type CampaignEvent,
  type CampaignState,
  type ClaimEvent,
  type ClaimState,
  type CreateCampaign,
  type LotteryEvent,
  type LotteryState,
} from '.';

const HOUR = 3600_000;
const OPENS = Date.parse('2027-01-20T02:00:00Z');
const CLOSES = OPENS + HOUR;
const voucher = { category: 'rail-ticket', faceFen: 5000, validFromMs: OPENS, validUntilMs: CLOSES + 30 * 24 * HOUR };

function fundedProgramme(amountFen: number): ProgrammeState {
  const events: ProgrammeEvent[] = [];
  const apply = (command: (state: ProgrammeState) => ProgrammeEvent[]) => events.push(...command(events.reduce(evolveProgramme, initialProgrammeState)));
  apply((state) => openProgramme(state, { programmeId: 'p27', name: '2027 春运', year: 2027, rootOrgId: 'gd', openedBy: 'admin' }));
  apply((state) => fundBudget(state, { amountFen, source: 'union_funds', reference: 'doc-1', proposalId: 'f1' }));
  return events.reduce(evolveProgramme, initialProgrammeState);
}

const create: CreateCampaign = {
  campaignId: 'spring-tickets',
  orgId: 'gd',
  name: '春运火车票',
  units: 3,
  opensAtMs: OPENS,
  closesAtMs: CLOSES,
  minPoints: 100,
  programmeId: 'p27',
  voucher,
  createdBy: 'admin-gd',
};
const created: CampaignEvent = { type: 'ClaimCampaignCreated', data: create };
const campaign = commandSpec<CampaignState, CampaignEvent>(initialCampaignState, evolveCampaign);
const claim = commandSpec<ClaimState, ClaimEvent>(initialClaimState, evolveClaim);
const before = new Date(OPENS - HOUR);

describe('creating a claim campaign', () => {
  it('records the terms and reserves N vouchers from the union’s budget in the same decision', () => {
    const decided = createCampaign(initialCampaignState, fundedProgramme(100_000), create, before);
    expect(decided.campaign).toEqual([created]);
    expect(decided.programme).toEqual([
      expect.objectContaining({
        type: 'VouchersIssued',
        data: expect.objectContaining({ campaignId: 'claim:spring-tickets', count: 3, amountFen: 15_000, postings: [expect.objectContaining({ credit: 'transit:vouchers:claim:spring-tickets' })] }),
      }),
    ]);
  });

  it('is refused when the budget cannot pay N vouchers, and for bad terms', () => {
    expect(() => createCampaign(initialCampaignState, fundedProgramme(10_000), create, before)).toThrow(expect.objectContaining({ code: 'BUDGET.INSUFFICIENT' }));
    const programme = fundedProgramme(100_000);
    const refused = (change: Partial<CreateCampaign>) => () => createCampaign(initialCampaignState, programme, { ...create, ...change }, before);
    expect(refused({ units: 0 })).toThrow(expect.objectContaining({ code: 'CLAIM.UNITS_INVALID' }));
    expect(refused({ closesAtMs: OPENS })).toThrow(expect.objectContaining({ code: 'CLAIM.WINDOW_INVALID' }));
    expect(refused({ campaignId: 'Bad:Id' })).toThrow(expect.objectContaining({ code: 'CLAIM.CAMPAIGN_ID_INVALID' }));
    expect(refused({ voucher: { ...voucher, validUntilMs: CLOSES } })).toThrow(expect.objectContaining({ code: 'CLAIM.VOUCHER_INVALID' }));
  });

  it('is answered with nothing new when the same campaign is created again, and refused with other terms', () => {
    const state = campaign.given([created]).state();
    expect(createCampaign(state, fundedProgramme(100_000), create, before)).toEqual({ campaign: [], programme: [] });
    campaign.given([created]).when((current) => createCampaign(current, fundedProgramme(100_000), { ...create, units: 4 }, before).campaign).thenFails('CLAIM.CAMPAIGN_EXISTS');
  });
});

describe('closing a campaign after its window', () => {
  const reserved = (): ProgrammeState => {
    const programme = fundedProgramme(100_000);
    return createCampaign(initialCampaignState, programme, create, before).programme.reduce(evolveProgramme, programme);
  };
  const afterWindow = new Date(CLOSES + CLOSE_AFTER_WINDOW_MS);

  it('returns the unclaimed units’ value from the campaign’s transit account to the union’s budget, once', () => {
    const programme = reserved();
    const decided = closeCampaign(campaign.given([created]).state(), programme, { granted: 1 }, afterWindow);
    expect(decided.campaign).toEqual([{ type: 'ClaimCampaignClosed', data: { campaignId: 'spring-tickets', granted: 1, unclaimed: 2, returnedFen: 10_000 } }]);
    expect(decided.programme).toEqual([
      {
        type: 'VoucherValueReturned',
        data: {
          programmeId: 'p27',
          expiries: [{ expiryId: 'unclaimed:claim:spring-tickets', voucherId: 'claim:spring-tickets:unclaimed', orgId: 'gd', amountFen: 10_000 }],
          amountFen: 10_000,
          postings: [{ debit: 'transit:vouchers:claim:spring-tickets', credit: 'budget:p27:gd', amount: 10_000, asset: 'CNY_FEN' }],
        },
      },
    ]);
    const after = decided.programme.reduce(evolveProgramme, programme);
    expect(after.budgets.get('gd')!.balance).toBe(programme.budgets.get('gd')!.balance + 10_000);
    // Closed: a second close decides nothing, and the programme would not return the same value twice either.
    expect(closeCampaign(campaign.given([created, ...decided.campaign]).state(), after, { granted: 1 }, afterWindow)).toEqual({ campaign: [], programme: [] });
    expect(closeCampaign(campaign.given([created]).state(), after, { granted: 1 }, afterWindow).programme).toEqual([]);
  });

  it('is refused before the window (and its minute) is over; with every unit claimed it returns nothing', () => {
    campaign.given([created]).when((state) => closeCampaign(state, reserved(), { granted: 0 }, new Date(CLOSES)).campaign).thenFails('CLAIM.NOT_CLOSED');
    expect(closeCampaign(campaign.given([created]).state(), reserved(), { granted: 3 }, afterWindow)).toEqual({
      campaign: [{ type: 'ClaimCampaignClosed', data: { campaignId: 'spring-tickets', granted: 3, unclaimed: 0, returnedFen: 0 } }],
      programme: [],
    });
    expect(() => closeCampaign(campaign.given([created]).state(), reserved(), { granted: 4 }, afterWindow)).toThrow(/lies within/);
  });
});

describe('claiming', () => {
  const terms = create;
  it('refuses before and after the window with codes of their own', () => {
    expect(() => checkWindow(terms, OPENS - 1)).toThrow(expect.objectContaining({ code: 'CLAIM.NOT_OPEN' }));
    expect(() => checkWindow(terms, CLOSES)).toThrow(expect.objectContaining({ code: 'CLAIM.CLOSED' }));
    expect(() => checkWindow(terms, OPENS)).not.toThrow();
  });

  it('admits only active members of the subtree with the minimum balance', () => {
    const member = { memberId: 'm1', status: 'active' as const, orgId: 'gd-gz', inSubtree: true, availablePoints: 100 };
    expect(() => checkEligible(terms, member)).not.toThrow();
    expect(() => checkEligible(terms, { ...member, status: 'enrolled' })).toThrow(expect.objectContaining({ code: 'CLAIM.NOT_ELIGIBLE', details: { reason: 'not_active' } }));
    expect(() => checkEligible(terms, { ...member, inSubtree: false })).toThrow(expect.objectContaining({ details: { reason: 'outside_subtree' } }));
    expect(() => checkEligible(terms, { ...member, availablePoints: 99 })).toThrow(expect.objectContaining({ details: { reason: 'min_points', minPoints: 100 } }));
  });

  it('grants slot `seq`: the claim, the slot and a voucher on the member’s wallet', () => {
    const decided = grantClaim(terms, initialClaimState, { memberId: 'm1', orgId: 'gd-gz', seq: 2, admittedAtMs: OPENS + 5 });
    expect(decided.claim).toEqual([
      { type: 'ClaimGranted', data: { campaignId: 'spring-tickets', memberId: 'm1', orgId: 'gd-gz', seq: 2, admittedAtMs: OPENS + 5, voucherId: 'claim:spring-tickets:m1' } },
    ]);
    expect(decided.slot).toEqual([{ type: 'ClaimSlotTaken', data: { campaignId: 'spring-tickets', seq: 2, memberId: 'm1' } }]);
    expect(decided.wallet).toEqual([
      expect.objectContaining({
        type: 'VoucherGranted',
        data: expect.objectContaining({ voucherId: 'claim:spring-tickets:m1', faceFen: 5000, postings: [expect.objectContaining({ debit: 'transit:vouchers:claim:spring-tickets', credit: 'voucher:m1:available' })] }),
      }),
    ]);
  });

  it('never grants a member twice, nor a slot above N; the window is the admission’s', () => {
    const granted = grantClaim(terms, initialClaimState, { memberId: 'm1', orgId: 'gd-gz', seq: 1, admittedAtMs: OPENS }).claim;
    claim.given(granted).when((state) => grantClaim(terms, state, { memberId: 'm1', orgId: 'gd-gz', seq: 2, admittedAtMs: OPENS }).claim).thenFails('CLAIM.ALREADY_CLAIMED', { seq: 1 });
    expect(() => grantClaim(terms, initialClaimState, { memberId: 'm2', orgId: 'gd-gz', seq: 4, admittedAtMs: OPENS })).toThrow('invariant violated');
    // Recorded after the close (a reconciliation after a crash), admitted within the window: granted.
    expect(grantClaim(terms, initialClaimState, { memberId: 'm3', orgId: 'gd-gz', seq: 3, admittedAtMs: CLOSES - 1 }).claim).toHaveLength(1);
    claim.given([]).when((state) => grantClaim(terms, state, { memberId: 'm3', orgId: 'gd-gz', seq: 3, admittedAtMs: CLOSES }).claim).thenFails('CLAIM.CLOSED');
  });
});

describe('a campaign whose prize is a mall SKU', () => {
  const shardWith = (available: number): StockState =>
    addStock(initialStockState, { skuId: 'box', shard: 0, restockId: 'r1', quantity: available }).reduce(evolveStock, initialStockState);
  const { programmeId: _programmeId, voucher: _voucher, ...rest } = create;
  const command = { ...rest, units: 5, prize: { skuId: 'box', productId: 'box', name: '春节礼盒', listingOrgId: 'gd' } };
  const shards = [
    { shard: 0, state: shardWith(3) },
    { shard: 1, state: initialStockState },
    { shard: 2, state: shardWith(4) },
  ];
  const terms = { ...command, programmeId: null, voucher: null, prize: { ...command.prize, allotments: [{ shard: 0, quantity: 3 }, { shard: 2, quantity: 2 }] } };
  const createdWithPrize: CampaignEvent = { type: 'ClaimCampaignCreated', data: terms };

  it('reserves its N units on the shards in order, as much as each holds, in the same decision as the campaign', () => {
    const decided = createMallPrizeCampaign(initialCampaignState, shards, command, before);
    expect(decided.campaign).toEqual([createdWithPrize]);
    expect(decided.stock).toEqual([
      { shard: 0, events: [{ type: 'StockReserved', data: { skuId: 'box', shard: 0, orderId: allotmentIdOf('spring-tickets'), quantity: 3 } }] },
      { shard: 2, events: [{ type: 'StockReserved', data: { skuId: 'box', shard: 2, orderId: allotmentIdOf('spring-tickets'), quantity: 2 } }] },
    ]);
  });

  it('refuses more units than the shards hold together, and a second creation under the id with other terms', () => {
    expect(() => createMallPrizeCampaign(initialCampaignState, shards, { ...command, units: 8 }, before)).toThrow(expect.objectContaining({ code: 'MALL.OUT_OF_STOCK', details: { units: 8, available: 7 } }));
    campaign.given([createdWithPrize]).when((state) => createMallPrizeCampaign(state, shards, command, before).campaign).then([]);
    campaign.given([createdWithPrize]).when((state) => createMallPrizeCampaign(state, shards, { ...command, units: 4 }, before).campaign).thenFails('CLAIM.CAMPAIGN_EXISTS');
  });

  it('grants a claim as a paid pickup order of one unit for the member, and no voucher', () => {
    const order = { orderId: 'o-m1', pickupCodeHash: 'hash', pickupCodeSealed: 'sealed' };
    const decided = grantClaim(terms, initialClaimState, { memberId: 'm1', orgId: 'gd-gz', seq: 2, admittedAtMs: OPENS + 5, order });
    expect(decided.claim).toEqual([
      { type: 'ClaimGranted', data: { campaignId: 'spring-tickets', memberId: 'm1', orgId: 'gd-gz', seq: 2, admittedAtMs: OPENS + 5, voucherId: null, orderId: 'o-m1' } },
    ]);
    expect(decided.wallet).toEqual([]);
    expect(decided.order.map((event) => event.type)).toEqual(['OrderPlaced', 'OrderReserved', 'OrderConfirmed', 'OrderSettled']);
    expect(decided.order[0]!.data).toMatchObject({ orderId: 'o-m1', memberId: 'm1', orgId: 'gd-gz', skuId: 'box', quantity: 1, totalPoints: 0, totalFen: 0, fulfilment: 'pickup', pickupCodeHash: 'hash', claim: { campaignId: 'spring-tickets' } });
    expect(() => grantClaim(terms, initialClaimState, { memberId: 'm1', orgId: 'gd-gz', seq: 2, admittedAtMs: OPENS + 5 })).toThrow('invariant violated');
  });

  it('closes once: the granted units sold from the first allotment on, the rest back on sale', () => {
    const reserved = new Map(
      createMallPrizeCampaign(initialCampaignState, shards, command, before).stock.map(({ shard, events }) => [shard, events.reduce(evolveStock, shards.find((candidate) => candidate.shard === shard)!.state)]),
    );
    const after = new Date(CLOSES + CLOSE_AFTER_WINDOW_MS);
    const decided = closeMallPrizeCampaign(campaign.given([createdWithPrize]).state(), reserved, { granted: 4 }, after);
    expect(decided.campaign).toEqual([{ type: 'ClaimCampaignClosed', data: { campaignId: 'spring-tickets', granted: 4, unclaimed: 1, returnedFen: 0 } }]);
    const allotment = allotmentIdOf('spring-tickets');
    expect(decided.stock).toEqual([
      { shard: 0, events: [{ type: 'StockCommitted', data: { skuId: 'box', shard: 0, orderId: allotment, quantity: 3 } }] },
      {
        shard: 2,
        events: [
          { type: 'StockCommitted', data: { skuId: 'box', shard: 2, orderId: allotment, quantity: 1 } },
          { type: 'StockReleased', data: { skuId: 'box', shard: 2, orderId: allotment, quantity: 1 } },
        ],
      },
    ]);
    const settledShard = decided.stock[1]!.events.reduce(evolveStock, reserved.get(2)!);
    expect({ available: settledShard.available, reserved: settledShard.reserved, sold: settledShard.sold }).toEqual({ available: 3, reserved: 0, sold: 1 });
    const closedState = campaign.given([createdWithPrize, ...decided.campaign]).state();
    expect(closeMallPrizeCampaign(closedState, reserved, { granted: 4 }, after)).toEqual({ campaign: [], stock: [] });
    expect(() => closeMallPrizeCampaign(campaign.given([createdWithPrize]).state(), reserved, { granted: 4 }, new Date(CLOSES))).toThrow(expect.objectContaining({ code: 'CLAIM.NOT_CLOSED' }));
  });
});

describe('lotteries', () => {
  const SEED = 'ab'.repeat(32);
  const lotteryTerms = {
    lotteryId: 'new-year-draw',
    orgId: 'gd',
    name: '新春抽奖',
    entryPoints: 50,
    prizes: 2,
    opensAtMs: OPENS,
    closesAtMs: CLOSES,
    losers: 'refund' as const,
    maxEntries: 3,
    programmeId: 'p27',
    voucher,
    commitment: seedCommitment(SEED),
    sealedSeed: '{"sealed":true}',
    createdBy: 'admin-gd',
  };
  const lotteryCreated: LotteryEvent = { type: 'LotteryCreated', data: lotteryTerms };
  const lottery = commandSpec<LotteryState, LotteryEvent>(initialLotteryState, evolveLottery);
  const entry = (memberId: string): LotteryEvent => entered(lotteryTerms, memberId, OPENS + 1);

  it('is created with the commitment only, and reserves the prizes’ vouchers', () => {
    const decided = createLottery(initialLotteryState, fundedProgramme(100_000), lotteryTerms, before);
    expect(decided.lottery).toEqual([lotteryCreated]);
    expect(JSON.stringify(decided.lottery)).not.toContain(SEED);
    expect(decided.programme).toEqual([expect.objectContaining({ type: 'VouchersIssued', data: expect.objectContaining({ count: 2, amountFen: 10_000 }) })]);
    expect(() => createLottery(initialLotteryState, fundedProgramme(100_000), lotteryTerms, new Date(OPENS + 1))).toThrow(expect.objectContaining({ code: 'LOTTERY.WINDOW_INVALID' }));
  });

  it('is created with a points prize touching no budget, and refuses a prize that is both or neither', () => {
    const points = { ...lotteryTerms, programmeId: null, voucher: null, prizePoints: 500 };
    const decided = createLottery(initialLotteryState, initialProgrammeState, points, before);
    expect(decided).toEqual({ lottery: [{ type: 'LotteryCreated', data: points }], programme: [] });
    expect(prizeOf(points)).toEqual({ kind: 'points', points: 500 });
    expect(prizeOf(lotteryTerms)).toEqual({ kind: 'voucher', programmeId: 'p27', voucher });
    expect(() => createLottery(initialLotteryState, fundedProgramme(100_000), { ...lotteryTerms, prizePoints: 500 }, before)).toThrow(expect.objectContaining({ code: 'LOTTERY.PRIZE_INVALID' }));
    expect(() => createLottery(initialLotteryState, initialProgrammeState, { ...lotteryTerms, programmeId: null, voucher: null }, before)).toThrow(expect.objectContaining({ code: 'LOTTERY.PRIZE_INVALID' }));
    expect(() => createLottery(initialLotteryState, initialProgrammeState, { ...points, prizePoints: 0 }, before)).toThrow(expect.objectContaining({ code: 'LOTTERY.PRIZE_INVALID' }));
  });

  it('takes one entry per member within the window, up to its limit', () => {
    const state = lottery.given([lotteryCreated, entry('m1')]).state();
    expect(() => checkEntry(state, 'm2', OPENS - 1)).toThrow(expect.objectContaining({ code: 'LOTTERY.NOT_OPEN' }));
    expect(() => checkEntry(state, 'm2', CLOSES)).toThrow(expect.objectContaining({ code: 'LOTTERY.CLOSED' }));
    expect(() => checkEntry(state, 'm1', OPENS + 2)).toThrow(expect.objectContaining({ code: 'LOTTERY.ALREADY_ENTERED' }));
    const full = lottery.given([lotteryCreated, entry('m1'), entry('m2'), entry('m3')]).state();
    expect(() => checkEntry(full, 'm4', OPENS + 2)).toThrow(expect.objectContaining({ code: 'LOTTERY.FULL' }));
  });

  it('draws after the close with the committed seed only, the winners being the published function of seed and sorted entries', () => {
    const given = [lotteryCreated, entry('m3'), entry('m1'), entry('m2')];
    lottery.given(given).when((state) => drawLottery(state, SEED, new Date(CLOSES - 1))).thenFails('LOTTERY.NOT_CLOSED');
    lottery.given(given).when((state) => drawLottery(state, 'cd'.repeat(32), new Date(CLOSES))).thenFails('LOTTERY.SEED_MISMATCH');
    const [drawn] = lottery.given(given).when((state) => drawLottery(state, SEED, new Date(CLOSES))).then([
      {
        type: 'LotteryDrawn',
        data: expect.objectContaining({ lotteryId: 'new-year-draw', seed: SEED, entryCount: 3, winners: drawWinners(SEED, ['m1', 'm2', 'm3'], 2) }),
      },
    ]);
    // Drawn once: a second reveal decides nothing.
    expect(drawLottery(lottery.given([...given, drawn!]).state(), SEED, new Date(CLOSES))).toEqual([]);
  });

  it('settles winners (posted), losers as the rules say, and late entries (refunded)', () => {
    const given = [lotteryCreated, entry('m1'), entry('m2'), entry('m3')];
    const [drawn] = drawLottery(lottery.given(given).state(), SEED, new Date(CLOSES));
    const state = lottery.given([...given, drawn!, entry('m4')]).state();
    const winners = drawWinners(SEED, ['m1', 'm2', 'm3'], 2);
    for (const memberId of ['m1', 'm2', 'm3']) expect(settlementOf(state, memberId)).toBe(winners.includes(memberId) ? 'won' : 'refunded');
    expect(settlementOf(state, 'm4')).toBe('late');
    // Every prize won: nothing goes back to the budget.
    expect(settleLottery(state, fundedProgramme(100_000))).toEqual({
      lottery: [{ type: 'LotterySettled', data: { lotteryId: 'new-year-draw', won: 2, refunded: 1, spent: 0, late: 1, unawarded: 0, returnedFen: 0 } }],
      programme: [],
    });
    const spending = lottery.given([{ type: 'LotteryCreated', data: { ...lotteryTerms, losers: 'spend' } }, entry('m1'), entry('m2'), entry('m3'), drawn!]).state();
    expect([...spending.entries.keys()].map((memberId) => settlementOf(spending, memberId)).sort()).toEqual(['spent', 'won', 'won']);
  });

  it('returns the vouchers nobody won to the budget that reserved them, with the settlement, once', () => {
    // 2 prizes, 1 entry: 1 voucher (5,000 fen) was reserved for nobody.
    const reserving = createLottery(initialLotteryState, fundedProgramme(100_000), lotteryTerms, before);
    const programme = reserving.programme.reduce(evolveProgramme, fundedProgramme(100_000));
    const given = [lotteryCreated, entry('m1')];
    const [drawn] = drawLottery(lottery.given(given).state(), SEED, new Date(CLOSES));
    const state = lottery.given([...given, drawn!]).state();
    const decided = settleLottery(state, programme);
    expect(decided.lottery).toEqual([{ type: 'LotterySettled', data: { lotteryId: 'new-year-draw', won: 1, refunded: 0, spent: 0, late: 0, unawarded: 1, returnedFen: 5000 } }]);
    expect(decided.programme).toEqual([
      {
        type: 'VoucherValueReturned',
        data: {
          programmeId: 'p27',
          expiries: [{ expiryId: 'unclaimed:lottery:new-year-draw', voucherId: 'lottery:new-year-draw:unclaimed', orgId: 'gd', amountFen: 5000 }],
          amountFen: 5000,
          postings: [{ debit: 'transit:vouchers:lottery:new-year-draw', credit: 'budget:p27:gd', amount: 5000, asset: 'CNY_FEN' }],
        },
      },
    ]);
    const after = decided.programme.reduce(evolveProgramme, programme);
    expect(after.budgets.get('gd')!.balance).toBe(programme.budgets.get('gd')!.balance + 5000);
    // Settled: a second settlement decides nothing, and the programme would not take the same value back twice either.
    const settledState = lottery.given([...given, drawn!, ...decided.lottery]).state();
    expect(settledState).toMatchObject({ status: 'settled', unawarded: { prizes: 1, returnedFen: 5000 } });
    expect(settleLottery(settledState, after)).toEqual({ lottery: [], programme: [] });
    expect(settleLottery(state, after).programme).toEqual([]);
    // No entry at all: both prizes' value goes back.
    const [none] = drawLottery(lottery.given([lotteryCreated]).state(), SEED, new Date(CLOSES));
    const empty = settleLottery(lottery.given([lotteryCreated, none!]).state(), programme);
    expect(empty.lottery[0]!.data).toMatchObject({ won: 0, unawarded: 2, returnedFen: 10_000 });
    expect(empty.programme[0]!.data).toMatchObject({ amountFen: 10_000 });
  });

  it('lapses once its draw deadline has passed undrawn: no draw after, every prize’s value back, once', () => {
    const reserving = createLottery(initialLotteryState, fundedProgramme(100_000), lotteryTerms, before);
    const programme = reserving.programme.reduce(evolveProgramme, fundedProgramme(100_000));
    const given = [lotteryCreated, entry('m1'), entry('m2')];
    const deadline = lapsesAtMs(lotteryTerms);
    lottery.given(given).when((state) => lapseLottery(state, programme, new Date(deadline)).lottery).thenFails('LOTTERY.NOT_OVERDUE');
    const decided = lapseLottery(lottery.given(given).state(), programme, new Date(deadline + 1));
    expect(decided.lottery).toEqual([{ type: 'LotteryLapsed', data: { lotteryId: 'new-year-draw', entryCount: 2, unawarded: 2, returnedFen: 10_000 } }]);
    expect(decided.programme).toEqual([
      expect.objectContaining({
        type: 'VoucherValueReturned',
        data: expect.objectContaining({ amountFen: 10_000, postings: [{ debit: 'transit:vouchers:lottery:new-year-draw', credit: 'budget:p27:gd', amount: 10_000, asset: 'CNY_FEN' }] }),
      }),
    ]);
    const lapsed = lottery.given([...given, ...decided.lottery]).state();
    expect(lapsed).toMatchObject({ status: 'lapsed', unawarded: { prizes: 2, returnedFen: 10_000 } });
    // Once: no second lapse, no draw, no settlement.
    expect(lapseLottery(lapsed, decided.programme.reduce(evolveProgramme, programme), new Date(deadline + 2))).toEqual({ lottery: [], programme: [] });
    expect(() => drawLottery(lapsed, SEED, new Date(deadline + 2))).toThrow(expect.objectContaining({ code: 'LOTTERY.LAPSED' }));
    expect(settleLottery(lapsed, programme)).toEqual({ lottery: [], programme: [] });
    // A drawn lottery never lapses.
    const [drawn] = drawLottery(lottery.given(given).state(), SEED, new Date(CLOSES));
    expect(lapseLottery(lottery.given([...given, drawn!]).state(), programme, new Date(deadline + 1))).toEqual({ lottery: [], programme: [] });
    // A points lottery lapses touching no budget.
    const points = { ...lotteryTerms, programmeId: null, voucher: null, prizePoints: 500 };
    expect(lapseLottery(lottery.given([{ type: 'LotteryCreated', data: points }]).state(), initialProgrammeState, new Date(deadline + 1))).toEqual({
      lottery: [{ type: 'LotteryLapsed', data: { lotteryId: 'new-year-draw', entryCount: 0, unawarded: 2, returnedFen: 0 } }],
      programme: [],
    });
  });

  it('returns, on the programme alone and once, what nobody won in a lottery settled before settlements recorded it', () => {
    const reserving = createLottery(initialLotteryState, fundedProgramme(100_000), lotteryTerms, before);
    const programme = reserving.programme.reduce(evolveProgramme, fundedProgramme(100_000));
    const given = [lotteryCreated, entry('m1')];
    const [drawn] = drawLottery(lottery.given(given).state(), SEED, new Date(CLOSES));
    const older: LotteryEvent = { type: 'LotterySettled', data: { lotteryId: 'new-year-draw', won: 1, refunded: 0, spent: 0, late: 0 } };
    const state = lottery.given([...given, drawn!, older]).state();
    const returned = returnUnawardedOfEarlierSettlement(state, programme);
    expect(returned).toEqual([expect.objectContaining({ type: 'VoucherValueReturned', data: expect.objectContaining({ amountFen: 5000, expiries: [expect.objectContaining({ expiryId: 'unclaimed:lottery:new-year-draw' })] }) })]);
    expect(returnUnawardedOfEarlierSettlement(state, returned.reduce(evolveProgramme, programme))).toEqual([]);
    // A settlement that recorded it, or a lottery not settled, returns nothing here.
    const recorded = settleLottery(lottery.given([...given, drawn!]).state(), programme);
    expect(returnUnawardedOfEarlierSettlement(lottery.given([...given, drawn!, ...recorded.lottery]).state(), recorded.programme.reduce(evolveProgramme, programme))).toEqual([]);
    expect(returnUnawardedOfEarlierSettlement(lottery.given([...given, drawn!]).state(), programme)).toEqual([]);
  });

  it('counts a points prize nobody won without touching any budget, and reads a settlement recorded before the counts were', () => {
    const points = { ...lotteryTerms, programmeId: null, voucher: null, prizePoints: 500 };
    const given: LotteryEvent[] = [{ type: 'LotteryCreated', data: points }, entry('m1')];
    const [drawn] = drawLottery(lottery.given(given).state(), SEED, new Date(CLOSES));
    const decided = settleLottery(lottery.given([...given, drawn!]).state(), initialProgrammeState);
    expect(decided).toEqual({ lottery: [{ type: 'LotterySettled', data: { lotteryId: 'new-year-draw', won: 1, refunded: 0, spent: 0, late: 0, unawarded: 1, returnedFen: 0 } }], programme: [] });
    const older: LotteryEvent = { type: 'LotterySettled', data: { lotteryId: 'new-year-draw', won: 1, refunded: 0, spent: 0, late: 0 } };
    expect(lottery.given([...given, drawn!, older]).state()).toMatchObject({ status: 'settled', unawarded: null });
  });
});
