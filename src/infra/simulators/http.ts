import type { IncomingMessage, ServerResponse } from 'node:http';

/** What the simulators' small HTTP servers share: a JSON answer, and a bounded JSON body. */

export function send(response: ServerResponse, status: number, body: unknown): void {
  // A client that gave up (a timeout the test injected) has closed the socket: nothing to answer.
  if (response.destroyed) return;
  const text = JSON.stringify(body);
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

/** The request's JSON object, or null when it is not one or is longer than `maxBytes`. */
export async function readJson(request: IncomingMessage, maxBytes: number): Promise<Record<string, unknown> | null> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) return null;
    chunks.push(chunk as Buffer);
  }
  try {
    const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Faults a simulator injects into the calls it answers, each drawn per call (the insurer's and
 * the SMS gateway's):
 *   latencyMs       every answer waits a random 0..latencyMs first
 *   errorRate       answered 503 without applying anything
 *   timeoutRate     never answered (the connection is held until the client gives up) and not applied
 *   lostAnswerRate  applied, then the connection is dropped before the answer: the client cannot
 *                   tell this from a timeout, which is the case exactly-once has to survive
 */
export interface CallFaults {
  latencyMs: number;
  errorRate: number;
  timeoutRate: number;
  lostAnswerRate: number;
}

export const NO_CALL_FAULTS: CallFaults = { latencyMs: 0, errorRate: 0, timeoutRate: 0, lostAnswerRate: 0 };
const MAX_FAULT_LATENCY_MS = 60_000;
/** A held ("timed out") call is dropped after this even if its client never gives up. */
const HOLD_MAX_MS = 120_000;

/** Checks fault settings (from a start option or an admin route); returns the problem, or the merged settings. */
export function mergeCallFaults(current: CallFaults, patch: Record<string, unknown>): CallFaults | string {
  const next: CallFaults = { ...current };
  for (const [key, value] of Object.entries(patch)) {
    if (key === 'latencyMs') {
      if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > MAX_FAULT_LATENCY_MS) return `latencyMs: an integer from 0 to ${MAX_FAULT_LATENCY_MS}`;
      next.latencyMs = value as number;
    } else if (key === 'errorRate' || key === 'timeoutRate' || key === 'lostAnswerRate') {
      if (typeof value !== 'number' || !(value >= 0 && value <= 1)) return `${key}: a number from 0 to 1`;
      next[key] = value;
    } else {
      return `unknown setting ${key} (allowed: latencyMs, errorRate, timeoutRate, lostAnswerRate)`;
    }
  }
  if (next.errorRate + next.timeoutRate + next.lostAnswerRate > 1) return 'errorRate + timeoutRate + lostAnswerRate must not exceed 1';
  return next;
}

/** Runs a simulator's calls under CallFaults and counts what it injected; `close()` drops the held calls. */
export class FaultInjector {
  readonly injected = { errors: 0, timeouts: 0, lostAnswers: 0 };
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly random: () => number = Math.random) {}

  /**
   * Answers one call with `work` under `faults`. `applies`: the call changes something (a send),
   * so its answer may be lost after it was applied; a read is only delayed, failed or held.
   */
  async run(
    faults: CallFaults,
    request: IncomingMessage,
    response: ServerResponse,
    applies: boolean,
    work: () => { status: number; body: unknown; applied: boolean },
  ): Promise<void> {
    const draw = this.random();
    const latencyMs = Math.floor(this.random() * (faults.latencyMs + 1));
    if (draw < faults.timeoutRate) {
      this.injected.timeouts += 1;
      await this.hold(request, response);
      return;
    }
    await this.sleep(latencyMs);
    if (draw < faults.timeoutRate + faults.errorRate) {
      this.injected.errors += 1;
      send(response, 503, { error: 'temporarily unavailable (simulated)' });
      return;
    }
    const result = work();
    if (applies && result.applied && draw < faults.timeoutRate + faults.errorRate + faults.lostAnswerRate) {
      this.injected.lostAnswers += 1;
      response.destroy();
      return;
    }
    send(response, result.status, result.body);
  }

  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
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
