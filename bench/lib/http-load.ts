import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { tokenService } from '../../src/composition-root';
import { BenchHttpClient, type HttpAnswer } from './http-client';
import { fixtureMember, planTree } from './member-fixture';
import { msSince } from './stats';

/**
 * The HTTP clients of bench/benefits.ts, run in a worker thread. The benchmark serves the API
 * from its main thread (as test/support/ledger-app.ts does); running the clients there too would
 * put their work (request building, JSON, token signing) on the event loop that answers them and
 * inflate every latency. In a worker they only share the machine's cores, as a client on the same
 * host would.
 *
 * Two kinds of run: `payments`, where each client loops over members it has not used before
 * (a shared counter, so every member pays once): POST /v1/me/payment-codes as the member, then
 * POST /v1/merchant/payments and POST /v1/merchant/payments/:id/capture as the terminal; and
 * `health`, where each client loops GET /health (one PostgreSQL and one Redis round trip), the
 * probe the payments are compared with.
 */
export interface HttpLoadJob {
  kind: 'ul-bench-http-load';
  url: string;
  mode: 'payments' | 'health';
  clients: number;
  durationMs: number;
  /** Members [firstMember, memberLimit) of the fixture, in order, one per payment. */
  firstMember: number;
  memberLimit: number;
  tree: { cities: number; counties: number; unions: number };
  jwtSecret: string;
  merchantToken: string;
  /** Yuan authorised and captured per payment. */
  amount: string;
  /** Idempotency keys of this run start with it. */
  keyPrefix: string;
}

export type Step = 'paymentCode' | 'authorise' | 'capture' | 'health';

export interface HttpLoadResult {
  elapsedS: number;
  /** Requests answered, whatever their status. */
  requests: number;
  /** Payments authorised and captured (all three answers as expected). */
  pairs: number;
  latenciesMs: Record<Step, number[]> & { pair: number[] };
  /** `<step> <status> <code>` of every answer other than the expected one. */
  unexpected: Record<string, number>;
  /** The first member the next run may use. */
  nextMember: number;
  /** True when the clients stopped early because the members ran out. */
  exhausted: boolean;
}

/** Runs one load in a fresh worker thread (this very file) and resolves with its figures. */
export function runHttpLoad(job: Omit<HttpLoadJob, 'kind'>): Promise<HttpLoadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(__filename, { workerData: { ...job, kind: 'ul-bench-http-load' } satisfies HttpLoadJob });
    let result: HttpLoadResult | undefined;
    worker.once('message', (message: HttpLoadResult) => (result = message));
    worker.once('error', reject);
    worker.once('exit', (code) => (result ? resolve(result) : reject(new Error(`the HTTP load worker exited with code ${code} without a result`))));
  });
}

async function run(job: HttpLoadJob): Promise<HttpLoadResult> {
  const http = new BenchHttpClient(job.url, job.clients);
  const tree = planTree(job.tree.cities, job.tree.counties, job.tree.unions);
  const signer = tokenService(job.jwtSecret);
  const latenciesMs: HttpLoadResult['latenciesMs'] = { paymentCode: [], authorise: [], capture: [], health: [], pair: [] };
  const unexpected: Record<string, number> = {};
  let requests = 0;
  let pairs = 0;
  let next = job.firstMember;
  let exhausted = false;

  /** One request, timed; the answer when its status is the expected one, undefined (and counted) otherwise. */
  const step = async (name: Step, expected: number, send: () => Promise<HttpAnswer>): Promise<HttpAnswer | undefined> => {
    const t0 = process.hrtime.bigint();
    const answer = await send();
    latenciesMs[name].push(msSince(t0));
    requests += 1;
    if (answer.status === expected) return answer;
    let code = '';
    try {
      code = (JSON.parse(answer.body) as { code?: string }).code ?? '';
    } catch {
      code = answer.body.slice(0, 60);
    }
    const label = `${name} ${answer.status} ${code}`.trim();
    unexpected[label] = (unexpected[label] ?? 0) + 1;
    return undefined;
  };

  const payments = async (deadline: bigint): Promise<void> => {
    while (process.hrtime.bigint() < deadline) {
      if (next >= job.memberLimit) {
        exhausted = true;
        return;
      }
      const index = next;
      next += 1;
      const member = fixtureMember(index, tree);
      const token = await signer.sign({ sub: member.memberId, role: 'member', org: member.orgId }, { ttlSeconds: 3600 });
      const key = `${job.keyPrefix}-${index}`;
      const code = await step('paymentCode', 201, () => http.request('POST', '/v1/me/payment-codes', { token, key: `${key}-code` }));
      if (!code) continue;
      const { paymentCode } = JSON.parse(code.body) as { paymentCode: string };
      const t0 = process.hrtime.bigint();
      const authorised = await step('authorise', 201, () =>
        http.request('POST', '/v1/merchant/payments', { token: job.merchantToken, key: `${key}-authorise`, body: { paymentCode, amount: job.amount } }),
      );
      if (!authorised) continue;
      const { paymentId } = JSON.parse(authorised.body) as { paymentId: string };
      const captured = await step('capture', 200, () =>
        http.request('POST', `/v1/merchant/payments/${paymentId}/capture`, { token: job.merchantToken, key: `${key}-capture`, body: { amount: job.amount } }),
      );
      if (!captured) continue;
      latenciesMs.pair.push(msSince(t0));
      pairs += 1;
    }
  };

  const health = async (deadline: bigint): Promise<void> => {
    while (process.hrtime.bigint() < deadline) await step('health', 200, () => http.request('GET', '/health'));
  };

  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(job.durationMs * 1e6));
  await Promise.all(Array.from({ length: job.clients }, () => (job.mode === 'payments' ? payments(deadline) : health(deadline))));
  const elapsedS = msSince(start) / 1000;
  http.close();
  return { elapsedS, requests, pairs, latenciesMs, unexpected, nextMember: next, exhausted };
}

if (!isMainThread && parentPort && (workerData as Partial<HttpLoadJob> | null)?.kind === 'ul-bench-http-load') {
  const port = parentPort;
  // A failure rejects unhandled, which ends the worker with an 'error' event that runHttpLoad rejects with.
  void run(workerData as HttpLoadJob).then((result) => port.postMessage(result));
}
