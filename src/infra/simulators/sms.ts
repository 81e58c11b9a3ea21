import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { FaultInjector, mergeCallFaults, NO_CALL_FAULTS, send, type CallFaults } from './http';

/**
 * A simulated SMS gateway, served by the simulators' HTTP server (simulators.ts). Like a real
 * gateway it is idempotent by request key: the same request id again answers the message it
 * already sent and sends nothing more. It counts what it applied (messages delivered, per request
 * id and per phone), so a test can check that N codes reached N phones, each once, whatever went
 * wrong on the way. Faults (src/infra/simulators/http.ts CallFaults), set at start
 * (`startSimulators({ smsFaults })`) or at any time through the admin route, are drawn per call.
 *
 *   POST /sms/send                (Authorization: Bearer <api key>, Idempotency-Key: <requestId>)
 *        { requestId, phone, template, params } → 200 { requestId, status: "sent", messageId }
 *        or 422 { requestId, status: "refused", reason } for a number it cannot deliver to
 *   GET  /sms/messages/{requestId} the request's decision, or 404 { status: "not_found" }
 *   GET  /simulator/sms/messages?phone=13800138000  → { messages: [{ requestId, phone, template, params, sentAt }] }
 *        (what a person would read on their phone; the README walk-through and the tests read codes here)
 *   GET  /simulator/sms/stats      { applied, sendRequests, replayedSends, refused, statusRequests, injected, faults }
 *   PUT  /simulator/sms/faults     { latencyMs?, errorRate?, timeoutRate?, lostAnswerRate? } (test and demo only)
 */

export interface DeliveredSms {
  /** The sender's request id (the ledger's SMS id, which for an activation code is the challenge id). */
  requestId: string;
  phone: string;
  template: string;
  params: Record<string, unknown>;
  sentAt: string;
}

export interface SmsSimulatorStats {
  /** Messages delivered: each request id at most once. */
  applied: number;
  /** Send calls received, retries and duplicates included. */
  sendRequests: number;
  /** Send calls for a request id already decided, answered with the earlier decision. */
  replayedSends: number;
  /** Requests refused for good (undeliverable numbers). */
  refused: number;
  statusRequests: number;
  injected: { errors: number; timeouts: number; lostAnswers: number };
  faults: CallFaults;
}

interface Decision {
  requestId: string;
  status: 'sent' | 'refused';
  messageId: string | null;
  reason: string | null;
  /** How many times this request id was delivered: 1 (or 0 when refused), or the simulator is broken. */
  appliedTimes: number;
}

const MAX_REQUESTS = 1_000_000;
const MAX_MESSAGES = 10_000;
const MAX_TEXT = 200;
/** What the simulated gateway can deliver to: digits, optionally with a leading +. */
const DELIVERABLE = /^\+?\d{5,20}$/;

export class SmsSimulator {
  private faults: CallFaults;
  private readonly injector: FaultInjector;
  /** Decisions by request id (insertion order: the oldest is forgotten first beyond MAX_REQUESTS). */
  private readonly decisions = new Map<string, Decision>();
  /** Delivered messages, newest last, bounded: what the phones received. */
  private readonly messages: DeliveredSms[] = [];
  private readonly counts = { sendRequests: 0, replayedSends: 0, refused: 0, statusRequests: 0 };

  constructor(
    private readonly apiKey: string,
    faults: Partial<CallFaults> = {},
    random: () => number = Math.random,
  ) {
    const merged = mergeCallFaults(NO_CALL_FAULTS, faults as Record<string, unknown>);
    if (typeof merged === 'string') throw new Error(`invalid SMS simulator faults: ${merged}`);
    this.faults = merged;
    this.injector = new FaultInjector(random);
  }

  stats(): SmsSimulatorStats {
    let applied = 0;
    for (const decision of this.decisions.values()) applied += decision.appliedTimes;
    return { applied, ...this.counts, injected: { ...this.injector.injected }, faults: this.faults };
  }

  setFaults(patch: Partial<CallFaults>): CallFaults {
    const merged = mergeCallFaults(this.faults, patch as Record<string, unknown>);
    if (typeof merged === 'string') throw new Error(`invalid SMS simulator faults: ${merged}`);
    this.faults = merged;
    return merged;
  }

  /** How many times the request id was delivered (0: never), for exactly-once checks. */
  appliedTimes(requestId: string): number {
    return this.decisions.get(requestId)?.appliedTimes ?? 0;
  }

