import { deterministicEventId } from '../../src/application/event-ids';
import { jobFor } from '../../src/workers/relay';
import { activateThroughWeChat, startLedgerApp, testNationalId, type Answer, type LedgerApp } from '../support/ledger-app';
import { testTimeout, waitFor } from '../support/wait-for';

/**
 * The activation's insurance end to end, as `npm start` runs it: the service with the relay and
 * the workers in its process, the insurer simulator as a real HTTP server. A member who activates
 * through WeChat sees a policy number at GET /v1/me/insurance within seconds; a refusal is
 * recorded as such; a job whose attempts ran out is a dead letter a root admin lists and retries.
 */

let app: LedgerApp;
const system = { type: 'system', id: 'test-setup' };
let counter = 0;
const key = (): string => `ins-${(counter += 1)}`;

function expectError(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
}

async function enrol(serial: number, name: string): Promise<{ nationalId: string; memberId: string; phone: string; name: string }> {
  const nationalId = testNationalId(serial);
  const phone = `1380000${String(serial).padStart(4, '0')}`;
  const idHmac = app.ledger.vault.idHmac(nationalId);
  const memberId = app.ledger.vault.memberIdFor(idHmac);
  const piiCipher = await app.ledger.vault.seal(memberId, { idNumber: nationalId, phone });
  await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'u-1', name, idHmac, piiCipher }, { commandId: `enrol:${idHmac}`, actor: system });
  return { nationalId, memberId, phone, name };
}

async function insuranceOf(token: string): Promise<Array<Record<string, unknown>>> {
  const answer = await app.call('GET', '/v1/me/insurance', { token });
  expect(answer.status).toBe(200);
  return answer.body.policies as Array<Record<string, unknown>>;
}

beforeAll(async () => {
  app = await startLedgerApp({ workers: true });
  await app.ledger.orgs.registerOrganisation({ orgId: 'p-1', name: 'Province', parentId: null, level: 'province' }, { commandId: 'org:p-1', actor: system });
  await app.ledger.orgs.registerOrganisation({ orgId: 'u-1', name: 'Union', parentId: 'p-1', level: 'grassroots' }, { commandId: 'org:u-1', actor: system });
}, testTimeout());
afterAll(async () => {
  await app?.close();
});

describe('the activation’s insurance', () => {
  it('ends with a policy number on the member’s insurance, enrolled once with the grant id as the insurer’s idempotency key', async () => {
    const person = await enrol(1, '王五');
    const member = await activateThroughWeChat(app, { user: 'wang-wu', ...person });
    const grantId = `${person.memberId}:activation-insurance`;

    const [policy] = await waitFor(
      async () => {
        const policies = await insuranceOf(member.accessToken);
        return policies[0]?.status === 'granted' ? policies : null;
      },
      { what: 'the activation insurance to be granted' },
    );
    const enrolment = app.simulators.insurer.enrolment(grantId)!;
    expect(policy).toEqual({
      grantId,
      product: 'accident-mutual-aid',
      termYears: 1,
      status: 'granted',
      policyNumber: enrolment.policyNumber,
      validFrom: enrolment.validFrom,
      validUntil: enrolment.validUntil,
      reason: null,
    });
    expect(policy!.policyNumber).toMatch(/^AMA-\d{4}-\d{8}$/);
    expect(app.simulators.insurer.stats().applied).toBe(1);

    const events = await app.ledger.store.readStream(`member-${person.memberId}`);
    expect(events.map((event) => event.type)).toEqual(['MemberEnrolled', 'MemberActivated', 'LoginBound', 'PointsGranted', 'InsuranceGrantRequested', 'InsuranceGranted']);
    const granted = events[5]!;
    expect(granted.metadata).toMatchObject({ actor: { type: 'system', id: 'insurance-worker' }, correlationId: events[4]!.eventId });
  });

  it('records a refusal for good as InsuranceGrantFailed, and shows it', async () => {
    const person = await enrol(2, '赵六');
    app.simulators.insurer.setFaults({ refuseRequestIds: [`${person.memberId}:activation-insurance`] });
    try {
      const member = await activateThroughWeChat(app, { user: 'zhao-liu', ...person });
      const [policy] = await waitFor(
        async () => {
          const policies = await insuranceOf(member.accessToken);
          return policies[0]?.status !== 'requested' ? policies : null;
        },
        { what: 'the insurer’s refusal to be recorded' },
      );
      expect(policy).toMatchObject({ status: 'failed', policyNumber: null, reason: 'the insured person is not eligible for this plan' });
    } finally {
      app.simulators.insurer.setFaults({ refuseRequestIds: [] });
    }
  });

  it('answers MEMBER.NOT_FOUND for a member token of nobody', async () => {
    expectError(await app.call('GET', '/v1/me/insurance', { token: await app.token('nobody', 'member', 'u-1') }), 404, 'MEMBER.NOT_FOUND');
  });
});

