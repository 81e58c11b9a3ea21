import type { StatementLine } from '../../domain/payouts';

/**
 * The payment gateway that pays merchants' bank cards (银行代付). Its contract, the one real
 * gateways offer: a payment is keyed by our request id (the payout id), so the same request sent
 * again answers the first result instead of paying twice, and the same id with another body is a
 * conflict; the status of a request can be asked for by its id; each day's statement lists what
 * was paid that day (Asia/Shanghai).
 *
 * Every operating outcome is a value. `unknown` means no answer that says what happened (a
 * timeout, a lost connection, a 5xx, a request still processing): the money may or may not have
 * left, so nothing may be recorded or compensated until an inquiry tells.
 */

export type PayResult =
  | { status: 'paid'; reference: string; paidAt: string; amountFen: number }
  /** Refused for good: the request will never be paid (a closed card, an invalid account). */
  | { status: 'declined'; code: string; reason: string }
  /** This request id was used with another body: a programming or data error, never retried blindly. */
  | { status: 'conflict'; detail: string }
  | { status: 'unknown'; detail: string };

export type InquiryResult =
  | { status: 'paid'; reference: string; paidAt: string; amountFen: number }
  | { status: 'declined'; code: string; reason: string }
  /** The gateway has never received this request id: paying it now pays it once. */
  | { status: 'not_found' }
  | { status: 'unknown'; detail: string };

export interface PaymentGatewayPort {
  /** Pays `amountFen` to the card, once per `requestId`. Never throws for the gateway's answers or silence. */
  pay(request: { requestId: string; cardNumber: string; amountFen: number }): Promise<PayResult>;
  inquire(requestId: string): Promise<InquiryResult>;
  /** What the gateway paid on `day` (Asia/Shanghai); throws PaymentGatewayError when it cannot be had. */
  statement(day: string): Promise<StatementLine[]>;
}

/** The gateway's statement could not be had or read. */
export class PaymentGatewayError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PaymentGatewayError';
  }
}
