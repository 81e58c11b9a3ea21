import { SmsGatewayError, type SmsAnswer, type SmsGatewayPort, type SmsMessage } from '../application/sms';

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

const MAX_ANSWER_BYTES = 16 * 1024;
const MAX_MESSAGE_ID_LENGTH = 128;
const MAX_REASON_LENGTH = 200;

export interface SmsHttpClientOptions {
  baseUrl: string;
  apiKey: string;
  /** A call without an answer by then has an unknown outcome (default 5,000 ms). */
  timeoutMs?: number;
}

export class SmsHttpClient implements SmsGatewayPort {
  private readonly timeoutMs: number;

  constructor(private readonly options: SmsHttpClientOptions) {
    this.timeoutMs = options.timeoutMs ?? 5_000;
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

  private async call(method: 'GET' | 'POST', path: string, idempotencyKey: string | undefined, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.options.apiKey}`, accept: 'application/json' };
    if (idempotencyKey !== undefined) headers['idempotency-key'] = idempotencyKey;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let response: Response;
    let text: string;
    // The deadline covers the whole exchange, the body included: an answer that stops half way is no answer.
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      response = await fetch(new URL(path, this.options.baseUrl), { method, headers, signal, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
      text = await response.text();
    } catch (error) {
      const name = (error as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError') throw new SmsGatewayError(`the SMS gateway did not answer within ${this.timeoutMs} ms`, 'timeout');
      throw new SmsGatewayError(`the connection to the SMS gateway failed (${name})`, 'connection');
    }
    if (text.length > MAX_ANSWER_BYTES) throw new SmsGatewayError('the SMS gateway answered with an oversized body', 'answer');
    let parsed: unknown;
    try {
      parsed = text === '' ? {} : JSON.parse(text);
    } catch {
      throw new SmsGatewayError(`the SMS gateway answered HTTP ${response.status} with a body that is not JSON`, 'answer');
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SmsGatewayError('the SMS gateway answered with a body that is not an object', 'answer');
    return { status: response.status, body: parsed as Record<string, unknown> };
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
