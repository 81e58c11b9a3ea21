import { randomBytes } from 'node:crypto';
import { tokenService } from '../../src/composition-root';
import type { Role } from '../../src/api/common/auth';
import { activateThroughWeChat, startLedgerApp, testNationalId, type Answer, type LedgerApp } from '../support/ledger-app';

/**
 * The authorisation matrix, generated from the route table: every route of the OpenAPI document
 * × every role × a token inside or outside the subtree, and a missing, expired or foreign token,
 * each with the status it must get. The expectations are written here by hand, one line per
 * route, and the route table must match them exactly: a new route without a line fails the test.
 */

const ROLES: Role[] = ['member', 'visitor', 'admin', 'finance', 'auditor'];

type Who = Role[] | 'public';

interface Expectation {
  who: Who;
  /** A request by an admin (or member) of another subtree that must be refused with 403 ORG.FORBIDDEN. */
  outside?: { as: Role; body?: unknown; path?: string };
}

const EXPECTED: Record<string, Expectation> = {
  'GET /health': { who: 'public' },
  'POST /v1/sessions/wechat': { who: 'public' },
  'POST /v1/sessions/refresh': { who: 'public' },
  'POST /v1/sessions/password': { who: 'public' },
  'DELETE /v1/sessions': { who: ['member', 'visitor', 'admin', 'finance', 'auditor'] },
  'POST /v1/activation/start': { who: ['visitor'] },
  'POST /v1/activation/confirm': { who: ['visitor'] },
  'POST /v1/me/check-ins': { who: ['member'] },
  'POST /v1/me/quiz-answers': { who: ['member'] },
  'POST /v1/me/article-reads': { who: ['member'] },
  'POST /v1/me/comments': { who: ['member'] },
  'POST /v1/me/evaluations': { who: ['member'] },
  'GET /v1/me/evaluations': { who: ['member'] },
  'POST /v1/me/activities': { who: ['member'] },
  'POST /v1/me/holds': { who: ['member'] },
  'POST /v1/me/holds/{holdId}/post': { who: ['member'] },
  'POST /v1/me/holds/{holdId}/void': { who: ['member'] },
  'POST /v1/me/spends': { who: ['member'] },
  'GET /v1/me/balance': { who: ['member'] },
  'GET /v1/me/statement': { who: ['member'] },
  'GET /v1/me/rank': { who: ['member'], outside: { as: 'member', path: '/v1/me/rank?orgId=u-2' } },
  'GET /v1/leaderboards/{orgId}': { who: ['member', 'admin', 'finance', 'auditor'], outside: { as: 'admin' } },
  'GET /v1/admin/earning-rules': { who: ['admin', 'auditor'] },
  'PUT /v1/admin/earning-rules': { who: ['admin'] },
  'POST /v1/admin/quizzes': { who: ['admin'], outside: { as: 'admin', body: { quizId: 'q-out', question: '?', options: ['A', 'B'], correctAnswer: 'A', orgId: 'u-1' } } },
  'GET /v1/admin/projections': { who: ['admin', 'auditor'] },
  'POST /v1/admin/imports/orgs': { who: ['admin'] },
  'POST /v1/admin/imports/members': { who: ['admin'] },
  'POST /v1/admin/accounts': { who: ['admin'] },
  'POST /v1/admin/members/{memberId}/login': { who: ['admin'], outside: { as: 'admin', body: { loginKey: 'a'.repeat(64) } } },
};

let app: LedgerApp;
let memberId: string;
let memberToken: string;
const system = { type: 'system', id: 'matrix' };
let counter = 0;
const key = (): string => `mx-${(counter += 1)}`;

/** A token of each role inside the subtree under test (root p-1 with union u-1). */
async function insideToken(role: Role): Promise<string> {
  if (role === 'member') return memberToken;
  const org = role === 'visitor' ? '-' : 'p-1';
  return app.token(role === 'visitor' ? 'f'.repeat(64) : `${role}-inside`, role, org);
}

function concrete(path: string): string {
  return path.replace('{orgId}', 'u-1').replace('{holdId}', 'hold-x').replace('{memberId}', memberId);
}

async function send(method: string, path: string, token: string | undefined, body?: unknown): Promise<Answer> {
  return app.call(method, path, { ...(token ? { token } : {}), key: key(), ...(method === 'GET' || method === 'DELETE' ? {} : { body: body ?? {} }) });
}

