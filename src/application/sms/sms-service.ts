import { decideSms, evolveSms, initialSmsState, smsExpired, smsStream, type SmsCommand, type SmsEvent, type SmsState } from '../../domain/sms';
import type { EventStore } from '../../eventstore/event-store';
import type { PiiVault } from '../../infra/pii';
import { CommandHandler } from '../command-handler';
import type { MemberService } from '../members';
import { SmsGatewayError, type SmsAnswer, type SmsGatewayPort } from './ports';

/**
 * SMS one-time codes through the durable relay (issue 9): a code is requested as an event of its
 * own stream (`SmsRequested` on `sms-<smsId>`, the code sealed), the relay turns the event into a
 * job of the queue `ul-sms`, and the SMS worker (src/workers/sms) calls `carryOut`, which sends it
 * exactly once, although the job may run several times (a retry, a worker killed mid-call, a
 * relay that re-added it after Redis lost its data):
 *
 * 1. The SMS stream is the truth: a request that has an outcome there is done, whatever the job says.
 * 2. The gateway's idempotency key is the SMS id, so a message sent twice is delivered once.
 * 3. An unknown outcome (no answer, a lost answer) is resolved by asking the gateway for the
 *    request's status before anything is sent again; a run that may follow an earlier send (a
 *    retry, a redelivery after a crash) asks first too.
 * 4. A code past its expiry is not sent (SmsFailed `expired`); a member whose personal data was
 *    erased has no phone (SmsFailed `no-phone`).
 * 5. The outcome is recorded under a command id derived from the SMS id, so it is recorded once
 *    even when two runs race.
 */

/** The vault purpose codes are sealed under (PiiVault.sealSecret, bound to the SMS id). */
export const SMS_CODE_PURPOSE = 'sms-code';
export const SMS_ACTOR = { type: 'system', id: 'sms-worker' } as const;
const REQUEST_ACTOR = { type: 'system', id: 'sms-request' } as const;
/** The outcome's command id: one per SMS, so every run records the same events. */
export const smsOutcomeCommandId = (smsId: string): string => `sms-outcome:${smsId}`;

/** Where the requesting event is: a job's payload (src/workers/queues.ts EffectJob), ids only. */
export interface SmsEffectRef {
  eventId: string;
  streamId: string;
  /** Decimal text. */
  revision: string;
}

/** The job cannot be carried out at all, now or later: it names no such request. Not retried. */
export class SmsJobInvalidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmsJobInvalidError';
  }
}

/** The gateway did not apply the message (it said so when asked): safe to send again, later. */
export class SmsNotSentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SmsNotSentError';
  }
}

export type SmsOutcome = 'sent' | 'expired' | 'no-phone' | 'refused' | 'already-recorded';

export interface CodeRequest {
  smsId: string;
  memberId: string;
  code: string;
  expiresAt: Date;
  validMinutes: number;
}

export interface SmsServiceDeps {
  store: EventStore;
  members: MemberService;
  /** The personal-data vault (a getter: a process without PII keys fails only when it needs it). */
  vault: () => PiiVault;
  /** The SMS gateway (a getter: only the SMS worker sends). */
  gateway: () => SmsGatewayPort;
  clock?: () => Date;
}

export class SmsService {
  private readonly handler: CommandHandler<SmsState, SmsEvent>;

  constructor(private readonly deps: SmsServiceDeps) {
    // A request's stream is read by the worker a few times and then never again: a small cache.
    this.handler = new CommandHandler(
      deps.store,
      { name: 'sms', initialState: initialSmsState, evolve: evolveSms },
      { cacheEntries: 10_000, ...(deps.clock ? { clock: deps.clock } : {}) },
    );
  }

  /** The state of an SMS request, from its stream. */
  async load(smsId: string): Promise<SmsState> {
    return (await this.handler.load(smsStream(smsId))).state;
  }

  /**
   * Records that `code` is owed to the member by SMS: the code is sealed first (CPU only), then
   * one event is appended to the new stream `sms-<smsId>` (one read of the empty stream, one append).
   */
  async requestCode(request: CodeRequest): Promise<void> {
    const codeSealed = this.deps.vault().sealSecret(SMS_CODE_PURPOSE, request.smsId, request.code);
    await this.execute(request.smsId, {
      type: 'RequestSms',
      smsId: request.smsId,
      memberId: request.memberId,
      template: 'activation-code',
      codeSealed,
      expiresAt: request.expiresAt,
      validMinutes: request.validMinutes,
    }, `sms-request:${request.smsId}`);
  }

