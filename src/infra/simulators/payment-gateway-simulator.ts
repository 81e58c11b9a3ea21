import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { periodsOf } from '../../domain/shared';
import { readJson, send } from './http';

/**
 * A payment gateway (银行代付: pay a bank card) as a small real HTTP server, for the quick start
 * and the tests: the payouts worker speaks to it exactly as to a real gateway (src/infra/
 * payment-gateway.ts), and the tests count the payments it really made. It listens on 127.0.0.1
 * only and keeps everything in memory, bounded.
 *
 * The gateway's API (Authorization: Bearer <api key>):
 *   POST /v1/payments { requestId, cardNumber, amountFen }
 *        200 { status: "paid", requestId, reference, amountFen, paidAt }
 *        200 { status: "declined", requestId, code, reason }      (refused for good)
 *        202 { status: "processing", requestId }                    (the same id is being paid now)
 *        409 { status: "conflict", error }                          (this id was used with another body)
 *        503 { error }                                              (not applied: try again)
 *   GET  /v1/payments/:requestId     → 200 { status: "paid" | "declined" | "processing", ... } or 404 { status: "not_found" }
 *   GET  /v1/statement?date=YYYY-MM-DD → text/csv, one line per payment made that day (Asia/Shanghai):
 *        request_id,reference,amount_fen,card_masked,paid_at
 * Idempotent by request id like real gateways: the same id with the same body answers the first
 * result and pays nothing more; another body is a conflict.
 *
 * For tests only (no key):
 *   GET    /simulator/payments/stats                → what was applied, replayed, refused, and the faults injected
 *   PUT    /simulator/payments/faults { ... }       → change the fault injection (PaymentGatewayFaults)
 *   PUT    /simulator/payments/records/:requestId { amountFen, paidAt? }  → forge a payment (reconciliation tests)
 *   DELETE /simulator/payments/records/:requestId   → forget a payment (reconciliation tests)
 *
 * Card numbers are personal data: the simulator never logs them and keeps only what a gateway's
 * statement shows (the masked number) and a salted hash to compare a repeated request's body.
 */

export interface PaymentGatewayFaults {
  /** Added to every answer. */
  latencyMs: number;
  /** Share of payment requests answered 503 without applying them. */
  errorRate: number;
  /** Share of payment requests held for `stallMs` (longer than the client waits), then applied. */
  timeoutRate: number;
  /** Share of payment requests applied whose answer is lost (the connection is dropped). */
  lostAnswerRate: number;
  /** How long a timed-out request is held before the gateway applies it. */
  stallMs: number;
  /** Share of status inquiries answered 503. */
  inquiryErrorRate: number;
}

export const NO_FAULTS: PaymentGatewayFaults = { latencyMs: 0, errorRate: 0, timeoutRate: 0, lostAnswerRate: 0, stallMs: 15_000, inquiryErrorRate: 0 };

export interface PaymentGatewaySimulatorOptions {
  apiKey?: string;
  faults?: Partial<PaymentGatewayFaults>;
  /** Card numbers the gateway declines (CARD_CLOSED), as a bank would a closed account. */
  declinedCards?: readonly string[];
  /** Seed of the fault injection's random numbers, for a run that can be repeated. */
  seed?: number;
  clock?: () => Date;
}

export interface PaymentGatewayStats {
  /** Payments made (money moved), each request id once. */
  applied: number;
  appliedFen: number;
  /** Requests answered with an earlier request's result (nothing paid). */
  replays: number;
  declined: number;
  conflicts: number;
  inquiries: number;
  /** Requests that found the same id being paid (answered 202). */
  processing: number;
  faults: { errors: number; timeouts: number; lostAnswers: number; inquiryErrors: number };
}

export interface PaymentGatewaySimulator {
  url: string;
  apiKey: string;
  stats(): PaymentGatewayStats;
  setFaults(faults: Partial<PaymentGatewayFaults>): void;
  /** Payment ids in the order they were applied (tests compare them with the ledger). */
  appliedIds(): string[];
  close(): Promise<void>;
}

interface Payment {
  requestId: string;
  bodyHash: string;
  amountFen: number;
  cardMasked: string;
  status: 'processing' | 'paid' | 'declined';
  reference: string | null;
  paidAt: string | null;
  paidDay: string | null;
}

const MAX_BODY_BYTES = 4 * 1024;
/** Payments kept; beyond it new request ids are answered 503 (a bounded memory, like a bounded test). */
const MAX_PAYMENTS = 1_000_000;
const REQUEST_ID = /^[A-Za-z0-9_-]{1,64}$/;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MAX_AMOUNT_FEN = 10_000_000_000;


