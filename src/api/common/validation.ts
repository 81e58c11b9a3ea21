import { applyDecorators } from '@nestjs/common';
import { ApiBody, ApiParam, ApiQuery, type SchemaObject } from '@nestjs/swagger';
import { Kind, Type, TypeRegistry, type Static, type TArray, type TBoolean, type TInteger, type TNull, type TObject, type TOptional, type TProperties, type TSchema, type TString, type TUnion, type TUnsafe } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { ValueErrorType, type ValueError } from '@sinclair/typebox/errors';
import { AppError } from './errors';

/**
 * Request validation with TypeBox: every request body, query string and path parameter is one
 * TypeBox schema. A TypeBox schema is plain JSON Schema, so the same object is checked here (by
 * TypeBox's compiled checker, TypeCompiler) and shown in the OpenAPI document at /docs-json.
 *
 * How a controller declares and checks its input:
 *
 *   // src/api/<context>/schemas.ts: built with the helpers below, so every limit is explicit
 *   export const HoldBody = object({ points: int({ min: 1, max: 10_000_000 }), purpose: str({ min: 1, max: 64, pattern: ID }) });
 *   export const HoldParams = object({ holdId: str({ min: 1, max: 200, pattern: KEY }) });
 *   export const StatementQuery = object({ limit: optional(int({ min: 1, max: 100 })) });
 *
 *   @Post('holds')
 *   @ApiBodySchema(HoldBody)                         // the schema itself is the OpenAPI body
 *   async hold(@Body() body: unknown, @Query() query: unknown) {
 *     parseQuery(NoQuery, query);                    // no query string: any parameter is refused
 *     const input = parseBody(HoldBody, body);       // typed Static<typeof HoldBody>, or 400
 *   }
 *
 *   @Get('statement')
 *   @ApiQuerySchema(StatementQuery)                  // one OpenAPI parameter per property
 *   async statement(@Query() query: unknown) { const { limit = 20 } = parseQuery(StatementQuery, query); }
 *
 *   @Post('holds/:holdId/post')
 *   @ApiParamSchema(HoldParams)
 *   async post(@Param() params: unknown, @Body() body: unknown) { const { holdId } = parseParams(HoldParams, params); parseNoBody(body); }
 *
 * A failed check throws AppError 400 `VALIDATION.FAILED` with `details.issues`: one
 * `{ path, reason }` per problem (at most 50, then `details.truncated: true`), `path` a JSON Pointer
 * (RFC 6901) into the body, query or path parameters: `/rules/checkin/caps/day/maxCont` with
 * "is not an allowed property (allowed: maxCount, maxPoints)". `""` is the value as a whole.
 *
 * The rules the helpers enforce (test/api/validation.api.spec.ts checks them on the whole OpenAPI
 * document, so a route built with raw `Type.*` calls is held to them too):
 * - every object refuses unknown properties (`additionalProperties: false`), nested ones too;
 * - every string has a maxLength, every integer a minimum and a maximum, every array a maxItems;
 * - strings without a pattern of their own refuse control characters other than tab, CR and LF,
 *   and unpaired UTF-16 surrogates: PostgreSQL's jsonb stores neither NUL nor a lone surrogate.
 *
 * Lengths are counted in UTF-16 code units, as JavaScript and TypeBox count them (the previous,
 * hand-written validator counted code points): a character outside the Basic Multilingual Plane
 * (an emoji, a rare CJK character of Extension B) counts as two. The limits are generous enough
 * that this never refuses a real name or text.
 *
 * Written here rather than taken from TypeBox, and why:
 * - query strings and path parameters arrive as strings. TypeBox's Value.Convert would turn them
 *   into numbers too leniently (`"1.5"` and `"1e3"` become 1, `"0x10"` becomes 0), so
 *   `queryValues()` converts only plain decimal integers where the schema wants an integer;
 * - the reasons in `details.issues`: TypeBox's default messages do not say which properties are
 *   allowed, and report a union ("Expected union value") without descending into the variant
 *   that was meant, so a typo inside `streakBonus: {...}` would not be named by its path.
 */

export interface Issue {
  /** JSON Pointer to the problem: `/rules/checkin/points`, `/items/2/sku`, or `""` for the whole value. */
  path: string;
  reason: string;
}

export type Infer<S extends TSchema> = Static<S>;

const MAX_REPORTED_ISSUES = 50;

/**
 * Text without control characters (tab, LF and CR allowed) and without unpaired surrogates,
 * written without the `u` flag because TypeBox compiles patterns with `new RegExp(pattern)`.
 */
export const TEXT_PATTERN = '^(?:[^\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F\\uD800-\\uDFFF]|[\\uD800-\\uDBFF][\\uDC00-\\uDFFF])*$';

