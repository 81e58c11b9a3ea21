import { startLedgerApp, testNationalId, type LedgerApp } from '../support/ledger-app';

/** Roster uploads over HTTP by a union admin, scoped to their own subtree. */

let app: LedgerApp;

async function upload(route: string, csv: string, token: string, key: string) {
  const response = await fetch(`${app.url}${route}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'idempotency-key': key, 'content-type': 'text/csv' },
    body: csv,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

beforeAll(async () => {
  app = await startLedgerApp();
  const system = { type: 'system', id: 'test' };
  await app.ledger.orgs.registerOrganisation({ orgId: 'js', name: '江苏', parentId: null, level: 'province' }, { commandId: 'o-js', actor: system });
  await app.ledger.orgs.registerOrganisation({ orgId: 'nj', name: '南京', parentId: 'js', level: 'city' }, { commandId: 'o-nj', actor: system });
  await app.ledger.orgs.registerOrganisation({ orgId: 'sz', name: '苏州', parentId: 'js', level: 'city' }, { commandId: 'o-sz', actor: system });
  await app.ledger.orgs.registerOrganisation({ orgId: 'sz-u2', name: '苏州二号', parentId: 'sz', level: 'grassroots' }, { commandId: 'o-sz-u2', actor: system });
});
afterAll(async () => {
  await app?.close();
});

describe('roster uploads', () => {
  it('applies the rows in the admin’s subtree, rejects the rest by line, and changes nothing when re-sent', async () => {
    const admin = await app.token('admin-nj', 'admin', 'nj');
    const orgs = ['id,name,parent_id,level', 'nj-gl,鼓楼区,nj,county', 'nj-u1,一号工会,nj-gl,grassroots', 'sz-u1,苏州工会,sz,grassroots', 'new-root,新省,,province'].join('\n');
    const orgReport = await upload('/v1/admin/imports/orgs', orgs, admin, 'orgs-1');
    expect(orgReport.status).toBe(200);
    expect(orgReport.body.totals).toEqual({ rows: 4, applied: 2, unchanged: 0, rejected: 2 });
    expect(orgReport.body.rejectedRows).toEqual([
      expect.objectContaining({ line: 4, code: 'ORG.FORBIDDEN' }),
      expect.objectContaining({ line: 5, code: 'ORG.FORBIDDEN' }),
    ]);

    const good = testNationalId(11);
    const badDigit = `${testNationalId(12).slice(0, 17)}${testNationalId(12).endsWith('0') ? '1' : '0'}`;
    const members = [
      'name,national_id,phone,org_id',
      `张三,${good},13800138000,nj-u1`,
      `李四,${badDigit},13800138001,nj-u1`,
      `王五,${testNationalId(13)},12345,nj-u1`,
      `赵六,${testNationalId(14)},13800138002,sz-u1`,
      `张三,${good},13800138000,nj-u1`,
      `孙七,${testNationalId(15)},13800138003,sz-u2`,
    ].join('\n');
    const first = await upload('/v1/admin/imports/members', members, admin, 'members-1');
    expect(first.status).toBe(200);
    expect(first.body.totals).toEqual({ rows: 6, applied: 1, unchanged: 0, rejected: 5 });
    expect((first.body.rejectedRows as Array<{ line: number; code: string }>).map((row) => [row.line, row.code])).toEqual([
      [3, 'ID.CHECK_DIGIT'],
      [4, 'PHONE.FORMAT'],
      [5, 'ORG.UNKNOWN'],
      [6, 'MEMBER.DUPLICATE_IN_FILE'],
      [7, 'ORG.FORBIDDEN'],
    ]);
    expect(JSON.stringify(first.body)).not.toContain(good);

    const eventsBefore = await app.ledger.db.one<{ count: string }>('SELECT count(*) FROM ul_events');
    const again = await upload('/v1/admin/imports/members', members, admin, 'members-2');
    expect(again.body.totals).toEqual({ rows: 6, applied: 0, unchanged: 1, rejected: 5 });
    expect(await app.ledger.db.one<{ count: string }>('SELECT count(*) FROM ul_events')).toEqual(eventsBefore);

    // The national ID number is nowhere in the event log in plaintext.
    const leaks = await app.ledger.db.one<{ count: string }>("SELECT count(*) FROM ul_events WHERE data::text LIKE '%' || $1 || '%'", [good]);
    expect(Number(leaks.count)).toBe(0);
  });

  it('refuses a body that is not CSV and a caller who is not an admin', async () => {
    const admin = await app.token('admin-nj', 'admin', 'nj');
    const json = await app.call('POST', '/v1/admin/imports/members', { token: admin, key: 'json-1', body: { rows: [] } });
    expect({ status: json.status, code: json.body.code }).toEqual({ status: 415, code: 'HTTP.UNSUPPORTED_MEDIA_TYPE' });
    const member = await upload('/v1/admin/imports/members', 'name,national_id,phone,org_id\n', await app.token('m-1', 'member', 'nj-u1'), 'm-1');
    expect({ status: member.status, code: member.body.code }).toEqual({ status: 403, code: 'AUTH.FORBIDDEN' });
  });
});

describe('organisation uploads: unknown parents and fresh roots', () => {
  it('answers ORG.PARENT_UNKNOWN, not ORG.FORBIDDEN, for a parent that does not exist or is listed later', async () => {
    const admin = await app.token('admin-nj', 'admin', 'nj');
    const orgs = ['id,name,parent_id,level', 'nj-x1,一号,nowhere,grassroots', 'nj-c1,子,nj-p1,grassroots', 'nj-p1,父,nj,county'].join('\n');
    const report = await upload('/v1/admin/imports/orgs', orgs, admin, 'orgs-parent-unknown');
    expect(report.status).toBe(200);
    expect(report.body.totals).toEqual({ rows: 3, applied: 1, unchanged: 0, rejected: 2 });
    expect(report.body.rejectedRows).toEqual([
      expect.objectContaining({ line: 2, code: 'ORG.PARENT_UNKNOWN' }),
      expect.objectContaining({ line: 3, code: 'ORG.PARENT_UNKNOWN', message: expect.stringContaining('listed later in the file (line 4)') }),
    ]);
  });

  it('lets the admin of a root created a moment ago add a root, whatever the read model has caught up with', async () => {
    // The test app runs no projections: the organisation directory never sees this root.
    await app.ledger.orgs.registerOrganisation({ orgId: 'ah', name: '安徽', parentId: null, level: 'province' }, { commandId: 'o-ah', actor: { type: 'system', id: 'test' } });
    const admin = await app.token('admin-ah', 'admin', 'ah');
    const report = await upload('/v1/admin/imports/orgs', ['id,name,parent_id,level', 'zj,浙江,,province', 'ah-hf,合肥,ah,city'].join('\n'), admin, 'orgs-root');
    expect(report.status).toBe(200);
    expect({ totals: report.body.totals, rejected: report.body.rejectedRows }).toEqual({ totals: { rows: 2, applied: 2, unchanged: 0, rejected: 0 }, rejected: [] });
    // An admin below the root still may not.
    const below = await upload('/v1/admin/imports/orgs', ['id,name,parent_id,level', 'sh,上海,,province'].join('\n'), await app.token('admin-hf', 'admin', 'ah-hf'), 'orgs-root-2');
    expect(below.body.rejectedRows).toEqual([expect.objectContaining({ line: 2, code: 'ORG.FORBIDDEN' })]);
  });
});

describe('files that cannot be read', () => {
  async function uploadBytes(route: string, body: Buffer, key: string) {
    const response = await fetch(`${app.url}${route}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await app.token('admin-nj', 'admin', 'nj')}`, 'idempotency-key': key, 'content-type': 'text/csv' },
      body,
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it.each([
    ['a wrong header', 'orgs', Buffer.from('id,name,parent\nnj-bad,坏,nj\n'), 'CSV.HEADER_INVALID'],
    ['an empty file', 'orgs', Buffer.alloc(0), 'CSV.HEADER_INVALID'],
    ['a file that is not UTF-8', 'members', Buffer.concat([Buffer.from('name,national_id,phone,org_id\n'), Buffer.from([0xd5, 0xc5, 0xc8, 0xfd]), Buffer.from(',1,2,nj-u1\n')]), 'CSV.ENCODING'],
  ])('answers %s with 422 and its code, not 200 with a fatal field', async (_what, kind, body, code) => {
    const answer = await uploadBytes(`/v1/admin/imports/${kind}`, body, `bad-file-${kind}-${code}-${body.length}`);
    expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 422, code });
    expect(answer.body.details).toEqual(expect.objectContaining({ line: expect.any(Number) }));
  });

  it('applies nothing from a file that turns out unreadable further down', async () => {
    const body = Buffer.concat([Buffer.from('id,name,parent_id,level\nnj-ok1,好,nj,county\nnj-ok2,'), Buffer.from([0xba, 0xc3]), Buffer.from(',nj,county\n')]);
    const answer = await uploadBytes('/v1/admin/imports/orgs', body, 'bad-file-late');
    expect({ status: answer.status, code: answer.body.code, line: (answer.body.details as { line: number }).line }).toEqual({ status: 422, code: 'CSV.ENCODING', line: 3 });
    expect((await app.ledger.orgs.readOrg('nj-ok1')).registered).toBe(false);
  });
});
