import { randomBytes } from 'node:crypto';
import { tokenService } from '../../src/composition-root';
import type { Role } from '../../src/api/common/auth';
import type { Caller } from '../../src/application/benefits';
import { activateThroughWeChat, startLedgerApp, testNationalId, type Answer, type LedgerApp } from '../support/ledger-app';
import { testTimeout, waitFor } from '../support/wait-for';

/**
 * The authorisation matrix, generated from the route table: every route of the OpenAPI document
 * × every role × a token inside or outside the subtree, and a missing, expired or foreign token,
 * each with the status it must get. The expectations are written here by hand, one line per
 * route, and the route table must match them exactly: a new route without a line fails the test.
 */

const ROLES: Role[] = ['member', 'visitor', 'admin', 'finance', 'auditor', 'merchant'];

type Who = Role[] | 'public';

interface Expectation {
  who: Who;
  /**
   * A request by a caller of the right role but of another subtree (another merchant, for a
   * merchant terminal) that must be refused: 403 ORG.FORBIDDEN, or `refusal` where the route
   * hides that the record exists (the benefits context answers 404 for a programme, batch,
   * proposal, merchant or payment outside the caller's scope). `csv` sends that text as text/csv.
   */
  outside?: { as: Role; body?: unknown; path?: string; csv?: string; refusal?: { status: number; code: string } };
}

/** The weekly report of campaign camp-1 the fixtures make: next Monday's (a report id is only a label for its week). */
const MATRIX_REPORT = ((): string => {
  const shanghai = new Date(Date.now() + 8 * 3600_000);
  const daysToMonday = (8 - shanghai.getUTCDay()) % 7 || 7;
  return new Date(shanghai.getTime() + daysToMonday * 86_400_000).toISOString().slice(0, 10);
})();

/** The benefits context hides records outside the caller's scope: not found, not forbidden. */
const hidden = (code: string) => ({ status: 404, code });