// ---------------------------------------------------------------------------------------------
// Schema helpers: thin TypeBox builders whose options make every limit explicit.
// ---------------------------------------------------------------------------------------------

/** An object with exactly these properties: any other property is refused with its path. */
export function object<P extends TProperties>(properties: P, options: { description?: string } = {}): TObject<P> {
  return Type.Object(properties, { ...options, additionalProperties: false });
}

/** A string of at most `max` UTF-16 code units; `pattern` (no flags) or, by default, TEXT_PATTERN. */
export function str(options: { min?: number; max: number; pattern?: RegExp; description?: string }): TString {
  const { min = 0, max, pattern, description } = options;
  // TypeBox compiles `new RegExp(pattern)`: flags (g, y, i, u ...) would be lost or, for g and y, make the check stateful.
  if (pattern && pattern.flags !== '') throw new TypeError(`str(): pattern /${pattern.source}/ must not have flags`);
  if (!Number.isSafeInteger(max) || max < min || min < 0) throw new TypeError('str(): needs 0 <= min <= max');
  return Type.String({ minLength: min, maxLength: max, pattern: pattern ? pattern.source : TEXT_PATTERN, ...(description ? { description } : {}) });
}

/** A whole number (points, fen, counts) from `min` to `max`, both required and safe integers. */
export function int(options: { min: number; max: number; description?: string }): TInteger {
  const { min, max, description } = options;
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min > max) throw new TypeError('int(): needs safe integers min <= max');
  return Type.Integer({ minimum: min, maximum: max, ...(description ? { description } : {}) });
}

export function bool(): TBoolean {
  return Type.Boolean();
}

/** An array of at most `max` items. */
export function array<T extends TSchema>(items: T, options: { min?: number; max: number }): TArray<T> {
  return Type.Array(items, { minItems: options.min ?? 0, maxItems: options.max });
}

/** The property may be absent; null is still refused, as it means something else. */
export function optional<T extends TSchema>(schema: T): TOptional<T> {
  return Type.Optional(schema) as TOptional<T>;
}

/** The value or null. */
export function nullable<T extends TSchema>(schema: T): TUnion<[T, TNull]> {
  return Type.Union([schema, Type.Null()]);
}

const STRING_ENUM = 'StringEnum';
if (!TypeRegistry.Has(STRING_ENUM)) {
  TypeRegistry.Set<{ enum: string[] }>(STRING_ENUM, (schema, value) => typeof value === 'string' && schema.enum.includes(value));
}

/**
 * One of a fixed set of strings: `oneOf(['week', 'month'] as const)`. A custom TypeBox kind so
 * the OpenAPI document (3.0, which has no `const`) shows `{ type: string, enum: [...] }`.
 */
export function oneOf<const T extends readonly string[]>(values: T): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ [Kind]: STRING_ENUM, type: 'string', enum: [...values] });
}

/** The query string of a route that takes none: every parameter is refused. */
export const NoQuery = object({});
/** The body of a route that takes none: absent, empty or `{}`; any property is refused. */
export const NoBody = object({});

// ---------------------------------------------------------------------------------------------
// OpenAPI: the body, query and path parameters from the same schema the route checks.
// ---------------------------------------------------------------------------------------------

/**
 * A TypeBox schema is the OpenAPI schema, as it is. Only the TypeScript types differ (TypeBox types
 * `exclusiveMaximum` as a number, JSON Schema 2019; @nestjs/swagger as OpenAPI 3.0's boolean), and
 * the helpers never set those keywords.
 */
function openApi(schema: TSchema): SchemaObject {
  return schema as unknown as SchemaObject;
}

/** Declares a JSON request body: `@ApiBodySchema(holdSchema)` is `@ApiBody({ schema: holdSchema })`. */
export function ApiBodySchema(schema: TSchema): MethodDecorator {
  return ApiBody({ schema: openApi(schema) });
}

function parameters(schema: TObject): Array<{ name: string; required: boolean; schema: TSchema }> {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties).map(([name, property]) => ({ name, required: required.has(name), schema: property }));
}

/** Declares each property of a query schema as an OpenAPI query parameter. */
export function ApiQuerySchema(schema: TObject): MethodDecorator {
  return applyDecorators(...parameters(schema).map((parameter) => ApiQuery({ name: parameter.name, required: parameter.required, schema: openApi(parameter.schema) })));
}

/** Declares each property of a path-parameter schema as an OpenAPI path parameter. */
export function ApiParamSchema(schema: TObject): MethodDecorator {
  return applyDecorators(...parameters(schema).map((parameter) => ApiParam({ name: parameter.name, required: true, schema: openApi(parameter.schema) })));
}

