import { randomUUID } from 'node:crypto';
import { auditAccessStream } from '../../src/application/audit';
import { posting, POSTINGS_SCHEMA_VERSION } from '../../src/domain/shared';
import type { JsonObject } from '../../src/eventstore/event-store';
import { startLedgerApp, type LedgerApp } from '../support/ledger-app';
import { testTimeout } from '../support/wait-for';
import { waitForFeedEnd } from '../support/feed';

jest.setTimeout(testTimeout(3));

/**
 * The auditor routes over HTTP: read-only, for the auditor role alone, every access recorded as an
 * AuditorRead event on the auditor's access stream before it is answered.
 */

let app: LedgerApp;
let auditor: string;
const positions: string[] = [];

beforeAll(async () => {
  app = await startLedgerApp();
  auditor = await app.token('auditor-1', 'auditor', 'p-1');
  for (const amount of [100, 250]) {
    const result = await app.ledger.store.appendToStream('budget-audit', [
      {
        eventId: randomUUID(),
        type: 'ValueMoved',
        schemaVersion: POSTINGS_SCHEMA_VERSION,
        data: { postings: [posting('fund:dues', 'budget:audit', amount, 'CNY_FEN')] } as unknown as JsonObject,
        metadata: { occurredAt: new Date().toISOString() },
      },
    ]);
    positions.push(result.lastPosition.toString());
  }
  await waitForFeedEnd(app.database.db);
});

afterAll(async () => {
  await app.close();
});

