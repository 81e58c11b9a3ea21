import { randomBytes } from 'node:crypto';
import { UnionLedger } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { smsStream } from '../../domain/sms';
import { SmsHttpClient } from '../../infra/sms-http';
import { startSimulators, type Simulators } from '../../infra/simulators/simulators';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { testNationalId } from '../../../test/support/ledger-app';
import { SmsGatewayError } from '.';

/**
 * SmsService.carryOut, path by path, on real PostgreSQL and the SMS gateway simulator over HTTP
 * (no queue: each call is one run of the job). The faults are set to certainty so each path is
 * taken on purpose: a lost answer is settled by a status inquiry, not a second send; a send that
 * was not applied is retried later; a code whose answer was lost before its expiry is recorded as
 * sent, not expired; and a run after the outcome does nothing.
 */

const SYSTEM = { type: 'system', id: 'sms-service-test' };
const T0 = Date.parse('2026-11-30T02:00:00.000Z');
let database: TestDatabase;
let simulators: Simulators;
let ledger: UnionLedger;
let nowMs = T0;
let serial = 0;

beforeAll(async () => {
  database = await createTestDatabase();
  simulators = await startSimulators();
  ledger = new UnionLedger({
    config: loadConfig({}),
    db: database.db,
    piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) },
    clock: () => new Date(nowMs),
    listen: false,
    sms: new SmsHttpClient({ baseUrl: simulators.url, apiKey: simulators.settings.smsApiKey, timeoutMs: 500 }),
  });
  await ledger.orgs.registerOrganisation({ orgId: 'p-svc', name: 'Province', parentId: null, level: 'province' }, { commandId: 'org:p-svc', actor: SYSTEM });
  await ledger.orgs.registerOrganisation({ orgId: 'u-svc', name: 'Union', parentId: 'p-svc', level: 'grassroots' }, { commandId: 'org:u-svc', actor: SYSTEM });
});
afterAll(async () => {
  await ledger?.close();
  await simulators?.close();
  await database?.drop();
});
afterEach(() => {
  simulators.sms.setFaults({ latencyMs: 0, errorRate: 0, timeoutRate: 0, lostAnswerRate: 0 });
  nowMs = T0;
});

/** A member with a phone and a code requested for them (valid 5 minutes from now); the job's reference to it. */
async function requested(): Promise<{ smsId: string; phone: string; ref: { eventId: string; streamId: string; revision: string } }> {
  serial += 1;
  const nationalId = testNationalId(8_000 + serial);
  const idHmac = ledger.vault.idHmac(nationalId);
  const memberId = ledger.vault.memberIdFor(idHmac);
  const phone = `1350000${String(serial).padStart(4, '0')}`;
  const piiCipher = await ledger.vault.seal(memberId, { idNumber: nationalId, phone });
  await ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'u-svc', name: `会员${serial}`, idHmac, piiCipher }, { commandId: `enrol:${idHmac}`, actor: SYSTEM });
  const smsId = `svc-${serial}`;
  await ledger.sms.requestCode({ smsId, memberId, code: '246810', expiresAt: new Date(nowMs + 300_000), validMinutes: 5 });
  const [event] = await ledger.store.readStream(smsStream(smsId));
  return { smsId, phone, ref: { eventId: event!.eventId, streamId: event!.streamId, revision: event!.revision.toString() } };
}

const types = async (smsId: string): Promise<string[]> => (await ledger.store.readStream(smsStream(smsId))).map((event) => event.type);

it('settles a lost answer by asking, not by sending again, and a later run does nothing', async () => {
  const { smsId, phone, ref } = await requested();
  simulators.sms.setFaults({ lostAnswerRate: 1 });
  expect(await ledger.sms.carryOut(ref, { mayHaveBeenSent: false })).toBe('sent');
  expect(simulators.sms.appliedTimes(smsId)).toBe(1);
  expect(simulators.messagesTo(phone).map((message) => message.params)).toEqual([{ code: '246810', minutes: 5 }]);
  simulators.sms.setFaults({ lostAnswerRate: 0 });
  expect(await ledger.sms.carryOut(ref, { mayHaveBeenSent: true })).toBe('already-recorded');
  expect(await types(smsId)).toEqual(['SmsRequested', 'SmsSent']);
  expect(simulators.sms.stats().replayedSends).toBe(0);
});

it('leaves a send the gateway did not apply for a later run, which sends it once', async () => {
  const { smsId, ref } = await requested();
  // The send fails, and so does the inquiry after it: the outcome is unknown, the job is retried.
  simulators.sms.setFaults({ errorRate: 1 });
  await expect(ledger.sms.carryOut(ref, { mayHaveBeenSent: false })).rejects.toBeInstanceOf(SmsGatewayError);
  expect(await types(smsId)).toEqual(['SmsRequested']);
  simulators.sms.setFaults({ errorRate: 0 });
  expect(await ledger.sms.carryOut(ref, { mayHaveBeenSent: true })).toBe('sent');
  expect(simulators.sms.appliedTimes(smsId)).toBe(1);
});

it('records as sent, not expired, a code sent before its expiry by a run that died before recording it', async () => {
  const { smsId, phone, ref } = await requested();
  // An earlier run sent it and its worker died before recording the outcome.
  const gateway = new SmsHttpClient({ baseUrl: simulators.url, apiKey: simulators.settings.smsApiKey, timeoutMs: 5_000 });
  await gateway.send({ requestId: smsId, phone, template: 'activation-code', params: { code: '246810', minutes: 5 } });
  nowMs = T0 + 301_000;
  expect(await ledger.sms.carryOut(ref, { mayHaveBeenSent: true })).toBe('sent');
  expect(await types(smsId)).toEqual(['SmsRequested', 'SmsSent']);
  expect(simulators.sms.appliedTimes(smsId)).toBe(1);
});

it('does not send a code the gateway never saw once it has expired', async () => {
  const { smsId, phone, ref } = await requested();
  nowMs = T0 + 301_000;
  expect(await ledger.sms.carryOut(ref, { mayHaveBeenSent: true })).toBe('expired');
  expect(await types(smsId)).toEqual(['SmsRequested', 'SmsFailed']);
  expect([simulators.sms.appliedTimes(smsId), simulators.messagesTo(phone).length]).toEqual([0, 0]);
});

it('refuses a job that names no SMS request, for good', async () => {
  const { ref } = await requested();
  await expect(ledger.sms.carryOut({ ...ref, eventId: '00000000-0000-4000-8000-000000000000' }, { mayHaveBeenSent: false })).rejects.toMatchObject({ name: 'SmsJobInvalidError' });
  await expect(ledger.sms.carryOut({ ...ref, revision: 'x' }, { mayHaveBeenSent: false })).rejects.toMatchObject({ name: 'SmsJobInvalidError' });
});
