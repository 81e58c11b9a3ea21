import { InsurerError, type EnrolmentRequest, type InsurerAnswer, type InsurerPort } from '../application/insurance';
import { callJsonService, type JsonServiceCall } from './json-service-call';

/**
 * The HTTP adapter of the insurance context's port: an insurer's enrolment API with a bearer API
 * key (INSURER_API_URL, INSURER_API_KEY), idempotent by request id like a payment gateway:
 *
 *   POST {base}/insurer/v1/enrolments   Idempotency-Key: <requestId>
 *        { requestId, product, termYears, insured: { name, idNumber } }
 *        → 200 { requestId, status: "enrolled", policyNumber, product, validFrom, validUntil }
 *        → 200 { requestId, status: "refused", reason }
 *   GET  {base}/insurer/v1/enrolments/{requestId}
 *        → 200 as above, or 404 { status: "not_found" } when the request was never applied
 *
 * Every call has a deadline. Anything but a readable decision (no answer in time, a lost
 * connection, an error status, a body that is not one) is an InsurerError: the outcome is unknown
 * and the caller asks for the request's status before sending it again. Neither the API key nor
 * the insured person's data ever appear in an error.
 */

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export interface InsurerHttpClientOptions {
  baseUrl: string;
  apiKey: string;
  /** A call without an answer by then has an unknown outcome. */
  timeoutMs: number;
}

export class InsurerHttpClient implements InsurerPort {
  private readonly target: JsonServiceCall;

  constructor(options: InsurerHttpClientOptions) {
    this.target = { ...options, service: 'the insurer', fail: (message, kind) => new InsurerError(message, kind) };
  }

  async enrol(request: EnrolmentRequest): Promise<InsurerAnswer> {
    const { status, body } = await this.call('POST', '/insurer/v1/enrolments', request.requestId, {
      requestId: request.requestId,
      product: request.product,
      termYears: request.termYears,
      insured: request.insured,
    });
    if (status !== 200) throw new InsurerError(`the insurer answered the enrolment with HTTP ${status}`, 'status');
    return decision(body, request.requestId);
  }

  async inquire(requestId: string): Promise<InsurerAnswer | { status: 'not_found' }> {
    const { status, body } = await this.call('GET', `/insurer/v1/enrolments/${encodeURIComponent(requestId)}`, undefined, undefined);
    if (status === 404 && body.status === 'not_found') return { status: 'not_found' };
    if (status !== 200) throw new InsurerError(`the insurer answered the status inquiry with HTTP ${status}`, 'status');
    return decision(body, requestId);
  }

  private call(method: 'GET' | 'POST', path: string, idempotencyKey: string | undefined, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
    return callJsonService(this.target, method, path, idempotencyKey, body);
  }
}

/** A decision as the insurer states it, checked field by field. */
function decision(body: Record<string, unknown>, requestId: string): InsurerAnswer {
  if (body.requestId !== requestId) throw new InsurerError('the insurer answered about another request', 'answer');
  if (body.status === 'refused') {
    if (typeof body.reason !== 'string' || body.reason.trim() === '') throw new InsurerError('the insurer refused without a reason', 'answer');
    return { status: 'refused', reason: body.reason };
  }
  const { policyNumber, product, validFrom, validUntil } = body;
  if (
    body.status !== 'enrolled' ||
    typeof policyNumber !== 'string' ||
    policyNumber.length === 0 ||
    policyNumber.length > 64 ||
    typeof product !== 'string' ||
    typeof validFrom !== 'string' ||
    !DAY.test(validFrom) ||
    typeof validUntil !== 'string' ||
    !DAY.test(validUntil)
  ) {
    throw new InsurerError('the insurer answered a decision that cannot be read', 'answer');
  }
  return { status: 'enrolled', policy: { policyNumber, product, validFrom, validUntil } };
}
