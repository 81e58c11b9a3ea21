import { checkTrialBalance } from '../../src/projections/ledger';
import { waitForFeedEnd } from '../support/feed';
import { startLedgerApp, testNationalId, type Answer, type LedgerApp } from '../support/ledger-app';
import { testTimeout, waitFor } from '../support/wait-for';

/**
 * The benefits API over HTTP on real PostgreSQL: a programme funded and allocated down the tree
 * (maker-checker), a disbursement into wallets, a merchant admitted, a member paying with a
 * one-time code, refunds, the day's settlement and its payout request; and the races that must
 * not break the money (two disbursements for the last of a budget, two captures of one
 * authorisation, the proposer approving their own proposal).
 */

const DAY_MS = 24 * 3600 * 1000;
let nowMs = Date.parse('2026-09-20T02:00:00Z'); // 10:00 in Shanghai
let app: LedgerApp;
let keyCounter = 0;
const key = (): string => `bk-${(keyCounter += 1)}`;
const system = { type: 'system', id: 'test-setup' };

// Union tree: province hn → city hn-jz → grassroots units u-1, u-2.
const tokens: Record<string, string> = {};
const members: string[] = [];

function expectError(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
}

function expectOk(answer: Answer, status = 200): Record<string, unknown> {
  expect({ status: answer.status, body: answer.status === status ? {} : answer.body }).toEqual({ status, body: {} });
  return answer.body;
}

async function enrolActive(serial: number, orgId: string): Promise<string> {
  const nationalId = testNationalId(serial);
  const idHmac = app.ledger.vault.idHmac(nationalId);
  const memberId = app.ledger.vault.memberIdFor(idHmac);
  const piiCipher = await app.ledger.vault.seal(memberId, { idNumber: nationalId, phone: `1390000${String(serial).padStart(4, '0')}` });
  const name = `会员${serial}`;
  await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId, name, idHmac, piiCipher }, { commandId: `enrol:${serial}`, actor: system });
  await app.ledger.members.execute(memberId, { type: 'ActivateMember', name }, { commandId: `activate:${serial}`, actor: system });
  return memberId;
}

async function catchUp(): Promise<void> {
  await waitForFeedEnd(app.ledger.db);
  await app.ledger.catchUpReadModels();
}

/** Proposes with the admin's token and approves with the finance approver's: the usual two people. */
async function approved(proposal: Record<string, unknown>, approver = tokens.financeRoot!): Promise<Record<string, unknown>> {
  const answer = await app.call('POST', `/v1/admin/proposals/${String(proposal.proposalId)}/approval`, { token: approver, key: key() });
  const body = expectOk(answer);
  expect(body.outcome).toEqual({ status: 'done' });
  return body;
}

async function batchDone(batchId: string): Promise<Record<string, unknown>> {
  let last: Record<string, unknown> = {};
  await waitFor(
    async () => {
      last = expectOk(await app.call('GET', `/v1/admin/batches/${batchId}`, { token: tokens.adminRoot }));
      return last.status === 'completed' || last.status === 'stopped';
    },
    { what: `batch ${batchId} to finish`, seen: () => JSON.stringify(last) },
  );
  return last;
}

async function budgetOf(orgId: string, programmeId = 'mid-autumn-2026'): Promise<Record<string, string>> {
  const tree = expectOk(await app.call('GET', `/v1/admin/programmes/${programmeId}`, { token: tokens.adminRoot }));
  return (tree.budgets as Array<Record<string, string>>).find((node) => node.orgId === orgId)!;
}