/** mulberry32: a small seeded generator, so a fault pattern can be replayed. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

// Unreferenced: a held request must not keep a closed simulator's process alive.
const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms).unref()) : Promise.resolve());

function checkFaults(input: Record<string, unknown>): Partial<PaymentGatewayFaults> | string {
  const faults: Partial<PaymentGatewayFaults> = {};
  for (const [key, value] of Object.entries(input)) {
    if (!(key in NO_FAULTS)) return `unknown fault ${key}`;
    const isRate = key.endsWith('Rate');
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || (isRate ? value > 1 : value > 600_000)) return `${key}: ${isRate ? 'a share from 0 to 1' : '0 to 600000 ms'}`;
    faults[key as keyof PaymentGatewayFaults] = value;
  }
  return faults;
}

const csvField = (value: string): string => (/[",\n\r]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);

export async function startPaymentGatewaySimulator(options: PaymentGatewaySimulatorOptions = {}): Promise<PaymentGatewaySimulator> {
  const apiKey = options.apiKey ?? randomBytes(16).toString('hex');
  const clock = options.clock ?? (() => new Date());
  const random = seeded(options.seed ?? Date.now());
  // The salt makes the kept hashes useless outside this process.
  const salt = randomBytes(16);
  const cardHash = (cardNumber: string): string => createHash('sha256').update(salt).update(cardNumber).digest('hex');
  const declined = new Set((options.declinedCards ?? []).map(cardHash));
  let faults: PaymentGatewayFaults = { ...NO_FAULTS, ...options.faults };
  const payments = new Map<string, Payment>();
  const applied: string[] = [];
  const stats: PaymentGatewayStats = { applied: 0, appliedFen: 0, replays: 0, declined: 0, conflicts: 0, inquiries: 0, processing: 0, faults: { errors: 0, timeouts: 0, lostAnswers: 0, inquiryErrors: 0 } };
  let sequence = 0;

  const answerOf = (payment: Payment): { status: number; body: Record<string, unknown> } => {
    if (payment.status === 'paid') return { status: 200, body: { status: 'paid', requestId: payment.requestId, reference: payment.reference, amountFen: payment.amountFen, paidAt: payment.paidAt } };
    if (payment.status === 'declined') return { status: 200, body: { status: 'declined', requestId: payment.requestId, code: 'CARD_CLOSED', reason: 'the card account is closed' } };
    return { status: 202, body: { status: 'processing', requestId: payment.requestId } };
  };

  /** Completes a payment: the money moves (or the bank declines) once, whatever happens to the answer. */
  const complete = (payment: Payment, cardNumber: string): void => {
    if (declined.has(cardHash(cardNumber))) {
      payment.status = 'declined';
      stats.declined += 1;
      return;
    }
    const now = clock();
    sequence += 1;
    payment.status = 'paid';
    payment.reference = `SIM${now.getTime().toString(36).toUpperCase()}${String(sequence).padStart(8, '0')}`;
    payment.paidAt = now.toISOString();
    payment.paidDay = periodsOf(now).day;
    stats.applied += 1;
    stats.appliedFen += payment.amountFen;
    applied.push(payment.requestId);
  };

  const pay = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const body = await readJson(request, MAX_BODY_BYTES);
    const requestId = body?.requestId;
    const cardNumber = body?.cardNumber;
    const amountFen = body?.amountFen;
    if (typeof requestId !== 'string' || !REQUEST_ID.test(requestId) || typeof cardNumber !== 'string' || !/^\d{12,19}$/.test(cardNumber)) {
      return send(response, 400, { error: 'requestId (1-64 of A-Z a-z 0-9 _ -), cardNumber (12-19 digits) and amountFen are required' });
    }
    if (typeof amountFen !== 'number' || !Number.isSafeInteger(amountFen) || amountFen < 1 || amountFen > MAX_AMOUNT_FEN) return send(response, 400, { error: 'amountFen: a positive whole number of fen' });
    const dice = random();
    if (dice < faults.errorRate) {
      stats.faults.errors += 1;
      return send(response, 503, { error: 'the bank is not answering; nothing was paid' });
    }
    const bodyHash = createHash('sha256').update(`${cardHash(cardNumber)}:${amountFen}`).digest('hex');
    const existing = payments.get(requestId);
    if (existing) {
      if (existing.bodyHash !== bodyHash) {
        stats.conflicts += 1;
        return send(response, 409, { status: 'conflict', error: `request ${requestId} was made with another card or amount` });
      }
      if (existing.status === 'processing') stats.processing += 1;
      else stats.replays += 1;
      const answer = answerOf(existing);
      return send(response, answer.status, answer.body);
    }
    if (payments.size >= MAX_PAYMENTS) return send(response, 503, { error: 'the simulator holds as many payments as it may' });
    const payment: Payment = { requestId, bodyHash, amountFen, cardMasked: `${cardNumber.slice(0, 4)} **** **** ${cardNumber.slice(-4)}`, status: 'processing', reference: null, paidAt: null, paidDay: null };
    payments.set(requestId, payment);
    if (dice < faults.errorRate + faults.timeoutRate) {
      // Held past the client's deadline, then applied: the client cannot know, an inquiry meanwhile says "processing".
      stats.faults.timeouts += 1;
      await sleep(faults.stallMs);
      complete(payment, cardNumber);
      const answer = answerOf(payment);
      return send(response, answer.status, answer.body);
    }
    complete(payment, cardNumber);
    if (dice < faults.errorRate + faults.timeoutRate + faults.lostAnswerRate) {
      stats.faults.lostAnswers += 1;
      response.socket?.destroy();
      return;
    }
    const answer = answerOf(payment);
    send(response, answer.status, answer.body);
  };

  const inquire = (requestId: string, response: ServerResponse): void => {
    stats.inquiries += 1;
    if (random() < faults.inquiryErrorRate) {
      stats.faults.inquiryErrors += 1;
      return send(response, 503, { error: 'the bank is not answering' });
    }
    const payment = payments.get(requestId);
    if (!payment) return send(response, 404, { status: 'not_found', requestId });
    const answer = answerOf(payment);
    send(response, 200, answer.body);
  };

  const statement = (day: string, response: ServerResponse): void => {
    const lines = ['request_id,reference,amount_fen,card_masked,paid_at'];
    for (const payment of payments.values()) {
      if (payment.status === 'paid' && payment.paidDay === day) lines.push([payment.requestId, payment.reference!, String(payment.amountFen), payment.cardMasked, payment.paidAt!].map(csvField).join(','));
    }
    const text = `${lines.join('\n')}\n`;
    response.writeHead(200, { 'content-type': 'text/csv; charset=utf-8', 'content-length': Buffer.byteLength(text) });
    response.end(text);
  };

  const forge = async (requestId: string, request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const body = await readJson(request, MAX_BODY_BYTES);
    const amountFen = body?.amountFen;
    const paidAt = body?.paidAt === undefined ? clock() : new Date(String(body.paidAt));
    if (typeof amountFen !== 'number' || !Number.isSafeInteger(amountFen) || amountFen < 1 || Number.isNaN(paidAt.getTime())) return send(response, 400, { error: 'amountFen (positive fen) and an optional ISO paidAt' });
    const existing = payments.get(requestId);
    sequence += 1;
    const payment: Payment = {
      requestId,
      bodyHash: existing?.bodyHash ?? 'forged',
      amountFen,
      cardMasked: existing?.cardMasked ?? '6222 **** **** 0000',
      status: 'paid',
      reference: existing?.reference ?? `SIMFORGED${String(sequence).padStart(8, '0')}`,
      paidAt: paidAt.toISOString(),
      paidDay: periodsOf(paidAt).day,
    };
    payments.set(requestId, payment);
    send(response, 200, answerOf(payment).body);
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://simulator');
    const path = url.pathname;
    if (path.startsWith('/simulator/payments/')) {
      if (request.method === 'GET' && path === '/simulator/payments/stats') return send(response, 200, stats);
      if (request.method === 'PUT' && path === '/simulator/payments/faults') {
        const body = await readJson(request, MAX_BODY_BYTES);
        const checked = body ? checkFaults(body) : 'a JSON object of faults';
        if (typeof checked === 'string') return send(response, 400, { error: checked });
        faults = { ...faults, ...checked };
        return send(response, 200, faults);
      }
      const forged = /^\/simulator\/payments\/records\/([A-Za-z0-9_-]{1,64})$/.exec(path);
      if (forged && request.method === 'PUT') return forge(forged[1]!, request, response);
      if (forged && request.method === 'DELETE') return send(response, payments.delete(forged[1]!) ? 200 : 404, {});
      return send(response, 404, { error: 'not found' });
    }
    if (request.headers.authorization !== `Bearer ${apiKey}`) return send(response, 401, { error: 'bad api key' });
    await sleep(faults.latencyMs);
    if (request.method === 'POST' && path === '/v1/payments') return pay(request, response);
    const status = /^\/v1\/payments\/([^/]{1,200})$/.exec(path);
    if (request.method === 'GET' && status) return inquire(decodeURIComponent(status[1]!), response);
    if (request.method === 'GET' && path === '/v1/statement') {
      const day = url.searchParams.get('date') ?? '';
      if (!DAY.test(day)) return send(response, 400, { error: 'date: YYYY-MM-DD' });
      return statement(day, response);
    }
    send(response, 404, { error: 'not found' });
  };

  const server: Server = createServer((request, response) => {
    handle(request, response).catch(() => {
      if (!response.headersSent) send(response, 500, { error: 'simulator failure' });
      else response.destroy();
    });
  });
  server.requestTimeout = 0;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    apiKey,
    stats: () => structuredClone(stats),
    setFaults: (changes) => {
      faults = { ...faults, ...changes };
    },
    appliedIds: () => [...applied],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
