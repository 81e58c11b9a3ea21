import { SmsGatewayError } from '../application/sms';
import { SmsHttpClient } from './sms-http';
import { startSimulators, type Simulators } from './simulators/simulators';

/**
 * The SMS gateway's HTTP client against the simulator, a real HTTP server: a send is idempotent by
 * request key, a status inquiry tells sent from never applied, every fault the simulator injects
 * reaches the caller as an SmsGatewayError (an unknown outcome), never as an answer, and the
 * simulator counts what it delivered.
 */

let simulators: Simulators;
let client: SmsHttpClient;
/** A short deadline for the held call only: the others must not fail on a loaded machine. */
let impatient: SmsHttpClient;
const message = (requestId: string, phone = '13800138000') => ({ requestId, phone, template: 'activation-code' as const, params: { code: '042917', minutes: 5 } });

beforeAll(async () => {
  simulators = await startSimulators();
  client = new SmsHttpClient({ baseUrl: simulators.url, apiKey: simulators.settings.smsApiKey, timeoutMs: 10_000 });
  impatient = new SmsHttpClient({ baseUrl: simulators.url, apiKey: simulators.settings.smsApiKey, timeoutMs: 300 });
});
afterAll(async () => {
  await simulators.close();
});
afterEach(() => {
  simulators.sms.setFaults({ latencyMs: 0, errorRate: 0, timeoutRate: 0, lostAnswerRate: 0 });
});

describe('the SMS gateway client and simulator', () => {
  it('sends once per request key: the same key again answers the same message and sends nothing', async () => {
    const first = await client.send(message('s-1'));
    expect(first).toEqual({ status: 'sent', messageId: expect.stringMatching(/^sim-[0-9a-f]{16}$/) });
    expect(await client.send(message('s-1'))).toEqual(first);
    expect(await client.inquire('s-1')).toEqual(first);
    expect(simulators.sms.stats()).toMatchObject({ applied: 1, sendRequests: 2, replayedSends: 1, statusRequests: 1 });
    expect(simulators.messagesTo('13800138000')).toEqual([{ requestId: 's-1', phone: '13800138000', template: 'activation-code', params: { code: '042917', minutes: 5 }, sentAt: expect.any(String) }]);
    // The walk-through's route shows the same.
    const listed = (await (await fetch(`${simulators.url}/simulator/sms/messages?phone=13800138000`)).json()) as { messages: unknown[] };
    expect(listed.messages).toHaveLength(1);
  });

  it('answers not_found for a request it never applied, and a refusal for a number it cannot deliver to', async () => {
    expect(await client.inquire('s-never')).toEqual({ status: 'not_found' });
    expect(await client.send(message('s-refused', 'not-a-number'))).toEqual({ status: 'refused', reason: 'the number cannot receive messages' });
    expect(await client.inquire('s-refused')).toEqual({ status: 'refused', reason: 'the number cannot receive messages' });
    expect(simulators.sms.appliedTimes('s-refused')).toBe(0);
  });

  it('reports a held call, an error and a lost answer as unknown outcomes; the lost one was sent, the others were not', async () => {
    simulators.sms.setFaults({ timeoutRate: 1 });
    await expect(impatient.send(message('s-held', '13800000001'))).rejects.toMatchObject({ name: 'SmsGatewayError', kind: 'timeout' });
    simulators.sms.setFaults({ timeoutRate: 0, errorRate: 1 });
    await expect(client.send(message('s-error', '13800000002'))).rejects.toMatchObject({ name: 'SmsGatewayError', kind: 'status' });
    simulators.sms.setFaults({ errorRate: 0, lostAnswerRate: 1 });
    await expect(client.send(message('s-lost', '13800000003'))).rejects.toBeInstanceOf(SmsGatewayError);
    simulators.sms.setFaults({ lostAnswerRate: 0 });
    expect(await client.inquire('s-held')).toEqual({ status: 'not_found' });
    expect(await client.inquire('s-error')).toEqual({ status: 'not_found' });
    expect(await client.inquire('s-lost')).toMatchObject({ status: 'sent' });
    expect([simulators.sms.appliedTimes('s-held'), simulators.sms.appliedTimes('s-error'), simulators.sms.appliedTimes('s-lost')]).toEqual([0, 0, 1]);
    expect(simulators.sms.stats().injected).toEqual({ errors: 1, timeouts: 1, lostAnswers: 1 });
  });

  it('refuses a wrong API key, a send without its idempotency key, and fault settings out of range', async () => {
    const stranger = new SmsHttpClient({ baseUrl: simulators.url, apiKey: 'wrong', timeoutMs: 10_000 });
    await expect(stranger.send(message('s-key'))).rejects.toMatchObject({ kind: 'status' });
    const unkeyed = await fetch(`${simulators.url}/sms/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${simulators.settings.smsApiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(message('s-unkeyed')),
    });
    expect(unkeyed.status).toBe(400);
    expect(simulators.sms.appliedTimes('s-unkeyed')).toBe(0);
    const faults = await fetch(`${simulators.url}/simulator/sms/faults`, { method: 'PUT', body: JSON.stringify({ errorRate: 0.7, lostAnswerRate: 0.7 }) });
    expect(faults.status).toBe(400);
    expect(() => simulators.sms.setFaults({ latencyMs: -1 })).toThrow('latencyMs');
  });
});