beforeAll(async () => {
  app = await startLedgerApp({ clock: () => new Date(nowMs) });
  for (const [orgId, parentId, level] of [
    ['hn', null, 'province'],
    ['hn-jz', 'hn', 'city'],
    ['u-1', 'hn-jz', 'grassroots'],
    ['u-2', 'hn-jz', 'grassroots'],
    ['other', null, 'province'],
  ] as const) {
    await app.ledger.orgs.registerOrganisation({ orgId, name: `Union ${orgId}`, parentId, level }, { commandId: `org:${orgId}`, actor: system });
  }
  for (let serial = 1; serial <= 4; serial += 1) members.push(await enrolActive(serial, serial <= 3 ? 'u-1' : 'u-2'));
  tokens.adminRoot = await app.token('admin-root', 'admin', 'hn');
  tokens.adminRoot2 = await app.token('admin-root-2', 'admin', 'hn');
  tokens.adminCity = await app.token('admin-city', 'admin', 'hn-jz');
  tokens.adminUnit = await app.token('admin-u1', 'admin', 'u-1');
  tokens.financeRoot = await app.token('finance-root', 'finance', 'hn');
  tokens.financeUnit = await app.token('finance-u1', 'finance', 'u-1');
  tokens.financeOther = await app.token('finance-other', 'finance', 'other');
  for (const [index, memberId] of members.entries()) tokens[`m${index + 1}`] = await app.token(memberId, 'member', index < 3 ? 'u-1' : 'u-2');
  await catchUp();
}, testTimeout());
afterAll(async () => {
  await app?.close();
});

describe('budgets down the union tree, with maker-checker', () => {
  it('opens a programme, funds it and allocates it down to a unit only after a second person approves', async () => {
    const opened = expectOk(
      await app.call('POST', '/v1/admin/programmes', {
        token: tokens.adminRoot,
        key: key(),
        body: { programmeId: 'mid-autumn-2026', name: '2026 中秋慰问', year: 2026, rootOrgId: 'hn' },
      }),
      201,
    );
    expect(opened.status).toBe('open');

    const funding = expectOk(
      await app.call('POST', '/v1/admin/programmes/mid-autumn-2026/fundings', {
        token: tokens.adminRoot,
        key: key(),
        body: { amount: '1200.00', source: 'union_funds', reference: '豫工字〔2026〕18号' },
      }),
      201,
    );
    expect(funding).toMatchObject({ kind: 'budget.fund', status: 'pending', amount: '1200.00', proposedBy: { id: 'admin-root' } });
    // Nothing moves until it is approved.
    expect((await budgetOf('hn')).funded).toBe('0.00');

    // The proposer (even with a finance token of their own) and an approver of another province are refused.
    const selfApproval = await app.call('POST', `/v1/admin/proposals/${String(funding.proposalId)}/approval`, {
      token: await app.token('admin-root', 'finance', 'hn'),
      key: key(),
    });
    expectError(selfApproval, 403, 'PROPOSAL.SELF_APPROVAL');
    expectError(await app.call('POST', `/v1/admin/proposals/${String(funding.proposalId)}/approval`, { token: tokens.financeOther, key: key() }), 404, 'PROPOSAL.NOT_FOUND');
    expectError(await app.call('POST', `/v1/admin/proposals/${String(funding.proposalId)}/approval`, { token: tokens.financeUnit, key: key() }), 404, 'PROPOSAL.NOT_FOUND');
    expectError(await app.call('POST', `/v1/admin/proposals/${String(funding.proposalId)}/approval`, { token: tokens.adminRoot2, key: key() }), 403, 'AUTH.FORBIDDEN');

    const decided = await approved(funding);
    expect(decided).toMatchObject({ status: 'approved', approvedBy: { id: 'finance-root' }, proposedBy: { id: 'admin-root' } });
    expect((await budgetOf('hn')).remaining).toBe('1200.00');

    // Down the tree: province → city → unit, each a proposal.
    const toCity = expectOk(
      await app.call('POST', '/v1/admin/programmes/mid-autumn-2026/allocations', { token: tokens.adminRoot, key: key(), body: { fromOrgId: 'hn', toOrgId: 'hn-jz', amount: '1000.00' } }),
      201,
    );
    await approved(toCity);
    // Skipping a level is refused when proposed.
    expectError(
      await app.call('POST', '/v1/admin/programmes/mid-autumn-2026/allocations', { token: tokens.adminRoot, key: key(), body: { fromOrgId: 'hn', toOrgId: 'u-1', amount: '1.00' } }),
      422,
      'BUDGET.NOT_A_CHILD',
    );
    const toUnit = expectOk(
      await app.call('POST', '/v1/admin/programmes/mid-autumn-2026/allocations', { token: tokens.adminCity, key: key(), body: { fromOrgId: 'hn-jz', toOrgId: 'u-1', amount: '600.00' } }),
      201,
    );
    // A city admin cannot allocate the province's money.
    expectError(
      await app.call('POST', '/v1/admin/programmes/mid-autumn-2026/allocations', { token: tokens.adminCity, key: key(), body: { fromOrgId: 'hn', toOrgId: 'hn-jz', amount: '1.00' } }),
      403,
      'ORG.FORBIDDEN',
    );
    await approved(toUnit);

    expect(await budgetOf('hn')).toMatchObject({ funded: '1200.00', allocated: '1000.00', remaining: '200.00' });
    expect(await budgetOf('hn-jz')).toMatchObject({ received: '1000.00', allocated: '600.00', remaining: '400.00' });
    expect(await budgetOf('u-1')).toMatchObject({ received: '600.00', remaining: '600.00' });

    // The unit admin sees only their own budget; the city admin the city and below.
    const unitView = expectOk(await app.call('GET', '/v1/admin/programmes/mid-autumn-2026', { token: tokens.adminUnit }));
    expect((unitView.budgets as Array<{ orgId: string }>).map((node) => node.orgId)).toEqual(['u-1']);
    const cityView = expectOk(await app.call('GET', '/v1/admin/programmes/mid-autumn-2026', { token: tokens.adminCity }));
    expect((cityView.budgets as Array<{ orgId: string }>).map((node) => node.orgId).sort()).toEqual(['hn-jz', 'u-1']);
  });

  it('refuses an allocation that the budget no longer covers when it is approved, and records why', async () => {
    const first = expectOk(
      await app.call('POST', '/v1/admin/programmes/mid-autumn-2026/allocations', { token: tokens.adminCity, key: key(), body: { fromOrgId: 'hn-jz', toOrgId: 'u-2', amount: '300.00' } }),
      201,
    );
    const second = expectOk(
      await app.call('POST', '/v1/admin/programmes/mid-autumn-2026/allocations', { token: tokens.adminCity, key: key(), body: { fromOrgId: 'hn-jz', toOrgId: 'u-2', amount: '300.00' } }),
      201,
    );
    await approved(first);
    const late = expectOk(await app.call('POST', `/v1/admin/proposals/${String(second.proposalId)}/approval`, { token: tokens.financeRoot, key: key() }));
    expect(late.outcome).toMatchObject({ status: 'refused', code: 'BUDGET.INSUFFICIENT' });
    expect(await budgetOf('hn-jz')).toMatchObject({ remaining: '100.00' });

    // Rejected with a reason; a decided proposal cannot be decided again.
    const third = expectOk(
      await app.call('POST', '/v1/admin/programmes/mid-autumn-2026/allocations', { token: tokens.adminCity, key: key(), body: { fromOrgId: 'hn-jz', toOrgId: 'u-2', amount: '50.00' } }),
      201,
    );
    const rejected = expectOk(await app.call('POST', `/v1/admin/proposals/${String(third.proposalId)}/rejection`, { token: tokens.financeRoot, key: key(), body: { reason: '预算已调整' } }));
    expect(rejected.status).toBe('rejected');
    expectError(await app.call('POST', `/v1/admin/proposals/${String(third.proposalId)}/approval`, { token: tokens.financeRoot, key: key() }), 409, 'PROPOSAL.NOT_PENDING');

    await catchUp();
    const inbox = expectOk(await app.call('GET', '/v1/admin/proposals?status=rejected', { token: tokens.adminCity }));
    expect((inbox.proposals as Array<Record<string, unknown>>).map((row) => row.proposalId ?? row.proposal_id)).toContain(third.proposalId);
  });
});

