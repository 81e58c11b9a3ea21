import { PaymentGatewayHttpClient } from '../payment-gateway';
import { startPaymentGatewaySimulator, type PaymentGatewaySimulator } from './payment-gateway-simulator';

/**
 * The payment gateway simulator over real HTTP, through the client the payouts worker uses:
 * idempotency by request id, status inquiries, the statement file, and each injected fault as the
 * client sees it. No timing is asserted; a held request is held far longer than the client waits.
 */

const CARD = '6222021234567890128';
const CLOSED_CARD = '6222020000000000009';
let simulator: PaymentGatewaySimulator;
let client: PaymentGatewayHttpClient;

const clock = { nowMs: Date.parse('2026-09-11T15:59:00.000Z') };

beforeAll(async () => {
  simulator = await startPaymentGatewaySimulator({ declinedCards: [CLOSED_CARD], seed: 7, clock: () => new Date(clock.nowMs) });
  client = new PaymentGatewayHttpClient({ baseUrl: simulator.url, apiKey: simulator.apiKey, timeoutMs: 500 });
});
afterAll(async () => {
  await simulator?.close();
});
afterEach(() => simulator.setFaults({ errorRate: 0, timeoutRate: 0, lostAnswerRate: 0, inquiryErrorRate: 0, latencyMs: 0 }));