  /** Messages a phone received, oldest first. */
  messagesTo(phone: string): DeliveredSms[] {
    return this.messages.filter((message) => message.phone === phone);
  }

  /** Answers the gateway's and its admin routes; false for any other path. */
  async handle(request: IncomingMessage, response: ServerResponse, url: URL, readJson: () => Promise<Record<string, unknown> | null>): Promise<boolean> {
    const path = url.pathname;
    if (path === '/simulator/sms/messages' && request.method === 'GET') {
      send(response, 200, { messages: this.messagesTo(url.searchParams.get('phone') ?? '') });
      return true;
    }
    if (path === '/simulator/sms/stats' && request.method === 'GET') {
      send(response, 200, this.stats());
      return true;
    }
    if (path === '/simulator/sms/faults' && request.method === 'PUT') {
      const body = await readJson();
      const merged = body ? mergeCallFaults(this.faults, body) : 'a JSON object is required';
      if (typeof merged === 'string') send(response, 400, { error: merged });
      else send(response, 200, (this.faults = merged));
      return true;
    }
    if (path !== '/sms/send' && !path.startsWith('/sms/messages/')) return false;
    if (request.headers.authorization !== `Bearer ${this.apiKey}`) {
      send(response, 401, { error: 'bad api key' });
      return true;
    }
    if (path === '/sms/send' && request.method === 'POST') {
      const body = await readJson();
      this.counts.sendRequests += 1;
      await this.injector.run(this.faults, request, response, true, () => this.send(body, request.headers['idempotency-key']));
      return true;
    }
    const match = /^\/sms\/messages\/([^/]{1,600})$/.exec(path);
    if (match && request.method === 'GET') {
      this.counts.statusRequests += 1;
      const requestId = decodeURIComponent(match[1]!);
      await this.injector.run(this.faults, request, response, false, () => {
        const decision = this.decisions.get(requestId);
        return decision ? { ...present(decision), applied: false } : { status: 404, body: { requestId, status: 'not_found' }, applied: false };
      });
      return true;
    }
    send(response, 404, { error: 'not found' });
    return true;
  }

  /** Stops every held call (the server is closing). */
  close(): void {
    this.injector.close();
  }

  private send(body: Record<string, unknown> | null, idempotencyKey: string | string[] | undefined): { status: number; body: unknown; applied: boolean } {
    const requestId = body?.requestId;
    const params = body?.params;
    if (
      !body ||
      typeof requestId !== 'string' ||
      requestId.length === 0 ||
      requestId.length > MAX_TEXT ||
      idempotencyKey !== requestId ||
      typeof body.phone !== 'string' ||
      body.phone.length > MAX_TEXT ||
      typeof body.template !== 'string' ||
      body.template.length === 0 ||
      body.template.length > MAX_TEXT ||
      typeof params !== 'object' ||
      params === null ||
      Array.isArray(params)
    ) {
      return { status: 400, body: { error: 'requestId (= Idempotency-Key), phone, template and params are required' }, applied: false };
    }
    const existing = this.decisions.get(requestId);
    if (existing) {
      this.counts.replayedSends += 1;
      return { ...present(existing), applied: true };
    }
    let decision: Decision;
    if (DELIVERABLE.test(body.phone)) {
      decision = { requestId, status: 'sent', messageId: `sim-${randomBytes(8).toString('hex')}`, reason: null, appliedTimes: 1 };
      if (this.messages.length >= MAX_MESSAGES) this.messages.shift();
      this.messages.push({ requestId, phone: body.phone, template: body.template, params: params as Record<string, unknown>, sentAt: new Date().toISOString() });
    } else {
      this.counts.refused += 1;
      decision = { requestId, status: 'refused', messageId: null, reason: 'the number cannot receive messages', appliedTimes: 0 };
    }
    if (this.decisions.size >= MAX_REQUESTS) this.decisions.delete(this.decisions.keys().next().value!);
    this.decisions.set(requestId, decision);
    return { ...present(decision), applied: true };
  }
}

function present(decision: Decision): { status: number; body: unknown } {
  return decision.status === 'sent'
    ? { status: 200, body: { requestId: decision.requestId, status: 'sent', messageId: decision.messageId } }
    : { status: 422, body: { requestId: decision.requestId, status: 'refused', reason: decision.reason } };
}
