import { activateThroughWeChat, startLedgerApp, testNationalId, type Answer, type LedgerApp } from '../support/ledger-app';

/**
 * Request validation over HTTP: every body, query string and path parameter refuses unknown
 * fields and names each problem by its JSON path (400 VALIDATION.FAILED, details.issues), before
 * anything is decided or stored.
 */

let app: LedgerApp;
let member: string;
let provinceAdmin: string;
let keyCounter = 0;
const key = (): string => `v-${(keyCounter += 1)}`;

interface Issue {
  path: string;
  reason: string;
}

async function eventCount(): Promise<number> {
  const { count } = await app.database.db.one<{ count: string }>('SELECT count(*) FROM ul_events');
  return Number(count);
}

/** A 400 VALIDATION.FAILED whose issues include these paths (each with a reason). */
function expectIssues(answer: Answer, paths: string[]): Issue[] {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status: 400, code: 'VALIDATION.FAILED' });
  const issues = (answer.body.details as { issues: Issue[] }).issues;
  expect(issues.map((issue) => issue.path).sort()).toEqual([...paths].sort());
  for (const issue of issues) expect(typeof issue.reason).toBe('string');
  return issues;
}

const notAllowed = (path: string) => expect.objectContaining({ path, reason: expect.stringContaining('is not an allowed property') });

beforeAll(async () => {
  app = await startLedgerApp();
  const system = { type: 'system', id: 'test-setup' };
  await app.ledger.orgs.registerOrganisation({ orgId: 'js', name: 'Union js', parentId: null, level: 'province' }, { commandId: 'org:js', actor: system });
  await app.ledger.orgs.registerOrganisation({ orgId: 'u-a', name: 'Union u-a', parentId: 'js', level: 'grassroots' }, { commandId: 'org:u-a', actor: system });
  await app.ledger.catchUpReadModels();
  const nationalId = testNationalId(41);
  const idHmac = app.ledger.vault.idHmac(nationalId);
  const memberId = app.ledger.vault.memberIdFor(idHmac);
  const piiCipher = await app.ledger.vault.seal(memberId, { idNumber: nationalId, phone: '13800138000' });
  await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'u-a', name: '钱一', idHmac, piiCipher }, { commandId: `enrol:${idHmac}`, actor: system });
  member = (await activateThroughWeChat(app, { user: 'qian-yi', nationalId, name: '钱一', phone: '13800138000' })).accessToken;
  provinceAdmin = await app.token('admin-js', 'admin', 'js');
  const published = await app.call('POST', '/v1/admin/quizzes', { token: provinceAdmin, key: key(), body: { quizId: 'q-v', question: '?', options: ['A', 'B'], correctAnswer: 'A' } });
  expect(published.status).toBe(201);
});
afterAll(async () => {
  await app?.close();
});

