import { commandSpec } from '../../../test/support/given-when-then';
import { balancesOf, postingsOf } from '../../../test/support/benefits-model';
import { MAX_POSTING_AMOUNT, type Posting } from '../shared';
import {
  MAX_AMOUNT_FEN,
  MAX_PROGRAMME_FEN,
  allocateBudget,
  closeProgramme,
  evolveProgramme,
  fundBudget,
  initialProgrammeState,
  issueVouchers,
  openProgramme,
  reserveDisbursement,
  returnBudget,
  returnVoucherValue,
  type ProgrammeEvent,
  type ProgrammeState,
  type VoucherExpiry,
} from '.';

const programme = commandSpec(initialProgrammeState, evolveProgramme);

/** The 2026 programme of the root union, with children c1 and c2 and c1's child g1. */
const P = 'p26';
const ROOT = 'root';
const parentOf: Record<string, string | null> = { root: null, c1: ROOT, c2: ROOT, g1: 'c1' };
const budget = (orgId: string): string => `budget:${P}:${orgId}`;
const cny = (debit: string, credit: string, amount: number): Posting => ({ debit, credit, amount, asset: 'CNY_FEN' });
const sh = (local: string): Date => new Date(`${local.replace(' ', 'T')}:00+08:00`);

const opened: ProgrammeEvent = { type: 'ProgrammeOpened', data: { programmeId: P, name: '2026 中秋慰问', year: 2026, rootOrgId: ROOT, openedBy: 'admin-1' } };

type Command = (state: ProgrammeState) => ProgrammeEvent[];
const fund = (amountFen: number): Command => (state) => fundBudget(state, { amountFen, source: 'union_funds', reference: 'decision-7', proposalId: `fund-${amountFen}` });
const allocate = (fromOrgId: string, toOrgId: string, amountFen: number): Command => (state) =>
  allocateBudget(state, { fromOrgId, toOrgId, toParentOrgId: parentOf[toOrgId] ?? null, amountFen, proposalId: `alloc-${toOrgId}-${amountFen}` });
const giveBack = (fromOrgId: string, amountFen: number): Command => (state) => returnBudget(state, { fromOrgId, amountFen, proposalId: null });
const issue = (orgId: string, count: number, faceFen: number): Command => (state) => issueVouchers(state, { orgId, campaignId: 'mid-autumn', chunk: 0, count, faceFen });
const close = (local: string): Command => (state) => closeProgramme(state, { now: sh(local) });

/** The events of commands decided one after another: the history a `given` starts from. */
function history(start: ProgrammeEvent[], ...commands: Command[]): ProgrammeEvent[] {
  const events = [...start];
  for (const command of commands) events.push(...command(programme.given(events).state()));
  return events;
}

/** Funded with ¥1,000.00: root keeps ¥500, c1 ¥300 (of which g1 ¥100), c2 ¥200. */
const tree = history([opened], fund(100_000), allocate(ROOT, 'c1', 30_000), allocate(ROOT, 'c2', 20_000), allocate('c1', 'g1', 10_000));

const expiry = (voucherId: string, orgId: string, amountFen: number, n = 1): VoucherExpiry => ({ expiryId: `${voucherId}:${n}`, voucherId, orgId, amountFen });

describe('openProgramme', () => {
  const open: Command = (state) => openProgramme(state, { programmeId: P, name: '2026 中秋慰问', year: 2026, rootOrgId: ROOT, openedBy: 'admin-1' });

  it('opens the programme with an empty root budget', () => {
    const { events, state } = programme.given([]).when(open).result();
    expect(events).toEqual([opened]);
    expect(state).toMatchObject({ status: 'open', year: 2026, rootOrgId: ROOT });
    expect([...state.budgets.values()]).toEqual([expect.objectContaining({ orgId: ROOT, parentOrgId: null, balance: 0 })]);
  });

  it('refuses a second programme with the same id as PROGRAMME.EXISTS', () => {
    programme.given([opened]).when(open).thenFails('PROGRAMME.EXISTS');
  });

  it.each([1999, 2101, 2026.5])('refuses the year %p as PROGRAMME.YEAR_INVALID', (year) => {
    programme
      .given([])
      .when((state) => openProgramme(state, { programmeId: P, name: 'x', year, rootOrgId: ROOT, openedBy: 'admin-1' }))
      .thenFails('PROGRAMME.YEAR_INVALID');
  });
});