// ---------------------------------------------------------------------------------------------
// Checking
// ---------------------------------------------------------------------------------------------

const compiled = new WeakMap<TSchema, TypeCheck<TSchema>>();

function checkerOf<T extends TSchema>(schema: T): TypeCheck<T> {
  let checker = compiled.get(schema);
  if (!checker) {
    checker = TypeCompiler.Compile(schema);
    compiled.set(schema, checker);
  }
  return checker as TypeCheck<T>;
}

/** Checks a JSON request body; throws AppError 400 VALIDATION.FAILED listing the problems by path. */
export function parseBody<T extends TSchema>(schema: T, body: unknown): Static<T> {
  // text/plain arrives as a string and text/csv as bytes: neither is a JSON body, and looking
  // at a 32 MB Buffer property by property would be slow.
  if (typeof body === 'string' || body instanceof Uint8Array) {
    throw new AppError('HTTP.UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json', 415);
  }
  return check(schema, body, 'the request body');
}

/** For routes that take no body: nothing, an empty body or `{}`; anything else (`null` too) is refused. */
export function parseNoBody(body: unknown): void {
  if (body === undefined || ((typeof body === 'string' || body instanceof Uint8Array) && body.length === 0)) return;
  parseBody(NoBody, body);
}

/** Checks the query string (`@Query() query`); integers are converted from their decimal text first. */
export function parseQuery<T extends TObject>(schema: T, query: unknown): Static<T> {
  return check(schema, queryValues(schema, query), 'the query string');
}

/** Checks the path parameters (`@Param() params`), converting integers like parseQuery. */
export function parseParams<T extends TObject>(schema: T, params: unknown): Static<T> {
  return check(schema, queryValues(schema, params), 'the path');
}

const DECIMAL_INTEGER = /^-?(0|[1-9][0-9]{0,15})$/;

/**
 * A copy of the parsed query (or path parameters) with the strings of integer properties turned
 * into numbers when they are plain decimal integers; everything else stays as it came, so the
 * check reports it. A repeated parameter arrives as an array and is refused as such.
 */
function queryValues(schema: TObject, query: unknown): unknown {
  if (typeof query !== 'object' || query === null || Array.isArray(query)) return query;
  // Object.fromEntries defines own properties, so even a `__proto__` parameter is kept, and refused.
  return Object.fromEntries(
    Object.entries(query as Record<string, unknown>).map(([name, value]) => {
      const property = Object.hasOwn(schema.properties, name) ? schema.properties[name] : undefined;
      const wantsInteger = property !== undefined && property.type === 'integer';
      return [name, wantsInteger && typeof value === 'string' && DECIMAL_INTEGER.test(value) ? Number(value) : value];
    }),
  );
}

function check<T extends TSchema>(schema: T, value: unknown, what: string): Static<T> {
  const checker = checkerOf(schema);
  if (checker.Check(value)) return value;
  const { issues, truncated } = issuesOf(checker, value);
  const [first] = issues;
  const more = truncated ? ' (and more problems)' : issues.length > 1 ? ` (and ${issues.length - 1} more)` : '';
  throw AppError.badRequest('VALIDATION.FAILED', `${what} is invalid: ${first!.path || 'the value'} ${first!.reason}${more}`, {
    issues,
    ...(truncated ? { truncated: true } : {}),
  });
}

/** The problems of a value that failed its check, at most MAX_REPORTED_ISSUES. */
function issuesOf(checker: TypeCheck<TSchema>, value: unknown): { issues: Issue[]; truncated: boolean } {
  const issues: Issue[] = [];
  const truncated = collect(checker.Errors(value), issues, new Set());
  if (issues.length === 0) issues.push({ path: '', reason: 'is not valid' }); // Cannot happen: Check and Errors agree.
  return { issues, truncated };
}

/** Appends the issues of `errors`; returns true when it stopped at the limit with more left. */
function collect(errors: Iterable<ValueError>, issues: Issue[], required: Set<string>): boolean {
  for (const error of errors) {
    // A missing required property is also visited as `undefined` ("must be a string"): once is enough.
    if (error.value === undefined && required.has(error.path)) continue;
    if (error.type === ValueErrorType.Union) {
      const meant = meantVariant(error);
      if (meant) {
        if (collect(meant, issues, required)) return true;
        continue;
      }
    }
    if (issues.length >= MAX_REPORTED_ISSUES) return true;
    if (error.type === ValueErrorType.ObjectRequiredProperty) required.add(error.path);
    issues.push({ path: boundedPath(error.path), reason: reasonOf(error) });
  }
  return false;
}

