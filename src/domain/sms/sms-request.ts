import { DomainError, invariant } from '../shared';

/**
 * One SMS the ledger owes a member (stream `sms-<smsId>`): requested durably when a one-time code
 * is issued, then sent exactly once by the SMS worker (src/workers/sms) or recorded as failed.
 * The stream holds ids only and the code sealed under a key of the vault (the worker unseals it,
 * and reads the phone from the member's own sealed record when it sends): no phone number and no
 * code is ever readable in the log, in a queue or in a log line.
 *
 * `SmsWithheld` is what an activation that matched nobody records instead of `SmsRequested`, so
 * that a match and a miss cost the same (one event appended to a new stream): see
 * src/application/identity/activation.ts.
 */

export const SMS_TEMPLATES = ['activation-code'] as const;
export type SmsTemplate = (typeof SMS_TEMPLATES)[number];

/**
 * Why an SMS was not sent: the code had expired when the worker got to it (an expired code is
 * never sent), the member's personal data was erased (crypto-shredding: no phone to send to), or
 * the gateway refused the message for good (a number it cannot deliver to).
 */
export const SMS_FAILURE_REASONS = ['expired', 'no-phone', 'refused'] as const;
export type SmsFailureReason = (typeof SMS_FAILURE_REASONS)[number];

/** A sealed code is a short JSON envelope; anything longer is a programming error, not a code. */
export const MAX_SEALED_CODE_LENGTH = 512;
export const MAX_MESSAGE_ID_LENGTH = 128;

export type SmsEvent =
  | {
      type: 'SmsRequested';
      data: {
        smsId: string;
        memberId: string;
        template: SmsTemplate;
        /** The code, sealed (PiiVault.sealSecret, bound to the SMS id). */
        codeSealed: string;
        /** After this instant the code is useless: an SMS not sent by then is not sent at all. */
        expiresAt: string;
        /** What the message tells the member about the code's lifetime. */
        validMinutes: number;
      };
    }
  | { type: 'SmsWithheld'; data: { smsId: string } }
  | { type: 'SmsSent'; data: { smsId: string; messageId: string } }
  | { type: 'SmsFailed'; data: { smsId: string; reason: SmsFailureReason } };

export type SmsStatus = 'none' | 'withheld' | 'requested' | 'sent' | 'failed';

export interface SmsState {
  smsId: string;
  status: SmsStatus;
  memberId: string | null;
  template: SmsTemplate | null;
  codeSealed: string | null;
  expiresAtMs: number | null;
  validMinutes: number | null;
  messageId: string | null;
  failure: SmsFailureReason | null;
}

export type SmsCommand =
  | { type: 'RequestSms'; smsId: string; memberId: string; template: SmsTemplate; codeSealed: string; expiresAt: Date; validMinutes: number }
  | { type: 'WithholdSms'; smsId: string }
  | { type: 'RecordSmsSent'; messageId: string }
  | { type: 'RecordSmsFailed'; reason: SmsFailureReason };

export const smsStream = (smsId: string): string => `sms-${smsId}`;

export const initialSmsState: SmsState = {
  smsId: '',
  status: 'none',
  memberId: null,
  template: null,
  codeSealed: null,
  expiresAtMs: null,
  validMinutes: null,
  messageId: null,
  failure: null,
};

