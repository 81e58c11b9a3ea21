/**
 * The insurance context's port to the insurer: enrolment in the one-year accident mutual-aid plan
 * (职工意外伤害互助保障) that activation earns. The adapter speaks HTTP (src/infra/insurer-http.ts);
 * the quick start and the tests run it against a real HTTP simulator (src/infra/simulators/insurer.ts).
 *
 * Like a payment gateway, the insurer is idempotent by request id: the same request id again
 * answers the enrolment it already made, never a second policy. The ledger's request id is the
 * grant id, the same at every hop (job, event, insurer).
 */

export interface EnrolmentRequest {
  /** The grant id: the insurer's idempotency key. */
  requestId: string;
  product: string;
  termYears: number;
  /** Who is insured: an insurer needs the real name and national ID number (read from the vault, never from a job). */
  insured: { name: string; idNumber: string };
}

export interface InsurancePolicy {
  policyNumber: string;
  product: string;
  /** YYYY-MM-DD, first and last day of cover (Asia/Shanghai). */
  validFrom: string;
  validUntil: string;
}

/** What the insurer decided about a request. */
export type InsurerAnswer = { status: 'enrolled'; policy: InsurancePolicy } | { status: 'refused'; reason: string };

export interface InsurerPort {
  /**
   * Enrols the insured person. Answers the insurer's decision; throws InsurerError when the
   * outcome is unknown (no answer in time, the connection lost, a server error, an answer that
   * cannot be read): the insurer may or may not have applied the request.
   */
  enrol(request: EnrolmentRequest): Promise<InsurerAnswer>;
  /** What the insurer holds for a request id: its decision, or not_found when it never applied it. Throws InsurerError when it cannot tell. */
  inquire(requestId: string): Promise<InsurerAnswer | { status: 'not_found' }>;
}

/** The insurer could not be asked, or its answer was lost: the outcome of the call is unknown. */
export class InsurerError extends Error {
  constructor(
    message: string,
    /** What happened, for logs: no answer within the deadline, the connection lost, an error status, an unreadable answer. */
    readonly kind: 'timeout' | 'connection' | 'status' | 'answer',
  ) {
    super(message);
    this.name = 'InsurerError';
  }
}
