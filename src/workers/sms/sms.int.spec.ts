import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { UnionLedger } from '../../composition-root';
import { loadConfig } from '../../config/config';
import type { EventStore } from '../../eventstore/event-store';
import { SmsHttpClient } from '../../infra/sms-http';
import { startSimulators, type Simulators } from '../../infra/simulators/simulators';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { testNationalId } from '../../../test/support/ledger-app';
import { testTimeout, waitFor } from '../../../test/support/wait-for';
import { QueueSet } from '../queue-set';
import { startWorkerService, type WorkerService } from '../worker-service';
import { smsWorker } from '.';

/**
 * One-time codes through the durable relay and the SMS worker (in this process), with the SMS
 * gateway simulator answering some calls late (timeouts), with errors, or sending the message and
 * dropping the answer. N codes are requested: every code still valid reaches its phone exactly
 * once (the simulator's own count) and is recorded once as SmsSent; codes whose expiry passed
 * before the worker got to them are recorded as SmsFailed `expired` and never sent; a member whose
 * personal data was shredded gets SmsFailed `no-phone`; an undeliverable number, `refused`. Then
 * Redis loses the queue's jobs, and the worker service's start-up replay sends what was owed.
 */

const CODES = 120;
const EXPIRED = 15;
const SYSTEM = { type: 'system', id: 'sms-test' };
const T0 = Date.parse('2026-11-30T02:00:00.000Z');

let database: TestDatabase;
let redis: Redis;
let simulators: Simulators;
let ledger: UnionLedger;
let queues: QueueSet;
let workers: WorkerService | undefined;
let nowMs = T0;
const prefix = `ul-test-sms-${randomBytes(4).toString('hex')}:`;
const workerLog: string[] = [];
const log = { log: (line: string) => workerLog.push(line), warn: (line: string) => workerLog.push(line), error: (line: string) => workerLog.push(line) };

interface Owed {
  smsId: string;
  memberId: string;
  phone: string;
  code: string;
}

beforeAll(async () => {
  database = await createTestDatabase();
  redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
  simulators = await startSimulators();
  ledger = new UnionLedger({
    config: loadConfig({ REDIS_KEY_PREFIX: prefix }),
    db: database.db,
    piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) },
    clock: () => new Date(nowMs),
    // A short deadline: a held call is an unknown outcome after 300 ms.
    sms: new SmsHttpClient({ baseUrl: simulators.url, apiKey: simulators.settings.smsApiKey, timeoutMs: 300 }),
  });
  queues = new QueueSet(redis, prefix);
  await ledger.orgs.registerOrganisation({ orgId: 'p-sms', name: 'Province', parentId: null, level: 'province' }, { commandId: 'org:p-sms', actor: SYSTEM });
  await ledger.orgs.registerOrganisation({ orgId: 'u-sms', name: 'Union', parentId: 'p-sms', level: 'grassroots' }, { commandId: 'org:u-sms', actor: SYSTEM });
});
afterAll(async () => {
  await workers?.close();
  await queues?.close();
  await ledger?.close();
  await simulators?.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis?.quit();
  await database?.drop();
});

/** Enrols a member with sealed personal data (serials far from other tests') and returns their id. */
async function enrol(serial: number, phone: string): Promise<string> {
  const nationalId = testNationalId(7_000 + serial);
  const idHmac = ledger.vault.idHmac(nationalId);
  const memberId = ledger.vault.memberIdFor(idHmac);
  const piiCipher = await ledger.vault.seal(memberId, { idNumber: nationalId, phone });
  await ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'u-sms', name: `会员${serial}`, idHmac, piiCipher }, { commandId: `enrol:${idHmac}`, actor: SYSTEM });
  return memberId;
}

/** Requests a code for the member, valid for `validSeconds` from now. */
async function requestCode(serial: number, memberId: string, phone: string, validSeconds: number): Promise<Owed> {
  const smsId = `sms-test-${serial}`;
  const code = String(100_000 + serial * 7);
  await ledger.sms.requestCode({ smsId, memberId, code, expiresAt: new Date(nowMs + validSeconds * 1000), validMinutes: Math.ceil(validSeconds / 60) });
  return { smsId, memberId, phone, code };
}

