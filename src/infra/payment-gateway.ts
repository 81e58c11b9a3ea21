import http from 'node:http';
import https from 'node:https';
import { PaymentGatewayError, type InquiryResult, type PayResult, type PaymentGatewayPort } from '../application/payouts';
import type { StatementLine } from '../domain/payouts';
import { readCsvRows } from './csv';

/**
 * The HTTP adapter of the payouts context's payment gateway (the API the simulator in
 * simulators/payment-gateway-simulator.ts serves; a real gateway's differences belong here).
 * Every call has a deadline: a gateway that hangs gives an `unknown` outcome, which the payout
 * worker resolves by a status inquiry. The card number travels only in the payment's body and is
 * never put in an error, a log line or a result; neither is the API key.
 */

export interface PaymentGatewayHttpOptions {
  baseUrl: string;
  apiKey: string;
  /** How long a payment or an inquiry may take before its outcome is unknown (default 10 s). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const STATEMENT_TIMEOUT_MS = 60_000;
const MAX_ANSWER_BYTES = 64 * 1024;
const MAX_STATEMENT_BYTES = 64 * 1024 * 1024;
const STATEMENT_COLUMNS = ['request_id', 'reference', 'amount_fen', 'paid_at'] as const;

type Answer = { kind: 'answer'; status: number; body: Record<string, unknown> } | { kind: 'silence'; detail: string };

/** Connections kept open to the gateway: one per payment in flight, reused (a worker's concurrency is far below it). */
const MAX_SOCKETS = 64;

export class PaymentGatewayHttpClient implements PaymentGatewayPort {
  // node:http with a keep-alive agent rather than fetch: payments are the payouts worker's hot
  // path, and undici's fetch costs several times the CPU per request.
  private readonly agent: http.Agent;

  constructor(private readonly options: PaymentGatewayHttpOptions) {
    const secure = new URL(options.baseUrl).protocol === 'https:';
    this.agent = secure ? new https.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS }) : new http.Agent({ keepAlive: true, maxSockets: MAX_SOCKETS });
  }

  /** Closes the kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  async pay(request: { requestId: string; cardNumber: string; amountFen: number }): Promise<PayResult> {
    const answer = await this.call('POST', '/v1/payments', JSON.stringify(request));
    if (answer.kind === 'silence') return { status: 'unknown', detail: answer.detail };
    const { status, body } = answer;
    if (status === 409) return { status: 'conflict', detail: typeof body.error === 'string' ? body.error.slice(0, 200) : 'conflict' };
    return this.outcome(status, body) ?? { status: 'unknown', detail: `HTTP ${status}` };
  }

  async inquire(requestId: string): Promise<InquiryResult> {
    const answer = await this.call('GET', `/v1/payments/${encodeURIComponent(requestId)}`);
    if (answer.kind === 'silence') return { status: 'unknown', detail: answer.detail };
    if (answer.status === 404 && answer.body.status === 'not_found') return { status: 'not_found' };
    const outcome = this.outcome(answer.status, answer.body);
    return outcome ?? { status: 'unknown', detail: answer.body.status === 'processing' ? 'still processing' : `HTTP ${answer.status}` };
  }

  async statement(day: string): Promise<StatementLine[]> {
    const url = new URL('/v1/statement', this.options.baseUrl);
    url.searchParams.set('date', day);
    let text: string;
    try {
      const response = await fetch(url, { headers: this.headers(), signal: AbortSignal.timeout(STATEMENT_TIMEOUT_MS) });
      text = await response.text();
      if (response.status !== 200) throw new PaymentGatewayError(`the gateway answered the statement of ${day} with HTTP ${response.status}`);
    } catch (error) {
      if (error instanceof PaymentGatewayError) throw error;
      throw new PaymentGatewayError(`the gateway did not give the statement of ${day}: ${(error as Error).name}`);
    }
    if (text.length > MAX_STATEMENT_BYTES) throw new PaymentGatewayError(`the statement of ${day} is larger than ${MAX_STATEMENT_BYTES} bytes`);
    const lines: StatementLine[] = [];
    try {
      for await (const row of readCsvRows([text], STATEMENT_COLUMNS)) {
        const values = row.values;
        const amountFen = Number(values?.amount_fen);
        if (!values || !values.request_id || !values.reference || !Number.isSafeInteger(amountFen) || amountFen <= 0 || Number.isNaN(Date.parse(values.paid_at ?? ''))) {
          throw new PaymentGatewayError(`the statement of ${day} has a malformed line ${row.line}`);
        }
        lines.push({ requestId: values.request_id, reference: values.reference, amountFen, paidAt: new Date(values.paid_at!).toISOString() });
      }
    } catch (error) {
      if (error instanceof PaymentGatewayError) throw error;
      throw new PaymentGatewayError(`the statement of ${day} cannot be read: ${(error as Error).message}`);
    }
    return lines;
  }

  /** A definitive answer (paid or declined) of a payment or an inquiry; null for anything else. */
  private outcome(status: number, body: Record<string, unknown>): Extract<PayResult, { status: 'paid' | 'declined' }> | null {
    if (status !== 200) return null;
    if (body.status === 'paid' && typeof body.reference === 'string' && typeof body.paidAt === 'string' && Number.isSafeInteger(body.amountFen)) {
      return { status: 'paid', reference: body.reference, paidAt: body.paidAt, amountFen: body.amountFen as number };
    }
    if (body.status === 'declined') {
      return { status: 'declined', code: typeof body.code === 'string' ? body.code : 'DECLINED', reason: typeof body.reason === 'string' ? body.reason.slice(0, 500) : 'declined by the gateway' };
    }
    return null;
  }

  private headers(): Record<string, string> {
    return { authorization: `Bearer ${this.options.apiKey}` };
  }

  private async call(method: 'GET' | 'POST', path: string, body?: string): Promise<Answer> {
    let answer: { status: number; text: string };
    try {
      answer = await this.request(method, path, body);
    } catch (error) {
      // Timeouts, resets, refused connections: nothing says whether the gateway acted. The error's
      // name and code only: a message could quote the request.
      const { name, code } = error as { name: string; code?: unknown };
      return { kind: 'silence', detail: `no answer (${name}${typeof code === 'string' ? ` ${code}` : ''})` };
    }
    const { status, text } = answer;
    try {
      const parsed: unknown = text === '' ? {} : JSON.parse(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { kind: 'silence', detail: `HTTP ${status} with a body that is not an object` };
      return { kind: 'answer', status, body: parsed as Record<string, unknown> };
    } catch {
      return { kind: 'silence', detail: `HTTP ${status} with a body that is not JSON` };
    }
  }

  /** One request with a deadline on the whole exchange; the answer's body is bounded. */
  private request(method: 'GET' | 'POST', path: string, body?: string): Promise<{ status: number; text: string }> {
    const url = new URL(path, this.options.baseUrl);
    const headers: Record<string, string | number> = { ...this.headers(), accept: 'application/json' };
    if (body !== undefined) Object.assign(headers, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = client.request(url, { method, headers, agent: this.agent }, (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_ANSWER_BYTES) request.destroy(Object.assign(new Error('oversized answer'), { name: 'OversizedAnswer' }));
          else chunks.push(chunk);
        });
        response.on('end', () => {
          clearTimeout(deadline);
          resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') });
        });
        response.on('error', reject);
      });
      const deadline = setTimeout(() => request.destroy(Object.assign(new Error('the gateway did not answer in time'), { name: 'TimeoutError' })), this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
      deadline.unref();
      request.on('error', (error) => {
        clearTimeout(deadline);
        reject(error);
      });
      request.end(body);
    });
  }
}
