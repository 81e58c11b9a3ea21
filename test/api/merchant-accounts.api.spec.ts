import { randomBytes } from 'node:crypto';
import { runCliOn } from '../support/cli';
import { startLedgerApp, type Answer, type LedgerApp } from '../support/ledger-app';

/**
 * Merchant terminal accounts end to end over HTTP: a root admin creates the account of an admitted
 * merchant's till (never of a merchant that does not exist or was only applied), the terminal logs
 * in with its password, gets a token whose role is merchant and whose org is the merchant id, uses
 * the terminal routes, keeps its org through a refresh and logs out. The CLI creates one too.
 */

let app: LedgerApp;
const system = { type: 'system', id: 'test-setup' };
let counter = 0;
const key = (): string => `mak-${(counter += 1)}`;
const tokens: Record<string, string> = {};

function expectError(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
}

function expectOk(answer: Answer, status = 200): Record<string, unknown> {
  expect({ status: answer.status, body: answer.status === status ? {} : answer.body }).toEqual({ status, body: {} });
  return answer.body;
}

async function applyMerchant(merchantId: string): Promise<Record<string, unknown>> {
  const applied = expectOk(
    await app.call('POST', '/v1/admin/merchants', {
      token: tokens.unitAdmin,
      key: key(),
      body: { merchantId, name: `商户 ${merchantId}`, category: 'supermarket', signingOrgId: 'u-1', bankCard: '6222021234567890128' },
    }),
    201,
  );
  return applied.proposal as Record<string, unknown>;
}

async function admit(proposal: Record<string, unknown>): Promise<void> {
  const decided = expectOk(await app.call('POST', `/v1/admin/proposals/${String(proposal.proposalId)}/approval`, { token: tokens.finance, key: key() }));
  expect(decided.outcome).toEqual({ status: 'done' });
}

function createAccount(body: Record<string, unknown>, token = tokens.rootAdmin): Promise<Answer> {
  return app.call('POST', '/v1/admin/accounts', { token, body });
}

beforeAll(async () => {
  app = await startLedgerApp();
  await app.ledger.orgs.registerOrganisation({ orgId: 'p-1', name: 'Province', parentId: null, level: 'province' }, { commandId: 'org:p-1', actor: system });
  await app.ledger.orgs.registerOrganisation({ orgId: 'u-1', name: 'Union', parentId: 'p-1', level: 'grassroots' }, { commandId: 'org:u-1', actor: system });
  tokens.rootAdmin = await app.token('root-admin', 'admin', 'p-1');
  tokens.unitAdmin = await app.token('unit-admin', 'admin', 'u-1');
  tokens.finance = await app.token('finance-p1', 'finance', 'p-1');
});
afterAll(async () => {
  await app?.close();
});