const EXPECTED: Record<string, Expectation> = {
  'GET /health': { who: 'public' },
  // Prometheus scrapes with METRICS_TOKEN instead (test/api/metrics.api.spec.ts); user tokens: admins and auditors.
  'GET /metrics': { who: ['admin', 'auditor'] },
  'POST /v1/sessions/wechat': { who: 'public' },
  'POST /v1/sessions/refresh': { who: 'public' },
  'POST /v1/sessions/password': { who: 'public' },
  'DELETE /v1/sessions': { who: ['member', 'visitor', 'admin', 'finance', 'auditor', 'merchant'] },
  'POST /v1/activation/start': { who: ['visitor'] },
  'POST /v1/activation/confirm': { who: ['visitor'] },
  'POST /v1/me/check-ins': { who: ['member'] },
  'POST /v1/me/quiz-answers': { who: ['member'] },
  'POST /v1/me/article-reads': { who: ['member'] },
  'POST /v1/me/comments': { who: ['member'] },
  'POST /v1/me/evaluations': { who: ['member'] },
  'GET /v1/me/evaluations': { who: ['member'] },
  'POST /v1/me/activities': { who: ['member'] },
  'POST /v1/me/holds': { who: ['member'] },
  'POST /v1/me/holds/{holdId}/post': { who: ['member'] },
  'POST /v1/me/holds/{holdId}/void': { who: ['member'] },
  'POST /v1/me/spends': { who: ['member'] },
  'GET /v1/me/balance': { who: ['member'] },
  'GET /v1/me/statement': { who: ['member'] },
  'GET /v1/me/insurance': { who: ['member'] },
  'GET /v1/me/rank': { who: ['member'], outside: { as: 'member', path: '/v1/me/rank?orgId=u-2' } },
  'GET /v1/leaderboards/{orgId}': { who: ['member', 'admin', 'finance', 'auditor'], outside: { as: 'admin' } },
  'GET /v1/admin/earning-rules': { who: ['admin', 'auditor'] },
  'PUT /v1/admin/earning-rules': { who: ['admin'] },
  'POST /v1/admin/quizzes': { who: ['admin'], outside: { as: 'admin', body: { quizId: 'q-out', question: '?', options: ['A', 'B'], correctAnswer: 'A', orgId: 'u-1' } } },
  'GET /v1/admin/projections': { who: ['admin', 'auditor'] },
  // Dead letters span the whole ledger: admins of a root union only (an admin below one: test/api/insurance.api.spec.ts).
  'GET /v1/admin/jobs/failed': { who: ['admin'] },
  'POST /v1/admin/jobs/{queue}/{jobId}/retry': { who: ['admin'] },
  // The queue dashboard's session cookie, like the dead letters for admins of a root union only (test/api/queue-dashboard.api.spec.ts).
  'POST /v1/admin/dashboard/session': { who: ['admin'] },
  'DELETE /v1/admin/dashboard/session': { who: ['admin'] },
  'POST /v1/admin/imports/orgs': { who: ['admin'] },
  'POST /v1/admin/imports/members': { who: ['admin'] },
  // An import of another subtree is not found (IMPORT.NOT_FOUND): test/api/roster-imports.api.spec.ts.
  'GET /v1/admin/imports/{importId}': { who: ['admin'] },
  'POST /v1/admin/accounts': { who: ['admin'] },
  'POST /v1/admin/members/{memberId}/login': { who: ['admin'], outside: { as: 'admin', body: { loginKey: 'a'.repeat(64) } } },
  // Benefits: programmes, budgets, batches and the proposals inbox (fixtures: programme prog-1 rooted at p-1, batch batch-1 of u-1).
  'POST /v1/admin/programmes': { who: ['admin'], outside: { as: 'admin', body: { programmeId: 'prog-out', name: 'out', year: 2026, rootOrgId: 'u-1' } } },
  'GET /v1/admin/programmes/{programmeId}': { who: ['admin', 'finance', 'auditor'], outside: { as: 'admin', refusal: hidden('PROGRAMME.NOT_FOUND') } },
  'POST /v1/admin/programmes/{programmeId}/fundings': {
    who: ['admin'],
    outside: { as: 'admin', body: { amount: '1.00', source: 'union_funds', reference: 'out' }, refusal: hidden('PROGRAMME.NOT_FOUND') },
  },
  'POST /v1/admin/programmes/{programmeId}/allocations': {
    who: ['admin'],
    outside: { as: 'admin', body: { fromOrgId: 'p-1', toOrgId: 'u-1', amount: '1.00' }, refusal: hidden('PROGRAMME.NOT_FOUND') },
  },
  'POST /v1/admin/programmes/{programmeId}/returns': { who: ['admin'], outside: { as: 'admin', body: { fromOrgId: 'u-1', amount: '1.00' }, refusal: hidden('PROGRAMME.NOT_FOUND') } },
  'POST /v1/admin/programmes/{programmeId}/close': { who: ['admin'], outside: { as: 'admin', refusal: hidden('PROGRAMME.NOT_FOUND') } },
  'POST /v1/admin/batches': {
    who: ['admin'],
    outside: { as: 'admin', body: { batchId: 'batch-out', kind: 'money', programmeId: 'prog-1', orgId: 'u-1', amount: '1.00' }, refusal: hidden('PROGRAMME.NOT_FOUND') },
  },
  'POST /v1/admin/batches/csv': {
    who: ['admin'],
    outside: { as: 'admin', path: '/v1/admin/batches/csv?batchId=batch-out&programmeId=prog-1&orgId=u-1', csv: 'member_id,amount\nm-x,1.00\n', refusal: hidden('PROGRAMME.NOT_FOUND') },
  },
  'GET /v1/admin/batches/{batchId}': { who: ['admin', 'finance', 'auditor'], outside: { as: 'admin', refusal: hidden('BATCH.NOT_FOUND') } },
  'GET /v1/admin/batches/{batchId}/results': { who: ['admin', 'finance', 'auditor'], outside: { as: 'admin', refusal: hidden('BATCH.NOT_FOUND') } },
  'GET /v1/admin/proposals': { who: ['admin', 'finance', 'auditor'] }, // Scoped by filtering: see the test of the benefits inboxes below.
  'GET /v1/admin/batches': { who: ['admin', 'finance', 'auditor'] }, // Scoped by filtering, like the proposals inbox.
  // The console's reads: the tree with counts and the masked member search, rooted at the caller's organisation; another subtree's is not found.
  'GET /v1/admin/org-tree': { who: ['admin', 'finance', 'auditor'], outside: { as: 'admin', path: '/v1/admin/org-tree?orgId=u-1', refusal: hidden('ORG.NOT_FOUND') } },
  'GET /v1/admin/member-search': { who: ['admin', 'auditor'], outside: { as: 'admin', path: '/v1/admin/member-search?q=x&orgId=u-1', refusal: hidden('ORG.NOT_FOUND') } },
  // The earning rules are ledger-wide: every version is readable by those who read the current one.
  'GET /v1/admin/earning-rules/versions': { who: ['admin', 'auditor'] },
  'GET /v1/admin/earning-rules/versions/{version}': { who: ['admin', 'auditor'] },
  'GET /v1/admin/proposals/{proposalId}': { who: ['admin', 'finance', 'auditor'], outside: { as: 'finance', refusal: hidden('PROPOSAL.NOT_FOUND') } },
  'POST /v1/admin/proposals/{proposalId}/approval': { who: ['finance'], outside: { as: 'finance', refusal: hidden('PROPOSAL.NOT_FOUND') } },
  'POST /v1/admin/proposals/{proposalId}/rejection': { who: ['finance'], outside: { as: 'finance', body: { reason: 'out' }, refusal: hidden('PROPOSAL.NOT_FOUND') } },
  // Benefits: merchants (fixture: shop-1 signed by u-1, admitted).
  'POST /v1/admin/merchants': {
    who: ['admin'],
    outside: { as: 'admin', body: { merchantId: 'shop-out', name: 'out', category: 'supermarket', signingOrgId: 'u-1', bankCard: '6222021234567890128' } },
  },
  'GET /v1/admin/merchants': { who: ['admin', 'finance', 'auditor'] }, // Scoped by filtering, like the proposals inbox.
  'GET /v1/admin/merchants/{merchantId}': { who: ['admin', 'finance', 'auditor'], outside: { as: 'admin', refusal: hidden('MERCHANT.NOT_FOUND') } },
  'POST /v1/admin/merchants/{merchantId}/suspension': { who: ['admin'], outside: { as: 'admin', body: { reason: 'out' }, refusal: hidden('MERCHANT.NOT_FOUND') } },
  'POST /v1/admin/merchants/{merchantId}/reinstatement': { who: ['admin'], outside: { as: 'admin', refusal: hidden('MERCHANT.NOT_FOUND') } },
  'POST /v1/admin/merchants/{merchantId}/settlements': { who: ['admin'], outside: { as: 'admin', body: { day: '2026-01-01' }, refusal: hidden('MERCHANT.NOT_FOUND') } },
  'GET /v1/admin/merchants/{merchantId}/settlements': { who: ['admin', 'finance', 'auditor'], outside: { as: 'finance', refusal: hidden('MERCHANT.NOT_FOUND') } },
  'GET /v1/admin/merchants/{merchantId}/ledger': { who: ['admin', 'finance', 'auditor'], outside: { as: 'admin', refusal: hidden('MERCHANT.NOT_FOUND') } },
  // Benefits: the member's wallet (always their own) and the merchant's terminal (its own payments; outside: another merchant).
  'GET /v1/me/wallet': { who: ['member'] },
  'GET /v1/me/wallet/statement': { who: ['member'] },
  'PUT /v1/me/wallet/card': { who: ['member'] },
  'POST /v1/me/payment-codes': { who: ['member'] },
  'POST /v1/merchant/payments': { who: ['merchant'] },
  'GET /v1/merchant/payments/{paymentId}': { who: ['merchant'], outside: { as: 'merchant', refusal: hidden('PAYMENT.NOT_FOUND') } },
  'POST /v1/merchant/payments/{paymentId}/capture': { who: ['merchant'], outside: { as: 'merchant', body: { amount: '1.00' }, refusal: hidden('PAYMENT.NOT_FOUND') } },
  'POST /v1/merchant/payments/{paymentId}/void': { who: ['merchant'], outside: { as: 'merchant', refusal: hidden('PAYMENT.NOT_FOUND') } },
  'POST /v1/merchant/payments/{paymentId}/refunds': { who: ['merchant'], outside: { as: 'merchant', body: { amount: '1.00' }, refusal: hidden('PAYMENT.NOT_FOUND') } },
  'GET /v1/merchant/settlements': { who: ['merchant'] },
  // Payouts: the reconciliation covers every union's merchants (auditors, and admins of a root union: see test/api/payouts.api.spec.ts).
  'GET /v1/admin/reconciliation/{date}': { who: ['admin', 'auditor'] },
  // Mall (fixtures: SKU sku-1 listed by p-1, an order of the member's at u-1). SKUs and orders outside the caller's tree are not found.
  'POST /v1/admin/mall/skus': {
    who: ['admin'],
    outside: { as: 'admin', body: { skuId: 'sku-out', productId: 'prod-out', productName: 'out', name: 'out', orgId: 'u-1', pricePoints: 1, price: '1.00' } },
  },
  'POST /v1/admin/mall/skus/{skuId}/withdraw': { who: ['admin'], outside: { as: 'admin' } },
  'POST /v1/admin/mall/skus/{skuId}/stock': { who: ['admin'], outside: { as: 'admin', body: { quantity: 1 } } },
  'GET /v1/mall/skus': { who: ['member', 'admin'] }, // Scoped by filtering: a member sees what their units list, an admin their subtree's.
  'GET /v1/mall/skus/{skuId}': { who: ['member', 'admin', 'auditor'], outside: { as: 'admin', refusal: hidden('MALL.SKU_NOT_FOUND') } },
  'GET /v1/mall/skus/{skuId}/stock': { who: ['member', 'admin', 'auditor'], outside: { as: 'admin', refusal: hidden('MALL.SKU_NOT_FOUND') } },
  'POST /v1/me/mall/orders': { who: ['member'] },
  'GET /v1/me/mall/orders': { who: ['member'] },
  'POST /v1/me/mall/orders/{orderId}/confirm': { who: ['member'] },
  'POST /v1/mall/orders/{orderId}/cancel': { who: ['member', 'admin'], outside: { as: 'admin', refusal: hidden('MALL.ORDER_NOT_FOUND') } },
  'GET /v1/mall/orders/{orderId}': { who: ['member', 'admin', 'auditor'], outside: { as: 'admin', refusal: hidden('MALL.ORDER_NOT_FOUND') } },
  'POST /v1/admin/mall/orders/{orderId}/collect': { who: ['admin'], outside: { as: 'admin', body: { pickupCode: '12345678' }, refusal: hidden('MALL.ORDER_NOT_FOUND') } },
  'POST /v1/admin/mall/orders/{orderId}/dispatch': { who: ['admin'], outside: { as: 'admin', refusal: hidden('MALL.ORDER_NOT_FOUND') } },
  'POST /v1/admin/mall/orders/{orderId}/return': { who: ['admin'], outside: { as: 'admin', body: { reason: 'out' }, refusal: hidden('MALL.ORDER_NOT_FOUND') } },
  'GET /v1/admin/mall/units/{orgId}/pickups': { who: ['admin'], outside: { as: 'admin' } },
  // Welfare combinations (fixture combo-1 offered at p-1 with sku-1); another tree's combination is not found.
  'POST /v1/admin/mall/combos': { who: ['admin'], outside: { as: 'admin', body: { comboId: 'combo-out', orgId: 'u-1', name: 'out', skuIds: ['sku-1'], budget: '5.00' } } },
  'POST /v1/admin/mall/combos/{comboId}/withdraw': { who: ['admin'], outside: { as: 'admin', refusal: hidden('MALL.COMBO_NOT_FOUND') } },
  'GET /v1/mall/combos/{comboId}': { who: ['member', 'admin', 'auditor'], outside: { as: 'admin', refusal: hidden('MALL.COMBO_NOT_FOUND') } },
  'POST /v1/me/mall/combos/{comboId}/pick': { who: ['member'] }, // A member of another tree: MALL.COMBO_NOT_FOUND (test/api/mall-combos.api.spec.ts).
  'GET /v1/me/mall/combos/{comboId}/pick': { who: ['member'] },
  // Claims and lotteries (another subtree's campaign or lottery: test/api/claims.api.spec.ts).
  'POST /v1/admin/claim-campaigns': { who: ['admin'] },
  'GET /v1/admin/claim-campaigns/{campaignId}': { who: ['admin', 'finance', 'auditor'] },
  'GET /v1/admin/claim-campaigns/{campaignId}/claims': { who: ['admin', 'finance', 'auditor'] },
  'POST /v1/me/claim-campaigns/{campaignId}/claim': { who: ['member'] },
  'GET /v1/me/claim-campaigns/{campaignId}/claim': { who: ['member'] },
  'POST /v1/admin/lotteries': { who: ['admin'] },
  'GET /v1/lotteries/{lotteryId}': { who: ['member', 'admin', 'finance', 'auditor'] },
  'GET /v1/lotteries/{lotteryId}/entries': { who: ['member', 'admin', 'finance', 'auditor'] },
  'POST /v1/me/lotteries/{lotteryId}/entries': { who: ['member'] },
  'GET /v1/me/lotteries/{lotteryId}/entry': { who: ['member'] },
  'POST /v1/admin/lotteries/{lotteryId}/draw': { who: ['admin'] },
  // Campaigns (fixture camp-1 rooted at p-1; another subtree's campaign is not found: test/api/campaigns.api.spec.ts).
  'POST /v1/admin/campaigns': {
    who: ['admin'],
    outside: { as: 'admin', body: { name: 'out', rootOrgId: 'u-1', measure: 'check-ins', startsAt: '2026-01-01T00:00:00Z', endsAt: '2026-02-01T00:00:00Z', milestones: [] } },
  },
  'GET /v1/admin/campaigns': { who: ['admin', 'auditor'] },
  'GET /v1/admin/campaigns/{campaignId}': { who: ['admin', 'auditor'], outside: { as: 'admin', path: '/v1/admin/campaigns/camp-1', refusal: hidden('CAMPAIGN.NOT_FOUND') } },
  'POST /v1/admin/campaigns/{campaignId}/targets': {
    who: ['admin'],
    outside: { as: 'admin', path: '/v1/admin/campaigns/camp-1/targets', csv: 'seq,unit,members,target\n1,u-1,10,5\n', refusal: hidden('CAMPAIGN.NOT_FOUND') },
  },
  'GET /v1/admin/campaigns/{campaignId}/progress': { who: ['admin', 'auditor'], outside: { as: 'admin', path: '/v1/admin/campaigns/camp-1/progress', refusal: hidden('CAMPAIGN.NOT_FOUND') } },
  'GET /v1/admin/campaigns/{campaignId}/reports': { who: ['admin', 'auditor'], outside: { as: 'admin', path: '/v1/admin/campaigns/camp-1/reports', refusal: hidden('CAMPAIGN.NOT_FOUND') } },
  'GET /v1/admin/campaigns/{campaignId}/reports/{file}': {
    who: ['admin', 'auditor'],
    outside: { as: 'admin', path: `/v1/admin/campaigns/camp-1/reports/${MATRIX_REPORT}.csv`, refusal: hidden('CAMPAIGN.NOT_FOUND') },
  },
  // Lifecycle and the tree (docs/ORGS.md): a member, unit, transfer or application outside the caller's subtree is not found.
  'GET /v1/admin/orgs/{orgId}': { who: ['admin', 'auditor'], outside: { as: 'admin', refusal: hidden('ORG.NOT_FOUND') } },
  'POST /v1/admin/orgs/{orgId}/rename': { who: ['admin'], outside: { as: 'admin', body: { name: 'out' }, refusal: hidden('ORG.NOT_FOUND') } },
  'POST /v1/admin/orgs/{orgId}/move': { who: ['admin'], outside: { as: 'admin', body: { parentId: 'p-2' }, refusal: hidden('ORG.NOT_FOUND') } },
  'POST /v1/admin/orgs/{orgId}/merge': { who: ['admin'], outside: { as: 'admin', body: { intoOrgId: 'u-2' }, refusal: hidden('ORG.NOT_FOUND') } },
  'POST /v1/admin/orgs/{orgId}/close': { who: ['admin'], outside: { as: 'admin', body: { reason: 'out' }, refusal: hidden('ORG.NOT_FOUND') } },
  'GET /v1/admin/orgs/{orgId}/members': { who: ['admin', 'auditor'], outside: { as: 'admin', refusal: hidden('ORG.NOT_FOUND') } },
  'GET /v1/admin/orgs/{orgId}/transfers': { who: ['admin', 'auditor'], outside: { as: 'admin', refusal: hidden('ORG.NOT_FOUND') } },
  'GET /v1/admin/orgs/{orgId}/join-applications': { who: ['admin', 'auditor'], outside: { as: 'admin', refusal: hidden('ORG.NOT_FOUND') } },
  'POST /v1/admin/members/{memberId}/transfers': { who: ['admin'], outside: { as: 'admin', body: { toOrgId: 'u-2' }, refusal: hidden('MEMBER.NOT_FOUND') } },
  'POST /v1/admin/members/{memberId}/transfers/{transferId}/acceptance': { who: ['admin'], outside: { as: 'admin', refusal: hidden('TRANSFER.NOT_FOUND') } },
  'POST /v1/admin/members/{memberId}/transfers/{transferId}/rejection': { who: ['admin'], outside: { as: 'admin', body: { reason: 'out' }, refusal: hidden('TRANSFER.NOT_FOUND') } },
  'POST /v1/admin/members/{memberId}/transfers/{transferId}/withdrawal': { who: ['admin'], outside: { as: 'admin', refusal: hidden('MEMBER.NOT_FOUND') } },
  'POST /v1/admin/members/{memberId}/parking': { who: ['admin'], outside: { as: 'admin', body: { reason: 'out' }, refusal: hidden('MEMBER.NOT_FOUND') } },
  'POST /v1/admin/members/{memberId}/leaving': { who: ['admin'], outside: { as: 'admin', body: { reason: 'out' }, refusal: hidden('MEMBER.NOT_FOUND') } },
  'POST /v1/admin/members/{memberId}/reinstatement': { who: ['admin'], outside: { as: 'admin', body: { reason: 'out' }, refusal: hidden('MEMBER.NOT_FOUND') } },
  'POST /v1/me/transfers': { who: ['member'] },
  'POST /v1/me/transfers/{transferId}/withdrawal': { who: ['member'] },
  'POST /v1/join-applications': { who: ['visitor'] },
  'POST /v1/admin/join-applications/{applicationId}/approval': { who: ['admin'], outside: { as: 'admin', refusal: hidden('JOIN.NOT_FOUND') } },
  'POST /v1/admin/join-applications/{applicationId}/rejection': { who: ['admin'], outside: { as: 'admin', body: { reason: 'out' }, refusal: hidden('JOIN.NOT_FOUND') } },
  // Audit: read-only routes for auditors alone, who see every union (test/api/audit.api.spec.ts).
  'GET /v1/audit/balances': { who: ['auditor'] },
  'GET /v1/audit/streams/{streamId}/events': { who: ['auditor'] },
  'GET /v1/audit/seals': { who: ['auditor'] },
  'GET /v1/audit/accounts/{account}/statement': { who: ['auditor'] },
  'GET /v1/audit/verification': { who: ['auditor'] },
};

