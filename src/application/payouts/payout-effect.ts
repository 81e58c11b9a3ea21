import {
  evolveMerchant,
  initialMerchantState,
  openPayoutAt,
  recordPayoutFailed,
  recordPayoutSucceeded,
  type MerchantEvent,
  type MerchantState,
} from '../../domain/benefits';
import { invariant, schemaVersionOf } from '../../domain/shared';
import type { EventStore } from '../../eventstore/event-store';
import type { PiiVault } from '../../infra/pii';
import { CommandHandler, type CommandMeta } from '../command-handler';
import type { InquiryResult, PayResult, PaymentGatewayPort } from './ports';

/**
 * Carries out one `PayoutRequested` exactly once, however often its job is delivered. The payout
 * id is the key at every hop: the job id (the requesting event's id), the gateway's request id,
 * and the command id of the outcome on the merchant's stream. So:
 *
 * - a payout whose outcome is recorded is never sent to the gateway again;
 * - a delivery after an earlier attempt first asks the gateway what became of the payout, and
 *   records that, before it pays (a timeout may have paid);
 * - an answer that says nothing (timeout, lost connection, 5xx, still processing) is followed by a
 *   status inquiry; if that says nothing either, the attempt ends unresolved and the queue retries
 *   it later (after the attempts, the job is a dead letter: nothing is recorded, reconciliation
 *   and an admin take over). A definitive refusal records PayoutFailed, which returns the money.
 *
 * Even a payment sent twice pays once: the gateway answers a repeated request id with its first
 * result. The inquiry-first rule keeps the outcome honest, not the money safe.
 */

/** How the payout ended for this delivery. */
export interface PayoutResult {
  payoutId: string;
  outcome: 'succeeded' | 'failed' | 'already_resolved';
  /** Calls made to the gateway by this delivery. */
  payments: number;
  inquiries: number;
}

/** No answer told what became of the payout: retry later (the next delivery inquires first). */
export class PayoutUnresolvedError extends Error {
  constructor(
    readonly payoutId: string,
    detail: string,
  ) {
    super(`payout ${payoutId} unresolved: ${detail}`);
    this.name = 'PayoutUnresolvedError';
  }
}

/** The job cannot be carried out by retrying it: the request id was used with another body, or the job names no payout request. */
export class PayoutRejectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayoutRejectedError';
  }
}

/** Where the requesting event is (the queues' EffectJob, src/workers/queues.ts). */
export interface PayoutRequestRef {
  eventId: string;
  streamId: string;
  /** Decimal text. */
  revision: string;
}

export interface PayoutEffectDeps {
  store: EventStore;
  vault: PiiVault;
  gateway: PaymentGatewayPort;
  clock?: () => Date;
  /** Payments sent in one delivery when inquiries say the gateway never got the earlier ones (default 3). */
  paymentsPerDelivery?: number;
}

interface RequestedPayout {
  payoutId: string;
  merchantId: string;
  amountFen: number;
  cardSealed: string;
}

const ACTOR = { type: 'system', id: 'payouts' };
const DEFAULT_PAYMENTS_PER_DELIVERY = 3;

export class PayoutEffect {
  private readonly merchants: CommandHandler<MerchantState, MerchantEvent>;

  constructor(private readonly deps: PayoutEffectDeps) {
    this.merchants = new CommandHandler<MerchantState, MerchantEvent>(
      deps.store,
      { name: 'merchant', initialState: initialMerchantState, evolve: evolveMerchant, schemaVersion: (event) => schemaVersionOf(event.data) },
      { cacheEntries: 10_000, ...(deps.clock ? { clock: deps.clock } : {}) },
    );
  }