/** Every SMS outcome in the log: smsId → the outcome events recorded for it. */
async function outcomes(store: EventStore): Promise<Map<string, Array<{ type: string; reason?: string; messageId?: string }>>> {
  const recorded = new Map<string, Array<{ type: string; reason?: string; messageId?: string }>>();
  let after: bigint | undefined;
  for (let page = 0; page < 100; page += 1) {
    const result = await store.readAll({ ...(after === undefined ? {} : { after }), limit: 1_000, eventTypes: ['SmsSent', 'SmsFailed'] });
    for (const event of result.events) {
      const data = event.data as { smsId: string; reason?: string; messageId?: string };
      recorded.set(data.smsId, [...(recorded.get(data.smsId) ?? []), { type: event.type, ...data }]);
    }
    if (result.isEnd) break;
    after = result.nextAfter;
  }
  return recorded;
}

it(
  `sends ${CODES} codes once each through timeouts, errors and lost answers, never an expired one, and replays what Redis lost`,
  async () => {
    const owed: Owed[] = [];
    const expired: Owed[] = [];
    for (let serial = 0; serial < CODES; serial += 1) {
      const phone = `1360000${String(serial).padStart(4, '0')}`;
      const memberId = await enrol(serial, phone);
      // The first EXPIRED codes are valid for a minute only, and the clock moves past that below.
      if (serial < EXPIRED) expired.push(await requestCode(serial, memberId, phone, 60));
      else owed.push(await requestCode(serial, memberId, phone, 600));
    }
    const shreddedId = await enrol(CODES, '13600009990');
    const shredded = await requestCode(CODES, shreddedId, '13600009990', 600);
    await ledger.vault.shred(shreddedId);
    const undeliverable = await requestCode(CODES + 1, await enrol(CODES + 1, 'no-such-number'), 'no-such-number', 600);
    nowMs = T0 + 120_000;

    simulators.sms.setFaults({ latencyMs: 20, errorRate: 0.05, timeoutRate: 0.05, lostAnswerRate: 0.15 });
    workers = await startWorkerService({ ledger, db: database.db, redis, redisKeyPrefix: prefix, queues, settings: { concurrency: 16, lockMs: 10_000 }, log, schedules: false, registry: { sms: smsWorker({ ledger }) } });
    const total = CODES + 2;
    await waitFor(async () => (await outcomes(ledger.store)).size >= total, {
      what: `${total} SMS outcomes in the log`,
      intervalMs: 200,
      seen: () => `${workerLog.length} worker log lines; simulator ${JSON.stringify(simulators.sms.stats())}`,
    });
    const recorded = await outcomes(ledger.store);
    const stats = simulators.sms.stats();
    process.stdout.write(`sms under faults: ${JSON.stringify({ codes: total, sent: owed.length, applied: stats.applied, sendRequests: stats.sendRequests, statusRequests: stats.statusRequests, replayedSends: stats.replayedSends, injected: stats.injected })}\n`);

    // Every valid code reached its phone exactly once, with its own code, and is recorded once as sent.
    for (const sms of owed) {
      expect({ smsId: sms.smsId, applied: simulators.sms.appliedTimes(sms.smsId), recorded: recorded.get(sms.smsId)?.map((outcome) => outcome.type) }).toEqual({ smsId: sms.smsId, applied: 1, recorded: ['SmsSent'] });
      expect(simulators.messagesTo(sms.phone).map((message) => [message.requestId, message.params])).toEqual([[sms.smsId, { code: sms.code, minutes: 10 }]]);
    }
    // Expired codes were not sent, and say why.
    for (const sms of expired) {
      expect({ smsId: sms.smsId, applied: simulators.sms.appliedTimes(sms.smsId), recorded: recorded.get(sms.smsId) }).toEqual({ smsId: sms.smsId, applied: 0, recorded: [{ type: 'SmsFailed', smsId: sms.smsId, reason: 'expired' }] });
      expect(simulators.messagesTo(sms.phone)).toEqual([]);
    }
    expect(recorded.get(shredded.smsId)).toEqual([{ type: 'SmsFailed', smsId: shredded.smsId, reason: 'no-phone' }]);
    expect(simulators.sms.appliedTimes(shredded.smsId)).toBe(0);
    expect(recorded.get(undeliverable.smsId)).toEqual([{ type: 'SmsFailed', smsId: undeliverable.smsId, reason: 'refused' }]);
    expect(stats.applied).toBe(owed.length);

    // The faults did happen, and every unknown outcome was resolved by a status inquiry before
    // anything was sent again: the gateway never had to absorb a second send of a message it sent.
    expect(stats.injected.lostAnswers).toBeGreaterThan(0);
    expect(stats.injected.timeouts).toBeGreaterThan(0);
    expect(stats.injected.errors).toBeGreaterThan(0);
    expect(stats.statusRequests).toBeGreaterThanOrEqual(stats.injected.lostAnswers);
    expect(stats.replayedSends).toBe(0);
    expect(await queues.get('sms').getFailedCount()).toBe(0);

    // Nothing readable in the log, the queue or the worker's log lines: ids and the sealed code only.
    const smsEvents = await database.db.any<{ data: Record<string, unknown> }>("SELECT data FROM ul_events WHERE stream_id LIKE 'sms-%' AND event_type = 'SmsRequested'");
    expect(smsEvents).toHaveLength(total);
    for (const { data } of smsEvents) expect(Object.keys(data).sort()).toEqual(['codeSealed', 'expiresAt', 'memberId', 'smsId', 'template', 'validMinutes']);
    const everything = JSON.stringify(smsEvents) + JSON.stringify(await database.db.any("SELECT data FROM ul_events WHERE stream_id LIKE 'sms-%'")) + workerLog.join('\n');
    for (const sms of [...owed, ...expired]) {
      expect(everything).not.toContain(sms.phone);
      expect(everything).not.toContain(`"${sms.code}"`);
    }

    // Redis loses the jobs of codes requested while no SMS worker ran: the next worker start sends them.
    await workers.close();
    workers = await startWorkerService({ ledger, db: database.db, redis, redisKeyPrefix: prefix, queues, settings: { concurrency: 16, lockMs: 10_000 }, log, schedules: false, registry: {} });
    const later: Owed[] = [];
    for (let serial = CODES + 2; serial < CODES + 12; serial += 1) {
      const phone = `1360000${String(serial).padStart(4, '0')}`;
      later.push(await requestCode(serial, await enrol(serial, phone), phone, 600));
    }
    await waitFor(async () => (await queues.get('sms').getJobCounts('waiting')).waiting === later.length, { what: 'the relay to queue the later codes' });
    const job = await queues.get('sms').getJobs(['waiting'], 0, 0);
    expect(Object.keys(job[0]!.data).sort()).toEqual(['eventId', 'revision', 'streamId']);
    await workers.close();
    await queues.get('sms').obliterate({ force: true });
    workers = await startWorkerService({ ledger, db: database.db, redis, redisKeyPrefix: prefix, queues, settings: { concurrency: 16, lockMs: 10_000 }, log, schedules: false, registry: { sms: smsWorker({ ledger }) } });
    expect(workerLog).toContain(`relay: ${later.length} request(s) without a recorded outcome, ${later.length} of them re-added (Redis no longer held them)`);
    await waitFor(async () => (await outcomes(ledger.store)).size >= total + later.length, { what: 'the replayed codes to be sent', intervalMs: 200 });
    for (const sms of later) expect({ smsId: sms.smsId, applied: simulators.sms.appliedTimes(sms.smsId) }).toEqual({ smsId: sms.smsId, applied: 1 });
    expect(simulators.sms.stats().applied).toBe(owed.length + later.length);
  },
  testTimeout(2),
);
