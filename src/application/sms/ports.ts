/**
 * The SMS context's port to an SMS gateway (the adapter speaks HTTP: src/infra/sms-http.ts; the
 * quick start and the tests run it against a real HTTP simulator, src/infra/simulators/sms.ts).
 *
 * Like the insurer and the payment gateway, the gateway is idempotent by request key: the same
 * request id again answers the message it already sent and sends nothing more. The ledger's request
 * id is the SMS id, the same at every hop (stream, event, job, gateway).
 */

export interface SmsMessage {
  /** The SMS id: the gateway's idempotency key. */
  requestId: string;
  /** Read from the member's sealed record when the message is sent; never stored, queued or logged. */
  phone: string;
  template: 'activation-code';
  params: { code: string; minutes: number };
}

/** What the gateway decided about a request: sent (with its message id), or refused for good. */
export type SmsAnswer = { status: 'sent'; messageId: string } | { status: 'refused'; reason: string };

export interface SmsGatewayPort {
  /**
   * Sends the message. Answers the gateway's decision; throws SmsGatewayError when the outcome is
   * unknown (no answer in time, the connection lost, a server error, an unreadable answer): the
   * gateway may or may not have sent it.
   */
  send(message: SmsMessage): Promise<SmsAnswer>;
  /** What the gateway holds for a request id: its decision, or not_found when it never applied it. Throws SmsGatewayError when it cannot tell. */
  inquire(requestId: string): Promise<SmsAnswer | { status: 'not_found' }>;
}

/** The gateway could not be asked, or its answer was lost: the outcome of the call is unknown. */
export class SmsGatewayError extends Error {
  constructor(
    message: string,
    /** What happened, for logs: no answer within the deadline, the connection lost, an error status, an unreadable answer. */
    readonly kind: 'timeout' | 'connection' | 'status' | 'answer',
  ) {
    super(message);
    this.name = 'SmsGatewayError';
  }
}
