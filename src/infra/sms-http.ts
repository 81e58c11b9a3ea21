import { SmsGatewayError, type SmsAnswer, type SmsGatewayPort, type SmsMessage } from '../application/sms';
import { callJsonService, type JsonServiceCall } from './json-service-call';

/**
 * The HTTP adapter of the SMS context's port: an SMS gateway with a bearer API key (SMS_API_URL,
 * SMS_API_KEY), idempotent by request key like a payment gateway:
 *
 *   POST {base}/sms/send              Idempotency-Key: <requestId>
 *        { requestId, phone, template, params }
 *        → 200 { requestId, status: "sent", messageId }
 *        → 422 { requestId, status: "refused", reason }   (for good: a number it cannot deliver to)
 *   GET  {base}/sms/messages/{requestId}
 *        → 200 as above, or 404 { status: "not_found" } when the request was never applied
 *
 * Every call has a deadline. Anything but a readable decision (no answer in time, a lost
 * connection, an error status, a body that is not one) is an SmsGatewayError: the outcome is
 * unknown and the caller asks for the request's status before sending it again. Neither the API
 * key, the phone number nor the code ever appear in an error.
 */

const MAX_MESSAGE_ID_LENGTH = 128;
const MAX_REASON_LENGTH = 200;

export interface SmsHttpClientOptions {
  baseUrl: string;
  apiKey: string;
  /** A call without an answer by then has an unknown outcome (default 5,000 ms). */
  timeoutMs?: number;
}

export class SmsHttpClient implements SmsGatewayPort {
  private readonly target: JsonServiceCall;

  constructor(options: SmsHttpClientOptions) {
    this.target = {
      baseUrl: options.baseUrl,
      apiKey: options.apiKey,
      timeoutMs: options.timeoutMs ?? 5_000,
      service: 'the SMS gateway',
      fail: (message, kind) => new SmsGatewayError(message, kind),
    };
  }

  async send(message: SmsMessage): Promise<SmsAnswer> {
    const { status, body } = await this.call('POST', '/sms/send', message.requestId, {
      requestId: message.requestId,
      phone: message.phone,
      template: message.template,
      params: message.params,
    });
    if (status !== 200 && status !== 422) throw new SmsGatewayError(`the SMS gateway answered the send with HTTP ${status}`, 'status');
    return decision(body, message.requestId);
  }

  async inquire(requestId: string): Promise<SmsAnswer | { status: 'not_found' }> {
    const { status, body } = await this.call('GET', `/sms/messages/${encodeURIComponent(requestId)}`, undefined, undefined);
    if (status === 404 && body.status === 'not_found') return { status: 'not_found' };
    if (status !== 200 && status !== 422) throw new SmsGatewayError(`the SMS gateway answered the status inquiry with HTTP ${status}`, 'status');
    return decision(body, requestId);
  }

  private call(method: 'GET' | 'POST', path: string, idempotencyKey: string | undefined, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    return callJsonService(this.target, method, path, idempotencyKey, body);
  }
}

/** A decision as the gateway states it, checked field by field. */
function decision(body: Record<string, unknown>, requestId: string): SmsAnswer {
  if (body.requestId !== requestId) throw new SmsGatewayError('the SMS gateway answered about another request', 'answer');
  if (body.status === 'refused') {
    if (typeof body.reason !== 'string' || body.reason.trim() === '') throw new SmsGatewayError('the SMS gateway refused without a reason', 'answer');
    return { status: 'refused', reason: body.reason.slice(0, MAX_REASON_LENGTH) };
  }
  const { messageId } = body;
  if (body.status !== 'sent' || typeof messageId !== 'string' || messageId.length === 0 || messageId.length > MAX_MESSAGE_ID_LENGTH) {
    throw new SmsGatewayError('the SMS gateway answered a decision that cannot be read', 'answer');
  }
  return { status: 'sent', messageId };
}