describe('the auditor routes', () => {
  it('answer balances as of a position, folded from the events', async () => {
    const first = await app.call('GET', `/v1/audit/balances?asOf=${positions[0]}&account=budget:audit`, { token: auditor });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ asOf: { position: positions[0] }, accounts: [{ account: 'budget:audit', asset: 'CNY_FEN', balance: '100' }], trialBalance: [{ asset: 'CNY_FEN', total: '0' }] });
    const second = await app.call('GET', `/v1/audit/balances?asOf=${positions[1]}&account=budget:audit`, { token: auditor });
    expect(second.body).toMatchObject({ accounts: [{ account: 'budget:audit', balance: '350' }] });
    expect(await app.call('GET', '/v1/audit/balances?asOf=999999999999', { token: auditor })).toMatchObject({ status: 404, body: { code: 'AUDIT.POSITION_UNKNOWN' } });
    expect(await app.call('GET', '/v1/audit/balances?asOf=2026-13-45T00:00:00Z', { token: auditor })).toMatchObject({ status: 400, body: { code: 'AUDIT.AS_OF_INVALID' } });
  });

  it("answer any stream's events and the seals", async () => {
    const events = await app.call('GET', '/v1/audit/streams/budget-audit/events?limit=1&fromRevision=1', { token: auditor });
    expect(events.status).toBe(200);
    expect(events.body).toMatchObject({ events: [{ streamId: 'budget-audit', revision: '1', globalPosition: positions[1], type: 'ValueMoved' }] });
    expect(await app.call('GET', '/v1/audit/seals', { token: auditor })).toMatchObject({ status: 200, body: { seals: [] } });
  });

  it("answer any account's statement from the events, paged by global position", async () => {
    const first = await app.call('GET', '/v1/audit/accounts/budget:audit/statement?limit=1', { token: auditor });
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      account: 'budget:audit',
      lines: [expect.objectContaining({ globalPosition: positions[0], streamId: 'budget-audit', revision: '0', type: 'ValueMoved', asset: 'CNY_FEN', amount: '100', counterparty: 'fund:dues' })],
      nextPosition: positions[0],
    });
    const second = await app.call('GET', `/v1/audit/accounts/budget:audit/statement?limit=1&afterPosition=${positions[0]}`, { token: auditor });
    expect(second.body).toMatchObject({ lines: [{ globalPosition: positions[1], amount: '250' }], nextPosition: null });
    const debit = await app.call('GET', '/v1/audit/accounts/fund:dues/statement', { token: auditor });
    expect((debit.body as { lines: Array<{ amount: string }> }).lines.map((line) => line.amount)).toEqual(['-100', '-250']);
    expect(await app.call('GET', '/v1/audit/accounts/BUDGET;drop/statement', { token: auditor })).toMatchObject({ status: 400, body: { code: 'AUDIT.ACCOUNT_INVALID' } });
    expect(await app.call('GET', '/v1/audit/accounts/budget:audit/statement?afterPosition=999999999999', { token: auditor })).toMatchObject({ status: 404, body: { code: 'AUDIT.POSITION_UNKNOWN' } });
    expect(await app.call('GET', '/v1/audit/accounts/budget:audit/statement?limit=501', { token: auditor })).toMatchObject({ status: 400, body: { code: 'VALIDATION.FAILED' } });
  });

  it('refuse everyone but auditors, and log every access by an auditor', async () => {
    const admin = await app.token('admin-1', 'admin', 'p-1');
    expect(await app.call('GET', '/v1/audit/seals', { token: admin })).toMatchObject({ status: 403, body: { code: 'AUTH.FORBIDDEN' } });
    const member = await app.token('member-1', 'member', 'p-1');
    expect(await app.call('GET', '/v1/audit/accounts/budget:audit/statement', { token: admin })).toMatchObject({ status: 403, body: { code: 'AUTH.FORBIDDEN' } });
    expect(await app.call('GET', '/v1/audit/accounts/member:member-1:available/statement', { token: member })).toMatchObject({ status: 403, body: { code: 'AUTH.FORBIDDEN' } });
    const logged = await app.ledger.store.readStream(auditAccessStream('auditor-1'));
    expect(logged.map((event) => [event.type, event.data['route']])).toEqual([
      ['AuditorRead', 'balances'],
      ['AuditorRead', 'balances'],
      ['AuditorRead', 'balances'],
      ['AuditorRead', 'balances'],
      ['AuditorRead', 'stream-events'],
      ['AuditorRead', 'seals'],
      ['AuditorRead', 'account-statement'],
      ['AuditorRead', 'account-statement'],
      ['AuditorRead', 'account-statement'],
      ['AuditorRead', 'account-statement'],
      ['AuditorRead', 'account-statement'],
    ]);
    expect(logged[4]!.data).toEqual({ auditorId: 'auditor-1', route: 'stream-events', params: { streamId: 'budget-audit', fromRevision: 1, limit: 1 } });
    expect(logged[4]!.metadata.actor).toEqual({ type: 'auditor', id: 'auditor-1' });
    expect(await app.ledger.store.readStream(auditAccessStream('admin-1'))).toEqual([]);
  });

  it('answer the verification status: the last full run with its position, a new one started in the background', async () => {
    const first = await app.call('GET', '/v1/audit/verification', { token: auditor });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ lastError: null, maxAgeMs: 600_000 });
    // The first read starts the run; the status answers at once and the result comes later.
    await app.ledger.auditor.verifications.settled();
    const done = await app.call('GET', '/v1/audit/verification', { token: auditor });
    expect(done.body).toMatchObject({
      last: { ok: true, hashChains: { ok: true, broken: [] }, trialBalance: { ok: true } },
      runningSince: null,
      lastError: null,
    });
    const last = (done.body as { last: { feedPosition: string; hashChains: { eventsChecked: number } } }).last;
    expect(BigInt(last.feedPosition)).toBeGreaterThanOrEqual(BigInt(positions[1]!));
    expect(last.hashChains.eventsChecked).toBeGreaterThanOrEqual(2);
    for (const role of ['admin', 'finance', 'member'] as const) {
      const token = await app.token(`${role}-v`, role, 'p-1');
      expect(await app.call('GET', '/v1/audit/verification', { token })).toMatchObject({ status: 403, body: { code: 'AUTH.FORBIDDEN' } });
    }
    expect(await app.call('GET', '/v1/audit/verification?full=1', { token: auditor })).toMatchObject({ status: 400, body: { code: 'VALIDATION.FAILED' } });
    const logged = await app.ledger.store.readStream(auditAccessStream('auditor-1'));
    expect(logged.slice(-2).map((event) => event.data)).toEqual([
      { auditorId: 'auditor-1', route: 'verification', params: {} },
      { auditorId: 'auditor-1', route: 'verification', params: {} },
    ]);
  });
});