let merchantToken: string;

describe('wallets, merchants and payments', () => {
  it('disburses to every active member of a unit, idempotently, with per-member results', async () => {
    const drafted = expectOk(
      await app.call('POST', '/v1/admin/batches', {
        token: tokens.adminUnit,
        key: key(),
        body: { batchId: 'moon-cakes', kind: 'money', programmeId: 'mid-autumn-2026', orgId: 'u-1', amount: '200.00' },
      }),
      201,
    );
    expect(drafted.batch).toMatchObject({ status: 'sealed', memberCount: 3, total: '600.00' });
    await approved(drafted.proposal as Record<string, unknown>);
    expect(await batchDone('moon-cakes')).toMatchObject({ status: 'completed', paidCount: 3, paid: '600.00' });
    // Running the batch again (a second process, a restart) and approving again pay nobody twice.
    await Promise.all([app.ledger.benefits.runner.run('moon-cakes'), app.ledger.benefits.sweep()]);
    expectError(await app.call('POST', `/v1/admin/proposals/${String((drafted.proposal as Record<string, unknown>).proposalId)}/approval`, { token: tokens.financeRoot, key: key() }), 409, 'PROPOSAL.NOT_PENDING');
    const wallet = expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens.m1 }));
    expect(wallet).toMatchObject({ available: '200.00', held: '0.00' });
    expect(await budgetOf('u-1')).toMatchObject({ disbursed: '600.00', remaining: '0.00' });

    await catchUp();
    const results = expectOk(await app.call('GET', '/v1/admin/batches/moon-cakes/results', { token: tokens.adminUnit }));
    expect((results.results as Array<Record<string, unknown>>).map((row) => row.result)).toEqual(['paid', 'paid', 'paid']);
  });

  it('shares a total among a unit’s members without creating or losing a fen', async () => {
    const drafted = expectOk(
      await app.call('POST', '/v1/admin/batches', {
        token: tokens.adminUnit,
        key: key(),
        body: { batchId: 'shared-100', kind: 'money', programmeId: 'mid-autumn-2026', orgId: 'u-1', total: '100.00' },
      }),
      201,
    );
    expect(drafted.batch).toMatchObject({ memberCount: 3, total: '100.00' });
    await catchUp();
    const results = expectOk(await app.call('GET', '/v1/admin/batches/shared-100/results', { token: tokens.adminUnit }));
    expect((results.results as Array<Record<string, unknown>>).map((row) => row.amount)).toEqual(['33.34', '33.33', '33.33']);
    const rejected = await app.call('POST', `/v1/admin/proposals/${String((drafted.proposal as Record<string, unknown>).proposalId)}/rejection`, {
      token: tokens.financeUnit,
      key: key(),
      body: { reason: 'only a test of the split' },
    });
    expectOk(rejected);
    expect(expectOk(await app.call('GET', '/v1/admin/batches/shared-100', { token: tokens.adminUnit })).status).toBe('cancelled');
  });

  it('binds a bank card, shown masked, never stored in plaintext', async () => {
    const card = '6222021234567890128';
    const wallet = expectOk(await app.call('PUT', '/v1/me/wallet/card', { token: tokens.m1, key: key(), body: { cardNumber: card } }));
    expect(wallet.card).toBe('6222 **** **** 0128');
    expectError(await app.call('PUT', '/v1/me/wallet/card', { token: tokens.m1, key: key(), body: { cardNumber: '6222021234567890127' } }), 400, 'BANK_CARD.INVALID');
    const stored = await app.ledger.db.one<{ count: number }>(`SELECT count(*)::int AS count FROM ul_events WHERE data::text LIKE '%' || $1 || '%'`, [card]);
    expect(stored.count).toBe(0);
  });

  it('admits a merchant through a proposal; its terminal takes a payment with a one-time code, captures less, refunds', async () => {
    const applied = expectOk(
      await app.call('POST', '/v1/admin/merchants', {
        token: tokens.adminUnit,
        key: key(),
        body: { merchantId: 'dennis-jz', name: '丹尼斯焦作店', category: 'supermarket', signingOrgId: 'u-1', bankCard: '6222 0212 3456 7890 128' },
      }),
      201,
    );
    expect(applied.merchant).toMatchObject({ status: 'applied', bankCard: '6222 **** **** 0128' });
    await approved(applied.proposal as Record<string, unknown>, tokens.financeUnit);
    merchantToken = await app.token('terminal-1', 'merchant', 'dennis-jz');

    const code = expectOk(await app.call('POST', '/v1/me/payment-codes', { token: tokens.m1, key: key() }), 201);
    expect(code.paymentCode).toMatch(/^\d{18}$/);
    const paymentKey = key();
    const authorised = expectOk(await app.call('POST', '/v1/merchant/payments', { token: merchantToken, key: paymentKey, body: { paymentCode: code.paymentCode, amount: '80.00' } }), 201);
    expect(authorised).toMatchObject({ status: 'authorised', amount: '80.00', fromWallet: '80.00' });
    // The same request again answers the same payment; the code cannot pay twice.
    const again = await app.call('POST', '/v1/merchant/payments', { token: merchantToken, key: paymentKey, body: { paymentCode: code.paymentCode, amount: '80.00' } });
    expect(again.body.paymentId).toBe(authorised.paymentId);
    expectError(await app.call('POST', '/v1/merchant/payments', { token: merchantToken, key: key(), body: { paymentCode: code.paymentCode, amount: '1.00' } }), 422, 'PAYMENT_CODE.INVALID');
    expect(expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens.m1 }))).toMatchObject({ available: '120.00', held: '80.00' });

    const paymentId = String(authorised.paymentId);
    expectError(await app.call('POST', `/v1/merchant/payments/${paymentId}/capture`, { token: merchantToken, key: key(), body: { amount: '80.01' } }), 422, 'PAYMENT.CAPTURE_EXCEEDS_AUTHORISATION');
    const captured = expectOk(await app.call('POST', `/v1/merchant/payments/${paymentId}/capture`, { token: merchantToken, key: key(), body: { amount: '75.50' } }));
    expect(captured).toMatchObject({ status: 'captured', captured: '75.50' });
    expect(expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens.m1 }))).toMatchObject({ available: '124.50', held: '0.00' });

    const refund = expectOk(await app.call('POST', `/v1/merchant/payments/${paymentId}/refunds`, { token: merchantToken, key: key(), body: { amount: '10.00' } }), 201);
    expect(refund.payment).toMatchObject({ refunded: '10.00' });
    expectError(await app.call('POST', `/v1/merchant/payments/${paymentId}/refunds`, { token: merchantToken, key: key(), body: { amount: '65.51' } }), 422, 'REFUND.EXCEEDS_CAPTURE');

    // Another merchant's terminal does not even see the payment.
    const stranger = await app.token('terminal-x', 'merchant', 'someone-else');
    expectError(await app.call('POST', `/v1/merchant/payments/${paymentId}/refunds`, { token: stranger, key: key(), body: { amount: '1.00' } }), 404, 'PAYMENT.NOT_FOUND');
  });

  it('lets two captures of one authorisation race: exactly one wins, nothing is charged twice', async () => {
    const code = expectOk(await app.call('POST', '/v1/me/payment-codes', { token: tokens.m2, key: key() }), 201);
    const authorised = expectOk(await app.call('POST', '/v1/merchant/payments', { token: merchantToken, key: key(), body: { paymentCode: code.paymentCode, amount: '50.00' } }), 201);
    const captures = await Promise.all(
      [0, 1, 2, 3].map(() => app.call('POST', `/v1/merchant/payments/${String(authorised.paymentId)}/capture`, { token: merchantToken, key: key(), body: { amount: '50.00' } })),
    );
    expect(captures.filter((answer) => answer.status === 200)).toHaveLength(1);
    for (const answer of captures.filter((candidate) => candidate.status !== 200)) expectError(answer, 409, 'PAYMENT.NOT_AUTHORISED');
    expect(expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens.m2 }))).toMatchObject({ available: '150.00', held: '0.00' });
  });

  it('voids an authorisation, and an authorisation nobody captures expires', async () => {
    const code = expectOk(await app.call('POST', '/v1/me/payment-codes', { token: tokens.m3, key: key() }), 201);
    const authorised = expectOk(await app.call('POST', '/v1/merchant/payments', { token: merchantToken, key: key(), body: { paymentCode: code.paymentCode, amount: '30.00' } }), 201);
    const voided = expectOk(await app.call('POST', `/v1/merchant/payments/${String(authorised.paymentId)}/void`, { token: merchantToken, key: key() }));
    expect(voided.status).toBe('voided');

    const lapsing = expectOk(await app.call('POST', '/v1/me/payment-codes', { token: tokens.m3, key: key() }), 201);
    const held = expectOk(await app.call('POST', '/v1/merchant/payments', { token: merchantToken, key: key(), body: { paymentCode: lapsing.paymentCode, amount: '20.00' } }), 201);
    expect(expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens.m3 }))).toMatchObject({ available: '180.00', held: '20.00' });
    nowMs += 16 * 60 * 1000; // past the 15-minute authorisation
    expect(expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens.m3 }))).toMatchObject({ available: '200.00', held: '0.00' });
    expectError(await app.call('POST', `/v1/merchant/payments/${String(held.paymentId)}/capture`, { token: merchantToken, key: key(), body: { amount: '20.00' } }), 409, 'PAYMENT.NOT_AUTHORISED');
    expect(expectOk(await app.call('GET', `/v1/merchant/payments/${String(held.paymentId)}`, { token: merchantToken })).status).toBe('expired');
    expectError(await app.call('POST', '/v1/merchant/payments', { token: merchantToken, key: key(), body: { paymentCode: '280000000000000000', amount: '1.00' } }), 422, 'PAYMENT_CODE.INVALID');
    expectError(await app.call('POST', '/v1/merchant/payments', { token: merchantToken, key: key(), body: { paymentCode: code.paymentCode, amount: '1.00' } }), 422, 'PAYMENT_CODE.INVALID');
    expect(expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens.m3 }))).toMatchObject({ available: '200.00', held: '0.00' });
  });

  it('suspends the merchant through a proposal: no new payments, refunds still work', async () => {
    const proposal = expectOk(await app.call('POST', '/v1/admin/merchants/dennis-jz/suspension', { token: tokens.adminUnit, key: key(), body: { reason: '投诉累计 5 次' } }), 201);
    await approved(proposal, tokens.financeUnit);
    const code = expectOk(await app.call('POST', '/v1/me/payment-codes', { token: tokens.m3, key: key() }), 201);
    expectError(await app.call('POST', '/v1/merchant/payments', { token: merchantToken, key: key(), body: { paymentCode: code.paymentCode, amount: '1.00' } }), 403, 'MERCHANT.SUSPENDED');
    expect(expectOk(await app.call('POST', '/v1/admin/merchants/dennis-jz/reinstatement', { token: tokens.adminUnit, key: key() })).status).toBe('admitted');
  });

  it('closes the business day into a settlement that requests a payout of captures minus refunds', async () => {
    expectError(await app.call('POST', '/v1/admin/merchants/dennis-jz/settlements', { token: tokens.adminUnit, key: key(), body: { day: '2026-09-21' } }), 409, 'SETTLEMENT.DAY_IN_FUTURE');
    nowMs += DAY_MS;
    await catchUp();
    const settled = expectOk(await app.call('POST', '/v1/admin/merchants/dennis-jz/settlements', { token: tokens.adminUnit, key: key(), body: { day: '2026-09-20' } }), 201);
    // 75.50 + 50.00 captured, 10.00 refunded.
    expect(settled.settlement).toMatchObject({ day: '2026-09-20', capture: '125.50', refund: '10.00', net: '115.50' });
    expect(settled.payout).toMatchObject({ amount: '115.50', cardMasked: '6222 **** **** 0128' });
    expect(JSON.stringify(settled)).not.toContain('cardHmac');
    expectError(await app.call('POST', '/v1/admin/merchants/dennis-jz/settlements', { token: tokens.adminUnit, key: key(), body: { day: '2026-09-20' } }), 409, 'SETTLEMENT.DAY_SETTLED');
  });
});