describe('fundBudget', () => {
  it('brings money from its source into the root budget', () => {
    programme
      .given([opened])
      .when((state) => fundBudget(state, { amountFen: 100_000, source: 'donation', reference: 'receipt-12', proposalId: 'pr-1' }))
      .then([
        {
          type: 'BudgetFunded',
          data: {
            programmeId: P,
            orgId: ROOT,
            amountFen: 100_000,
            source: 'donation',
            reference: 'receipt-12',
            proposalId: 'pr-1',
            postings: [cny('fund-source:donation', budget(ROOT), 100_000)],
          },
        },
      ]);
  });

  it.each([0, -1, 1.5, Number.NaN, MAX_AMOUNT_FEN + 1])('refuses %p fen as MONEY.AMOUNT_INVALID', (amountFen) => {
    programme.given([opened]).when(fund(amountFen)).thenFails('MONEY.AMOUNT_INVALID');
  });

  it('accepts the largest amount', () => {
    expect(programme.given([opened]).when(fund(MAX_AMOUNT_FEN)).result().state.budgets.get(ROOT)?.balance).toBe(MAX_AMOUNT_FEN);
  });

  it('funds a programme with ¥1,000,000,000.00 in all, refusing more as BUDGET.PROGRAMME_TOO_LARGE', () => {
    const fundAgain = (amountFen: number, n: number): Command => (state) => fundBudget(state, { amountFen, source: 'government', reference: `grant-${n}`, proposalId: `fund-${n}` });
    const full = history([opened], ...Array.from({ length: 10 }, (_, n) => fundAgain(MAX_AMOUNT_FEN, n)));
    expect(programme.given(full).state().budgets.get(ROOT)).toMatchObject({ funded: MAX_PROGRAMME_FEN, balance: 100_000_000_000 });
    programme.given(full).when(fundAgain(1, 10)).thenFails('BUDGET.PROGRAMME_TOO_LARGE', { fundedFen: MAX_PROGRAMME_FEN, requestedFen: 1, maxFen: MAX_PROGRAMME_FEN });
    // Money that left the root does not make room for more.
    const spent = history(full, allocate(ROOT, 'c1', MAX_AMOUNT_FEN));
    programme.given(spent).when(fundAgain(1, 10)).thenFails('BUDGET.PROGRAMME_TOO_LARGE');
    // So every posting of a programme, up to its whole funding, fits the limit of one posting.
    expect(MAX_PROGRAMME_FEN).toBeLessThanOrEqual(MAX_POSTING_AMOUNT);
  });

  it('refuses an unknown programme as PROGRAMME.NOT_FOUND and a closed one as PROGRAMME.CLOSED', () => {
    programme.given([]).when(fund(100)).thenFails('PROGRAMME.NOT_FOUND');
    programme.given(history(tree, close('2027-01-01 00:00'))).when(fund(100)).thenFails('PROGRAMME.CLOSED', { programmeId: P });
  });
});