describe('dead letters', () => {
  it('lists a job that failed for good, and a root admin’s retry carries it out', async () => {
    const admin = await app.token('root-admin', 'admin', 'p-1');
    const person = await enrol(3, '钱七');
    // The job of a request that is not in the log yet (as a corrupted or premature job would be):
    // the worker cannot carry it out and fails it at once, without retries. When the request
    // then arrives, the relay's add of the same job id is absorbed, so only an admin's retry
    // moves it. The ids are those the activation below will store (derived from its command id):
    // MemberActivated, PointsGranted, InsuranceGrantRequested at revisions 1 to 3.
    const activation = 'activate-dead-letter';
    const eventId = deterministicEventId(activation, 2);
    const job = jobFor({ eventId, streamId: `member-${person.memberId}`, revision: 3n, type: 'InsuranceGrantRequested' });
    await app.queues.get('insurance').add(job.name, job.data, job.opts);

    const listed = await waitFor(
      async () => {
        const answer = await app.call('GET', '/v1/admin/jobs/failed?queue=insurance', { token: admin });
        return (answer.body.jobs as Array<Record<string, unknown>> | undefined)?.find((failed) => failed.jobId === eventId) ? answer : null;
      },
      { what: 'the job to be listed among the failed ones' },
    );
    expect(listed.status).toBe(200);
    expect(listed.body).toMatchObject({ queue: 'insurance', total: 1, nextCursor: null });
    expect((listed.body.jobs as unknown[])[0]).toMatchObject({
      queue: 'insurance',
      jobId: eventId,
      name: 'InsuranceGrantRequested',
      request: { eventId, streamId: `member-${person.memberId}`, revision: '3' },
      attemptsMade: 1,
      failedReason: expect.stringMatching(/^no InsuranceGrantRequested/),
    });

    await app.ledger.members.execute(person.memberId, { type: 'ActivateMember', name: person.name }, { commandId: activation, actor: system });
    const [request] = (await app.ledger.store.readStream(`member-${person.memberId}`)).filter((event) => event.type === 'InsuranceGrantRequested');
    expect({ eventId: request!.eventId, revision: request!.revision }).toEqual({ eventId, revision: 3n });
    // Ids only: nothing of the person in a dead letter.
    expect(JSON.stringify(listed.body)).not.toContain(person.nationalId);
    expect(JSON.stringify(listed.body)).not.toContain(person.name);

    // Only an admin of a root union: an admin of the union below is refused.
    expectError(await app.call('GET', '/v1/admin/jobs/failed?queue=insurance', { token: await app.token('unit-admin', 'admin', 'u-1') }), 403, 'AUTH.FORBIDDEN');
    expectError(
      await app.call('POST', `/v1/admin/jobs/insurance/${eventId}/retry`, { token: await app.token('unit-admin', 'admin', 'u-1'), key: key() }),
      403,
      'AUTH.FORBIDDEN',
    );

    const retried = await app.call('POST', `/v1/admin/jobs/insurance/${eventId}/retry`, { token: admin, key: key() });
    expect({ status: retried.status, body: retried.body }).toEqual({ status: 200, body: { queue: 'insurance', jobId: eventId, status: 'retried' } });
    await waitFor(async () => (await app.ledger.members.load(person.memberId)).state.insurance.get(`${person.memberId}:activation-insurance`)?.status === 'granted', {
      what: 'the retried job to grant the insurance',
    });
    const after = await app.call('GET', '/v1/admin/jobs/failed?queue=insurance', { token: admin });
    expect(after.body).toMatchObject({ jobs: [], total: 0 });
    // Retrying a job that is no longer failed is a conflict; an unknown job or queue is not found.
    expectError(await app.call('POST', `/v1/admin/jobs/insurance/${eventId}/retry`, { token: admin, key: key() }), 409, 'JOB.NOT_FAILED');
    expectError(await app.call('POST', '/v1/admin/jobs/insurance/no-such-job/retry', { token: admin, key: key() }), 404, 'JOB.NOT_FOUND');
    expectError(await app.call('GET', '/v1/admin/jobs/failed?queue=mall', { token: admin }), 404, 'JOB.QUEUE_UNKNOWN');
    expectError(await app.call('GET', '/v1/admin/jobs/failed', { token: admin }), 400, 'VALIDATION.FAILED');
    expect(app.simulators.insurer.enrolment(`${person.memberId}:activation-insurance`)?.appliedTimes).toBe(1);
  });
});