let app: LedgerApp;
let memberId: string;
let memberToken: string;
const system = { type: 'system', id: 'matrix' };
let counter = 0;
const key = (): string => `mx-${(counter += 1)}`;
/** Records of the benefits context inside the subtree (or of the inside merchant), so that path parameters name real things. */
const fixture = { proposalId: '', paymentId: '', orderId: '', transferId: 'tr-none', applicationId: 'join-000000000000000000000000' };

/** A token of each role inside the subtree under test (root p-1 with union u-1; the merchant shop-1 signed by u-1). */
async function insideToken(role: Role): Promise<string> {
  if (role === 'member') return memberToken;
  const org = role === 'visitor' ? '-' : role === 'merchant' ? 'shop-1' : 'p-1';
  return app.token(role === 'visitor' ? 'f'.repeat(64) : `${role}-inside`, role, org);
}

function concrete(path: string): string {
  return path
    .replace('{orgId}', 'u-1')
    .replace('{holdId}', 'hold-x')
    .replace('{memberId}', memberId)
    .replace('{programmeId}', 'prog-1')
    .replace('{batchId}', 'batch-1')
    .replace('{proposalId}', fixture.proposalId)
    .replace('{merchantId}', 'shop-1')
    .replace('{paymentId}', fixture.paymentId)
    .replace('{queue}', 'insurance')
    .replace('{jobId}', 'job-x')
    .replace('{date}', '2026-01-01')
    .replace('{skuId}', 'sku-1')
    .replace('{orderId}', fixture.orderId)
    .replace('{comboId}', 'combo-1')
    .replace('{streamId}', 'member-x')
    .replace('{account}', 'member:x:available')
    .replace('{transferId}', fixture.transferId)
    .replace('{applicationId}', fixture.applicationId)
    .replace('{version}', '1');
}

