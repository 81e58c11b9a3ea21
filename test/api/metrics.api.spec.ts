import { randomBytes } from 'node:crypto';
import { startLedgerApp, type LedgerApp } from '../support/ledger-app';
import { testTimeout, waitFor } from '../support/wait-for';

/**
 * GET /metrics: Prometheus's text over one registry per app. Scrapers present METRICS_TOKEN;
 * admins and auditors may read it with their own token; nobody else, and never without a token.
 */

const METRICS_TOKEN = randomBytes(24).toString('hex');
const system = { type: 'system', id: 'metrics-test' };

/** The value of one series, or undefined when it is absent. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (wanted.length === 0 && line.startsWith(`${name} `)) return Number(line.slice(name.length + 1));
    if (!line.startsWith(`${name}{`)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf('}'));
    if (wanted.every((pair) => labelText.split(',').includes(pair))) return Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return undefined;
}

/** The root union the admin and auditor tokens of these tests speak for. */
async function registerRoot(app: LedgerApp): Promise<void> {
  await app.ledger.orgs.registerOrganisation({ orgId: 'p-1', name: 'p-1', parentId: null, level: 'province' }, { commandId: 'org:p-1', actor: system });
}

async function scrape(app: LedgerApp, token: string = METRICS_TOKEN): Promise<{ status: number; contentType: string | null; text: string }> {
  const response = await fetch(`${app.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
}

describe('GET /metrics', () => {
  let app: LedgerApp;
  beforeAll(async () => {
    app = await startLedgerApp({ metricsToken: METRICS_TOKEN });
    await registerRoot(app);
  }, testTimeout());
  afterAll(async () => {
    await app?.close();
  });

  it('counts requests by method, route template and status class, never by the URL asked for', async () => {
    const admin = await app.token('metrics-admin', 'admin', 'p-1');
    expect((await app.call('GET', '/health')).status).toBe(200);
    expect((await app.call('GET', '/v1/admin/programmes/prog-secret-42', { token: admin })).status).toBe(404);
    expect((await app.call('GET', '/no/such/route-abc123')).status).toBe(404);

    const { status, contentType, text } = await scrape(app);
    expect(status).toBe(200);
    expect(contentType).toContain('text/plain');
    const count = (labels: Record<string, string>) => sample(text, 'ul_http_request_duration_seconds_count', labels);
    expect(count({ method: 'GET', route: '/health', status_class: '2xx' })).toBeGreaterThanOrEqual(1);
    expect(count({ method: 'GET', route: '/v1/admin/programmes/:programmeId', status_class: '4xx' })).toBe(1);
    expect(count({ method: 'GET', route: 'unmatched', status_class: '4xx' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'ul_http_request_duration_seconds_bucket', { route: '/health', le: '+Inf' })).toBeGreaterThanOrEqual(1);
    expect(text).not.toContain('prog-secret-42');
    expect(text).not.toContain('route-abc123');
    // Node's own figures, from this app's registry.
    expect(text).toContain('process_cpu_user_seconds_total');
    expect(text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('counts the SQL statements the process sends: GET /health sends one (SELECT 1)', async () => {
    const statements = async (): Promise<number> => sample((await scrape(app)).text, 'ul_sql_statements_total', {}) ?? Number.NaN;
    const first = await statements();
    expect(first).toBeGreaterThan(0); // The migrations at the start, at least.
    expect((await app.call('GET', '/health')).status).toBe(200);
    // The health check's SELECT 1 and whatever the process's own loops sent meanwhile; never fewer.
    expect(await statements()).toBeGreaterThanOrEqual(first + 1);
  });

  it('reports every projection of GET /v1/admin/projections, and its lag once it applied events', async () => {
    const before = await scrape(app);
    for (const projection of Object.keys(app.ledger.lag)) {
      expect({ projection, applied: sample(before.text, 'ul_projection_applied_events', { projection }) }).toEqual({ projection, applied: 0 });
    }
    await app.ledger.orgs.registerOrganisation({ orgId: 'm-1', name: 'metrics', parentId: null, level: 'province' }, { commandId: 'org:m-1', actor: system });
    app.ledger.startProjections(() => undefined);
    await waitFor(async () => (app.ledger.lag.orgs?.appliedEvents ?? 0) > 0, { what: 'the orgs projection to apply the registration' });

    const { text } = await scrape(app);
    expect(sample(text, 'ul_projection_applied_events', { projection: 'orgs' })).toBeGreaterThanOrEqual(1);
    const p50 = sample(text, 'ul_projection_lag_seconds', { projection: 'orgs', quantile: '0.5' });
    const p99 = sample(text, 'ul_projection_lag_seconds', { projection: 'orgs', quantile: '0.99' });
    expect(p50).toBeGreaterThanOrEqual(0);
    expect(p99).toBeGreaterThanOrEqual(p50!);
    // The same figures the admin route reports, in seconds.
    const admin = await app.token('metrics-admin', 'admin', 'p-1');
    const status = (await app.call('GET', '/v1/admin/projections', { token: admin })).body as { lag: Record<string, { lagP99Ms: number }> };
    expect(Object.keys(status.lag).sort()).toEqual(Object.keys(app.ledger.lag).sort());
  });

  it('reads the depth of every queue by state from Redis on each scrape', async () => {
    const insurance = app.queues.get('insurance');
    await insurance.add('probe', { eventId: 'e-1', streamId: 's-1', revision: '0' }, { jobId: 'metrics-waiting' });
    await insurance.add('probe', { eventId: 'e-2', streamId: 's-2', revision: '0' }, { jobId: 'metrics-delayed', delay: 3_600_000 });

    const { text } = await scrape(app);
    const depth = (queue: string, state: string) => sample(text, 'ul_queue_jobs', { queue, state });
    expect(['waiting', 'active', 'delayed', 'failed'].map((state) => depth('insurance', state))).toEqual([1, 0, 1, 0]);
    expect(['waiting', 'active', 'delayed', 'failed'].map((state) => depth('payouts', state))).toEqual([0, 0, 0, 0]);
    await insurance.obliterate({ force: true });
    expect(sample((await scrape(app)).text, 'ul_queue_jobs', { queue: 'insurance', state: 'waiting' })).toBe(0);
  });

  it('answers admins and auditors with their own token, and refuses everyone else', async () => {
    expect((await scrape(app, await app.token('metrics-auditor', 'auditor', 'p-1'))).status).toBe(200);
    const missing = await fetch(`${app.url}/metrics`);
    expect([missing.status, ((await missing.json()) as { code: string }).code]).toEqual([401, 'AUTH.MISSING_TOKEN']);
    const wrong = await scrape(app, `${METRICS_TOKEN.slice(0, -1)}x`);
    expect([wrong.status, (JSON.parse(wrong.text) as { code: string }).code]).toEqual([401, 'AUTH.INVALID_TOKEN']);
    for (const role of ['member', 'finance', 'merchant'] as const) {
      const refused = await scrape(app, await app.token(`metrics-${role}`, role, 'p-1'));
      expect({ role, status: refused.status, code: (JSON.parse(refused.text) as { code: string }).code }).toEqual({ role, status: 403, code: 'AUTH.FORBIDDEN' });
    }
    // The metrics token opens /metrics only.
    const elsewhere = await app.call('GET', '/v1/admin/projections', { token: METRICS_TOKEN });
    expect([elsewhere.status, elsewhere.body.code]).toEqual([401, 'AUTH.INVALID_TOKEN']);
  });
});

describe('GET /metrics without METRICS_TOKEN, with the workers running', () => {
  let app: LedgerApp;
  beforeAll(async () => {
    app = await startLedgerApp({ workers: true });
    await registerRoot(app);
  }, testTimeout());
  afterAll(async () => {
    await app?.close();
  });

  it('accepts no bearer as the metrics token, only admin and auditor tokens', async () => {
    expect((await scrape(app, METRICS_TOKEN)).status).toBe(401);
    expect((await scrape(app, await app.token('metrics-admin', 'admin', 'p-1'))).status).toBe(200);
  });

  it("counts the workers' finished jobs by queue and outcome, with their durations", async () => {
    const admin = await app.token('metrics-admin', 'admin', 'p-1');
    // A job that carries no effect request fails for good at once (UnrecoverableError).
    await app.queues.get('insurance').add('probe', {} as never, { jobId: 'metrics-broken' });
    await waitFor(async () => (await app.queues.get('insurance').getFailedCount()) === 1, { what: 'the broken job to fail' });
    await waitFor(async () => sample((await scrape(app, admin)).text, 'ul_jobs_finished_total', { queue: 'insurance', outcome: 'failed' }) === 1, {
      what: 'the failure to be counted',
    });
    const { text } = await scrape(app, admin);
    expect(sample(text, 'ul_job_duration_seconds_count', { queue: 'insurance', outcome: 'failed' })).toBe(1);
    // Its wait in the queue (processedOn - timestamp), and, unrecoverable, it left a dead letter.
    expect(sample(text, 'ul_job_wait_seconds_count', { queue: 'insurance' })).toBe(1);
    expect(sample(text, 'ul_jobs_dead_lettered_total', { queue: 'insurance' })).toBe(1);
    expect(sample(text, 'ul_queue_jobs', { queue: 'insurance', state: 'failed' })).toBe(1);
  });
});