describe('the payment gateway simulator', () => {
  it('pays a request id once: the same body answers the first result, another body is a conflict', async () => {
    const first = await client.pay({ requestId: 'po-1', cardNumber: CARD, amountFen: 12_345 });
    expect(first).toEqual({ status: 'paid', reference: expect.stringMatching(/^SIM/), paidAt: '2026-09-11T15:59:00.000Z', amountFen: 12_345 });
    expect(await client.pay({ requestId: 'po-1', cardNumber: CARD, amountFen: 12_345 })).toEqual(first);
    expect(await client.pay({ requestId: 'po-1', cardNumber: CARD, amountFen: 12_346 })).toEqual({ status: 'conflict', detail: expect.stringContaining('po-1') });
    expect(await client.inquire('po-1')).toEqual(first);
    expect(await client.inquire('po-never')).toEqual({ status: 'not_found' });
    expect(simulator.stats()).toMatchObject({ applied: 1, appliedFen: 12_345, replays: 1, conflicts: 1 });
  });

  it('declines a closed card for good, and says so again when asked', async () => {
    expect(await client.pay({ requestId: 'po-closed', cardNumber: CLOSED_CARD, amountFen: 100 })).toEqual({ status: 'declined', code: 'CARD_CLOSED', reason: expect.any(String) });
    expect(await client.inquire('po-closed')).toMatchObject({ status: 'declined', code: 'CARD_CLOSED' });
    expect(simulator.appliedIds()).not.toContain('po-closed');
  });

  it("lists a day's payments in its statement, by the Shanghai day they were paid, with the card masked", async () => {
    clock.nowMs = Date.parse('2026-09-11T16:00:00.000Z'); // Midnight in Shanghai: the 12th.
    await client.pay({ requestId: 'po-2', cardNumber: CARD, amountFen: 500 });
    const eleventh = await client.statement('2026-09-11');
    expect(eleventh.map((line) => [line.requestId, line.amountFen])).toEqual([['po-1', 12_345]]);
    expect(await client.statement('2026-09-12')).toEqual([{ requestId: 'po-2', reference: expect.stringMatching(/^SIM/), amountFen: 500, paidAt: '2026-09-11T16:00:00.000Z' }]);
    const raw = await (await fetch(`${simulator.url}/v1/statement?date=2026-09-12`, { headers: { authorization: `Bearer ${simulator.apiKey}` } })).text();
    expect(raw).toContain('6222 **** **** 0128');
    expect(raw).not.toContain(CARD);
    expect(await client.statement('2026-09-13')).toEqual([]);
  });

  it('refuses a caller without the key', async () => {
    const stranger = new PaymentGatewayHttpClient({ baseUrl: simulator.url, apiKey: 'wrong', timeoutMs: 500 });
    expect(await stranger.pay({ requestId: 'po-x', cardNumber: CARD, amountFen: 1 })).toEqual({ status: 'unknown', detail: 'HTTP 401' });
    await expect(stranger.statement('2026-09-11')).rejects.toThrow('HTTP 401');
  });

  it('injects errors (not applied), lost answers (applied) and timeouts (applied later), each an unknown outcome an inquiry resolves', async () => {
    const before = simulator.stats();
    simulator.setFaults({ errorRate: 1 });
    expect(await client.pay({ requestId: 'po-error', cardNumber: CARD, amountFen: 1 })).toEqual({ status: 'unknown', detail: 'HTTP 503' });
    expect(await client.inquire('po-error')).toEqual({ status: 'not_found' });

    simulator.setFaults({ errorRate: 0, lostAnswerRate: 1 });
    expect(await client.pay({ requestId: 'po-lost', cardNumber: CARD, amountFen: 2 })).toMatchObject({ status: 'unknown', detail: expect.stringMatching(/^no answer/) });
    expect(await client.inquire('po-lost')).toMatchObject({ status: 'paid', amountFen: 2 });

    // Held for 60 s, far past the client's 500 ms: an inquiry meanwhile finds it still processing.
    simulator.setFaults({ lostAnswerRate: 0, timeoutRate: 1, stallMs: 60_000 });
    expect(await client.pay({ requestId: 'po-slow', cardNumber: CARD, amountFen: 3 })).toMatchObject({ status: 'unknown', detail: expect.stringMatching(/^no answer \(TimeoutError/) });
    expect(await client.inquire('po-slow')).toEqual({ status: 'unknown', detail: 'still processing' });
    simulator.setFaults({ timeoutRate: 0 });
    expect(await client.pay({ requestId: 'po-slow', cardNumber: CARD, amountFen: 3 })).toEqual({ status: 'unknown', detail: 'HTTP 202' });

    simulator.setFaults({ inquiryErrorRate: 1 });
    expect(await client.inquire('po-lost')).toEqual({ status: 'unknown', detail: 'HTTP 503' });

    const after = simulator.stats();
    expect(after.applied - before.applied).toBe(1); // po-lost; po-slow is still held.
    expect(after.faults).toEqual({ errors: before.faults.errors + 1, timeouts: before.faults.timeouts + 1, lostAnswers: before.faults.lostAnswers + 1, inquiryErrors: before.faults.inquiryErrors + 1 });
  });

  it('changes its faults through the test route, and refuses faults it does not know', async () => {
    const put = (body: unknown) => fetch(`${simulator.url}/simulator/payments/faults`, { method: 'PUT', body: JSON.stringify(body) });
    expect((await put({ errorRate: 0.25 })).status).toBe(200);
    expect((await put({ errorRate: 1.5 })).status).toBe(400);
    expect((await put({ chaos: 1 })).status).toBe(400);
    const stats = (await (await fetch(`${simulator.url}/simulator/payments/stats`)).json()) as { applied: number };
    expect(stats.applied).toBe(simulator.stats().applied);
  });

  it('forges and forgets payments for reconciliation tests', async () => {
    clock.nowMs = Date.parse('2026-09-14T02:00:00.000Z');
    const forged = await fetch(`${simulator.url}/simulator/payments/records/po-forged`, { method: 'PUT', body: JSON.stringify({ amountFen: 777 }) });
    expect(forged.status).toBe(200);
    expect((await client.statement('2026-09-14')).map((line) => [line.requestId, line.amountFen])).toEqual([['po-forged', 777]]);
    expect((await fetch(`${simulator.url}/simulator/payments/records/po-forged`, { method: 'DELETE' })).status).toBe(200);
    expect(await client.statement('2026-09-14')).toEqual([]);
  });
});