async function send(method: string, path: string, token: string | undefined, body?: unknown): Promise<Answer> {
  return app.call(method, path, { ...(token ? { token } : {}), key: key(), ...(method === 'GET' || method === 'DELETE' ? {} : { body: body ?? {} }) });
}

async function sendCsv(path: string, token: string, csv: string): Promise<Answer> {
  const response = await fetch(`${app.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'idempotency-key': key(), 'content-type': 'text/csv' }, body: csv });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

/**
 * The benefits records the matrix names, made through the application layer: programme prog-1
 * rooted at p-1 with money allocated to u-1, batch batch-1 paid to the member, merchants shop-1
 * (signed by u-1) and shop-2 (signed by u-2) admitted, a payment the member made at shop-1, and a
 * pending funding proposal.
 */
async function benefitsFixtures(): Promise<void> {
  const benefits = app.ledger.benefits;
  const admin: Caller = { sub: 'fixture-admin', role: 'admin', org: 'p-1' };
  const finance: Caller = { sub: 'fixture-finance', role: 'finance', org: 'p-1' };
  const approve = async (proposal: { proposalId: string }) => {
    const decided = await benefits.approve(finance, proposal.proposalId, key());
    expect(decided.outcome).toEqual({ status: 'done' });
  };
  await benefits.openProgramme(admin, { programmeId: 'prog-1', name: 'matrix', year: 2026, rootOrgId: 'p-1' }, key());
  await approve(await benefits.proposeFunding(admin, 'prog-1', { amountFen: 100_000, source: 'union_funds', reference: 'matrix' }, key()));
  await approve(await benefits.proposeAllocation(admin, 'prog-1', { fromOrgId: 'p-1', toOrgId: 'u-1', amountFen: 50_000 }, key()));
  const { proposal } = await benefits.draftBatch(
    admin,
    { batchId: 'batch-1', kind: 'money', programmeId: 'prog-1', orgId: 'u-1', amountFen: 10_000, items: null, voucher: null },
    key(),
  );
  await approve(proposal);
  await waitFor(async () => (await benefits.readBatch(admin, 'batch-1')).status === 'completed', { what: 'batch-1 to be paid' });
  for (const [merchantId, signingOrgId, root] of [
    ['shop-1', 'u-1', 'p-1'],
    ['shop-2', 'u-2', 'p-2'],
  ] as const) {
    const applied = await benefits.applyMerchant(
      { sub: 'fixture-admin', role: 'admin', org: root },
      { merchantId, name: merchantId, category: 'supermarket', signingOrgId, bankCard: '6222021234567890128' },
      key(),
    );
    const decided = await benefits.approve({ sub: 'fixture-finance', role: 'finance', org: root }, applied.proposal.proposalId, key());
    expect(decided.outcome).toEqual({ status: 'done' });
  }
  const { code } = await benefits.issuePaymentCode({ sub: memberId, role: 'member', org: 'u-1' });
  const { payment } = await benefits.authorise({ sub: 'fixture-terminal', role: 'merchant', org: 'shop-1' }, { paymentCode: code, amountFen: 1_000 }, key());
  fixture.paymentId = payment.paymentId;
  fixture.proposalId = (await benefits.proposeFunding(admin, 'prog-1', { amountFen: 100, source: 'donation', reference: 'pending' }, key())).proposalId;
}

beforeAll(async () => {
  app = await startLedgerApp();
  for (const [orgId, parentId, level] of [
    ['p-1', null, 'province'],
    ['u-1', 'p-1', 'grassroots'],
    ['p-2', null, 'province'],
    ['u-2', 'p-2', 'grassroots'],
  ] as const) {
    await app.ledger.orgs.registerOrganisation({ orgId, name: orgId, parentId, level }, { commandId: `org:${orgId}`, actor: system });
  }
  const nationalId = testNationalId(77);
  const idHmac = app.ledger.vault.idHmac(nationalId);
  memberId = app.ledger.vault.memberIdFor(idHmac);
  const piiCipher = await app.ledger.vault.seal(memberId, { idNumber: nationalId, phone: '13700000077' });
  await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'u-1', name: '矩阵', idHmac, piiCipher }, { commandId: 'enrol', actor: system });
  await activateThroughWeChat(app, { user: 'matrix', nationalId, name: '矩阵', phone: '13700000077' });
  // A token of no session: the matrix calls DELETE /v1/sessions as the member, which would end a real one (and refuse its token from then on).
  memberToken = await app.token(memberId, 'member', 'u-1');
  await app.ledger.catchUpReadModels();
  await benefitsFixtures();
  // The mall's: a SKU listed by p-1 for its subtree, and the member's order of it (paid from the wallet batch-1 filled).
  const mallAdmin: Caller = { sub: 'fixture-admin', role: 'admin', org: 'p-1' };
  await app.ledger.mall.listSku(mallAdmin, { skuId: 'sku-1', productId: 'prod-1', productName: 'matrix', name: 'matrix', orgId: 'p-1', pricePoints: 10, priceFen: 100, shards: 2 }, key());
  await app.ledger.mall.restock(mallAdmin, 'sku-1', 10, key());
  await app.ledger.mall.combos.offer(mallAdmin, { comboId: 'combo-1', orgId: 'p-1', name: 'matrix', skuIds: ['sku-1'], budgetFen: 500 }, key());
  fixture.orderId = (await app.ledger.mall.placeOrder({ sub: memberId, role: 'member', org: 'u-1' }, { skuId: 'sku-1', quantity: 1, fulfilment: 'pickup' }, key())).orderId;
  await app.ledger.campaigns.create(
    mallAdmin,
    { campaignId: 'camp-1', name: 'matrix', rootOrgId: 'p-1', measure: 'check-ins', startsAtMs: Date.now() - 60_000, endsAtMs: Date.now() + 86_400_000, milestones: [] },
    key(),
  );
  await app.ledger.catchUpReadModels();
  expect((await app.ledger.campaigns.reports.generateWeekly(MATRIX_REPORT)).reports).toBe(1);
}, testTimeout());
afterAll(async () => {
  await app?.close();
});

describe('the authorisation matrix', () => {
  let routes: string[];
  beforeAll(async () => {
    const document = (await app.call('GET', '/docs-json')).body as { paths: Record<string, Record<string, unknown>> };
    routes = Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
  });

  it('has an expectation for every route of the OpenAPI document, and a route for every expectation', () => {
    expect([...routes].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('refuses a missing, expired or foreign token with 401 on every route that is not public', async () => {
    const expired = await tokenService(`matrix-secret-${'x'.repeat(32)}`).sign({ sub: memberId, role: 'member', org: 'u-1' }, { ttlSeconds: 1, nowMs: Date.now() - 3_600_000 });
    const foreign = await tokenService(randomBytes(32).toString('hex')).sign({ sub: memberId, role: 'member', org: 'u-1' }, { ttlSeconds: 600 });
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      const cells = [
        { token: undefined, code: 'AUTH.MISSING_TOKEN' },
        { token: expired, code: 'AUTH.INVALID_TOKEN' },
        { token: foreign, code: 'AUTH.INVALID_TOKEN' },
      ];
      for (const cell of cells) {
        const answer = await send(method, concrete(path), cell.token);
        if (EXPECTED[route]!.who === 'public') expect({ route, status: answer.status }).not.toEqual({ route, status: 401 });
        else expect({ route, status: answer.status, code: answer.body.code }).toEqual({ route, status: 401, code: cell.code });
      }
    }
  });

  it('lets each role through exactly the routes it may use, inside its subtree, and answers 403 AUTH.FORBIDDEN otherwise', async () => {
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      const who = EXPECTED[route]!.who;
      if (who === 'public') continue;
      for (const role of ROLES) {
        const answer = await send(method, concrete(path), await insideToken(role));
        const cell = { route, role };
        if (who.includes(role)) {
          // Allowed: whatever the (empty) request earns, it is not an authorisation refusal.
          expect({ ...cell, refused: answer.status === 401 || answer.status === 403, body: answer.status >= 400 ? answer.body : {} }).toEqual({ ...cell, refused: false, body: expect.anything() });
          expect({ ...cell, status: answer.status >= 500 }).toEqual({ ...cell, status: false });
        } else {
          expect({ ...cell, status: answer.status, code: answer.body.code }).toEqual({ ...cell, status: 403, code: 'AUTH.FORBIDDEN' });
        }
      }
    }
  });

  it('refuses callers of another subtree with 403 ORG.FORBIDDEN, or as not found where the route hides what exists', async () => {
    const outsider: Record<string, string> = {
      admin: await app.token('admin-outside', 'admin', 'p-2'),
      finance: await app.token('finance-outside', 'finance', 'p-2'),
      member: memberToken, // A member of u-1 asking about u-2.
      merchant: await app.token('merchant-outside', 'merchant', 'shop-2'), // Another merchant's terminal.
    };
    const scoped = Object.entries(EXPECTED).filter(([, expectation]) => expectation.outside);
    expect(scoped.length).toBeGreaterThanOrEqual(4);
    for (const [route, { outside }] of scoped) {
      const [method, path] = route.split(' ') as [string, string];
      const token = outsider[outside!.as]!;
      const target = outside!.path ?? concrete(path);
      const answer = outside!.csv === undefined ? await send(method, target, token, outside!.body) : await sendCsv(target, token, outside!.csv);
      const refusal = outside!.refusal ?? { status: 403, code: 'ORG.FORBIDDEN' };
      expect({ route, status: answer.status, code: answer.body.code }).toEqual({ route, ...refusal });
      if (method === 'GET' && outside!.refusal) {
        // A "not found" means something only if the record is there for a caller inside.
        const inside = await send(method, target, await insideToken(outside!.as));
        expect({ route, status: inside.status }).toEqual({ route, status: 200 });
      }
    }
  });

  it('lists only records of its own subtree in the benefits inboxes', async () => {
    const inside = await insideToken('admin');
    const outside = await app.token('admin-outside', 'admin', 'p-2');
    const rows = async (token: string, path: string, list: string) => {
      const answer = await send('GET', path, token);
      expect({ path, status: answer.status }).toEqual({ path, status: 200 });
      return answer.body[list] as Array<Record<string, unknown>>;
    };
    const insideProposals = await rows(inside, '/v1/admin/proposals?limit=100', 'proposals');
    expect(insideProposals.map((row) => row.proposalId)).toContain(fixture.proposalId);
    expect(new Set(insideProposals.map((row) => row.orgId))).toEqual(new Set(['p-1', 'u-1']));
    // The other province sees its own merchant's admission only.
    const outsideProposals = await rows(outside, '/v1/admin/proposals?limit=100', 'proposals');
    expect(outsideProposals.map((row) => [row.kind, row.orgId])).toEqual([['merchant.admit', 'u-2']]);
    expect((await rows(inside, '/v1/admin/batches', 'batches')).map((row) => row.batchId)).toEqual(['batch-1']);
    expect(await rows(outside, '/v1/admin/batches', 'batches')).toEqual([]);
    expect((await rows(inside, '/v1/admin/merchants', 'merchants')).map((row) => row.merchantId)).toEqual(['shop-1']);
    expect((await rows(outside, '/v1/admin/merchants', 'merchants')).map((row) => row.merchantId)).toEqual(['shop-2']);
  });
});