describe('allocateBudget', () => {
  it('moves money from a union to a direct child union, which gets a budget under its parent', () => {
    const { events, state } = programme.given(history([opened], fund(100_000))).when(allocate(ROOT, 'c1', 30_000)).result();
    expect(events).toEqual([
      {
        type: 'BudgetAllocated',
        data: { programmeId: P, fromOrgId: ROOT, toOrgId: 'c1', amountFen: 30_000, proposalId: 'alloc-c1-30000', postings: [cny(budget(ROOT), budget('c1'), 30_000)] },
      },
    ]);
    expect(state.budgets.get(ROOT)).toMatchObject({ balance: 70_000, funded: 100_000, allocatedOut: 30_000 });
    expect(state.budgets.get('c1')).toMatchObject({ parentOrgId: ROOT, balance: 30_000, received: 30_000 });
  });

  it('allocates down one more level from the child, and again to a union that already has a budget', () => {
    const state = programme.given(history(tree, allocate('c1', 'g1', 5_000))).state();
    expect(state.budgets.get('c1')).toMatchObject({ balance: 15_000, received: 30_000, allocatedOut: 15_000 });
    expect(state.budgets.get('g1')).toMatchObject({ parentOrgId: 'c1', balance: 15_000, received: 15_000 });
  });

  it('refuses a union that is not a direct child as BUDGET.NOT_A_CHILD (a grandchild, a sibling)', () => {
    programme.given(tree).when(allocate(ROOT, 'g1', 100)).thenFails('BUDGET.NOT_A_CHILD', { fromOrgId: ROOT, toOrgId: 'g1' });
    programme.given(tree).when(allocate('c2', 'c1', 100)).thenFails('BUDGET.NOT_A_CHILD');
  });

  it('refuses a union moved in the tree since its budget was allocated as BUDGET.PARENT_CHANGED', () => {
    // g1 now sits under c2 in the union tree, but its budget came from c1.
    const moved: Command = (state) => allocateBudget(state, { fromOrgId: 'c2', toOrgId: 'g1', toParentOrgId: 'c2', amountFen: 100, proposalId: 'alloc-moved' });
    programme.given(tree).when(moved).thenFails('BUDGET.PARENT_CHANGED', { fromOrgId: 'c2', toOrgId: 'g1', budgetParentOrgId: 'c1' });
  });

  it('refuses more than the budget holds as BUDGET.INSUFFICIENT, and takes exactly all of it', () => {
    programme.given(tree).when(allocate('c1', 'g1', 20_001)).thenFails('BUDGET.INSUFFICIENT', { orgId: 'c1', balanceFen: 20_000, requestedFen: 20_001 });
    expect(programme.given(tree).when(allocate('c1', 'g1', 20_000)).result().state.budgets.get('c1')?.balance).toBe(0);
  });

  it('refuses from a union without a budget as BUDGET.NOT_FOUND', () => {
    programme.given(history([opened], fund(100))).when(allocate('c1', 'g1', 1)).thenFails('BUDGET.NOT_FOUND');
  });

  it('refuses on a closed programme as PROGRAMME.CLOSED', () => {
    programme.given(history(tree, close('2027-01-02 09:00'))).when(allocate(ROOT, 'c1', 1)).thenFails('PROGRAMME.CLOSED');
  });
});

describe('returnBudget', () => {
  it('gives unused money back to the union it came from', () => {
    const { events, state } = programme.given(tree).when(giveBack('g1', 4_000)).result();
    expect(events).toEqual([
      { type: 'BudgetReturned', data: { programmeId: P, fromOrgId: 'g1', toOrgId: 'c1', amountFen: 4_000, proposalId: null, postings: [cny(budget('g1'), budget('c1'), 4_000)] } },
    ]);
    expect(state.budgets.get('g1')).toMatchObject({ balance: 6_000, returnedUp: 4_000 });
    expect(state.budgets.get('c1')).toMatchObject({ balance: 24_000, returnedIn: 4_000 });
  });

  it('refuses the root as BUDGET.ROOT_CANNOT_RETURN, more than the balance as BUDGET.INSUFFICIENT', () => {
    programme.given(tree).when(giveBack(ROOT, 1)).thenFails('BUDGET.ROOT_CANNOT_RETURN');
    programme.given(tree).when(giveBack('c2', 20_001)).thenFails('BUDGET.INSUFFICIENT');
    programme.given(tree).when(giveBack('nobody', 1)).thenFails('BUDGET.NOT_FOUND');
  });
});

describe('reserveDisbursement', () => {
  const reserve = (orgId: string, amountsFen: number[]) => (state: ProgrammeState) => reserveDisbursement(state, { orgId, batchId: 'b1', chunk: 3, amountsFen });

  it('sets aside the whole chunk when the budget covers it', () => {
    const state = programme.given(tree).state();
    expect(reserve('c2', [5_000, 5_000, 10_000])(state)).toEqual({
      covered: 3,
      events: [
        {
          type: 'DisbursementReserved',
          data: { programmeId: P, orgId: 'c2', batchId: 'b1', chunk: 3, amountFen: 20_000, postings: [cny(budget('c2'), 'transit:disbursement:b1', 20_000)] },
        },
      ],
    });
    expect(evolveProgramme(state, reserve('c2', [5_000, 5_000, 10_000])(state).events[0]!).budgets.get('c2')).toMatchObject({ balance: 0, disbursed: 20_000 });
  });

  it('covers the longest prefix, never a later member that would still fit', () => {
    const { covered, events } = reserve('c2', [15_000, 6_000, 1_000])(programme.given(tree).state());
    expect(covered).toBe(1);
    expect(events).toEqual([expect.objectContaining({ data: expect.objectContaining({ amountFen: 15_000 }) })]);
  });

  it('reserves nothing when the first member is not covered', () => {
    expect(reserve('c2', [20_001, 1])(programme.given(tree).state())).toEqual({ covered: 0, events: [] });
  });

  it('refuses an invalid amount, a union without a budget, a closed programme', () => {
    expect(() => reserve('c2', [100, 0])(programme.given(tree).state())).toThrow(expect.objectContaining({ code: 'MONEY.AMOUNT_INVALID' }));
    expect(() => reserve('nobody', [100])(programme.given(tree).state())).toThrow(expect.objectContaining({ code: 'BUDGET.NOT_FOUND' }));
    expect(() => reserve('c2', [100])(programme.given(history(tree, close('2027-01-01 00:00'))).state())).toThrow(expect.objectContaining({ code: 'PROGRAMME.CLOSED' }));
  });
});