  /**
   * Records that no SMS goes out under `smsId` (an activation that matched nobody), doing the same
   * work as requestCode: the throwaway code is sealed and dropped, and one event is appended to
   * the new stream. See ActivationService.start for why the two must cost the same.
   */
  async withholdCode(smsId: string, throwawayCode: string): Promise<void> {
    const sealed = this.deps.vault().sealSecret(SMS_CODE_PURPOSE, smsId, throwawayCode);
    if (sealed.length === 0) throw new Error('invariant violated: sealing gave nothing');
    await this.execute(smsId, { type: 'WithholdSms', smsId }, `sms-request:${smsId}`);
  }

  /**
   * Carries out the SMS request `ref` names. `mayHaveBeenSent`: an earlier run of the same job may
   * have called the gateway (the worker knows from the job's attempts), so its status is asked
   * first. Throws SmsGatewayError or SmsNotSentError when it must be tried again later, and
   * SmsJobInvalidError when it never can be.
   */
  async carryOut(ref: SmsEffectRef, options: { mayHaveBeenSent: boolean }): Promise<SmsOutcome> {
    const smsId = await this.requestOf(ref);
    const state = await this.load(smsId);
    if (state.status === 'sent' || state.status === 'failed') return 'already-recorded';
    if (state.status !== 'requested') throw new Error(`invariant violated: SMS ${smsId} is requested in ${ref.streamId} but its state is ${state.status}`);
    const gateway = this.deps.gateway();

    let answer: SmsAnswer | undefined;
    if (options.mayHaveBeenSent) {
      const found = await gateway.inquire(smsId);
      if (found.status !== 'not_found') answer = found;
    }
    if (!answer) {
      // Checked only once the gateway has said it holds nothing: a code sent just before its
      // expiry, whose answer was lost, is recorded as sent, not as expired.
      if (smsExpired(state, this.now())) return this.record(smsId, ref, { type: 'RecordSmsFailed', reason: 'expired' }, 'expired');
      const phone = await this.phoneOf(state.memberId!);
      if (phone === null) return this.record(smsId, ref, { type: 'RecordSmsFailed', reason: 'no-phone' }, 'no-phone');
      const code = this.deps.vault().openSecret(SMS_CODE_PURPOSE, smsId, state.codeSealed!);
      try {
        answer = await gateway.send({ requestId: smsId, phone, template: state.template!, params: { code, minutes: state.validMinutes! } });
      } catch (error) {
        if (!(error instanceof SmsGatewayError)) throw error;
        // The gateway may have sent it: ask before anything is sent again. If asking fails too,
        // the job is retried, and its next run asks first (mayHaveBeenSent).
        const found = await gateway.inquire(smsId);
        if (found.status === 'not_found') throw new SmsNotSentError(`the gateway did not send SMS ${smsId} (${error.message}); it will be sent again`);
        answer = found;
      }
    }
    if (answer.status === 'sent') return this.record(smsId, ref, { type: 'RecordSmsSent', messageId: answer.messageId }, 'sent');
    return this.record(smsId, ref, { type: 'RecordSmsFailed', reason: 'refused' }, 'refused');
  }

  private now(): Date {
    return this.deps.clock?.() ?? new Date();
  }

  /** The member's phone, or null when their personal data was shredded (or they have none). */
  private async phoneOf(memberId: string): Promise<string | null> {
    const { state } = await this.deps.members.load(memberId);
    if (state.piiCipher === '') return null;
    const pii = await this.deps.vault().open(memberId, state.piiCipher);
    return pii?.phone ?? null;
  }

  private async requestOf(ref: SmsEffectRef): Promise<string> {
    if (!/^\d{1,19}$/.test(ref.revision)) throw new SmsJobInvalidError(`job for event ${ref.eventId} carries revision '${ref.revision}'`);
    const [event] = await this.deps.store.readStream(ref.streamId, { fromRevision: BigInt(ref.revision), maxCount: 1 });
    if (!event || event.eventId !== ref.eventId || event.type !== 'SmsRequested' || typeof event.data.smsId !== 'string') {
      throw new SmsJobInvalidError(`no SmsRequested ${ref.eventId} at revision ${ref.revision} of ${ref.streamId}`);
    }
    return event.data.smsId;
  }

  private async record(smsId: string, ref: SmsEffectRef, command: SmsCommand, outcome: SmsOutcome): Promise<SmsOutcome> {
    const result = await this.handler.handle(smsStream(smsId), (state, now) => decideSms(state, command, { now }), {
      commandId: smsOutcomeCommandId(smsId),
      actor: SMS_ACTOR,
      correlationId: ref.eventId,
    });
    // A racing run recorded its outcome first: that one stands.
    return result.replayed || result.events.length === 0 ? 'already-recorded' : outcome;
  }

  private async execute(smsId: string, command: SmsCommand, commandId: string): Promise<void> {
    await this.handler.handle(smsStream(smsId), (state, now) => decideSms(state, command, { now }), { commandId, actor: REQUEST_ACTOR });
  }
}