describe('merchant terminal accounts', () => {
  it('are created only for an admitted merchant: one that does not exist or was only applied is not found', async () => {
    const merchant = (orgId: string, username: string) => ({ username, name: '收银台', orgId, role: 'merchant' });
    expectError(await createAccount(merchant('no-such-shop', 'till.ghost')), 404, 'MERCHANT.NOT_FOUND');
    // A union is not a merchant, and a merchant is not a union.
    expectError(await createAccount(merchant('u-1', 'till.union')), 404, 'MERCHANT.NOT_FOUND');

    const proposal = await applyMerchant('shop-1');
    expectError(await createAccount(merchant('shop-1', 'till.early')), 404, 'MERCHANT.NOT_FOUND');
    await admit(proposal);
    expectError(await createAccount({ username: 'admin.shop', name: '管理', orgId: 'shop-1', role: 'admin' }), 404, 'ORG.NOT_FOUND');
    // Only a root admin creates accounts, merchant ones too.
    expectError(await createAccount(merchant('shop-1', 'till.unit'), tokens.unitAdmin), 403, 'AUTH.FORBIDDEN');

    const created = expectOk(await createAccount(merchant('shop-1', 'till.one')), 201);
    expect(created).toMatchObject({ account: { username: 'till.one', role: 'merchant', orgId: 'shop-1', totp: false }, password: expect.any(String), totpUri: null });
    // Nothing was created by the refused requests.
    const { count } = await app.database.db.one<{ count: number }>('SELECT count(*)::int AS count FROM ul_accounts');
    expect(count).toBe(1);
  });

  it('log in with a password as the merchant, take payments’ settlements, keep the merchant through a refresh and log out', async () => {
    const created = expectOk(await createAccount({ username: 'till.two', name: '收银台二', orgId: 'shop-1', role: 'merchant' }), 201);
    const accountId = (created.account as { accountId: string }).accountId;

    const login = expectOk(await app.call('POST', '/v1/sessions/password', { body: { username: 'till.two', password: created.password, device: 'till-2' } }));
    expect(login).toMatchObject({ role: 'merchant', org: 'shop-1', subject: accountId, refreshToken: expect.any(String) });
    const claims = await app.ledger.identity.tokens.verify(String(login.accessToken));
    expect(claims).toMatchObject({ sub: accountId, role: 'merchant', org: 'shop-1' });

    expect(expectOk(await app.call('GET', '/v1/merchant/settlements', { token: String(login.accessToken) }))).toEqual({ settlements: [], nextCursor: null });
    // A merchant terminal is not an admin.
    expectError(await app.call('GET', '/v1/admin/merchants/shop-1', { token: String(login.accessToken) }), 403, 'AUTH.FORBIDDEN');

    const refreshed = expectOk(await app.call('POST', '/v1/sessions/refresh', { body: { refreshToken: login.refreshToken } }));
    expect(refreshed).toMatchObject({ role: 'merchant', org: 'shop-1', subject: accountId, sessionId: login.sessionId });
    expect(await app.ledger.identity.tokens.verify(String(refreshed.accessToken))).toMatchObject({ role: 'merchant', org: 'shop-1' });
    expectOk(await app.call('GET', '/v1/merchant/settlements', { token: String(refreshed.accessToken) }));

    expect(expectOk(await app.call('DELETE', '/v1/sessions', { token: String(refreshed.accessToken) }))).toEqual({ endedSessions: 1 });
    expectError(await app.call('POST', '/v1/sessions/refresh', { body: { refreshToken: refreshed.refreshToken } }), 401, 'SESSION.REVOKED');
  });

  it('are created by `union-ledger admin create --role merchant` for an admitted merchant, and refused for one only applied', async () => {
    await admit(await applyMerchant('shop-2'));
    const applied = await applyMerchant('shop-3');
    const saved = { master: process.env.PII_MASTER_KEY, hmac: process.env.PII_HMAC_KEY };
    // The CLI reads its keys from the environment (else it would write development keys into DATA_DIR).
    process.env.PII_MASTER_KEY = randomBytes(32).toString('base64');
    process.env.PII_HMAC_KEY = randomBytes(32).toString('base64');
    try {
      const create = (org: string, username: string) => runCliOn(app.database, 'admin', 'create', '--role', 'merchant', '--org', org, '--name', '收银台', '--username', username);
      const made = await create('shop-2', 'till.cli');
      expect(made.code).toBe(0);
      // (stdout may also hold Jest's echo of a pg-promise warning about a second database object: only our lines are matched.)
      expect(made.stdout).toMatch(/^account [0-9a-f-]{36}: till\.cli \(merchant of shop-2\)$/m);
      const password = /one-time password \(shown once\): (\S+)/.exec(made.stdout)![1]!;
      // Refused (stderr: "account not created: MERCHANT.NOT_FOUND ..."), and nothing is printed as created.
      const refused = await create('shop-3', 'till.early');
      expect({ code: refused.code, printedAccount: /one-time password/.test(refused.stdout) }).toEqual({ code: 1, printedAccount: false });
      await admit(applied);

      const login = expectOk(await app.call('POST', '/v1/sessions/password', { body: { username: 'till.cli', password } }));
      expect(login).toMatchObject({ role: 'merchant', org: 'shop-2' });
      expectOk(await app.call('GET', '/v1/merchant/settlements', { token: String(login.accessToken) }));
    } finally {
      for (const [name, value] of [
        ['PII_MASTER_KEY', saved.master],
        ['PII_HMAC_KEY', saved.hmac],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});
