import { AppError } from './errors';
import {
  array,
  bool,
  int,
  nullable,
  object,
  oneOf,
  optional,
  parseBody,
  parseNoBody,
  parseParams,
  parseQuery,
  str,
  type Infer,
  type Issue,
} from './validation';

const CheckIn = object({
  memberId: str({ min: 1, max: 10, pattern: /^m-\d+$/ }),
  points: int({ min: 1, max: 100 }),
  channel: oneOf(['app', 'wechat'] as const),
  note: optional(str({ max: 5 })),
  tags: optional(array(str({ min: 1, max: 3 }), { max: 2 })),
  items: optional(array(object({ sku: str({ min: 1, max: 20 }), quantity: int({ min: 1, max: 1000 }) }), { max: 3 })),
  consent: optional(bool()),
  bonus: optional(nullable(object({ everyDays: int({ min: 2, max: 366 }), points: int({ min: 0, max: 10 }) }))),
});

/** The AppError of a call that must fail. */
function failure(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected a validation error');
}

/** The issues of a parse that must fail with 400 VALIDATION.FAILED. */
function issuesOf(body: unknown, schema: Parameters<typeof parseBody>[0] = CheckIn): Issue[] {
  const error = failure(() => parseBody(schema, body));
  expect(error.status).toBe(400);
  expect(error.code).toBe('VALIDATION.FAILED');
  return error.details.issues as Issue[];
}