export function evolveSms(state: SmsState, event: SmsEvent): SmsState {
  switch (event.type) {
    case 'SmsRequested': {
      const { smsId, memberId, template, codeSealed, expiresAt, validMinutes } = event.data;
      return { ...state, smsId, status: 'requested', memberId, template, codeSealed, expiresAtMs: Date.parse(expiresAt), validMinutes };
    }
    case 'SmsWithheld':
      return { ...state, smsId: event.data.smsId, status: 'withheld' };
    case 'SmsSent':
      return { ...state, status: 'sent', messageId: event.data.messageId };
    case 'SmsFailed':
      return { ...state, status: 'failed', failure: event.data.reason };
    default: {
      const unknown: never = event;
      throw new Error(`unknown SMS event ${(unknown as { type: string }).type}`);
    }
  }
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

function requestSms(state: SmsState, command: Extract<SmsCommand, { type: 'RequestSms' }>, now: Date): SmsEvent[] {
  if (state.status !== 'none') throw new DomainError('SMS.ALREADY_REQUESTED', 'this SMS request id is taken', 409, { smsId: command.smsId });
  invariant(ID.test(command.smsId) && ID.test(command.memberId), 'an SMS request names its id and member id');
  invariant(SMS_TEMPLATES.includes(command.template), `unknown SMS template ${command.template}`);
  invariant(command.codeSealed.length > 0 && command.codeSealed.length <= MAX_SEALED_CODE_LENGTH, 'an SMS request carries its code sealed');
  invariant(Number.isSafeInteger(command.validMinutes) && command.validMinutes >= 1 && command.validMinutes <= 24 * 60, 'a code is valid from one minute to a day');
  invariant(command.expiresAt.getTime() > now.getTime(), 'a code is requested before it expires');
  const { smsId, memberId, template, codeSealed, validMinutes } = command;
  return [{ type: 'SmsRequested', data: { smsId, memberId, template, codeSealed, expiresAt: command.expiresAt.toISOString(), validMinutes } }];
}

function withholdSms(state: SmsState, command: Extract<SmsCommand, { type: 'WithholdSms' }>): SmsEvent[] {
  if (state.status !== 'none') throw new DomainError('SMS.ALREADY_REQUESTED', 'this SMS request id is taken', 409, { smsId: command.smsId });
  invariant(ID.test(command.smsId), 'an SMS request names its id');
  return [{ type: 'SmsWithheld', data: { smsId: command.smsId } }];
}

/** An outcome is recorded once: the first one stands, a later one (a racing run) changes nothing. */
function hasOutcome(state: SmsState): boolean {
  return state.status === 'sent' || state.status === 'failed';
}

function requireRequested(state: SmsState): void {
  if (state.status === 'none' || state.status === 'withheld') throw new DomainError('SMS.NOT_REQUESTED', 'no SMS was requested under this id', 404, { smsId: state.smsId });
}

function recordSent(state: SmsState, command: Extract<SmsCommand, { type: 'RecordSmsSent' }>): SmsEvent[] {
  requireRequested(state);
  if (hasOutcome(state)) return [];
  invariant(command.messageId.length > 0 && command.messageId.length <= MAX_MESSAGE_ID_LENGTH, 'a sent SMS has the gateway’s message id');
  return [{ type: 'SmsSent', data: { smsId: state.smsId, messageId: command.messageId } }];
}

function recordFailed(state: SmsState, command: Extract<SmsCommand, { type: 'RecordSmsFailed' }>, now: Date): SmsEvent[] {
  requireRequested(state);
  if (hasOutcome(state)) return [];
  invariant(SMS_FAILURE_REASONS.includes(command.reason), `unknown SMS failure reason ${command.reason}`);
  // "Expired" is a fact about the clock: a code still valid cannot be written off as expired.
  if (command.reason === 'expired' && now.getTime() < state.expiresAtMs!) {
    throw new DomainError('SMS.NOT_EXPIRED', 'the code has not expired yet', 409, { smsId: state.smsId, expiresAt: new Date(state.expiresAtMs!).toISOString() });
  }
  return [{ type: 'SmsFailed', data: { smsId: state.smsId, reason: command.reason } }];
}

/** True when the requested code may no longer be sent at `now`. */
export function smsExpired(state: SmsState, now: Date): boolean {
  return state.expiresAtMs !== null && now.getTime() >= state.expiresAtMs;
}

export function decideSms(state: SmsState, command: SmsCommand, ctx: { now: Date }): SmsEvent[] {
  switch (command.type) {
    case 'RequestSms':
      return requestSms(state, command, ctx.now);
    case 'WithholdSms':
      return withholdSms(state, command);
    case 'RecordSmsSent':
      return recordSent(state, command);
    case 'RecordSmsFailed':
      return recordFailed(state, command, ctx.now);
    default: {
      const unknown: never = command;
      throw new Error(`unknown SMS command ${(unknown as { type: string }).type}`);
    }
  }
}
