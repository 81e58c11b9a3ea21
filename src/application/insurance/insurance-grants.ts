import type { EventStore } from '../../eventstore/event-store';
import { MAX_INSURANCE_REASON_LENGTH, type MemberEvent } from '../../domain/members';
import type { PiiVault } from '../../infra/pii';
import type { MemberService } from '../members';
import { InsurerError, type InsurerAnswer, type InsurerPort } from './ports';

/**
 * Carries out one insurance grant: what the insurance worker (src/workers/insurance) does with a
 * job. Exactly once, although the job may run several times (a retry, a worker killed mid-call,
 * a relay that re-added it after Redis lost its data):
 *
 * 1. The member's stream is the truth: a grant that has an outcome there is done, whatever the job says.
 * 2. The insurer's idempotency key is the grant id, so a request sent twice enrols once.
 * 3. An unknown outcome (no answer, a lost answer) is resolved by asking the insurer for the
 *    request's status before anything is sent again; a run that may follow an earlier send (a
 *    retry, a redelivery after a crash) asks first too.
 * 4. The outcome is recorded through the member's decider under a command id derived from the
 *    grant id, so it is recorded once even when two runs race.
 */

/** Where the requesting event is: a job's payload (src/workers/queues.ts EffectJob), ids only. */
export interface EffectRef {
  eventId: string;
  streamId: string;
  /** Decimal text. */
  revision: string;
}

/** The job cannot be carried out at all, now or later: it names no such request. Not retried. */
export class EffectJobInvalidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EffectJobInvalidError';
  }
}

/** The insurer did not apply the request (it said so when asked): safe to send again, later. */
export class InsuranceNotAppliedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InsuranceNotAppliedError';
  }
}

export type GrantOutcome = 'granted' | 'refused' | 'already-recorded';

export interface InsuranceGrantsDeps {
  store: EventStore;
  members: MemberService;
  /** The personal-data vault (a getter: a process without PII keys fails only when it needs it). */
  vault: () => PiiVault;
  insurer: InsurerPort;
}

export const INSURANCE_ACTOR = { type: 'system', id: 'insurance-worker' } as const;
/** The outcome's command id: one per grant, so every run records the same events. */
export const insuranceOutcomeCommandId = (grantId: string): string => `insurance-outcome:${grantId}`;

type Requested = Extract<MemberEvent, { type: 'InsuranceGrantRequested' }>['data'];

export class InsuranceGrants {
  constructor(private readonly deps: InsuranceGrantsDeps) {}

  /**
   * Carries out the grant `ref` names. `mayHaveBeenSent`: an earlier run of the same job may have
   * called the insurer (the worker knows from the job's attempts), so its status is asked first.
   * Throws InsurerError or InsuranceNotAppliedError when it must be tried again later, and
   * EffectJobInvalidError when it never can be.
   */
  async carryOut(ref: EffectRef, options: { mayHaveBeenSent: boolean }): Promise<GrantOutcome> {
    const request = await this.requestOf(ref);
    const { state } = await this.deps.members.load(request.memberId);
    const grant = state.insurance.get(request.grantId);
    if (!grant) throw new Error(`invariant violated: grant ${request.grantId} is requested in ${ref.streamId} but not in its state`);
    if (grant.status !== 'requested') return 'already-recorded';

    let answer: InsurerAnswer | undefined;
    if (options.mayHaveBeenSent) {
      const found = await this.deps.insurer.inquire(request.grantId);
      if (found.status !== 'not_found') answer = found;
    }
    if (!answer) {
      const pii = await this.deps.vault().open(request.memberId, state.piiCipher);
      if (!pii) {
        // The member's data key was shredded: nobody can be enrolled, now or later.
        return this.record(ref, request, { status: 'refused', reason: 'the member’s personal data was erased before enrolment' });
      }
      try {
        answer = await this.deps.insurer.enrol({
          requestId: request.grantId,
          product: request.product,
          termYears: request.termYears,
          insured: { name: state.name, idNumber: pii.idNumber },
        });
      } catch (error) {
        if (!(error instanceof InsurerError)) throw error;
        // The insurer may have applied it: ask before anything is sent again. If asking fails
        // too, the job is retried, and its next run asks first (mayHaveBeenSent).
        const found = await this.deps.insurer.inquire(request.grantId);
        if (found.status === 'not_found') throw new InsuranceNotAppliedError(`the insurer did not apply grant ${request.grantId} (${error.message}); it will be sent again`);
        answer = found;
      }
    }
    return this.record(ref, request, answer);
  }

  private async requestOf(ref: EffectRef): Promise<Requested> {
    if (!/^\d{1,19}$/.test(ref.revision)) throw new EffectJobInvalidError(`job for event ${ref.eventId} carries revision '${ref.revision}'`);
    const [event] = await this.deps.store.readStream(ref.streamId, { fromRevision: BigInt(ref.revision), maxCount: 1 });
    if (!event || event.eventId !== ref.eventId || event.type !== 'InsuranceGrantRequested') {
      throw new EffectJobInvalidError(`no InsuranceGrantRequested ${ref.eventId} at revision ${ref.revision} of ${ref.streamId}`);
    }
    return event.data as unknown as Requested;
  }

  private async record(ref: EffectRef, request: Requested, answer: InsurerAnswer): Promise<GrantOutcome> {
    const meta = { commandId: insuranceOutcomeCommandId(request.grantId), actor: INSURANCE_ACTOR, correlationId: ref.eventId };
    if (answer.status === 'enrolled') {
      const { policyNumber, validFrom, validUntil } = answer.policy;
      await this.deps.members.execute(request.memberId, { type: 'RecordInsuranceGranted', grantId: request.grantId, policyNumber, validFrom, validUntil }, meta);
      return 'granted';
    }
    const reason = answer.reason.trim().slice(0, MAX_INSURANCE_REASON_LENGTH) || 'refused without a reason';
    await this.deps.members.execute(request.memberId, { type: 'RecordInsuranceGrantFailed', grantId: request.grantId, reason }, meta);
    return 'refused';
  }
}
