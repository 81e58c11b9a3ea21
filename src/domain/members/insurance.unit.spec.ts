import { deciderSpec } from '../../../test/support/given-when-then';
import { DEFAULT_RULES, type RuleSet } from '../earning';
import { decide, evolve, initialState, MAX_INSURANCE_REASON_LENGTH, type Context, type MemberEvent } from '.';

/**
 * The outcome of the activation's insurance grant, recorded by the insurance worker: one
 * InsuranceGranted (or InsuranceGrantFailed) per grant id, however often the worker delivers it.
 */

const member = deciderSpec({ initialState, evolve, decide });

const M = 'm1';
const GRANT = 'm1:activation-insurance';
const rules: RuleSet = { version: 1, ...DEFAULT_RULES };
const ctx: Context = { now: new Date('2026-11-23T10:00:00+08:00'), rules };

const enrolled: MemberEvent = { type: 'MemberEnrolled', data: { memberId: M, orgId: 'u1', name: '张三', idHmac: 'hmac-1', piiCipher: 'cipher-1' } };
const activated: MemberEvent = { type: 'MemberActivated', data: { memberId: M, orgId: 'u1', day: '2026-11-23' } };
const requested: MemberEvent = { type: 'InsuranceGrantRequested', data: { memberId: M, grantId: GRANT, product: 'accident-mutual-aid', termYears: 1 } };
const active: MemberEvent[] = [enrolled, activated, requested];

const policy = { grantId: GRANT, policyNumber: 'AMA-2026-000042', validFrom: '2026-11-23', validUntil: '2027-11-22' };
const granted: MemberEvent = {
  type: 'InsuranceGranted',
  data: { memberId: M, grantId: GRANT, policyNumber: 'AMA-2026-000042', product: 'accident-mutual-aid', termYears: 1, validFrom: '2026-11-23', validUntil: '2027-11-22' },
};
const failed: MemberEvent = { type: 'InsuranceGrantFailed', data: { memberId: M, grantId: GRANT, product: 'accident-mutual-aid', reason: 'over the age limit' } };

describe('RecordInsuranceGranted', () => {
  it('records the policy with the product and term of the request', () => {
    member.given(active).when({ type: 'RecordInsuranceGranted', ...policy }, ctx).then([granted]);
  });

  it('shows the policy in the member state', () => {
    const { state } = member.given(active).when({ type: 'RecordInsuranceGranted', ...policy }, ctx).result();
    expect(state.insurance.get(GRANT)).toEqual({
      product: 'accident-mutual-aid',
      termYears: 1,
      status: 'granted',
      policyNumber: 'AMA-2026-000042',
      validFrom: '2026-11-23',
      validUntil: '2027-11-22',
      reason: null,
    });
  });

  it('decides nothing when the grant already has its policy (a redelivered job, a racing worker)', () => {
    member.given([...active, granted]).when({ type: 'RecordInsuranceGranted', ...policy }, ctx).then([]);
  });

  it('keeps the first outcome: another policy number for the same grant decides nothing', () => {
    member.given([...active, granted]).when({ type: 'RecordInsuranceGranted', ...policy, policyNumber: 'AMA-2026-999999' }, ctx).then([]);
  });

  it('decides nothing after a refusal was recorded', () => {
    member.given([...active, failed]).when({ type: 'RecordInsuranceGranted', ...policy }, ctx).then([]);
  });

  it('refuses a grant that was never requested as INSURANCE.GRANT_NOT_FOUND', () => {
    member.given([enrolled, activated]).when({ type: 'RecordInsuranceGranted', ...policy }, ctx).thenFails('INSURANCE.GRANT_NOT_FOUND', { grantId: GRANT });
    member.given(active).when({ type: 'RecordInsuranceGranted', ...policy, grantId: 'm1:other' }, ctx).thenFails('INSURANCE.GRANT_NOT_FOUND');
  });

  it.each([
    ['an empty policy number', { policyNumber: '' }],
    ['a policy number with spaces', { policyNumber: 'AMA 1' }],
    ['a policy number of 65 characters', { policyNumber: 'A'.repeat(65) }],
    ['a day that does not exist', { validUntil: '2027-02-30' }],
    ['a day in another format', { validFrom: '23/11/2026' }],
    ['a term that ends before it starts', { validFrom: '2027-11-23', validUntil: '2027-11-22' }],
  ])('refuses %s as INSURANCE.POLICY_INVALID', (_label, change) => {
    member.given(active).when({ type: 'RecordInsuranceGranted', ...policy, ...change }, ctx).thenFails('INSURANCE.POLICY_INVALID');
  });
});

describe('RecordInsuranceGrantFailed', () => {
  it('records the refusal and its reason', () => {
    const { events, state } = member.given(active).when({ type: 'RecordInsuranceGrantFailed', grantId: GRANT, reason: 'over the age limit' }, ctx).result();
    expect(events).toEqual([failed]);
    expect(state.insurance.get(GRANT)).toMatchObject({ status: 'failed', reason: 'over the age limit', policyNumber: null });
  });

  it('decides nothing once the grant has an outcome', () => {
    member.given([...active, failed]).when({ type: 'RecordInsuranceGrantFailed', grantId: GRANT, reason: 'again' }, ctx).then([]);
    member.given([...active, granted]).when({ type: 'RecordInsuranceGrantFailed', grantId: GRANT, reason: 'late' }, ctx).then([]);
  });

  it('refuses an empty or overlong reason as INSURANCE.REASON_INVALID', () => {
    member.given(active).when({ type: 'RecordInsuranceGrantFailed', grantId: GRANT, reason: '' }, ctx).thenFails('INSURANCE.REASON_INVALID');
    member
      .given(active)
      .when({ type: 'RecordInsuranceGrantFailed', grantId: GRANT, reason: 'x'.repeat(MAX_INSURANCE_REASON_LENGTH + 1) }, ctx)
      .thenFails('INSURANCE.REASON_INVALID');
  });

  it('refuses a grant that was never requested as INSURANCE.GRANT_NOT_FOUND', () => {
    member.given([enrolled, activated]).when({ type: 'RecordInsuranceGrantFailed', grantId: GRANT, reason: 'no' }, ctx).thenFails('INSURANCE.GRANT_NOT_FOUND');
  });
});

describe('the activation request', () => {
  it('is in the state as requested, with its product and term, until the insurer answers', () => {
    expect(member.given(active).state().insurance.get(GRANT)).toEqual({
      product: 'accident-mutual-aid',
      termYears: 1,
      status: 'requested',
      policyNumber: null,
      validFrom: null,
      validUntil: null,
      reason: null,
    });
  });
});