beforeAll(async () => {
  app = await startLedgerApp();
  for (const [orgId, parentId, level] of [
    ['p-1', null, 'province'],
    ['u-1', 'p-1', 'grassroots'],
    ['p-2', null, 'province'],
    ['u-2', 'p-2', 'grassroots'],
  ] as const) {
    await app.ledger.orgs.registerOrganisation({ orgId, name: orgId, parentId, level }, { commandId: `org:${orgId}`, actor: system });
  }
  const nationalId = testNationalId(77);
  const idHmac = app.ledger.vault.idHmac(nationalId);
  memberId = app.ledger.vault.memberIdFor(idHmac);
  const piiCipher = await app.ledger.vault.seal(memberId, { idNumber: nationalId, phone: '13700000077' });
  await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'u-1', name: '矩阵', idHmac, piiCipher }, { commandId: 'enrol', actor: system });
  memberToken = (await activateThroughWeChat(app, { user: 'matrix', nationalId, name: '矩阵', phone: '13700000077' })).accessToken;
  await app.ledger.catchUpReadModels();
});
afterAll(async () => {
  await app?.close();
});

describe('the authorisation matrix', () => {
  let routes: string[];
  beforeAll(async () => {
    const document = (await app.call('GET', '/docs-json')).body as { paths: Record<string, Record<string, unknown>> };
    routes = Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`));
  });

  it('has an expectation for every route of the OpenAPI document, and a route for every expectation', () => {
    expect([...routes].sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it('refuses a missing, expired or foreign token with 401 on every route that is not public', async () => {
    const expired = await tokenService(`matrix-secret-${'x'.repeat(32)}`).sign({ sub: memberId, role: 'member', org: 'u-1' }, { ttlSeconds: 1, nowMs: Date.now() - 3_600_000 });
    const foreign = await tokenService(randomBytes(32).toString('hex')).sign({ sub: memberId, role: 'member', org: 'u-1' }, { ttlSeconds: 600 });
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      const cells = [
        { token: undefined, code: 'AUTH.MISSING_TOKEN' },
        { token: expired, code: 'AUTH.INVALID_TOKEN' },
        { token: foreign, code: 'AUTH.INVALID_TOKEN' },
      ];
      for (const cell of cells) {
        const answer = await send(method, concrete(path), cell.token);
        if (EXPECTED[route]!.who === 'public') expect({ route, status: answer.status }).not.toEqual({ route, status: 401 });
        else expect({ route, status: answer.status, code: answer.body.code }).toEqual({ route, status: 401, code: cell.code });
      }
    }
  });

  it('lets each role through exactly the routes it may use, inside its subtree, and answers 403 AUTH.FORBIDDEN otherwise', async () => {
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string];
      const who = EXPECTED[route]!.who;
      if (who === 'public') continue;
      for (const role of ROLES) {
        const answer = await send(method, concrete(path), await insideToken(role));
        const cell = { route, role };
        if (who.includes(role)) {
          // Allowed: whatever the (empty) request earns, it is not an authorisation refusal.
          expect({ ...cell, refused: answer.status === 401 || answer.status === 403, body: answer.status >= 400 ? answer.body : {} }).toEqual({ ...cell, refused: false, body: expect.anything() });
          expect({ ...cell, status: answer.status >= 500 }).toEqual({ ...cell, status: false });
        } else {
          expect({ ...cell, status: answer.status, code: answer.body.code }).toEqual({ ...cell, status: 403, code: 'AUTH.FORBIDDEN' });
        }
      }
    }
  });

  it('refuses callers of another subtree with 403 ORG.FORBIDDEN', async () => {
    const outsider: Record<string, string> = {
      admin: await app.token('admin-outside', 'admin', 'p-2'),
      member: memberToken, // A member of u-1 asking about u-2.
    };
    const scoped = Object.entries(EXPECTED).filter(([, expectation]) => expectation.outside);
    expect(scoped.length).toBeGreaterThanOrEqual(4);
    for (const [route, { outside }] of scoped) {
      const [method, path] = route.split(' ') as [string, string];
      const answer = await send(method, outside!.path ?? concrete(path), outsider[outside!.as], outside!.body);
      expect({ route, status: answer.status, code: answer.body.code }).toEqual({ route, status: 403, code: 'ORG.FORBIDDEN' });
    }
  });
});
