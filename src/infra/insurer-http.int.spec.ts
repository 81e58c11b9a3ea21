import { InsurerError } from '../application/insurance';
import { InsurerHttpClient } from './insurer-http';
import { startSimulators, type Simulators } from './simulators/simulators';

/**
 * The insurer's HTTP client against the simulator, a real HTTP server: enrolment is idempotent by
 * request id, a status inquiry tells applied from never applied, and every fault the simulator
 * injects reaches the caller as an InsurerError (an unknown outcome), never as an answer.
 */

let simulators: Simulators;
let client: InsurerHttpClient;
const insured = { name: '张三', idNumber: '11010519491231002X' };
const request = (requestId: string) => ({ requestId, product: 'accident-mutual-aid', termYears: 1, insured });

beforeAll(async () => {
  simulators = await startSimulators();
  // Generous: the deadline test holds the call forever, and a loaded machine (CI shares its cores) can take 300 ms to answer a healthy call.
  client = new InsurerHttpClient({ baseUrl: simulators.url, apiKey: simulators.settings.insurerApiKey, timeoutMs: 2_000 });
});
afterAll(async () => {
  await simulators.close();
});
afterEach(() => {
  simulators.insurer.setFaults({ latencyMs: 0, errorRate: 0, timeoutRate: 0, lostAnswerRate: 0, refuseRequestIds: [] });
});

describe('the insurer client and simulator', () => {
  it('enrols once per request id: the same id again answers the same policy', async () => {
    const first = await client.enrol(request('g-1'));
    expect(first).toEqual({ status: 'enrolled', policy: { policyNumber: expect.stringMatching(/^AMA-\d{4}-\d{8}$/), product: 'accident-mutual-aid', validFrom: expect.any(String), validUntil: expect.any(String) } });
    expect(await client.enrol(request('g-1'))).toEqual(first);
    expect(await client.inquire('g-1')).toEqual(first);
    expect(simulators.insurer.stats()).toMatchObject({ applied: 1, enrolRequests: 2, replayedEnrolments: 1, statusRequests: 1 });
    // One year of cover: from the day of enrolment to the day before its anniversary.
    const { validFrom, validUntil } = (first as { policy: { validFrom: string; validUntil: string } }).policy;
    const anniversary = new Date(`${validFrom}T00:00:00Z`);
    anniversary.setUTCFullYear(anniversary.getUTCFullYear() + 1);
    expect(validUntil).toBe(new Date(anniversary.getTime() - 86_400_000).toISOString().slice(0, 10));
  });

  it('answers not_found for a request it never applied, and a refusal for a person it will not insure', async () => {
    expect(await client.inquire('g-never')).toEqual({ status: 'not_found' });
    simulators.insurer.setFaults({ refuseRequestIds: ['g-refused'] });
    expect(await client.enrol(request('g-refused'))).toEqual({ status: 'refused', reason: 'the insured person is not eligible for this plan' });
    expect(await client.inquire('g-refused')).toEqual({ status: 'refused', reason: 'the insured person is not eligible for this plan' });
  });

  it('reports a held call, an error and a lost answer as unknown outcomes; the lost one was applied, the others were not', async () => {
    simulators.insurer.setFaults({ timeoutRate: 1 });
    await expect(client.enrol(request('g-held'))).rejects.toMatchObject({ name: 'InsurerError', kind: 'timeout' });
    simulators.insurer.setFaults({ timeoutRate: 0, errorRate: 1 });
    await expect(client.enrol(request('g-error'))).rejects.toMatchObject({ name: 'InsurerError', kind: 'status' });
    simulators.insurer.setFaults({ errorRate: 0, lostAnswerRate: 1 });
    await expect(client.enrol(request('g-lost'))).rejects.toBeInstanceOf(InsurerError);
    simulators.insurer.setFaults({ lostAnswerRate: 0 });
    expect(await client.inquire('g-held')).toEqual({ status: 'not_found' });
    expect(await client.inquire('g-error')).toEqual({ status: 'not_found' });
    expect(await client.inquire('g-lost')).toMatchObject({ status: 'enrolled' });
  });

  it('refuses a wrong API key, and keeps the key out of its errors', async () => {
    const wrong = new InsurerHttpClient({ baseUrl: simulators.url, apiKey: 'not-the-key', timeoutMs: 300 });
    const error = (await wrong.enrol(request('g-key')).catch((caught: unknown) => caught)) as InsurerError;
    expect(error).toMatchObject({ name: 'InsurerError', kind: 'status', message: 'the insurer answered the enrolment with HTTP 401' });
    expect(error.message).not.toContain(simulators.settings.insurerApiKey);
  });

  it('takes faults through its admin route and refuses settings it does not know', async () => {
    const put = (body: unknown) => fetch(`${simulators.url}/simulator/insurer/faults`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const answer = await put({ latencyMs: 5, errorRate: 0.5 });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ latencyMs: 5, errorRate: 0.5, timeoutRate: 0, lostAnswerRate: 0 });
    expect((await put({ errorRate: 2 })).status).toBe(400);
    expect((await put({ errorRate: 0.6, lostAnswerRate: 0.6 })).status).toBe(400);
    expect((await put({ chaos: true })).status).toBe(400);
    const stats = (await (await fetch(`${simulators.url}/simulator/insurer/stats`)).json()) as { faults: { errorRate: number } };
    expect(stats.faults.errorRate).toBe(0.5);
  });
});
