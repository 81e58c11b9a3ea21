import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A simulated insurer (the accident mutual-aid plan), served by the simulators' HTTP server
 * (simulators.ts). Like a real gateway it is idempotent by request id: the same request id again
 * answers the enrolment it already made. It counts what it applied, so a test can check that N
 * grants enrolled N people, each once, whatever went wrong on the way.
 *
 * Faults, set at start (`startSimulators({ insurer: {...} })`) or at any time through the admin
 * route, each drawn per call:
 *   latencyMs       every answer waits a random 0..latencyMs first
 *   errorRate       answered 503 without applying anything
 *   timeoutRate     never answered (the connection is held until the client gives up) and not applied
 *   lostAnswerRate  applied, then the connection is dropped before the answer: the client cannot
 *                   tell this from a timeout, which is the case exactly-once has to survive
 * and refuseRequestIds: requests refused for good (an uninsurable person).
 *
 *   POST /insurer/v1/enrolments         (Authorization: Bearer <api key>) enrol, see src/infra/insurer-http.ts
 *   GET  /insurer/v1/enrolments/{id}    the request's status, or 404 not_found
 *   GET  /simulator/insurer/stats       { applied, enrolRequests, replayedEnrolments, statusRequests, injected, faults }
 *   PUT  /simulator/insurer/faults      { latencyMs?, errorRate?, timeoutRate?, lostAnswerRate?, refuseRequestIds? } (test and demo only)
 */

export interface InsurerFaults {
  latencyMs: number;
  errorRate: number;
  timeoutRate: number;
  lostAnswerRate: number;
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

export const NO_FAULTS: InsurerFaults = { latencyMs: 0, errorRate: 0, timeoutRate: 0, lostAnswerRate: 0, refuseRequestIds: [] };

const MAX_ENROLMENTS = 1_000_000;
const MAX_REFUSED_IDS = 10_000;
const MAX_LATENCY_MS = 60_000;
/** A held ("timed out") call is dropped after this even if its client never gives up. */
const HOLD_MAX_MS = 120_000;

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
  const next: InsurerFaults = { ...current, refuseRequestIds: [...current.refuseRequestIds] };
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'latencyMs') {
      if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > MAX_LATENCY_MS) return `latencyMs: an integer from 0 to ${MAX_LATENCY_MS}`;
      next.latencyMs = value as number;
    } else if (key === 'errorRate' || key === 'timeoutRate' || key === 'lostAnswerRate') {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) return `${key}: a number from 0 to 1`;
      next[key] = value;
    } else if (key === 'refuseRequestIds') {
      if (!Array.isArray(value) || value.length > MAX_REFUSED_IDS || !value.every((id) => typeof id === 'string' && id.length > 0 && id.length <= 200)) {
        return `refuseRequestIds: at most ${MAX_REFUSED_IDS} request ids`;
      }
      next.refuseRequestIds = value as string[];
    } else {
      return `unknown setting ${key} (allowed: latencyMs, errorRate, timeoutRate, lostAnswerRate, refuseRequestIds)`;
    }
  }
  if (next.errorRate + next.timeoutRate + next.lostAnswerRate > 1) return 'errorRate + timeoutRate + lostAnswerRate must not exceed 1';
  return next;
}

export class InsurerSimulator {
  private faults: InsurerFaults;
  /** Enrolments by request id (insertion order: the oldest is forgotten first beyond MAX_ENROLMENTS). */
  private readonly enrolments = new Map<string, SimulatedEnrolment>();
  private sequence = 0;
  private readonly counts = { enrolRequests: 0, replayedEnrolments: 0, statusRequests: 0, errors: 0, timeouts: 0, lostAnswers: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly apiKey: string,
    faults: Partial<InsurerFaults> = {},
    private readonly random: () => number = Math.random,
  ) {
    const merged = mergeFaults(NO_FAULTS, faults as Record<string, unknown>);
    if (typeof merged === 'string') throw new Error(`invalid insurer simulator faults: ${merged}`);
    this.faults = merged;
  }

  stats(): InsurerStats {
    const { enrolRequests, replayedEnrolments, statusRequests, errors, timeouts, lostAnswers } = this.counts;
    let applied = 0;
    for (const enrolment of this.enrolments.values()) applied += enrolment.appliedTimes;
    return { applied, enrolRequests, replayedEnrolments, statusRequests, injected: { errors, timeouts, lostAnswers }, faults: this.faults };
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
      await this.withFaults(request, response, reply, true, () => this.enrol(body, request.headers['idempotency-key']));
      return true;
    }
    const match = /^\/insurer\/v1\/enrolments\/([^/]{1,600})$/.exec(path);
    if (match && request.method === 'GET') {
      this.counts.statusRequests += 1;
      const requestId = decodeURIComponent(match[1]!);
      await this.withFaults(request, response, reply, false, () => {
        const enrolment = this.enrolments.get(requestId);
        return enrolment ? { status: 200, body: present(enrolment) } : { status: 404, body: { requestId, status: 'not_found' } };
      });
      return true;
    }
    reply(404, { error: 'not found' });
    return true;
  }

  /** Stops every held call (the server is closing). */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
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

  /** Runs `work` under the faults drawn for this call; `applies`: the call changes something (enrolment). */
  private async withFaults(request: IncomingMessage, response: ServerResponse, reply: Reply, applies: boolean, work: () => { status: number; body: unknown }): Promise<void> {
    const draw = this.random();
    const { errorRate, timeoutRate, lostAnswerRate } = this.faults;
    const latencyMs = Math.floor(this.random() * (this.faults.latencyMs + 1));
    if (draw < timeoutRate) {
      this.counts.timeouts += 1;
      await this.hold(request, response);
      return;
    }
    await this.sleep(latencyMs);
    if (draw < timeoutRate + errorRate) {
      this.counts.errors += 1;
      reply(503, { error: 'insurer temporarily unavailable (simulated)' });
      return;
    }
    const result = work();
    if (applies && result.status === 200 && draw < timeoutRate + errorRate + lostAnswerRate) {
      // Applied; the answer is lost on the way back.
      this.counts.lostAnswers += 1;
      response.destroy();
      return;
    }
    reply(result.status, result.body);
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        resolve();
      }, ms);
      this.timers.add(timer);
    });
  }

  /** Holds the call without answering until the client gives up (or HOLD_MAX_MS). */
  private hold(request: IncomingMessage, response: ServerResponse): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.timers.delete(timer);
        response.destroy();
        resolve();
      };
      const timer = setTimeout(done, HOLD_MAX_MS);
      this.timers.add(timer);
      request.socket.once('close', done);
    });
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