describe('issueVouchers', () => {
  it("sets aside a chunk's face value, all or nothing", () => {
    programme
      .given(tree)
      .when(issue('g1', 5, 2_000))
      .then([
        {
          type: 'VouchersIssued',
          data: { programmeId: P, orgId: 'g1', campaignId: 'mid-autumn', chunk: 0, count: 5, amountFen: 10_000, postings: [cny(budget('g1'), 'transit:vouchers:mid-autumn', 10_000)] },
        },
      ]);
    programme.given(tree).when(issue('g1', 6, 2_000)).thenFails('BUDGET.INSUFFICIENT', { orgId: 'g1', balanceFen: 10_000, requestedFen: 12_000 });
  });

  it('refuses an invalid face value as MONEY.AMOUNT_INVALID', () => {
    programme.given(tree).when(issue('g1', 1, 0)).thenFails('MONEY.AMOUNT_INVALID');
  });
});

describe('returnVoucherValue', () => {
  const issued = history(tree, issue('g1', 5, 2_000), issue('c2', 2, 1_000));
  const giveBackExpired = (...expiries: VoucherExpiry[]): Command => (state) => returnVoucherValue(state, { expiries });

  it('returns expired value to the budgets that issued the vouchers, one posting per budget', () => {
    const { events, state } = programme
      .given(issued)
      .when(giveBackExpired(expiry('v1', 'g1', 2_000), expiry('v2', 'g1', 500), expiry('v3', 'c2', 1_000)))
      .result();
    expect(events).toEqual([
      {
        type: 'VoucherValueReturned',
        data: {
          programmeId: P,
          expiries: [expiry('v1', 'g1', 2_000), expiry('v2', 'g1', 500), expiry('v3', 'c2', 1_000)],
          amountFen: 3_500,
          postings: [cny('transit:voucher-returns:p26', budget('g1'), 2_500), cny('transit:voucher-returns:p26', budget('c2'), 1_000)],
        },
      },
    ]);
    expect(state.budgets.get('g1')).toMatchObject({ balance: 2_500, vouchersIssued: 10_000, vouchersReturned: 2_500 });
    expect(state.returnedExpiries).toEqual(new Set(['v1:1', 'v2:1', 'v3:1']));
  });

  it('skips an expiry already returned, and one named twice, but returns a later expiry of the same voucher', () => {
    const returned = history(issued, giveBackExpired(expiry('v1', 'g1', 2_000)));
    programme.given(returned).when(giveBackExpired(expiry('v1', 'g1', 2_000))).then([]);
    programme
      .given(returned)
      .when(giveBackExpired(expiry('v1', 'g1', 2_000), expiry('v1', 'g1', 300, 2), expiry('v1', 'g1', 300, 2)))
      .then([
        {
          type: 'VoucherValueReturned',
          data: { programmeId: P, expiries: [expiry('v1', 'g1', 300, 2)], amountFen: 300, postings: [cny('transit:voucher-returns:p26', budget('g1'), 300)] },
        },
      ]);
  });

  it("after the close, returns the value to the root union's own funds and leaves the budgets at zero", () => {
    const { events, state } = programme
      .given(history(issued, close('2027-01-01 00:00')))
      .when(giveBackExpired(expiry('v1', 'g1', 2_000), expiry('v3', 'c2', 1_000)))
      .result();
    expect(events.flatMap(postingsOf)).toEqual([cny('transit:voucher-returns:p26', 'union-funds:root', 2_000), cny('transit:voucher-returns:p26', 'union-funds:root', 1_000)]);
    expect([...state.budgets.values()].map((node) => node.balance)).toEqual([0, 0, 0, 0]);
    expect(state.returnedExpiries.has('v3:1')).toBe(true);
  });

  it('refuses an unknown programme as PROGRAMME.NOT_FOUND', () => {
    programme.given([]).when(giveBackExpired(expiry('v1', 'g1', 1))).thenFails('PROGRAMME.NOT_FOUND');
  });
});

