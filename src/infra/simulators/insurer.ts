import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultInjector, mergeCallFaults, NO_CALL_FAULTS, type CallFaults } from './http';

/**
 * A simulated insurer (the accident mutual-aid plan), served by the simulators' HTTP server
 * (simulators.ts). Like a real gateway it is idempotent by request id: the same request id again
 * answers the enrolment it already made. It counts what it applied, so a test can check that N
 * grants enrolled N people, each once, whatever went wrong on the way.
 *
 * Faults, set at start (`startSimulators({ insurer: {...} })`) or at any time through the admin
 * route: the simulators' CallFaults (latency, errors, timeouts, lost answers, drawn per call; see
 * http.ts) and refuseRequestIds: requests refused for good (an uninsurable person).
 *
 *   POST /insurer/v1/enrolments         (Authorization: Bearer <api key>) enrol, see src/infra/insurer-http.ts
 *   GET  /insurer/v1/enrolments/{id}    the request's status, or 404 not_found
 *   GET  /simulator/insurer/stats       { applied, enrolRequests, replayedEnrolments, statusRequests, injected, faults }
 *   PUT  /simulator/insurer/faults      { latencyMs?, errorRate?, timeoutRate?, lostAnswerRate?, refuseRequestIds? } (test and demo only)
 */

export interface InsurerFaults extends CallFaults {
  refuseRequestIds: string[];
}

export interface InsurerStats {
  /** Enrolments applied: each request id at most once. */
  applied: number;
  /** Enrolment calls received, retries and duplicates included. */
  enrolRequests: number;
  /** Enrolment calls for a request id already applied, answered with the enrolment made before. */
  replayedEnrolments: number;
  statusRequests: number;
  injected: { errors: number; timeouts: number; lostAnswers: number };
  faults: InsurerFaults;
}

export interface SimulatedEnrolment {
  requestId: string;
  status: 'enrolled' | 'refused';
  policyNumber: string | null;
  product: string;
  validFrom: string | null;
  validUntil: string | null;
  reason: string | null;
  /** How many times this request id was applied: 1, or the simulator is broken. */
  appliedTimes: number;
}

export const NO_FAULTS: InsurerFaults = { ...NO_CALL_FAULTS, refuseRequestIds: [] };

const MAX_ENROLMENTS = 1_000_000;
const MAX_REFUSED_IDS = 10_000;

type Reply = (status: number, body: unknown) => void;

/** The Asia/Shanghai calendar day of `at`. */
function shanghaiDay(at: Date): string {
  return new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 10);
}

/** The last day of a cover of `termYears` starting on `from` (2026-11-23 + 1 year → 2027-11-22). */
function lastDayOfCover(from: string, termYears: number): string {
  const [year, month, day] = from.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(year + termYears, month - 1, day) - 24 * 3600_000).toISOString().slice(0, 10);
}

/** Checks fault settings from the admin route; returns the problem, or the merged settings. */
export function mergeFaults(current: InsurerFaults, patch: Record<string, unknown>): InsurerFaults | string {
  const { refuseRequestIds, ...callPatch } = patch;
  const calls = mergeCallFaults(current, callPatch);
  if (typeof calls === 'string') return calls.replace('lostAnswerRate)', 'lostAnswerRate, refuseRequestIds)');
  if (refuseRequestIds === undefined) return { ...calls, refuseRequestIds: [...current.refuseRequestIds] };
  if (
    !Array.isArray(refuseRequestIds) ||
    refuseRequestIds.length > MAX_REFUSED_IDS ||
    !refuseRequestIds.every((id) => typeof id === 'string' && id.length > 0 && id.length <= 200)
  ) {
    return `refuseRequestIds: at most ${MAX_REFUSED_IDS} request ids`;
  }
  return { ...calls, refuseRequestIds: refuseRequestIds as string[] };
}

export class InsurerSimulator {
  private faults: InsurerFaults;
  /** Enrolments by request id (insertion order: the oldest is forgotten first beyond MAX_ENROLMENTS). */
  private readonly enrolments = new Map<string, SimulatedEnrolment>();
  private sequence = 0;
  private readonly counts = { enrolRequests: 0, replayedEnrolments: 0, statusRequests: 0 };
  private readonly injector: FaultInjector;

  constructor(
    private readonly apiKey: string,
    faults: Partial<InsurerFaults> = {},
    random: () => number = Math.random,
  ) {
    this.injector = new FaultInjector(random);
    const merged = mergeFaults(NO_FAULTS, faults as Record<string, unknown>);
    if (typeof merged === 'string') throw new Error(`invalid insurer simulator faults: ${merged}`);
    this.faults = merged;
  }

  stats(): InsurerStats {
    const { enrolRequests, replayedEnrolments, statusRequests } = this.counts;
    let applied = 0;
    for (const enrolment of this.enrolments.values()) applied += enrolment.appliedTimes;
    return { applied, enrolRequests, replayedEnrolments, statusRequests, injected: { ...this.injector.injected }, faults: this.faults };
  }