describe('races for the last of a budget', () => {
  it('lets two disbursements race for what is left: the budget is never exceeded', async () => {
    // u-2 holds 300.00; two batches of 200.00 each for its one member and two batches in parallel.
    const draft = async (batchId: string) =>
      expectOk(
        await app.call('POST', '/v1/admin/batches', {
          token: tokens.adminCity,
          key: key(),
          body: { batchId, kind: 'money', programmeId: 'mid-autumn-2026', orgId: 'u-2', members: [{ memberId: members[3]!, amount: '200.00' }] },
        }),
        201,
      );
    const [a, b] = [await draft('race-a'), await draft('race-b')];
    await Promise.all([approved(a.proposal as Record<string, unknown>), approved(b.proposal as Record<string, unknown>)]);
    const [doneA, doneB] = [await batchDone('race-a'), await batchDone('race-b')];
    expect([doneA.paidCount, doneB.paidCount].sort()).toEqual([0, 1]);
    expect(await budgetOf('u-2')).toMatchObject({ disbursed: '200.00', remaining: '100.00' });
    expect(expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens.m4 }))).toMatchObject({ available: '200.00' });
  });

  it('spends vouchers before the wallet, and returns what expired to the budget that issued it exactly once', async () => {
    const campaign = async (batchId: string, faceValue: string, validForMs: number) => {
      const drafted = expectOk(
        await app.call('POST', '/v1/admin/batches', {
          token: tokens.adminCity,
          key: key(),
          body: {
            batchId,
            kind: 'vouchers',
            programmeId: 'mid-autumn-2026',
            orgId: 'u-2',
            voucher: { category: 'supermarket', faceValue, validFrom: new Date(nowMs - 1000).toISOString(), validUntil: new Date(nowMs + validForMs).toISOString() },
          },
        }),
        201,
      );
      await approved(drafted.proposal as Record<string, unknown>);
      expect(await batchDone(batchId)).toMatchObject({ status: 'completed', paidCount: 1 });
    };
    await campaign('vouchers-long', '30.00', 7 * DAY_MS);
    await campaign('vouchers-short', '20.00', 3600_000);
    expect(await budgetOf('u-2')).toMatchObject({ vouchersIssued: '50.00', remaining: '50.00' });

    const code = expectOk(await app.call('POST', '/v1/me/payment-codes', { token: tokens.m4, key: key() }), 201);
    const authorised = expectOk(await app.call('POST', '/v1/merchant/payments', { token: merchantToken, key: key(), body: { paymentCode: code.paymentCode, amount: '40.00' } }), 201);
    // The voucher that expires first goes first: 20.00 short, 20.00 of the long one, nothing from the wallet.
    expect(authorised).toMatchObject({ fromWallet: '0.00', fromVouchers: [{ amount: '20.00' }, { amount: '20.00' }] });
    expectOk(await app.call('POST', `/v1/merchant/payments/${String(authorised.paymentId)}/void`, { token: merchantToken, key: key() }));

    nowMs += 2 * 3600_000; // the short voucher lapses unspent
    for (let round = 0; round < 3; round += 1) {
      await app.ledger.benefits.sweep();
      await catchUp();
    }
    expect(await budgetOf('u-2')).toMatchObject({ vouchersReturned: '20.00', remaining: '70.00' });
    const wallet = expectOk(await app.call('GET', '/v1/me/wallet', { token: tokens.m4 }));
    expect(wallet).toMatchObject({ available: '200.00', voucherAvailable: '30.00' });
  });

  it('refunds at a suspended merchant, which takes no new payment', async () => {
    const code = expectOk(await app.call('POST', '/v1/me/payment-codes', { token: tokens.m4, key: key() }), 201);
    const paid = expectOk(await app.call('POST', '/v1/merchant/payments', { token: merchantToken, key: key(), body: { paymentCode: code.paymentCode, amount: '5.00' } }), 201);
    expectOk(await app.call('POST', `/v1/merchant/payments/${String(paid.paymentId)}/capture`, { token: merchantToken, key: key(), body: { amount: '5.00' } }));
    const proposal = expectOk(await app.call('POST', '/v1/admin/merchants/dennis-jz/suspension', { token: tokens.adminUnit, key: key(), body: { reason: '复查' } }), 201);
    await approved(proposal, tokens.financeUnit);
    const refund = expectOk(await app.call('POST', `/v1/merchant/payments/${String(paid.paymentId)}/refunds`, { token: merchantToken, key: key(), body: { amount: '5.00' } }), 201);
    expect(refund.payment).toMatchObject({ refunded: '5.00' });
    expect(expectOk(await app.call('POST', '/v1/admin/merchants/dennis-jz/reinstatement', { token: tokens.adminUnit, key: key() })).status).toBe('admitted');
  });

  it('drafts a batch from a CSV of per-member amounts, and refuses a file with a bad row whole', async () => {
    const upload = (batchId: string, csv: string) =>
      fetch(`${app.url}/v1/admin/batches/csv?batchId=${batchId}&programmeId=mid-autumn-2026&orgId=u-1`, {
        method: 'POST',
        headers: { authorization: `Bearer ${tokens.adminUnit!}`, 'idempotency-key': key(), 'content-type': 'text/csv' },
        body: csv,
      }).then(async (response) => ({ status: response.status, body: (await response.json()) as Record<string, unknown> }));
    const good = await upload('csv-ok', `member_id,amount\n${members[0]!},12.50\n${members[1]!},0.01\n`);
    expect({ status: good.status, batch: good.body.batch }).toMatchObject({ status: 201, batch: { status: 'sealed', memberCount: 2, total: '12.51' } });
    const bad = await upload('csv-bad', `member_id,amount\n${members[0]!},12.505\n${members[3]!},1.00\n`);
    expect({ status: bad.status, code: bad.body.code }).toEqual({ status: 422, code: 'BATCH.CSV_INVALID' });
  });

  it('keeps the ledger balanced: trial balance zero per asset, nothing negative at any position', async () => {
    await catchUp();
    const report = await checkTrialBalance(app.ledger.db);
    expect({ ok: report.ok, negative: report.negativeAccounts, mismatches: report.journalMismatches }).toEqual({ ok: true, negative: [], mismatches: [] });
    expect(report.assets.map((asset) => asset.asset)).toContain('CNY_FEN');
  });
});

