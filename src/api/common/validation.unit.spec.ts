import { AppError } from './errors';
import { array, bool, int, object, oneOf, optional, parseBody, str, toJsonSchema, type Infer } from './validation';

const CheckIn = object({
  memberId: str({ min: 1, max: 10, pattern: /^m-\d+$/ }),
  points: int({ min: 1, max: 100 }),
  channel: oneOf(['app', 'wechat'] as const),
  note: optional(str({ max: 5 })),
  tags: optional(array(str({ min: 1, max: 3 }), { max: 2 })),
  items: optional(array(object({ sku: str({ min: 1 }), quantity: int({ min: 1 }) }), { max: 3 })),
  consent: optional(bool()),
});

/** The issues of a parse that must fail. */
function issuesOf(body: unknown): Array<{ path: string; reason: string }> {
  try {
    parseBody(CheckIn, body);
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    const appError = error as AppError;
    expect(appError.status).toBe(400);
    expect(appError.code).toBe('VALIDATION.FAILED');
    return appError.details.fields as Array<{ path: string; reason: string }>;
  }
  throw new Error('expected a validation error');
}

describe('parseBody', () => {
  it('returns the typed value of a valid body, without optional fields that were absent', () => {
    const value: Infer<typeof CheckIn> = parseBody(CheckIn, { memberId: 'm-1', points: 5, channel: 'app' });
    expect(value).toEqual({ memberId: 'm-1', points: 5, channel: 'app' });
    expect(Object.keys(value)).toEqual(['memberId', 'points', 'channel']);
    const full = parseBody(CheckIn, {
      memberId: 'm-2', points: 100, channel: 'wechat', note: '工会', tags: ['a'], items: [{ sku: 'x', quantity: 2 }], consent: true,
    });
    expect(full.items?.[0]?.quantity).toBe(2);
  });

  it('lists every bad field with its path and reason', () => {
    expect(issuesOf({ memberId: 'x', points: 1.5, channel: 'fax', note: 'too long', items: [{ sku: '', quantity: 0 }] })).toEqual([
      { path: 'memberId', reason: 'must match ^m-\\d+$' },
      { path: 'points', reason: 'must be an integer (got number)' },
      { path: 'channel', reason: 'must be one of app, wechat' },
      { path: 'note', reason: 'must have at most 5 characters' },
      { path: 'items[0].sku', reason: 'must have at least 1 characters' },
      { path: 'items[0].quantity', reason: 'must be from 1 to 9007199254740991' },
    ]);
  });

  it('refuses unknown fields, missing fields, null, and a body that is not an object', () => {
    expect(issuesOf({ memberId: 'm-1', points: 1, channel: 'app', admin: true })).toEqual([{ path: 'admin', reason: 'is not a known field' }]);
    expect(issuesOf({ points: 1, channel: 'app' })).toEqual([{ path: 'memberId', reason: 'is required' }]);
    expect(issuesOf({ memberId: 'm-1', points: 1, channel: 'app', note: null })).toEqual([{ path: 'note', reason: 'must be a string (got null)' }]);
    expect(issuesOf([1, 2])).toEqual([{ path: '(body)', reason: 'must be an object (got array)' }]);
    expect(issuesOf(undefined)).toEqual([{ path: '(body)', reason: 'must be an object (got undefined)' }]);
  });

  it('does not copy __proto__ or anything else outside the shape', () => {
    const body = JSON.parse('{"memberId":"m-1","points":1,"channel":"app","__proto__":{"polluted":true}}') as unknown;
    expect(issuesOf(body)).toEqual([{ path: '__proto__', reason: 'is not a known field' }]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('bounds arrays before looking at their items, counts characters as code points, and refuses unsafe integers', () => {
    expect(issuesOf({ memberId: 'm-1', points: 1, channel: 'app', tags: ['a', 'b', 'c'] })).toEqual([
      { path: 'tags', reason: 'must have from 0 to 2 items (got 3)' },
    ]);
    expect(parseBody(object({ name: str({ max: 2 }) }), { name: '😀工' })).toEqual({ name: '😀工' });
    expect(() => parseBody(int(), 2 ** 53)).toThrow(AppError);
    expect(() => parseBody(int(), '5')).toThrow(AppError);
  });

  it('reports at most 50 problems and says how many it left out', () => {
    const schema = array(int(), { max: 100 });
    try {
      parseBody(schema, Array.from({ length: 60 }, () => 'x'));
      throw new Error('expected a validation error');
    } catch (error) {
      const details = (error as AppError).details;
      expect((details.fields as unknown[]).length).toBe(50);
      expect(details.omitted).toBe(10);
    }
  });

  it('refuses a stateful (g or y) pattern at schema construction', () => {
    expect(() => str({ pattern: /a/g })).toThrow(TypeError);
  });

  it('describes itself as JSON Schema for the OpenAPI document', () => {
    expect(toJsonSchema(object({ a: str({ max: 3 }), b: optional(int({ min: 0, max: 9 })) }))).toEqual({
      type: 'object',
      additionalProperties: false,
      properties: { a: { type: 'string', minLength: 0, maxLength: 3 }, b: { type: 'integer', minimum: 0, maximum: 9 } },
      required: ['a'],
    });
  });
});