  setFaults(patch: Partial<InsurerFaults>): InsurerFaults {
    const merged = mergeFaults(this.faults, patch as Record<string, unknown>);
    if (typeof merged === 'string') throw new Error(`invalid insurer simulator faults: ${merged}`);
    this.faults = merged;
    return merged;
  }

  enrolment(requestId: string): SimulatedEnrolment | undefined {
    return this.enrolments.get(requestId);
  }

  allEnrolments(): SimulatedEnrolment[] {
    return [...this.enrolments.values()];
  }

  /** Answers the insurer's and its admin routes; false for any other path. */
  async handle(request: IncomingMessage, response: ServerResponse, url: URL, readJson: () => Promise<Record<string, unknown> | null>, reply: Reply): Promise<boolean> {
    const path = url.pathname;
    if (path === '/simulator/insurer/stats' && request.method === 'GET') {
      reply(200, this.stats());
      return true;
    }
    if (path === '/simulator/insurer/faults' && request.method === 'PUT') {
      const body = await readJson();
      const merged = body ? mergeFaults(this.faults, body) : 'a JSON object is required';
      if (typeof merged === 'string') reply(400, { error: merged });
      else reply(200, (this.faults = merged));
      return true;
    }
    if (!path.startsWith('/insurer/v1/enrolments')) return false;
    if (request.headers.authorization !== `Bearer ${this.apiKey}`) {
      reply(401, { error: 'bad api key' });
      return true;
    }
    if (path === '/insurer/v1/enrolments' && request.method === 'POST') {
      const body = await readJson();
      this.counts.enrolRequests += 1;
      await this.injector.run(this.faults, request, response, true, () => {
        const answer = this.enrol(body, request.headers['idempotency-key']);
        return { ...answer, applied: answer.status === 200 };
      });
      return true;
    }
    const match = /^\/insurer\/v1\/enrolments\/([^/]{1,600})$/.exec(path);
    if (match && request.method === 'GET') {
      this.counts.statusRequests += 1;
      const requestId = decodeURIComponent(match[1]!);
      await this.injector.run(this.faults, request, response, false, () => {
        const enrolment = this.enrolments.get(requestId);
        return enrolment ? { status: 200, body: present(enrolment), applied: false } : { status: 404, body: { requestId, status: 'not_found' }, applied: false };
      });
      return true;
    }
    reply(404, { error: 'not found' });
    return true;
  }

  /** Stops every held call (the server is closing). */
  close(): void {
    this.injector.close();
  }

  private enrol(body: Record<string, unknown> | null, idempotencyKey: string | string[] | undefined): { status: number; body: unknown } {
    const requestId = body?.requestId;
    const insured = body?.insured as Record<string, unknown> | undefined;
    if (
      !body ||
      typeof requestId !== 'string' ||
      requestId.length === 0 ||
      requestId.length > 200 ||
      idempotencyKey !== requestId ||
      typeof body.product !== 'string' ||
      !Number.isSafeInteger(body.termYears) ||
      (body.termYears as number) < 1 ||
      (body.termYears as number) > 10 ||
      typeof insured !== 'object' ||
      insured === null ||
      typeof insured.name !== 'string' ||
      insured.name.length === 0 ||
      typeof insured.idNumber !== 'string' ||
      !/^\d{17}[\dX]$/.test(insured.idNumber)
    ) {
      return { status: 400, body: { error: 'requestId (= Idempotency-Key), product, termYears (1-10) and insured { name, idNumber } are required' } };
    }
    const existing = this.enrolments.get(requestId);
    if (existing) {
      this.counts.replayedEnrolments += 1;
      return { status: 200, body: present(existing) };
    }
    // Nothing of the insured person is kept: the simulated policy needs none of it.
    const refused = this.faults.refuseRequestIds.includes(requestId);
    const validFrom = shanghaiDay(new Date());
    this.sequence += 1;
    const enrolment: SimulatedEnrolment = refused
      ? { requestId, status: 'refused', policyNumber: null, product: body.product, validFrom: null, validUntil: null, reason: 'the insured person is not eligible for this plan', appliedTimes: 1 }
      : {
          requestId,
          status: 'enrolled',
          policyNumber: `AMA-${validFrom.slice(0, 4)}-${String(this.sequence).padStart(8, '0')}`,
          product: body.product,
          validFrom,
          validUntil: lastDayOfCover(validFrom, body.termYears as number),
          reason: null,
          appliedTimes: 1,
        };
    if (this.enrolments.size >= MAX_ENROLMENTS) this.enrolments.delete(this.enrolments.keys().next().value!);
    this.enrolments.set(requestId, enrolment);
    return { status: 200, body: present(enrolment) };
  }
}

function present(enrolment: SimulatedEnrolment): Record<string, unknown> {
  return enrolment.status === 'enrolled'
    ? {
        requestId: enrolment.requestId,
        status: 'enrolled',
        policyNumber: enrolment.policyNumber,
        product: enrolment.product,
        validFrom: enrolment.validFrom,
        validUntil: enrolment.validUntil,
      }
    : { requestId: enrolment.requestId, status: 'refused', reason: enrolment.reason };
}