describe('pages of the lists', () => {
  /** Follows a list with pages of one row: every nextCursor is taken back, and no row comes twice. */
  async function walk(route: string, token: string, list: string, cursorParameter: string): Promise<number> {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 50; page += 1) {
      const separator = route.includes('?') ? '&' : '?';
      const body = expectOk(await app.call('GET', `${route}${separator}limit=1${cursor === null ? '' : `&${cursorParameter}=${encodeURIComponent(cursor)}`}`, { token }));
      seen.push(...(body[list] as unknown[]).map((row) => JSON.stringify(row)));
      cursor = body.nextCursor as string | null;
      if (cursor === null) break;
    }
    expect(new Set(seen).size).toBe(seen.length);
    return seen.length;
  }

  it('takes back the nextCursor each list answers, and refuses with 400 (never 500) a page larger than its read model serves or a cursor of another kind', async () => {
    await catchUp();
    expect(await walk('/v1/admin/proposals', tokens.adminRoot!, 'proposals', 'before')).toBeGreaterThan(2);
    expect(await walk('/v1/admin/merchants', tokens.adminRoot!, 'merchants', 'after')).toBe(1);
    expect(await walk('/v1/admin/merchants/dennis-jz/ledger', tokens.adminUnit!, 'lines', 'before')).toBeGreaterThan(2);
    expect(await walk('/v1/me/wallet/statement', tokens.m1!, 'entries', 'before')).toBeGreaterThan(2);
    // Settlements page by day (their cursor is the last one's day).
    expect(await walk('/v1/admin/merchants/dennis-jz/settlements', tokens.adminUnit!, 'settlements', 'before')).toBe(1);
    expect((expectOk(await app.call('GET', '/v1/admin/merchants/dennis-jz/settlements?before=2026-09-21', { token: tokens.adminUnit })).settlements as unknown[]).length).toBe(1);
    expect((expectOk(await app.call('GET', '/v1/merchant/settlements?before=2026-09-20', { token: merchantToken })).settlements as unknown[]).length).toBe(0);

    for (const [route, token] of [
      ['/v1/admin/proposals?limit=101', tokens.adminRoot],
      ['/v1/admin/proposals?before=abc', tokens.adminRoot],
      ['/v1/admin/proposals?before=99999999999999999999', tokens.adminRoot],
      ['/v1/admin/merchants?limit=101', tokens.adminRoot],
      ['/v1/admin/merchants/dennis-jz/ledger?limit=101', tokens.adminUnit],
      ['/v1/admin/merchants/dennis-jz/settlements?limit=101', tokens.adminUnit],
      ['/v1/admin/merchants/dennis-jz/settlements?before=20260920', tokens.adminUnit],
      ['/v1/me/wallet/statement?limit=101', tokens.m1],
      ['/v1/me/wallet/statement?before=9999999999999999999', tokens.m1],
      ['/v1/admin/batches/moon-cakes/results?limit=1001', tokens.adminUnit],
    ] as const) {
      const answer = await app.call('GET', route, { token });
      expect({ route, status: answer.status, code: answer.body.code }).toEqual({ route, status: 400, code: 'VALIDATION.FAILED' });
    }
    expectError(await app.call('POST', '/v1/admin/merchants/dennis-jz/settlements', { token: tokens.adminUnit, key: key(), body: { day: '2026-09-99' } }), 400, 'VALIDATION.FAILED');
  });
});
