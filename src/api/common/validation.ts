import { AppError } from './errors';

/**
 * A small typed validator for request bodies and queries. A schema both checks a value and names
 * its TypeScript type (`Infer<typeof schema>`), and describes itself as JSON Schema for the
 * OpenAPI document (`@ApiBody({ schema: toJsonSchema(schema) })`). Every limit is explicit:
 * strings and arrays have a maximum length, unknown fields are refused, and at most
 * MAX_REPORTED_ISSUES problems are reported.
 */
export interface Issue {
  /** Where the problem is: `amountFen`, `items[2].sku`, or `(body)` for the whole value. */
  path: string;
  reason: string;
}

export interface Schema<T> {
  /** Returns the parsed value, or pushes issues (the returned value is then meaningless). */
  check(value: unknown, path: string, issues: Issue[]): T;
  readonly jsonSchema: Record<string, unknown>;
  readonly isOptional?: boolean;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

const MAX_REPORTED_ISSUES = 50;
const DEFAULT_MAX_STRING_CHARS = 1000;

function typeName(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

export function str(options: { min?: number; max?: number; pattern?: RegExp } = {}): Schema<string> {
  const min = options.min ?? 0;
  const max = options.max ?? DEFAULT_MAX_STRING_CHARS;
  // A /g or /y pattern keeps state between test() calls and would pass or fail at random.
  if (options.pattern && (options.pattern.global || options.pattern.sticky)) throw new TypeError('str(): pattern must not use the g or y flag');
  return {
    check(value, path, issues) {
      if (typeof value !== 'string') {
        issues.push({ path, reason: `must be a string (got ${typeName(value)})` });
        return '';
      }
      // Counted in code points, so a Chinese name or an emoji counts as one character each.
      const length = [...value].length;
      if (length < min) issues.push({ path, reason: `must have at least ${min} characters` });
      else if (length > max) issues.push({ path, reason: `must have at most ${max} characters` });
      else if (options.pattern && !options.pattern.test(value)) issues.push({ path, reason: `must match ${options.pattern.source}` });
      return value;
    },
    jsonSchema: { type: 'string', minLength: min, maxLength: max, ...(options.pattern ? { pattern: options.pattern.source } : {}) },
  };
}

/** Whole numbers only (points, fen): no fractions, no strings, nothing beyond 2^53. */
export function int(options: { min?: number; max?: number } = {}): Schema<number> {
  const min = options.min ?? Number.MIN_SAFE_INTEGER;
  const max = options.max ?? Number.MAX_SAFE_INTEGER;
  return {
    check(value, path, issues) {
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        issues.push({ path, reason: `must be an integer (got ${typeName(value)})` });
        return 0;
      }
      if (value < min || value > max) issues.push({ path, reason: `must be from ${min} to ${max}` });
      return value;
    },
    jsonSchema: { type: 'integer', minimum: min, maximum: max },
  };
}

export function bool(): Schema<boolean> {
  return {
    check(value, path, issues) {
      if (typeof value !== 'boolean') issues.push({ path, reason: `must be true or false (got ${typeName(value)})` });
      return value === true;
    },
    jsonSchema: { type: 'boolean' },
  };
}

/** One of a fixed set of strings: `oneOf(['member', 'admin'] as const)`. */
export function oneOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  return {
    check(value, path, issues) {
      if (typeof value !== 'string' || !values.includes(value)) issues.push({ path, reason: `must be one of ${values.join(', ')}` });
      return value as T[number];
    },
    jsonSchema: { type: 'string', enum: [...values] },
  };
}

/** The field may be absent (or undefined); null is still refused, as it means something else. */
export function optional<T>(schema: Schema<T>): Schema<T | undefined> {
  return {
    check: (value, path, issues) => (value === undefined ? undefined : schema.check(value, path, issues)),
    jsonSchema: schema.jsonSchema,
    isOptional: true,
  };
}

export function array<T>(item: Schema<T>, options: { min?: number; max: number }): Schema<T[]> {
  const min = options.min ?? 0;
  return {
    check(value, path, issues) {
      if (!Array.isArray(value)) {
        issues.push({ path, reason: `must be an array (got ${typeName(value)})` });
        return [];
      }
      if (value.length < min || value.length > options.max) {
        // Items of an oversized array are not checked one by one: the size alone is the answer.
        issues.push({ path, reason: `must have from ${min} to ${options.max} items (got ${value.length})` });
        return [];
      }
      return value.map((element, index) => item.check(element, `${path}[${index}]`, issues));
    },
    jsonSchema: { type: 'array', items: item.jsonSchema, minItems: min, maxItems: options.max },
  };
}

type Shape = Record<string, Schema<unknown>>;
type OptionalKeys<S extends Shape> = { [K in keyof S]: undefined extends Infer<S[K]> ? K : never }[keyof S];
type ObjectOf<S extends Shape> = { [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]> } & { [K in OptionalKeys<S>]?: Infer<S[K]> };
type Simplify<T> = { [K in keyof T]: T[K] };

/** A JSON object with exactly these fields: unknown fields are refused, so typos do not pass silently. */
export function object<S extends Shape>(shape: S): Schema<Simplify<ObjectOf<S>>> {
  const keys = Object.keys(shape);
  return {
    check(value, path, issues) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        issues.push({ path, reason: `must be an object (got ${typeName(value)})` });
        return {} as Simplify<ObjectOf<S>>;
      }
      const record = value as Record<string, unknown>;
      const at = (key: string): string => (path === '(body)' ? key : `${path}.${key}`);
      for (const key of Object.keys(record)) {
        if (!Object.hasOwn(shape, key)) issues.push({ path: at(key), reason: 'is not a known field' });
      }
      // The result is built from the shape's keys only: nothing else (not even `__proto__`) is copied.
      const result: Record<string, unknown> = {};
      for (const key of keys) {
        const field = shape[key]!;
        const present = Object.hasOwn(record, key) && record[key] !== undefined;
        if (!present && !field.isOptional) issues.push({ path: at(key), reason: 'is required' });
        else if (present) result[key] = field.check(record[key], at(key), issues);
      }
      return result as Simplify<ObjectOf<S>>;
    },
    jsonSchema: {
      type: 'object',
      additionalProperties: false,
      properties: Object.fromEntries(keys.map((key) => [key, shape[key]!.jsonSchema])),
      required: keys.filter((key) => !shape[key]!.isOptional),
    },
  };
}

/** The JSON Schema of a schema, for `@ApiBody({ schema: toJsonSchema(CheckInBody) })`. */
export function toJsonSchema(schema: Schema<unknown>): Record<string, unknown> {
  return schema.jsonSchema;
}

/** Checks a request body; throws AppError 400 VALIDATION.FAILED listing every bad field. */
export function parseBody<T>(schema: Schema<T>, body: unknown): T {
  const issues: Issue[] = [];
  const value = schema.check(body, '(body)', issues);
  if (issues.length > 0) {
    throw AppError.badRequest('VALIDATION.FAILED', `the request is invalid: ${issues.length} problem(s)`, {
      fields: issues.slice(0, MAX_REPORTED_ISSUES),
      ...(issues.length > MAX_REPORTED_ISSUES ? { omitted: issues.length - MAX_REPORTED_ISSUES } : {}),
    });
  }
  return value;
}