describe('closeProgramme', () => {
  const spent = history(tree, giveBack('g1', 1_000), issue('g1', 2, 2_000), (state) => reserveDisbursement(state, { orgId: 'c2', batchId: 'b1', chunk: 0, amountsFen: [5_000] }).events);

  it("refuses before the programme's year is over in Shanghai as PROGRAMME.YEAR_NOT_OVER", () => {
    programme.given(spent).when(close('2026-12-31 23:59')).thenFails('PROGRAMME.YEAR_NOT_OVER', { year: 2026 });
    // 16:00 UTC on 31 December is already New Year's Day in Shanghai.
    programme.given(spent).when((state) => closeProgramme(state, { now: new Date('2026-12-31T16:00:00Z') })).result();
  });

  it('returns every remainder to the root and the whole remainder to the root union, balanced', () => {
    const { events, state } = programme.given(spent).when(close('2027-01-05 10:00')).result();
    // root 50,000; c1 20,000 + 1,000 returned; c2 20,000 − 5,000; g1 10,000 − 1,000 − 4,000.
    expect(events).toEqual([
      {
        type: 'ProgrammeClosed',
        data: {
          programmeId: P,
          year: 2026,
          returns: [
            { orgId: 'c1', amountFen: 21_000 },
            { orgId: 'c2', amountFen: 15_000 },
            { orgId: 'g1', amountFen: 5_000 },
          ],
          remainderFen: 91_000,
          postings: [
            cny(budget('c1'), budget(ROOT), 21_000),
            cny(budget('c2'), budget(ROOT), 15_000),
            cny(budget('g1'), budget(ROOT), 5_000),
            cny(budget(ROOT), 'union-funds:root', 91_000),
          ],
        },
      },
    ]);
    expect(state.status).toBe('closed');
    const balances = balancesOf([...spent, ...events]);
    for (const orgId of ['root', 'c1', 'c2', 'g1']) expect(balances.get(budget(orgId)) ?? 0).toBe(0);
    expect(balances.get('union-funds:root')).toBe(91_000);
  });

  it("leaves every budget's figures adding up: what came in is what went out, the root's remainder included", () => {
    const state = programme.given(history(spent, close('2027-01-05 10:00'))).state();
    for (const node of state.budgets.values()) {
      expect(node.balance).toBe(0);
      expect(node.funded + node.received + node.returnedIn + node.vouchersReturned).toBe(node.allocatedOut + node.returnedUp + node.disbursed + node.vouchersIssued);
    }
    expect(state.budgets.get(ROOT)).toMatchObject({ returnedIn: 41_000, returnedUp: 91_000 });
  });

  it('closes an empty programme without postings, and refuses a second close as PROGRAMME.CLOSED', () => {
    programme
      .given([opened])
      .when(close('2027-01-01 00:00'))
      .then([{ type: 'ProgrammeClosed', data: { programmeId: P, year: 2026, returns: [], remainderFen: 0, postings: [] } }]);
    programme.given(history(spent, close('2027-01-01 00:00'))).when(close('2027-01-02 00:00')).thenFails('PROGRAMME.CLOSED');
  });

  it('refuses every budget movement after the close as PROGRAMME.CLOSED', () => {
    const closed = history(spent, close('2027-01-01 00:00'));
    for (const command of [fund(1), allocate(ROOT, 'c1', 1), giveBack('c1', 1), issue(ROOT, 1, 1)]) programme.given(closed).when(command).thenFails('PROGRAMME.CLOSED');
  });
});

describe('postings', () => {
  it('every event of a whole programme balances, and the budget accounts equal the budget balances', () => {
    const events = history(
      tree,
      giveBack('g1', 1_000),
      issue('g1', 2, 2_000),
      (state) => returnVoucherValue(state, { expiries: [expiry('v1', 'g1', 1_500)] }),
      close('2027-01-05 10:00'),
    );
    for (const event of events) {
      if (!('postings' in event.data)) continue;
      const own = balancesOf([event]);
      expect([...own.values()].reduce((a, b) => a + b, 0)).toBe(0);
    }
    const state = programme.given(events.slice(0, -1)).state();
    const balances = balancesOf(events.slice(0, -1));
    for (const node of state.budgets.values()) expect(balances.get(budget(node.orgId)) ?? 0).toBe(node.balance);
  });
});
