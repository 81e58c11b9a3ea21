import { QUEUES } from '../../src/workers/queues';
import { startLedgerApp, type LedgerApp } from '../support/ledger-app';
import { testTimeout } from '../support/wait-for';

/**
 * The queue dashboard (bull-board at /admin/queues): nothing of it, not its page, its static
 * files or its JSON API, answers anyone but an admin of a root union, by bearer header or by the
 * session cookie POST /v1/admin/dashboard/session sets.
 */

const system = { type: 'system', id: 'dashboard-test' };
const PAGE = '/admin/queues/';
const QUEUES_API = '/admin/queues/api/queues';

interface Fetched {
  status: number;
  headers: Headers;
  text: string;
}

async function get(app: LedgerApp, path: string, headers: Record<string, string> = {}): Promise<Fetched> {
  const response = await fetch(`${app.url}${path}`, { headers, redirect: 'manual' });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const codeOf = (fetched: Fetched): string => (JSON.parse(fetched.text) as { code: string }).code;

describe('the queue dashboard at /admin/queues', () => {
  let app: LedgerApp;
  let root: string;
  let staticFile: string;
  beforeAll(async () => {
    app = await startLedgerApp();
    await app.ledger.orgs.registerOrganisation({ orgId: 'p-1', name: 'province', parentId: null, level: 'province' }, { commandId: 'org:p-1', actor: system });
    await app.ledger.orgs.registerOrganisation({ orgId: 'c-1', name: 'city', parentId: 'p-1', level: 'city' }, { commandId: 'org:c-1', actor: system });
    root = await app.token('root-admin', 'admin', 'p-1');
    // A static file of the page, found from a page a root admin fetched, to prove it is guarded too.
    const page = await get(app, PAGE, bearer(root));
    staticFile = `/admin/queues/${/src="(static\/js\/main[^"]+\.js)"/.exec(page.text)![1]!}`;
  }, testTimeout());
  afterAll(async () => {
    await app?.close();
  });

  it('answers nothing without a token: not the page, a static file or the JSON API', async () => {
    for (const path of ['/admin/queues', PAGE, '/admin/queues/queue/ul-insurance', staticFile, QUEUES_API]) {
      const refused = await get(app, path);
      expect({ path, status: refused.status, code: codeOf(refused) }).toEqual({ path, status: 401, code: 'AUTH.MISSING_TOKEN' });
      expect(refused.text).not.toContain('ul-insurance');
      expect(refused.headers.get('www-authenticate')).toContain('Bearer');
    }
    const forged = await get(app, PAGE, bearer(`${root.slice(0, -2)}xx`));
    expect([forged.status, codeOf(forged)]).toEqual([401, 'AUTH.INVALID_TOKEN']);
  });

  it('refuses members, admins below the root and other roles with 403', async () => {
    const callers = [
      ['member', await app.token('m-1', 'member', 'c-1')],
      ['city admin', await app.token('city-admin', 'admin', 'c-1')],
      ['auditor', await app.token('auditor-1', 'auditor', 'p-1')],
      ['finance', await app.token('finance-1', 'finance', 'p-1')],
    ] as const;
    for (const [who, token] of callers) {
      for (const path of [PAGE, staticFile, QUEUES_API]) {
        const refused = await get(app, path, bearer(token));
        expect({ who, path, status: refused.status, code: codeOf(refused) }).toEqual({ who, path, status: 403, code: 'AUTH.FORBIDDEN' });
      }
      // Nor may they open a browser session.
      const session = await app.call('POST', '/v1/admin/dashboard/session', { token });
      expect({ who, status: session.status, cookie: session.headers.get('set-cookie') }).toEqual({ who, status: 403, cookie: null });
    }
  });

  it("shows a root admin the page under helmet's content security policy, and its JSON API lists every queue", async () => {
    const page = await get(app, PAGE, bearer(root));
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(page.headers.get('cache-control')).toBe('no-store');
    // The policy stays helmet's: the page's scripts and stylesheets are files of this origin (a
    // font stylesheet over https, which style-src allows), so it needs no relaxation.
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-eval');
    const scripts = [...page.text.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((match) => match[1]!);
    const styles = [...page.text.matchAll(/<link href="([^"]+)" rel="stylesheet"/g)].map((match) => match[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const src of [...scripts, ...styles.filter((href) => !href.startsWith('https://'))]) {
      expect(src).toMatch(/^static\//);
      expect({ src, status: (await get(app, `/admin/queues/${src}`, bearer(root))).status }).toEqual({ src, status: 200 });
    }
    expect(page.text).not.toMatch(/<script>(?!\s*<\/script>)/); // no inline script to execute (the UI config is JSON data)

    await app.queues.get('insurance').add('probe', { eventId: 'e-dash', streamId: 's-dash', revision: '0' }, { jobId: 'dashboard-probe', delay: 3_600_000 });
    const listed = await get(app, `${QUEUES_API}?activeQueue=ul-insurance&status=delayed&page=1`, bearer(root));
    expect(listed.status).toBe(200);
    const body = JSON.parse(listed.text) as { queues: Array<{ name: string; readOnlyMode: boolean; counts: Record<string, number> }> };
    expect(body.queues.map((queue) => queue.name).sort()).toEqual(Object.values(QUEUES).sort());
    expect(body.queues.map((queue) => queue.name)).toEqual(expect.arrayContaining(['ul-insurance', 'ul-payouts']));
    expect(body.queues.every((queue) => queue.readOnlyMode)).toBe(true);
    expect(body.queues.find((queue) => queue.name === 'ul-insurance')!.counts.delayed).toBe(1);
    // Read-only on the server too, not only in the page: removing a job is refused and changes nothing.
    const removed = await fetch(`${app.url}/admin/queues/api/queues/ul-insurance/dashboard-probe/clean`, { method: 'PUT', headers: bearer(root) });
    expect(removed.status).toBe(405);
    expect(await app.queues.get('insurance').getJob('dashboard-probe')).toBeDefined();
    await app.queues.get('insurance').obliterate({ force: true });
  });

  it('lets a browser in through a short-lived HttpOnly, SameSite=Strict cookie scoped to the dashboard', async () => {
    const opened = await app.call('POST', '/v1/admin/dashboard/session', { token: root });
    expect(opened.status).toBe(200);
    expect(opened.body.dashboard).toBe('/admin/queues/');
    const setCookie = opened.headers.get('set-cookie')!;
    const [pair, ...attributes] = setCookie.split('; ');
    expect(attributes.sort()).toEqual(['HttpOnly', 'Max-Age=900', 'Path=/admin/queues', 'SameSite=Strict']); // plain http here: no Secure
    expect(pair).toMatch(/^ul_queue_dashboard=[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(JSON.stringify(opened.body)).not.toContain(pair!.split('=')[1]!); // the token is in the cookie only
    const expiresInMs = Date.parse(opened.body.expiresAt as string) - Date.now();
    expect(expiresInMs).toBeGreaterThan(800_000);
    expect(expiresInMs).toBeLessThanOrEqual(900_000);

    // The browser sends the cookie back when it navigates: page, static files and JSON API open.
    const cookie = { cookie: `other=1; ${pair!}` };
    for (const path of [PAGE, staticFile, QUEUES_API]) expect({ path, status: (await get(app, path, cookie)).status }).toEqual({ path, status: 200 });
    // The cookie's token opens the dashboard only, never the API, even as a bearer token.
    const token = pair!.slice(pair!.indexOf('=') + 1);
    const elsewhere = await app.call('GET', '/v1/admin/jobs/failed?queue=insurance', { token });
    expect([elsewhere.status, elsewhere.body.code]).toEqual([401, 'AUTH.INVALID_TOKEN']);
    // An API token in the cookie is not a session, and a tampered cookie is refused.
    expect((await get(app, PAGE, { cookie: `ul_queue_dashboard=${root}` })).status).toBe(401);
    expect((await get(app, PAGE, { cookie: `${pair!.slice(0, -2)}xx` })).status).toBe(401);

    // A session never outlives the bearer token that opened it.
    const shortLived = await app.ledger.identity.tokens.sign({ sub: 'root-admin', role: 'admin', org: 'p-1' }, { ttlSeconds: 120 });
    const short = await app.call('POST', '/v1/admin/dashboard/session', { token: shortLived });
    expect(Number(/Max-Age=(\d+)/.exec(short.headers.get('set-cookie')!)![1])).toBeLessThanOrEqual(120);

    const closed = await app.call('DELETE', '/v1/admin/dashboard/session', { token: root });
    expect(closed.status).toBe(200);
    expect(closed.headers.get('set-cookie')).toBe('ul_queue_dashboard=; Path=/admin/queues; Max-Age=0; HttpOnly; SameSite=Strict');
  });

  it('closes a dashboard session when the admin session that opened it ends', async () => {
    const session = await app.ledger.identity.sessions.open({ sub: 'root-admin', role: 'admin', org: 'p-1' }, 'browser');
    const opened = await app.call('POST', '/v1/admin/dashboard/session', { token: session.accessToken });
    const cookie = { cookie: opened.headers.get('set-cookie')!.split('; ')[0]! };
    expect((await get(app, PAGE, cookie)).status).toBe(200);
    expect((await app.call('DELETE', '/v1/sessions', { token: session.accessToken })).body).toEqual({ endedSessions: 1 });
    for (const headers of [cookie, bearer(session.accessToken)]) {
      const refused = await get(app, QUEUES_API, headers);
      expect({ status: refused.status, code: codeOf(refused) }).toEqual({ status: 401, code: 'AUTH.SESSION_ENDED' });
    }
  });
});