describe('parseBody', () => {
  it('returns the typed value of a valid body, without optional fields that were absent', () => {
    const value: Infer<typeof CheckIn> = parseBody(CheckIn, { memberId: 'm-1', points: 5, channel: 'app' });
    expect(value).toEqual({ memberId: 'm-1', points: 5, channel: 'app' });
    expect(Object.keys(value)).toEqual(['memberId', 'points', 'channel']);
    const full = parseBody(CheckIn, {
      memberId: 'm-2', points: 100, channel: 'wechat', note: '工会', tags: ['a'], items: [{ sku: 'x', quantity: 2 }], consent: true, bonus: null,
    });
    expect(full.items?.[0]?.quantity).toBe(2);
    expect(parseBody(CheckIn, { memberId: 'm-3', points: 1, channel: 'app', bonus: { everyDays: 7, points: 1 } }).bonus).toEqual({ everyDays: 7, points: 1 });
  });

  it('lists every bad field with its JSON path and reason', () => {
    expect(issuesOf({ memberId: 'x', points: 1.5, channel: 'fax', note: 'too long', items: [{ sku: '', quantity: 0 }] })).toEqual([
      { path: '/memberId', reason: 'must match ^m-\\d+$' },
      { path: '/points', reason: 'must be an integer (got a fraction)' },
      { path: '/channel', reason: 'must be one of app, wechat' },
      { path: '/note', reason: 'must have from 0 to 5 characters' },
      { path: '/items/0/sku', reason: 'must have from 1 to 20 characters' },
      { path: '/items/0/quantity', reason: 'must be from 1 to 1000' },
    ]);
  });

  it('refuses unknown fields, missing fields, null, and a body that is not an object', () => {
    expect(issuesOf({ memberId: 'm-1', points: 1, channel: 'app', admin: true })).toEqual([
      { path: '/admin', reason: 'is not an allowed property (allowed: memberId, points, channel, note, tags, items, consent, bonus)' },
    ]);
    expect(issuesOf({ points: 1, channel: 'app' })).toEqual([{ path: '/memberId', reason: 'is required' }]);
    expect(issuesOf({ memberId: 'm-1', points: 1, channel: 'app', note: null })).toEqual([{ path: '/note', reason: 'must be a string (got null)' }]);
    expect(issuesOf([1, 2])).toEqual([{ path: '', reason: 'must be an object (got array)' }]);
    expect(issuesOf(undefined)).toEqual([{ path: '', reason: 'must be an object (got undefined)' }]);
  });

  it('names unknown fields nested in objects, arrays and nullable objects by their path', () => {
    expect(issuesOf({ memberId: 'm-1', points: 1, channel: 'app', items: [{ sku: 'a', quantity: 1 }, { sku: 'b', quantity: 1, qty: 2 }] })).toEqual([
      { path: '/items/1/qty', reason: 'is not an allowed property (allowed: sku, quantity)' },
    ]);
    // A union (object or null) is reported through the variant the value was meant for.
    expect(issuesOf({ memberId: 'm-1', points: 1, channel: 'app', bonus: { everyDays: 7, point: 20 } })).toEqual([
      { path: '/bonus/points', reason: 'is required' },
      { path: '/bonus/point', reason: 'is not an allowed property (allowed: everyDays, points)' },
    ]);
    expect(issuesOf({ memberId: 'm-1', points: 1, channel: 'app', bonus: 'weekly' })).toEqual([
      { path: '/bonus', reason: 'must be an object or null (got string)' },
    ]);
  });

  it('does not let __proto__ through, and pollutes nothing', () => {
    const body = JSON.parse('{"memberId":"m-1","points":1,"channel":"app","__proto__":{"polluted":true}}') as unknown;
    expect(issuesOf(body)).toEqual([expect.objectContaining({ path: '/__proto__' })]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('bounds arrays, counts lengths in UTF-16 code units, and refuses numbers out of range however large', () => {
    expect(issuesOf({ memberId: 'm-1', points: 1, channel: 'app', tags: ['a', 'b', 'c'] })).toEqual([
      { path: '/tags', reason: 'must have from 0 to 2 items (got 3)' },
    ]);
    const name = object({ name: str({ max: 3 }) });
    expect(parseBody(name, { name: '😀工' })).toEqual({ name: '😀工' }); // 2 + 1 code units
    expect(issuesOf({ name: '😀😀' }, name)).toEqual([{ path: '/name', reason: 'must have from 0 to 3 characters' }]);
    for (const points of [2 ** 53, 1e308, -1e20, 101]) {
      expect(issuesOf({ memberId: 'm-1', points, channel: 'app' })).toEqual([{ path: '/points', reason: 'must be from 1 to 100' }]);
    }
    expect(issuesOf({ memberId: 'm-1', points: '5', channel: 'app' })).toEqual([{ path: '/points', reason: 'must be an integer (got string)' }]);
    expect(issuesOf({ memberId: 'm-1', points: Number.NaN, channel: 'app' })).toEqual([{ path: '/points', reason: 'must be an integer (got NaN)' }]);
  });

  it('refuses control characters and unpaired surrogates in free text, and takes any other text', () => {
    const text = object({ text: str({ max: 50 }) });
    for (const bad of ['a\u0000b', 'a\u001bb', 'a\u007f', 'x\ud800', '\udc00x', '\ud800\ud800']) {
      expect(issuesOf({ text: bad }, text)).toEqual([{ path: '/text', reason: 'must not contain control characters or unpaired surrogates' }]);
    }
    for (const good of ['工会\t法\r\n第二行', '😀 emoji', '𠀀 Extension B', '']) expect(parseBody(text, { text: good })).toEqual({ text: good });
  });

  it('reports at most 50 problems and says there were more', () => {
    const error = failure(() => parseBody(array(int({ min: 0, max: 9 }), { max: 100 }), Array.from({ length: 60 }, () => 'x')));
    expect((error.details.issues as Issue[]).length).toBe(50);
    expect(error.details.truncated).toBe(true);
  });

  it('keeps the paths it quotes short and printable, however odd the unknown property', () => {
    const [issue] = issuesOf({ memberId: 'm-1', points: 1, channel: 'app', ['k'.repeat(100_000)]: 1 });
    expect(issue!.path.length).toBeLessThanOrEqual(210);
    // jsonb, where the idempotency table keeps the answer, stores neither NUL nor a lone surrogate.
    expect(issuesOf({ memberId: 'm-1', points: 1, channel: 'app', 'a\u0000b\ud800': 1, '😀': 2 }).map((found) => found.path)).toEqual(['/a\\u0000b\\ud800', '/😀']);
  });

  it('answers 415 for a body that is not JSON (text/plain arrives as a string, text/csv as bytes)', () => {
    expect(failure(() => parseBody(CheckIn, 'memberId=m-1')).status).toBe(415);
    expect(failure(() => parseBody(CheckIn, Buffer.from('memberId,points\n'))).status).toBe(415);
  });

  it('refuses a pattern with flags at schema construction, and a limit that is missing or not safe', () => {
    expect(() => str({ max: 5, pattern: /a/g })).toThrow(TypeError);
    expect(() => str({ max: 5, pattern: /a/i })).toThrow(TypeError);
    expect(() => int({ min: 0, max: 2 ** 53 })).toThrow(TypeError);
    expect(() => str({ min: 3, max: 2 })).toThrow(TypeError);
  });

  it('is JSON Schema itself, for the OpenAPI document', () => {
    expect(JSON.parse(JSON.stringify(object({ a: str({ max: 3, pattern: /^x+$/ }), b: optional(int({ min: 0, max: 9 })), c: oneOf(['p', 'q'] as const) })))).toEqual({
      type: 'object',
      additionalProperties: false,
      properties: {
        a: { type: 'string', minLength: 0, maxLength: 3, pattern: '^x+$' },
        b: { type: 'integer', minimum: 0, maximum: 9 },
        c: { type: 'string', enum: ['p', 'q'] },
      },
      required: ['a', 'c'],
    });
  });
});

describe('parseNoBody', () => {
  it('takes no body, an empty one or {}, and refuses anything else', () => {
    for (const nothing of [undefined, '', Buffer.alloc(0), {}]) expect(() => parseNoBody(nothing)).not.toThrow();
    expect(failure(() => parseNoBody(null)).details.issues).toEqual([{ path: '', reason: 'must be an object (got null)' }]);
    expect(failure(() => parseNoBody({ streak: 1 })).details.issues).toEqual([{ path: '/streak', reason: 'is not an allowed property (none are allowed here)' }]);
    expect(failure(() => parseNoBody([])).status).toBe(400);
    expect(failure(() => parseNoBody('x')).status).toBe(415);
  });
});

describe('parseQuery and parseParams', () => {
  const Page = object({ limit: optional(int({ min: 1, max: 100 })), cursor: optional(str({ min: 1, max: 18, pattern: /^[0-9]+$/ })), period: optional(oneOf(['week', 'all'] as const)) });

  function queryIssues(query: Record<string, unknown>): Issue[] {
    const error = failure(() => parseQuery(Page, query));
    expect(error.code).toBe('VALIDATION.FAILED');
    return error.details.issues as Issue[];
  }

  it('converts plain decimal integers and keeps strings as strings', () => {
    expect(parseQuery(Page, { limit: '20', cursor: '0012', period: 'all' })).toEqual({ limit: 20, cursor: '0012', period: 'all' });
    expect(parseQuery(Page, {})).toEqual({});
    expect(parseParams(object({ id: str({ min: 1, max: 5 }) }), { id: '42' })).toEqual({ id: '42' });
  });

  it('refuses integers written any other way rather than guessing', () => {
    for (const limit of ['1.5', '1e3', '0x10', ' 5', '5 ', '', '+5', '05', 'NaN', 'Infinity', '99999999999999999999']) {
      expect(queryIssues({ limit })).toEqual([{ path: '/limit', reason: 'must be an integer (got string)' }]);
    }
    expect(queryIssues({ limit: '0' })).toEqual([{ path: '/limit', reason: 'must be from 1 to 100' }]);
    expect(queryIssues({ limit: ['1', '2'] })).toEqual([{ path: '/limit', reason: 'must be an integer (got array)' }]);
  });

  it('refuses unknown parameters, __proto__ included, and values outside an enumeration', () => {
    expect(queryIssues({ limt: '5' })).toEqual([expect.objectContaining({ path: '/limt' })]);
    const query = Object.create(null) as Record<string, unknown>;
    Object.defineProperty(query, '__proto__', { value: 'x', enumerable: true });
    expect(queryIssues(query)).toEqual([expect.objectContaining({ path: '/__proto__' })]);
    expect(queryIssues({ period: 'decade' })).toEqual([{ path: '/period', reason: 'must be one of week, all' }]);
  });
});