describe('earning rules (PUT /v1/admin/earning-rules)', () => {
  let current: { version: number; rules: Record<string, { points: number; caps?: Record<string, Record<string, number>> }>; streakBonus: unknown };
  let eventsBefore: number;

  beforeAll(async () => {
    current = (await app.call('GET', '/v1/admin/earning-rules', { token: provinceAdmin })).body as typeof current;
    eventsBefore = await eventCount();
  });

  const put = (body: unknown) => app.call('PUT', '/v1/admin/earning-rules', { token: provinceAdmin, key: key(), body });

  it('refuses a misspelt cap (maxCont) by its path, so no version without the intended cap is published', async () => {
    const rules = { ...current.rules, checkin: { points: 5, caps: { day: { maxCont: 1 } } } };
    const [issue] = expectIssues(await put({ expectedVersion: current.version, rules, streakBonus: current.streakBonus }), ['/rules/checkin/caps/day/maxCont']);
    expect(issue!.reason).toBe('is not an allowed property (allowed: maxCount, maxPoints)');
  });

  it('refuses a misspelt streakbonus by its path, so the streak bonus is not silently removed', async () => {
    expectIssues(await put({ expectedVersion: current.version, rules: current.rules, streakbonus: { everyDays: 7, points: 20 } }), ['/streakbonus']);
  });

  it('names unknown and missing fields inside the streak bonus, an unknown cap period and an unknown rule field', async () => {
    const answer = await put({
      expectedVersion: current.version,
      rules: { ...current.rules, quiz: { points: 1, caps: { month: { maxCount: 1 } } }, article: { points: 1, pionts: 2 } },
      streakBonus: { everyDays: 7, point: 20 },
    });
    const issues = expectIssues(answer, ['/rules/quiz/caps/month', '/rules/article/pionts', '/streakBonus/points', '/streakBonus/point']);
    expect(issues).toEqual(expect.arrayContaining([notAllowed('/rules/quiz/caps/month'), notAllowed('/streakBonus/point')]));
  });

  it('refuses a rule set missing an action, and wrong types and bounds, all at once', async () => {
    const { activity: _dropped, ...withoutActivity } = current.rules;
    const answer = await put({ expectedVersion: 0, rules: { ...withoutActivity, comment: { points: 1.5 }, evaluation: { points: 100_001 } } });
    expectIssues(answer, ['/expectedVersion', '/rules/activity', '/rules/comment/points', '/rules/evaluation/points']);
  });

  it('published nothing while refusing, and still publishes a correct rule set', async () => {
    expect(await eventCount()).toBe(eventsBefore);
    expect((await app.call('GET', '/v1/admin/earning-rules', { token: provinceAdmin })).body.version).toBe(current.version);
    const rules = { ...current.rules, checkin: { points: 6, caps: { day: { maxCount: 1 }, week: { maxPoints: 42 } } } };
    const published = await put({ expectedVersion: current.version, rules, streakBonus: { everyDays: 5, points: 9 } });
    expect(published.status).toBe(200);
    expect(published.body).toMatchObject({ version: current.version + 1, rules: { checkin: { points: 6, caps: { week: { maxPoints: 42 } } } }, streakBonus: { everyDays: 5, points: 9 } });
  });
});

describe('member bodies', () => {
  it('hold: refuses unknown top-level fields by path, and refuses a body on post and void', async () => {
    const answer = await app.call('POST', '/v1/me/holds', { token: member, key: key(), body: { points: 5, purpose: 'mall', expiresInSeconds: 60, currency: 'CNY' } });
    expect(expectIssues(answer, ['/currency'])).toEqual([notAllowed('/currency')]);
    expectIssues(await app.call('POST', '/v1/me/holds/h-1/post', { token: member, key: key(), body: { points: 5 } }), ['/points']);
    expectIssues(await app.call('POST', '/v1/me/holds/h-1/void', { token: member, key: key(), body: { reason: 'x' } }), ['/reason']);
  });

  it('hold: refuses a hold id that no Idempotency-Key can be', async () => {
    expectIssues(await app.call('POST', '/v1/me/holds/h%201/post', { token: member, key: key() }), ['/holdId']);
    expectIssues(await app.call('POST', '/v1/me/holds/h%2F1/void', { token: member, key: key() }), ['/holdId']);
  });

  it('evaluation: refuses unknown top-level and nested (item) fields by path', async () => {
    const answer = await app.call('POST', '/v1/me/evaluations', {
      token: member,
      key: key(),
      body: { campaignId: 'c-1', overall: 5, items: { item1: 4, item10: 3 }, rating: 5 },
    });
    expect(expectIssues(answer, ['/items/item10', '/rating'])).toEqual(expect.arrayContaining([notAllowed('/items/item10'), notAllowed('/rating')]));
  });

  it('quiz answer and quiz: refuse unknown top-level fields and wrong nested items by path', async () => {
    expectIssues(await app.call('POST', '/v1/me/quiz-answers', { token: member, key: key(), body: { quizId: 'q-v', answer: 'A', correct: true } }), ['/correct']);
    const quiz = await app.call('POST', '/v1/admin/quizzes', {
      token: provinceAdmin,
      key: key(),
      body: { quizId: 'q-2', question: '?', options: ['A', { label: 'B' }], correctAnswer: 'A', points: 1000 },
    });
    expectIssues(quiz, ['/options/1', '/points']);
  });

  it('check-in, article, comment, activity and activation refuse unknown fields too', async () => {
    expectIssues(await app.call('POST', '/v1/me/check-ins', { token: member, key: key(), body: { streak: 30 } }), ['/streak']);
    expectIssues(await app.call('POST', '/v1/me/article-reads', { token: member, key: key(), body: { articleId: 'a-1', points: 9 } }), ['/points']);
    expectIssues(await app.call('POST', '/v1/me/comments', { token: member, key: key(), body: { targetId: 't-1', text: 'hi', likes: 9 } }), ['/likes']);
    expectIssues(await app.call('POST', '/v1/me/activities', { token: member, key: key(), body: { activityId: 'x-1', hours: 9 } }), ['/hours']);
    expectIssues(await app.call('POST', '/v1/me/spends', { token: member, key: key(), body: { points: 1, purpose: 'p', to: 'x' } }), ['/to']);
    expectIssues(
      await app.call('POST', '/v1/activation/start', { token: await app.token('f'.repeat(64), 'visitor', '-'), key: key(), body: { nationalId: testNationalId(42), name: '孙二', phone: '1' } }),
      ['/phone'],
    );
  });

  it('refuses free text with NUL or an unpaired surrogate before the event store sees it', async () => {
    const answer = await app.call('POST', '/v1/me/comments', { token: member, key: key(), body: { targetId: 't-1', text: 'a\u0000b' } });
    expectIssues(answer, ['/text']);
    expectIssues(await app.call('POST', '/v1/me/evaluations', { token: member, key: key(), body: { campaignId: 'c-2', overall: 3, suggestion: 'x\ud800' } }), ['/suggestion']);
  });
});

