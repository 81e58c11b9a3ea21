import { startLedgerApp, testNationalId, type LedgerApp } from '../support/ledger-app';
import { testTimeout, waitFor } from '../support/wait-for';

/**
 * Roster uploads that run as jobs, over HTTP with the relay and the workers running in the
 * service's process: 202 and an import id, then progress and the report by line at
 * GET /v1/admin/imports/:id, for admins of the uploader's subtree only.
 */

const ASYNC_MIN_ROWS = 20;
let app: LedgerApp;

async function upload(csv: string | Buffer, token: string, key: string) {
  const response = await fetch(`${app.url}/v1/admin/imports/members`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'idempotency-key': key, 'content-type': 'text/csv' },
    body: csv,
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, unknown> };
}

/** `rows` members of nj-u1 (serials from `first`), with a bad phone on line 5 and a union outside nj on line 9. */
function roster(first: number, rows: number): string {
  const lines = ['name,national_id,phone,org_id'];
  for (let n = 0; n < rows; n += 1) {
    const line = n + 2;
    const phone = line === 5 ? '12345' : `139${String(20_000_000 + first + n).padStart(8, '0')}`;
    lines.push(`会员${first + n},${testNationalId(first + n)},${phone},${line === 9 ? 'sz-u1' : 'nj-u1'}`);
  }
  return lines.join('\n');
}

beforeAll(async () => {
  app = await startLedgerApp({ workers: true, imports: { asyncMinRows: ASYNC_MIN_ROWS } });
  const system = { type: 'system', id: 'test' };
  const orgs: Array<[string, string | null, 'province' | 'city' | 'grassroots']> = [
    ['js', null, 'province'],
    ['nj', 'js', 'city'],
    ['sz', 'js', 'city'],
    ['nj-u1', 'nj', 'grassroots'],
    ['sz-u1', 'sz', 'grassroots'],
  ];
  for (const [orgId, parentId, level] of orgs) await app.ledger.orgs.registerOrganisation({ orgId, name: orgId, parentId, level }, { commandId: `o-${orgId}`, actor: system });
});
afterAll(async () => {
  await app?.close();
});

describe('roster uploads as jobs', () => {
  it(
    'answers 202 with an import id above the threshold; the worker imports it; progress and the report by line for the uploader’s subtree only',
    async () => {
      const adminNj = await app.token('admin-nj', 'admin', 'nj');
      const accepted = await upload(roster(100, 30), adminNj, 'big-1');
      expect(accepted.status).toBe(202);
      const importId = accepted.body.importId as string;
      expect(accepted.body).toEqual({ importId: expect.stringMatching(/^[0-9a-f-]{36}$/), statusUrl: `/v1/admin/imports/${importId}`, rows: 30 });
      expect(accepted.headers.get('location')).toBe(`/v1/admin/imports/${importId}`);

      // The relay queues it and the worker runs it; the read model follows the log.
      await waitFor(async () => (await app.ledger.rosterImports.load(importId)).status === 'completed', { what: `import ${importId} to complete` });
      await app.ledger.catchUpReadModels();

      const status = await app.call('GET', `/v1/admin/imports/${importId}`, { token: adminNj });
      expect(status.status).toBe(200);
      expect(status.body).toMatchObject({
        importId,
        kind: 'members',
        state: 'completed',
        uploadedBy: 'admin-nj',
        orgScope: 'nj',
        rows: { total: 30, done: 30, applied: 28, unchanged: 0, rejected: 2 },
        report: {
          rejectedRows: [
            { line: 5, code: 'PHONE.FORMAT', message: expect.any(String) },
            { line: 9, code: 'ORG.FORBIDDEN', message: expect.any(String) },
          ],
          nextAfterLine: null,
        },
      });
      expect(status.body.completedAt).toEqual(expect.any(String));

      // Paged: one rejected row at a time.
      const first = await app.call('GET', `/v1/admin/imports/${importId}?limit=1`, { token: adminNj });
      expect(first.body.report).toEqual({ rejectedRows: [expect.objectContaining({ line: 5 })], nextAfterLine: 5 });
      const second = await app.call('GET', `/v1/admin/imports/${importId}?limit=1&afterLine=5`, { token: adminNj });
      expect(second.body.report).toEqual({ rejectedRows: [expect.objectContaining({ line: 9 })], nextAfterLine: null });

      // An admin above the uploader sees it; an admin of another subtree is told there is none; members and anonymous callers are refused.
      expect((await app.call('GET', `/v1/admin/imports/${importId}`, { token: await app.token('admin-js', 'admin', 'js') })).status).toBe(200);
      const elsewhere = await app.call('GET', `/v1/admin/imports/${importId}`, { token: await app.token('admin-sz', 'admin', 'sz') });
      expect(elsewhere.status).toBe(404);
      expect(elsewhere.body.code).toBe('IMPORT.NOT_FOUND');
      expect((await app.call('GET', `/v1/admin/imports/${importId}`, { token: await app.token('m-1', 'member', 'nj-u1') })).status).toBe(403);
      expect((await app.call('GET', `/v1/admin/imports/${importId}`)).status).toBe(401);

      // Limits on the path and the query.
      const badId = await app.call('GET', '/v1/admin/imports/not-an-id', { token: adminNj });
      expect([badId.status, badId.body.code]).toEqual([400, 'VALIDATION.FAILED']);
      const badLimit = await app.call('GET', `/v1/admin/imports/${importId}?limit=0`, { token: adminNj });
      expect([badLimit.status, badLimit.body.code]).toEqual([400, 'VALIDATION.FAILED']);
      const unknown = await app.call('GET', '/v1/admin/imports/00000000-0000-4000-8000-000000000000', { token: adminNj });
      expect([unknown.status, unknown.body.code]).toEqual([404, 'IMPORT.NOT_FOUND']);

      // The same rows again, as a job: nothing enrolled twice.
      const again = await upload(roster(100, 30), adminNj, 'big-2');
      expect(again.status).toBe(202);
      const againId = again.body.importId as string;
      await waitFor(async () => (await app.ledger.rosterImports.load(againId)).status === 'completed', { what: `import ${againId} to complete` });
      await app.ledger.catchUpReadModels();
      const repeated = await app.call('GET', `/v1/admin/imports/${againId}`, { token: adminNj });
      expect(repeated.body.rows).toEqual({ total: 30, done: 30, applied: 0, unchanged: 28, rejected: 2 });
    },
    testTimeout(2),
  );

  it('imports a file below the threshold in the request, as before (200 and the report)', async () => {
    const adminNj = await app.token('admin-nj', 'admin', 'nj');
    const small = await upload(roster(500, 10), adminNj, 'small-1');
    expect(small.status).toBe(200);
    expect(small.body.totals).toEqual({ rows: 10, applied: 8, unchanged: 0, rejected: 2 });
  });

  it('refuses a large file that cannot be read to its end, with the file error’s code (422), queuing nothing', async () => {
    const adminNj = await app.token('admin-nj', 'admin', 'nj');
    const broken = Buffer.concat([Buffer.from(`${roster(700, 25)}\n`), Buffer.from([0xff, 0xfe, 0x0a])]);
    const refused = await upload(broken, adminNj, 'broken-1');
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('CSV.ENCODING');
  });
});