/** Paths quote the client's property names, which may be long: an answer stays small. */
const MAX_PATH_CHARS = 200;
/** What jsonb cannot store (the idempotency table keeps the answer) nor a terminal show safely. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNPRINTABLE = /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** The path as quoted in an answer: at most MAX_PATH_CHARS, control characters and lone surrogates as \uXXXX. */
function boundedPath(path: string): string {
  const bounded = path.length <= MAX_PATH_CHARS ? path : `${path.slice(0, MAX_PATH_CHARS)}...`;
  return bounded.replace(UNPRINTABLE, (character) => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Errors that say the value has the wrong type altogether, as opposed to a wrong detail inside it. */
const TYPE_ERRORS = new Set([
  ValueErrorType.Object,
  ValueErrorType.String,
  ValueErrorType.Integer,
  ValueErrorType.Number,
  ValueErrorType.Boolean,
  ValueErrorType.Null,
  ValueErrorType.Array,
  ValueErrorType.Kind,
  ValueErrorType.Literal,
  ValueErrorType.Union,
]);

/**
 * A union (`nullable(object(...))`) failed: the variant whose type the value has is the one the
 * client meant, and its errors name the exact path (`/streakBonus/everydays`). Undefined when no
 * variant has the value's type: the union itself is then reported.
 */
function meantVariant(error: ValueError): ValueError[] | undefined {
  for (const variant of error.errors) {
    const variantErrors: ValueError[] = [];
    for (const inner of variant) {
      variantErrors.push(inner);
      if (variantErrors.length > MAX_REPORTED_ISSUES) break;
    }
    const first = variantErrors[0];
    if (first && !(first.path === error.path && TYPE_ERRORS.has(first.type))) return variantErrors;
  }
  return undefined;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && !Number.isInteger(value)) return Number.isFinite(value) ? 'a fraction' : String(value);
  return typeof value;
}

function describe(schema: TSchema): string {
  if (schema[Kind] === STRING_ENUM) return `one of ${(schema.enum as string[]).join(', ')}`;
  switch (schema.type) {
    case 'object':
      return 'an object';
    case 'array':
      return 'an array';
    case 'integer':
      return 'an integer';
    case 'null':
      return 'null';
    default:
      return typeof schema.type === 'string' ? `a ${schema.type}` : 'valid';
  }
}

function range(schema: TSchema, unit: string, low: string, high: string): string {
  const min = schema[low] as number | undefined;
  const max = schema[high] as number | undefined;
  if (min !== undefined && max !== undefined) return `must have from ${min} to ${max} ${unit}`;
  return min !== undefined ? `must have at least ${min} ${unit}` : `must have at most ${max} ${unit}`;
}

function reasonOf(error: ValueError): string {
  const { schema, value } = error;
  switch (error.type) {
    case ValueErrorType.ObjectAdditionalProperties: {
      const allowed = Object.keys((schema as TObject).properties ?? {});
      return allowed.length === 0
        ? 'is not an allowed property (none are allowed here)'
        : `is not an allowed property (allowed: ${allowed.slice(0, 12).join(', ')}${allowed.length > 12 ? ' ...' : ''})`;
    }
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.StringMinLength:
    case ValueErrorType.StringMaxLength:
      return range(schema, 'characters', 'minLength', 'maxLength');
    case ValueErrorType.StringPattern:
      return schema.pattern === TEXT_PATTERN ? 'must not contain control characters or unpaired surrogates' : `must match ${String(schema.pattern)}`;
    case ValueErrorType.IntegerMinimum:
    case ValueErrorType.IntegerMaximum:
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.NumberMaximum:
      return schema.minimum !== undefined && schema.maximum !== undefined
        ? `must be from ${schema.minimum} to ${schema.maximum}`
        : schema.minimum !== undefined
          ? `must be at least ${schema.minimum}`
          : `must be at most ${schema.maximum}`;
    case ValueErrorType.ArrayMinItems:
    case ValueErrorType.ArrayMaxItems:
      return `${range(schema, 'items', 'minItems', 'maxItems')} (got ${(value as unknown[]).length})`;
    case ValueErrorType.Union:
      return `must be ${(schema.anyOf as TSchema[]).map(describe).join(' or ')} (got ${typeName(value)})`;
    case ValueErrorType.Kind:
      return `must be ${describe(schema)}`;
    case ValueErrorType.String:
      return `must be a string (got ${typeName(value)})`;
    case ValueErrorType.Integer:
      return `must be an integer (got ${typeName(value)})`;
    case ValueErrorType.Object:
      return `must be an object (got ${typeName(value)})`;
    case ValueErrorType.Array:
      return `must be an array (got ${typeName(value)})`;
    case ValueErrorType.Boolean:
      return `must be true or false (got ${typeName(value)})`;
    case ValueErrorType.Null:
      return `must be null (got ${typeName(value)})`;
    default:
      return error.message;
  }
}