  /**
   * Carries out the payout `ref` names. `redelivered`: an earlier delivery of this job may have
   * reached the gateway (a retry, or a stalled job taken over), so the gateway is asked first.
   */
  async carryOut(ref: PayoutRequestRef, redelivered: boolean): Promise<PayoutResult> {
    if (!/^\d{1,15}$/.test(ref.revision)) throw new PayoutRejectedError(`job for event ${ref.eventId}: revision '${ref.revision}' is not a stream revision`);
    // The merchant's state knows its open payouts by the revision that requested them, with the
    // sealed card: one read of the stream (usually from the cache) serves the check and the payment.
    const { state } = await this.merchants.load(ref.streamId);
    const open = openPayoutAt(state, Number(ref.revision));
    if (!open) {
      // Resolved already (or the job names no payout request: read the event to tell).
      const { payoutId } = await this.readRequest(ref);
      return { payoutId, outcome: 'already_resolved', payments: 0, inquiries: 0 };
    }
    const request: RequestedPayout = { payoutId: open.payoutId, merchantId: state.merchantId, amountFen: open.amountFen, cardSealed: open.cardSealed! };
    const counts = { payments: 0, inquiries: 0 };
    const result = (outcome: PayoutResult['outcome']): PayoutResult => ({ payoutId: request.payoutId, outcome, ...counts });

    if (redelivered) {
      counts.inquiries += 1;
      const inquiry = await this.deps.gateway.inquire(request.payoutId);
      const settled = await this.settleFrom(ref.streamId, request.payoutId, inquiry);
      if (settled) return result(settled);
      if (inquiry.status === 'unknown') throw new PayoutUnresolvedError(request.payoutId, `inquiry: ${inquiry.detail}`);
    }

    const cardNumber = await this.deps.vault.openText(`merchant-${request.merchantId}`, request.cardSealed);
    if (cardNumber === null) {
      // The merchant's personal data was shredded: no card can ever be paid from this request.
      await this.record(ref.streamId, request.payoutId, { status: 'declined', code: 'CARD_UNREADABLE', reason: "the merchant's card can no longer be read (personal data erased)" });
      return result('failed');
    }
    const attempts = this.deps.paymentsPerDelivery ?? DEFAULT_PAYMENTS_PER_DELIVERY;
    let detail = 'no payment sent';
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      counts.payments += 1;
      const paid: PayResult = await this.deps.gateway.pay({ requestId: request.payoutId, cardNumber, amountFen: request.amountFen });
      if (paid.status === 'conflict') throw new PayoutRejectedError(`payout ${request.payoutId}: the gateway holds this request id with another body (${paid.detail})`);
      if (paid.status !== 'unknown') return result((await this.settleFrom(ref.streamId, request.payoutId, paid))!);
      // No answer: ask before doing anything else. Paying again is safe only once the gateway says it never got it.
      counts.inquiries += 1;
      const inquiry = await this.deps.gateway.inquire(request.payoutId);
      const settled = await this.settleFrom(ref.streamId, request.payoutId, inquiry);
      if (settled) return result(settled);
      if (inquiry.status === 'unknown') throw new PayoutUnresolvedError(request.payoutId, `payment: ${paid.detail}; inquiry: ${inquiry.detail}`);
      detail = `payment: ${paid.detail}; inquiry: never received`;
    }
    throw new PayoutUnresolvedError(request.payoutId, detail);
  }

  /** Records a definitive answer (paid or declined); null when the answer is not one. */
  private async settleFrom(streamId: string, payoutId: string, answer: PayResult | InquiryResult): Promise<'succeeded' | 'failed' | null> {
    if (answer.status !== 'paid' && answer.status !== 'declined') return null;
    await this.record(streamId, payoutId, answer);
    return answer.status === 'paid' ? 'succeeded' : 'failed';
  }

  private async record(streamId: string, payoutId: string, answer: Extract<PayResult, { status: 'paid' | 'declined' }>): Promise<void> {
    // One command id per payout, whichever the outcome: a redelivered job's outcome is answered from the stream.
    const meta: CommandMeta = { commandId: `payout:${payoutId}:outcome`, actor: ACTOR };
    await this.merchants.handle(
      streamId,
      (state) =>
        answer.status === 'paid'
          ? recordPayoutSucceeded(state, { payoutId, gatewayReference: answer.reference, paidAt: answer.paidAt })
          : recordPayoutFailed(state, { payoutId, code: answer.code, reason: answer.reason }),
      meta,
    );
  }

  private async readRequest(ref: PayoutRequestRef): Promise<RequestedPayout> {
    const [event] = await this.deps.store.readStream(ref.streamId, { fromRevision: BigInt(ref.revision), maxCount: 1 });
    if (!event || event.eventId !== ref.eventId || event.type !== 'PayoutRequested') {
      throw new PayoutRejectedError(`job for event ${ref.eventId}: ${ref.streamId}@${ref.revision} is ${event ? `${event.type} ${event.eventId}` : 'missing'}, not that PayoutRequested`);
    }
    const data = event.data as unknown as Extract<MerchantEvent, { type: 'PayoutRequested' }>['data'];
    invariant(Number.isSafeInteger(data.amountFen) && data.amountFen > 0, `payout ${data.payoutId} requests a positive whole amount`);
    return { payoutId: data.payoutId, merchantId: data.merchantId, amountFen: data.amountFen, cardSealed: data.cardSealed };
  }
}