describe('query strings and path parameters', () => {
  it('refuses unknown query parameters by name, on routes with and without parameters', async () => {
    expectIssues(await app.call('GET', '/v1/me/statement?limt=5', { token: member }), ['/limt']);
    expectIssues(await app.call('GET', '/v1/me/balance?verbose=1', { token: member }), ['/verbose']);
    expectIssues(await app.call('GET', '/v1/admin/earning-rules?version=1', { token: provinceAdmin }), ['/version']);
    expectIssues(await app.call('POST', '/v1/me/check-ins?points=100', { token: member, key: key() }), ['/points']);
  });

  it('checks each declared parameter: integers written plainly, enumerations, patterns and repeats', async () => {
    for (const limit of ['0', '101', '1.5', '1e1', 'abc', '']) expectIssues(await app.call('GET', `/v1/me/statement?limit=${limit}`, { token: member }), ['/limit']);
    expectIssues(await app.call('GET', '/v1/me/statement?limit=1&limit=2', { token: member }), ['/limit']);
    expectIssues(await app.call('GET', '/v1/me/statement?cursor=-1', { token: member }), ['/cursor']);
    expectIssues(await app.call('GET', '/v1/leaderboards/js?period=decade&top=0', { token: member }), ['/period', '/top']);
    expectIssues(await app.call('GET', '/v1/leaderboards/no%20such', { token: member }), ['/orgId']);
    expectIssues(await app.call('GET', '/v1/me/rank?orgId=%00', { token: member }), ['/orgId']);
    const page = await app.call('GET', '/v1/me/statement?limit=2', { token: member });
    expect(page.status).toBe(200);
    expect((await app.call('GET', '/v1/leaderboards/js?period=all&top=3', { token: member })).status).toBe(200);
  });
});

describe('content types', () => {
  it('answers 415 to a text/plain or text/csv body on a JSON route', async () => {
    for (const contentType of ['text/plain', 'text/csv']) {
      const response = await fetch(`${app.url}/v1/me/holds`, {
        method: 'POST',
        headers: { authorization: `Bearer ${member}`, 'idempotency-key': key(), 'content-type': contentType },
        body: 'points=5',
      });
      expect(response.status).toBe(415);
      expect(await response.json()).toMatchObject({ code: 'HTTP.UNSUPPORTED_MEDIA_TYPE' });
    }
  });
});

