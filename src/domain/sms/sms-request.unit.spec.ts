import { deciderSpec } from '../../../test/support/given-when-then';
import { decideSms, evolveSms, initialSmsState, smsExpired, type SmsEvent } from '.';

const sms = deciderSpec({ initialState: initialSmsState, evolve: evolveSms, decide: decideSms });

const issuedAt = new Date('2026-11-30T02:00:00.000Z');
const expiresAt = new Date('2026-11-30T02:05:00.000Z');
const at = { now: issuedAt };
const afterExpiry = { now: new Date(expiresAt.getTime() + 1) };
const request = { type: 'RequestSms', smsId: 'ch-1', memberId: 'm-1', template: 'activation-code', codeSealed: '{"v":1,"sealed":"…"}', expiresAt, validMinutes: 5 } as const;
const requested: SmsEvent = {
  type: 'SmsRequested',
  data: { smsId: 'ch-1', memberId: 'm-1', template: 'activation-code', codeSealed: '{"v":1,"sealed":"…"}', expiresAt: expiresAt.toISOString(), validMinutes: 5 },
};
const sent: SmsEvent = { type: 'SmsSent', data: { smsId: 'ch-1', messageId: 'msg-1' } };
const failed = (reason: 'expired' | 'no-phone' | 'refused'): SmsEvent => ({ type: 'SmsFailed', data: { smsId: 'ch-1', reason } });

describe('requesting an SMS', () => {
  it('records the request with the code sealed and its expiry', () => {
    sms.given([]).when(request, at).then([requested]);
  });

  it('refuses a request id already used, by a request or by a withheld one', () => {
    sms.given([requested]).when(request, at).thenFails('SMS.ALREADY_REQUESTED');
    sms.given([{ type: 'SmsWithheld', data: { smsId: 'ch-1' } }]).when(request, at).thenFails('SMS.ALREADY_REQUESTED');
  });

  it('records a withheld request (an activation that matched nobody) with its id only', () => {
    sms.given([]).when({ type: 'WithholdSms', smsId: 'ch-1' }, at).then([{ type: 'SmsWithheld', data: { smsId: 'ch-1' } }]);
  });

  it('crashes on a code requested already expired or without its sealed code (a programmer error)', () => {
    expect(() => sms.given([]).when(request, afterExpiry).then([])).toThrow('invariant violated');
    expect(() => sms.given([]).when({ ...request, codeSealed: '' }, at).then([])).toThrow('invariant violated');
  });
});

describe('recording the outcome', () => {
  it('records a sent SMS with the gateway’s message id', () => {
    sms.given([requested]).when({ type: 'RecordSmsSent', messageId: 'msg-1' }, at).then([sent]);
  });

  it('records an expired code as failed, only once it has expired', () => {
    sms.given([requested]).when({ type: 'RecordSmsFailed', reason: 'expired' }, afterExpiry).then([failed('expired')]);
    sms.given([requested]).when({ type: 'RecordSmsFailed', reason: 'expired' }, at).thenFails('SMS.NOT_EXPIRED');
  });

  it('records an SMS to a member whose data was erased, or that the gateway refused, as failed', () => {
    sms.given([requested]).when({ type: 'RecordSmsFailed', reason: 'no-phone' }, at).then([failed('no-phone')]);
    sms.given([requested]).when({ type: 'RecordSmsFailed', reason: 'refused' }, at).then([failed('refused')]);
  });

  it('keeps the first outcome: a later one, from a run that raced it, records nothing', () => {
    sms.given([requested, sent]).when({ type: 'RecordSmsFailed', reason: 'expired' }, afterExpiry).then([]);
    sms.given([requested, sent]).when({ type: 'RecordSmsSent', messageId: 'msg-2' }, at).then([]);
    sms.given([requested, failed('no-phone')]).when({ type: 'RecordSmsSent', messageId: 'msg-1' }, at).then([]);
  });

  it('refuses an outcome for an SMS never requested or withheld', () => {
    sms.given([]).when({ type: 'RecordSmsSent', messageId: 'msg-1' }, at).thenFails('SMS.NOT_REQUESTED');
    sms.given([{ type: 'SmsWithheld', data: { smsId: 'ch-1' } }]).when({ type: 'RecordSmsFailed', reason: 'refused' }, at).thenFails('SMS.NOT_REQUESTED');
  });
});

describe('the state', () => {
  it('knows when the code may no longer be sent', () => {
    const state = sms.given([requested]).state();
    expect([smsExpired(state, issuedAt), smsExpired(state, expiresAt), smsExpired(state, afterExpiry.now)]).toEqual([false, true, true]);
    expect(sms.given([requested, sent]).state()).toEqual(expect.objectContaining({ status: 'sent', messageId: 'msg-1', memberId: 'm-1' }));
  });
});