describe('bodies JSON parses but the idempotency hash cannot take', () => {
  it('answers 400, not 500, to a number beyond double range and to nesting 50,000 deep', async () => {
    const send = (body: string) =>
      fetch(`${app.url}/v1/me/holds`, { method: 'POST', headers: { authorization: `Bearer ${member}`, 'idempotency-key': key(), 'content-type': 'application/json' }, body });
    for (const body of ['{"points":1e400,"purpose":"p","expiresInSeconds":60}', `{"a":${'['.repeat(50_000)}${']'.repeat(50_000)}}`]) {
      const response = await send(body);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ code: 'HTTP.BAD_REQUEST', details: {} });
    }
  });
});

describe('the OpenAPI document', () => {
  type Schema = Record<string, unknown> & { properties?: Record<string, Schema>; items?: Schema; anyOf?: Schema[] };
  interface Operation {
    parameters?: Array<{ name: string; in: string; schema?: Schema }>;
    requestBody?: { content: Record<string, { schema?: Schema }> };
  }

  /** What a schema fails of the rules every request schema follows (see src/api/common/validation.ts). */
  function problemsOf(schema: Schema | undefined, where: string, problems: string[]): void {
    if (!schema) {
      problems.push(`${where}: no schema`);
      return;
    }
    for (const variant of schema.anyOf ?? []) problemsOf(variant, where, problems);
    switch (schema.type) {
      case 'object':
        if (schema.additionalProperties !== false) problems.push(`${where}: object without additionalProperties: false`);
        for (const [name, property] of Object.entries(schema.properties ?? {})) problemsOf(property, `${where}/${name}`, problems);
        break;
      case 'string':
        if (typeof schema.maxLength !== 'number' && !Array.isArray(schema.enum)) problems.push(`${where}: string without maxLength`);
        break;
      case 'integer':
      case 'number':
        if (typeof schema.minimum !== 'number' || typeof schema.maximum !== 'number') problems.push(`${where}: number without minimum and maximum`);
        break;
      case 'array':
        if (typeof schema.maxItems !== 'number') problems.push(`${where}: array without maxItems`);
        problemsOf(schema.items, `${where}/items`, problems);
        break;
      default:
        if (!schema.anyOf && schema.type !== 'null' && schema.type !== 'boolean') problems.push(`${where}: no type`);
    }
  }

  async function documentPaths(): Promise<Record<string, Record<string, Operation>>> {
    const response = await fetch(`${app.url}/docs-json`);
    return ((await response.json()) as { paths: Record<string, Record<string, Operation>> }).paths;
  }

  it('describes every JSON body, query and path parameter with closed objects and bounded values', async () => {
    const problems: string[] = [];
    let described = 0;
    for (const [path, item] of Object.entries(await documentPaths())) {
      for (const [method, operation] of Object.entries(item)) {
        const where = `${method.toUpperCase()} ${path}`;
        for (const parameter of operation.parameters ?? []) {
          if (parameter.in === 'header') continue;
          problemsOf(parameter.schema, `${where} ${parameter.in} ${parameter.name}`, problems);
          described += 1;
        }
        for (const name of path.match(/\{[^}]+\}/g) ?? []) {
          if (!operation.parameters?.some((parameter) => parameter.in === 'path' && `{${parameter.name}}` === name)) problems.push(`${where}: path parameter ${name} not declared`);
        }
        const json = operation.requestBody?.content['application/json'];
        if (json) {
          problemsOf(json.schema, `${where} body`, problems);
          described += 1;
        }
      }
    }
    expect(problems).toEqual([]);
    expect(described).toBeGreaterThanOrEqual(19);
  });

  it('shows the very schema the route checks', async () => {
    const { publishRulesSchema } = await import('../../src/api/earning/schemas');
    const paths = await documentPaths();
    const shown = paths['/v1/admin/earning-rules']?.put?.requestBody?.content['application/json']?.schema;
    expect(shown).toEqual(JSON.parse(JSON.stringify(publishRulesSchema)));
  });
});
