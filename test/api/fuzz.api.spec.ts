import http from 'node:http';
import fc from 'fast-check';
import type { Role } from '../../src/api/common/auth';
import { activateThroughWeChat, startLedgerApp, testNationalId, type LedgerApp } from '../support/ledger-app';

/**
 * Fuzz: malformed requests over every route of the running service, derived from its OpenAPI
 * document (/docs-json), so a new route is fuzzed without touching this file. Half of the
 * requests carry a valid token of a role the route allows (found by probing) and, on writes, a
 * fresh Idempotency-Key, so they reach the validators; the other half have broken credentials.
 *
 * Every request is malformed by construction: wrong types, missing and unknown fields (top-level
 * and nested), oversized strings, huge and fractional numbers, NaN-ish text, bad JSON, wrong
 * content types, invalid UTF-8, BOMs, NUL, unknown and malformed query parameters, bad path
 * parameters, long paths and query strings (kept under Node's 16 KB header limit). Asserted: no
 * answer is a 5xx, every answer >= 400 is `{ code, message, details }`, no malformed JSON write
 * with valid credentials is accepted, and `ul_events` has exactly as many rows afterwards (but for
 * the auditors' access log, see eventCount).
 *
 * FUZZ_REQUESTS (default 10,000) and FUZZ_SEED (default: random, printed) reproduce a run.
 * FUZZ_STRICT=1 also fails on the framework-shaped answers listed in FRAMEWORK_ERRORS.
 */

const REQUESTS = Number(process.env.FUZZ_REQUESTS ?? 10_000);
const SEED = process.env.FUZZ_SEED === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(process.env.FUZZ_SEED);
const STRICT = process.env.FUZZ_STRICT === '1';
/** Requests sent at once: modest, as the service runs in this process on a shared 2-core machine. */
const BATCH = 16;
const BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Answers that Fastify renders itself, before Nest and the app's exception filter see the request,
 * so they come as `{ statusCode, code: 'FST_ERR_...', error, message }`: a percent-encoding that
 * is not UTF-8 in the path, and a path parameter over Fastify's maxParamLength (100). Reported for
 * src/api/http.ts (Fastify's `frameworkErrors` option); counted apart here, and failures with
 * FUZZ_STRICT=1.
 */
const FRAMEWORK_ERRORS = new Set(['FST_ERR_BAD_URL', 'FST_ERR_MAX_PARAM_LENGTH']);

type JsonSchema = {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: string[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
};

interface Operation {
  id: string;
  method: string;
  template: string;
  pathParams: Array<{ name: string; schema: JsonSchema }>;
  queryParams: Array<{ name: string; schema: JsonSchema }>;
  body: 'json' | 'csv' | 'none';
  bodySchema?: JsonSchema;
  write: boolean;
  /** A role the route allows (null: public route), and the roles it forbids. */
  role: Role | null;
  forbidden: Role[];
}

/** What the arbitraries produce; tokens and Idempotency-Keys are filled in when it is sent. */
interface FuzzRequest {
  operation: string;
  method: string;
  path: string;
  auth: 'valid' | { header: string | null } | { role: Role };
  key: 'fresh' | 'missing' | { header: string };
  contentType: string | null;
  body: Buffer | null;
  /** What makes it malformed, for the report. */
  what: string;
}

interface Outcome {
  request: FuzzRequest;
  status: number;
  text: string;
  problem?: string;
}

let app: LedgerApp;
let agent: http.Agent;
const tokens = {} as Record<Role, string>;
let keyCounter = 0;

// ---------------------------------------------------------------------------------------------
// HTTP: the keep-alive client of node:http, which sends bytes exactly as given.
// ---------------------------------------------------------------------------------------------

function send(request: FuzzRequest, options: { token?: string; key?: string } = {}): Promise<{ status: number; text: string }> {
  const url = new URL(app.url);
  const headers: Record<string, string> = {};
  if (request.auth === 'valid') {
    if (options.token) headers.authorization = `Bearer ${options.token}`;
  } else if ('role' in request.auth) {
    headers.authorization = `Bearer ${tokens[request.auth.role]}`;
  } else if (request.auth.header !== null) {
    headers.authorization = request.auth.header;
  }
  if (request.key === 'fresh') headers['idempotency-key'] = options.key ?? `fuzz-${(keyCounter += 1)}`;
  else if (request.key !== 'missing') headers['idempotency-key'] = request.key.header;
  if (request.contentType !== null) headers['content-type'] = request.contentType;
  if (request.body !== null) headers['content-length'] = String(request.body.length);
  const attempt = (retried: boolean): Promise<{ status: number; text: string }> =>
    new Promise((resolve, reject) => {
      const outgoing = http.request(
        { agent, host: url.hostname, port: url.port, method: request.method, path: request.path, headers, timeout: 60_000 },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          response.on('error', reject);
        },
      );
      outgoing.on('timeout', () => outgoing.destroy(new Error('no answer within 60 s')));
      outgoing.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed (its keep-alive timeout) just as this request went
        // out on it: the server never read the request, so sending it once more on a fresh socket
        // is safe (the pattern Node's http documentation gives for request.reusedSocket). Seen
        // on a loaded machine between batches; any other error is the test's.
        if (!retried && outgoing.reusedSocket && error.code === 'ECONNRESET') resolve(attempt(true));
        else reject(error);
      });
      outgoing.end(request.body ?? undefined);
    });
  return attempt(false);
}

function tokenFor(operation: Operation | undefined): string | undefined {
  return operation?.role ? tokens[operation.role] : tokens.member;
}

// ---------------------------------------------------------------------------------------------
// The routes, from the OpenAPI document
// ---------------------------------------------------------------------------------------------

async function loadOperations(): Promise<Operation[]> {
  const response = await fetch(`${app.url}/docs-json`);
  const document = (await response.json()) as {
    paths: Record<string, Record<string, { parameters?: Array<{ name: string; in: string; required?: boolean; schema: JsonSchema }>; requestBody?: { content: Record<string, { schema: JsonSchema }> } }>>;
  };
  const operations: Operation[] = [];
  for (const [template, item] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const parameters = operation.parameters ?? [];
      const content = operation.requestBody?.content ?? {};
      const json = content['application/json'];
      operations.push({
        id: `${method.toUpperCase()} ${template}`,
        method: method.toUpperCase(),
        template,
        pathParams: parameters.filter((parameter) => parameter.in === 'path'),
        queryParams: parameters.filter((parameter) => parameter.in === 'query'),
        body: json ? 'json' : content['text/csv'] ? 'csv' : 'none',
        bodySchema: json?.schema,
        // A write needs an Idempotency-Key, unless the document says the route never records (it answers tokens).
        write: parameters.some((parameter) => parameter.in === 'header' && parameter.name === 'Idempotency-Key' && parameter.required === true),
        role: null,
        forbidden: [],
      });
    }
  }
  return operations;
}

/**
 * The roles each route allows, found the way a client would: a request with an unknown query
 * parameter (refused by every route that checks its query string) from each role; 403
 * AUTH.FORBIDDEN means the role is not allowed; 401 for no token at all means the route is not public.
 */
async function probeRoles(operation: Operation): Promise<void> {
  const probe: FuzzRequest = {
    operation: operation.id,
    method: operation.method,
    path: `${fillPath(operation, () => null)}?fuzz_probe=1`,
    auth: { header: null },
    key: 'fresh',
    contentType: null,
    body: null,
    what: 'probe',
  };
  const anonymous = await send(probe);
  if (anonymous.status !== 401) return; // Public: no role needed.
  for (const role of ['member', 'visitor', 'admin', 'finance', 'auditor', 'merchant'] as const) {
    const answer = await send({ ...probe, auth: { role } });
    const code = (JSON.parse(answer.text) as { code?: string }).code;
    if (answer.status === 403 && code === 'AUTH.FORBIDDEN') operation.forbidden.push(role);
    else operation.role ??= role;
  }
}

// ---------------------------------------------------------------------------------------------
// Valid values from a schema, and ways to break them
// ---------------------------------------------------------------------------------------------

const STRING_CANDIDATES = [
  'js',
  'a1',
  'q-1',
  '1',
  '42',
  'week',
  'A',
  'x',
  // The identity routes' identifiers: a challenge id (UUID), a one-time code, a login key, a username.
  '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
  '123456',
  'f'.repeat(64),
  // A mobile phone (an application to join: /v1/join-applications).
  '13800138000',
  'admin.one',
  // The benefits routes' values: a business day and an instant.
  '2026-01-01',
  '2026-01-01T00:00:00Z',
  // The batches list's cursor: a drafting instant and a batch id.
  '2026-01-01T00:00:00.000Z|batch-1',
  // The campaigns routes' report file: its Monday and a format.
  '2026-01-05.csv',
];

function matches(schema: JsonSchema, value: string): boolean {
  return value.length >= (schema.minLength ?? 0) && value.length <= (schema.maxLength ?? Infinity) && (!schema.pattern || new RegExp(schema.pattern).test(value));
}

/** A valid value of the schema (the fuzzer breaks it somewhere; alone it would be accepted). */
function sample(schema: JsonSchema): unknown {
  if (schema.anyOf) return sample(schema.anyOf.find((variant) => variant.type !== 'null') ?? schema.anyOf[0]!);
  if (schema.enum) return schema.enum[0];
  switch (schema.type) {
    case 'object':
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([name, property]) => [name, sample(property)]));
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => sample(schema.items ?? {}));
    case 'integer':
    case 'number':
      return Math.max(schema.minimum ?? 0, Math.min(1, schema.maximum ?? 1));
    case 'boolean':
      return true;
    case 'null':
      return null;
    case 'string': {
      const found = [...STRING_CANDIDATES, 'x'.repeat(schema.minLength ?? 1), '1'.repeat(schema.minLength ?? 1)].find((candidate) => matches(schema, candidate));
      if (found === undefined) throw new Error(`fuzz: no sample string for ${JSON.stringify(schema)}; add a candidate`);
      return found;
    }
    default:
      return null;
  }
}

/** A raw JSON token put in place of a value when serialising (1e400, NaN ...). */
class Raw {
  constructor(readonly text: string) {}
}

/** Values of the wrong type for a schema: never valid for it. */
function wrongTypes(schema: JsonSchema): fc.Arbitrary<unknown> {
  const nullable = schema.anyOf?.some((variant) => variant.type === 'null') ?? false;
  const type = schema.anyOf ? schema.anyOf.find((variant) => variant.type !== 'null')?.type : schema.type;
  const options: Array<fc.Arbitrary<unknown>> = type === 'boolean' ? [] : [fc.constant(true)];
  if (!nullable) options.push(fc.constant(null));
  if (type !== 'array') options.push(fc.constant([]), fc.constant([1, 'x']));
  if (type !== 'object') options.push(fc.constant({}), fc.constant({ value: 1 }));
  if (type !== 'string') options.push(fc.constantFrom('', '5', 'NaN', 'Infinity', '-Infinity', '1e3', '0x10', 'null', 'true', '１２', 'plain text'));
  if (type !== 'integer' && type !== 'number') options.push(fc.constantFrom(0, -1, 7, 1.5, 1e21));
  if (type === 'integer') options.push(fc.constantFrom(0.5, 1.5, -0.25, 1e-7).map((fraction) => Math.max(schema.minimum ?? 0, 0) + fraction));
  return fc.oneof(...options);
}

/** Values of the right type that break a bound or pattern of the schema (never valid). */
function outOfBounds(schema: JsonSchema): fc.Arbitrary<unknown> | undefined {
  const target = schema.anyOf?.find((variant) => variant.type !== 'null') ?? schema;
  if (target.enum) return fc.constantFrom(...['decade', '', ' ', `${target.enum[0]} `, target.enum[0]!.toUpperCase() + 'X', 'wеek'].filter((value) => !target.enum!.includes(value)));
  switch (target.type) {
    case 'string': {
      const max = target.maxLength ?? 1000;
      const options: Array<fc.Arbitrary<unknown>> = [
        fc.integer({ min: 1, max: 50 }).map((extra) => 'x'.repeat(max + extra)),
        fc.integer({ min: 10_000, max: 50_000 }).map((length) => '工'.repeat(max + length)),
        // Characters no pattern of ours takes: NUL, ESC, an unpaired surrogate.
        fc.constantFrom('\u0000', '\u001b', '\ud800', '\udc00x').map((bad) => `${sample(target) as string}${bad}`.slice(-max)),
      ];
      if ((target.minLength ?? 0) > 0) options.push(fc.constant(''));
      if (target.pattern) {
        const broken = ['a b', 'a/b', '%', '..', '工会', '-x', '\u0000', 'x\ud800', '1.5e3x', ' 1'].filter((candidate) => !matches(target, candidate) && candidate.length <= max);
        if (broken.length > 0) options.push(fc.constantFrom(...broken));
      }
      return fc.oneof(...options);
    }
    case 'integer':
    case 'number': {
      const min = target.minimum ?? 0;
      const max = target.maximum ?? 0;
      return fc.oneof(
        fc.constantFrom(max + 1, min - 1, max * 1000 + 7, -1e15, 2 ** 53, 2 ** 53 + 2, -(2 ** 53), 1e300, -1e300, Number.MAX_VALUE),
        fc.constantFrom('1e400', '-1e400', '1' + '0'.repeat(400), 'NaN', 'Infinity', '-Infinity', '0x10', '01', '.5', '+1', '1.', '1_000', '1e', '--1').map((text) => new Raw(text)),
      );
    }
    case 'array':
      return fc.oneof(
        fc.constant(Array.from({ length: (target.maxItems ?? 10) + 1 }, () => sample(target.items ?? {}))),
        fc.constant(Array.from({ length: 20_000 }, () => 0)),
        ...((target.minItems ?? 0) > 0 ? [fc.constant([])] : []),
      );
    default:
      return undefined;
  }
}

/** Property names a schema object does not have: typos of real ones, odd ones, long ones. */
function unknownNames(schema: JsonSchema): fc.Arbitrary<string> {
  const known = Object.keys(schema.properties ?? {});
  const typos = known.flatMap((name) => [name.toLowerCase(), `${name.slice(0, -1)}`, `${name}s`, name.toUpperCase(), ` ${name}`, `${name}\u0000`]).filter((name) => !known.includes(name) && name !== '');
  return fc
    .oneof(
      ...(typos.length > 0 ? [fc.constantFrom(...typos)] : []),
      fc.constantFrom('maxCont', 'streakbonus', 'constructor', 'toString', 'hasOwnProperty', '', ' ', '$ref', '字段', '\ud800', 'a'.repeat(5000), '__proto__', 'admin'),
      fc.string({ minLength: 1, maxLength: 20 }),
    )
    .filter((name) => !known.includes(name));
}

interface Site {
  pointer: string[];
  schema: JsonSchema;
}

/** Every place in a valid value where something can be broken. */
function sitesOf(schema: JsonSchema, value: unknown, pointer: string[] = []): Site[] {
  const sites: Site[] = [{ pointer, schema }];
  const target = schema.anyOf?.find((variant) => variant.type !== 'null') ?? schema;
  if (target.type === 'object' && value && typeof value === 'object') {
    for (const [name, property] of Object.entries(target.properties ?? {})) sites.push(...sitesOf(property, (value as Record<string, unknown>)[name], [...pointer, name]));
  }
  if (target.type === 'array' && Array.isArray(value) && value.length > 0) sites.push(...sitesOf(target.items ?? {}, value[0], [...pointer, '0']));
  return sites;
}

type Edit = { kind: string; apply: (root: unknown) => unknown };

function at(root: unknown, pointer: string[]): unknown {
  return pointer.reduce<unknown>((node, name) => (node as Record<string, unknown>)[name], root);
}

function replaceAt(root: unknown, pointer: string[], value: unknown): unknown {
  if (pointer.length === 0) return value;
  const parent = at(root, pointer.slice(0, -1)) as Record<string, unknown>;
  parent[pointer[pointer.length - 1]!] = value;
  return root;
}

/** Breaks a valid body at one site so that the whole is invalid for its schema. */
function edits(site: Site): fc.Arbitrary<Edit> {
  const target = site.schema.anyOf?.find((variant) => variant.type !== 'null') ?? site.schema;
  const where = `/${site.pointer.join('/')}`;
  const options: Array<fc.Arbitrary<Edit>> = [wrongTypes(site.schema).map((value) => ({ kind: `wrong type at ${where}`, apply: (root) => replaceAt(root, site.pointer, value) }))];
  const bounds = outOfBounds(site.schema);
  if (bounds) options.push(bounds.map((value) => ({ kind: `out of bounds at ${where}`, apply: (root) => replaceAt(root, site.pointer, value) })));
  if (target.type === 'object') {
    options.push(
      fc.tuple(unknownNames(target), fc.oneof(fc.constant<unknown>(1), fc.constant<unknown>('x'), fc.constant<unknown>(null), fc.constant<unknown>({ nested: { deeper: [1] } }))).map(([name, value]) => ({
        kind: `unknown property ${JSON.stringify(name.slice(0, 40))} at ${where}`,
        apply: (root) => {
          Object.defineProperty(at(root, site.pointer), name, { value, enumerable: true, configurable: true, writable: true });
          return root;
        },
      })),
    );
    const required = target.required ?? [];
    if (required.length > 0) {
      options.push(
        fc.constantFrom(...required).map((name) => ({
          kind: `missing ${where}/${name}`,
          apply: (root) => {
            delete (at(root, site.pointer) as Record<string, unknown>)[name];
            return root;
          },
        })),
      );
    }
  }
  return fc.oneof(...options);
}

/** JSON text with Raw tokens written as they are. */
function serialise(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, item: unknown) => {
    if (item instanceof Raw) {
      raws.push(item.text);
      return `\u0001raw${raws.length - 1}\u0001`;
    }
    return item;
  });
  return text.replace(/"\\u0001raw(\d+)\\u0001"/g, (_match, index: string) => raws[Number(index)]!);
}

// ---------------------------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------------------------

/** Bytes that are not UTF-8: lone continuation bytes, an overlong '/', a truncated sequence, 0xFF. */
const INVALID_UTF8 = [Buffer.from([0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from([0xe5, 0xb7]), Buffer.from([0xff, 0xfe]), Buffer.from([0xed, 0xa0, 0x80])];
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/** Noise on the bytes of a body that is already malformed: invalid UTF-8 inside, a BOM, a NUL, UTF-16. */
const byteNoise: fc.Arbitrary<{ kind: string; apply: (bytes: Buffer) => Buffer }> = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ kind: '', apply: (bytes: Buffer) => bytes }) },
  fc.constant({ kind: ' +BOM', apply: (bytes: Buffer) => Buffer.concat([BOM, bytes]) }),
  fc.tuple(fc.constantFrom(...INVALID_UTF8), fc.double({ min: 0, max: 1, noNaN: true })).map(([bad, where]) => ({
    kind: ` +invalid UTF-8 ${bad.toString('hex')}`,
    apply: (bytes: Buffer) => {
      // Inside the first property name when there is one: the parser reads it as U+FFFD, so the name is
      // unknown (inside a value it could lengthen a string the edit had made too short). Else anywhere.
      const position = bytes.subarray(0, 2).toString('latin1') === '{"' ? 2 : Math.floor(where * bytes.length);
      return Buffer.concat([bytes.subarray(0, position), bad, bytes.subarray(position)]);
    },
  })),
  fc.constant({ kind: ' +NUL', apply: (bytes: Buffer) => Buffer.concat([bytes.subarray(0, 1), Buffer.from([0]), bytes.subarray(1)]) }),
  fc.constant({ kind: ' as UTF-16LE', apply: (bytes: Buffer) => Buffer.from(bytes.toString('utf8'), 'utf16le') }),
);

/** Text that is not one JSON value; never valid, whatever the route. */
function badJson(valid: string): fc.Arbitrary<{ kind: string; text: string }> {
  const notJson = (text: string): boolean => {
    try {
      JSON.parse(text.replace(/^\ufeff/, '')); // Fastify's parser drops one BOM.
      return false;
    } catch {
      return true;
    }
  };
  return fc.oneof(
    fc.integer({ min: 0, max: Math.max(0, valid.length - 1) }).map((cut) => ({ kind: 'truncated JSON', text: valid.slice(0, cut) })),
    fc.constantFrom(
      `${valid},`,
      `${valid}}`,
      `${valid}${valid}`,
      `${valid} x`,
      valid.replace(/"/g, "'"),
      valid.replace(/"([^"]+)":/, '$1:'),
      `/* c */${valid}`,
      valid.replace(/}$/, ',}'),
      '{',
      '[',
      '"',
      'undefined',
      'NaN',
      '{"a":1e}',
      '{"a":\u0000}',
      `{"a":"${'\u0000'}"}`,
      '\ufeff\ufeff{}',
    )
      .filter(notJson)
      .map((text) => ({ kind: 'bad JSON', text })),
    // JSON, but refused all the same: '{"__proto__": ...}' by the parser, the rest by the schemas.
    fc.constantFrom('{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}').map((text) => ({ kind: 'prototype keys', text })),
    fc.integer({ min: 2000, max: 30_000 }).map((depth) => ({ kind: `nested ${depth} deep`, text: `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}` })),
    fc.integer({ min: 2000, max: 30_000 }).map((depth) => ({ kind: `nested ${depth} deep (root)`, text: `${'['.repeat(depth)}${']'.repeat(depth)}` })),
  );
}

/** Content types without a JSON parser, each with a non-empty body. */
const WRONG_CONTENT_TYPES = ['application/xml', 'text/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/octet-stream', 'text/plain', 'text/plain; charset=utf-8', 'image/png', 'application/vnd.api+json', 'application/json-patch+json', 'json', '*/*'];
/** Ways to write the JSON content type; the body they come with is malformed anyway. */
const JSON_CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'application/json;charset=UTF-8', 'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/json ; x=y'];

/** Percent-encodes UTF-8 bytes (encodeURIComponent throws on an unpaired surrogate). */
function encodeSegment(value: string): string {
  return [...Buffer.from(value, 'utf8')].map((byte) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(byte)) ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}

/** The path with its parameters: valid ones, or the one `broken` gives. */
function fillPath(operation: Operation, broken: (name: string) => string | null): string {
  return operation.template.replace(/\{([^}]+)\}/g, (_match, name: string) => {
    const parameter = operation.pathParams.find((candidate) => candidate.name === name)!;
    return broken(name) ?? encodeSegment(sample(parameter.schema) as string);
  });
}

/** Breaks a path parameter: too long, a character outside its pattern, bytes that are not UTF-8. */
function brokenPathValue(schema: JsonSchema): fc.Arbitrary<{ kind: string; raw: string }> {
  const max = schema.maxLength ?? 64;
  return fc.oneof(
    ...(max < 100 ? [fc.integer({ min: max + 1, max: Math.min(max + 40, 100) }).map((length) => ({ kind: 'path parameter too long', raw: 'a'.repeat(length) }))] : []),
    fc.integer({ min: Math.max(101, max + 1), max: 3000 }).map((length) => ({ kind: 'path parameter over 100 characters', raw: 'b'.repeat(length) })),
    fc.constantFrom('a%20b', '%00', '..', '.', '%2e%2e', 'a%2Fb', '%E5%B7%A5%E4%BC%9A', 'a%3Cscript%3E', '-x', 'x%0A', 'a;b', 'a%25').map((raw) => ({ kind: `path parameter ${raw}`, raw })),
    fc.constantFrom('%FF', '%C0%AF', '%E5%B7', '%', '%zz', '%ED%A0%80').map((raw) => ({ kind: `path parameter ${raw} (not UTF-8)`, raw })),
  );
}

/** A query string that is never accepted: an unknown parameter, or a declared one broken. */
function brokenQuery(operation: Operation): fc.Arbitrary<{ kind: string; query: string }> {
  const options: Array<fc.Arbitrary<{ kind: string; query: string }>> = [
    fc.tuple(fc.constantFrom('fuzz', 'limt', 'verbose', 'debug', '__proto__', 'constructor', 'x[y]', '%FF', '%00', 'a%20b', '%E5%B7%A5', ''), fc.constantFrom('1', '', 'true', '%FF', 'x'.repeat(4000))).map(([name, value]) => ({
      kind: `unknown query parameter ${name.slice(0, 20)}`,
      query: `${name === '' ? 'fuzz' : name}=${value}`,
    })),
    fc.integer({ min: 500, max: 3000 }).map((length) => ({ kind: `long query string (${length * 3})`, query: `q=${'%41'.repeat(length)}` })),
  ];
  for (const parameter of operation.queryParams) {
    // Query values are text: a wrong type is text that is not a number where one is wanted.
    const wrongText = parameter.schema.type === 'string' ? [] : [fc.constantFrom('', 'NaN', 'Infinity', '1e3', '0x10', 'true', 'null', '１２', 'plain text')];
    const bad = fc.oneof(
      ...wrongText,
      outOfBounds(parameter.schema)?.map((value) => (value instanceof Raw ? value.text : typeof value === 'string' ? value : JSON.stringify(value))) ?? fc.constant('x'),
      fc.constantFrom('%FF', '%00', '1%00', '1.0', '1e1', ' 1', '١', '0x1', '-0', '00001000'),
    );
    options.push(
      // Within reason: 600 characters percent-encode to at most 5.4 KB, under Node's 16 KB for the request head.
      bad.map((value) => String(value).slice(0, 600)).filter((value) => value !== String(sample(parameter.schema))).map((value) => ({
        kind: `query ${parameter.name}=${String(value).slice(0, 20)}`,
        query: `${parameter.name}=${/%[0-9A-Fa-f]{2}/.test(String(value)) ? String(value) : encodeSegment(String(value))}`,
      })),
      fc.constant({ kind: `query ${parameter.name} twice`, query: `${parameter.name}=${encodeSegment(String(sample(parameter.schema)))}&${parameter.name}=${encodeSegment(String(sample(parameter.schema)))}` }),
    );
  }
  return fc.oneof(...options);
}

/** A well-formed query string for the route (its declared parameters, valid), or none. */
function validQuery(operation: Operation): string {
  return operation.queryParams.map((parameter) => `${parameter.name}=${encodeSegment(String(sample(parameter.schema)))}`).join('&');
}

/** The body part of a request, malformed (`breaks`) or, when something else breaks it, possibly valid. */
function bodies(operation: Operation, breaks: boolean): fc.Arbitrary<{ kind: string; contentType: string | null; body: Buffer | null }> {
  const json = (kind: string, text: string | Buffer, contentType: string | null = 'application/json') => ({ kind, contentType, body: Buffer.isBuffer(text) ? text : Buffer.from(text, 'utf8') });
  type Part = { kind: string; contentType: string | null; body: Buffer | null };
  // Weighted towards bodies that parse and reach the schema; the rest stop earlier (parser, limits).
  const options: Array<fc.WeightedArbitrary<Part>> = [];
  const add = (weight: number, arbitrary: fc.Arbitrary<Part>) => options.push({ weight, arbitrary });
  const valid = operation.body === 'json' ? serialise(sample(operation.bodySchema!)) : '{}';

  if (operation.body === 'json') {
    const baseline = sample(operation.bodySchema!);
    const sites = sitesOf(operation.bodySchema!, baseline);
    add(
      30,
      fc
        .tuple(fc.constantFrom(...sites.map(edits)).chain((edit) => edit), fc.constantFrom(...JSON_CONTENT_TYPES), byteNoise)
        .map(([edit, contentType, noise]) => json(`${edit.kind}${noise.kind}`, noise.apply(Buffer.from(serialise(edit.apply(structuredClone(baseline))), 'utf8')), contentType)),
    );
  } else if (operation.body === 'none') {
    // Any field is unknown here; null, {} and an empty body are what "no body" may look like.
    add(20, fc.tuple(unknownNames({}), fc.constantFrom<unknown>(1, 'x', true, { a: 1 })).map(([name, value]) => json(`unknown property ${JSON.stringify(name.slice(0, 40))}`, serialise({ [name]: value }))));
    add(10, fc.constantFrom('[]', '[1]', '0', '"x"', 'true', 'null').map((text) => json(`body ${text} where none is taken`, text)));
  } else {
    // Roster files whose header never names the columns: nothing in them can be imported.
    add(
      10,
      fc
        .tuple(fc.array(fc.string({ minLength: 1, maxLength: 12 }).map((name) => `fuzz_${name.replace(/[,\r\n"]/g, '')}`), { minLength: 1, maxLength: 4 }), fc.array(fc.string({ maxLength: 40 }), { maxLength: 20 }), byteNoise)
        .map(([header, rows, noise]) => json(`CSV without the columns${noise.kind}`, noise.apply(Buffer.from([header.join(','), ...rows].join('\n'), 'utf8')), 'text/csv')),
    );
    add(5, fc.constantFrom('', '\ufeff', 'id,name\n', '"unterminated\n').map((text) => json('CSV empty or cut', text, 'text/csv')));
    add(5, fc.uint8Array({ minLength: 1, maxLength: 2000 }).map((bytes) => json('CSV of random bytes', Buffer.concat([Buffer.from('fuzz\n'), Buffer.from(bytes)]), 'text/csv')));
    add(5, fc.constant(json('JSON to a CSV route', '{"rows":[]}')));
  }
  if (operation.write) {
    add(8, fc.tuple(badJson(valid), fc.constantFrom(...JSON_CONTENT_TYPES), byteNoise).map(([bad, contentType, noise]) => json(`${bad.kind}${noise.kind}`, noise.apply(Buffer.from(bad.text, 'utf8')), contentType)));
    add(4, fc.constantFrom(...WRONG_CONTENT_TYPES.filter((type) => !(operation.body === 'csv' && type.startsWith('text/plain')))).map((contentType) => json(`content type ${contentType}`, valid, contentType)));
    add(1, fc.constant(json('empty body with a JSON content type', '', 'application/json')));
    add(1, fc.constant(json(`body over ${BODY_LIMIT_BYTES} bytes`, `{"a":"${'x'.repeat(BODY_LIMIT_BYTES + 1000)}"}`)));
  }
  if (!breaks) {
    // Another part of the request is broken: the body may be anything, valid included.
    add(20, fc.constant(operation.body === 'json' ? json('valid body', valid) : { kind: '', contentType: null, body: null }));
    if (!operation.write) add(2, fc.constant(json('body on a GET', valid)));
  }
  return fc.oneof(...options);
}

/** A malformed request to one route. */
function requests(operation: Operation): fc.Arbitrary<FuzzRequest> {
  const base = (what: string, path: string, query: string, body: { contentType: string | null; body: Buffer | null }, auth: FuzzRequest['auth'], key: FuzzRequest['key']): FuzzRequest => {
    const request: FuzzRequest = { operation: operation.id, method: operation.method, path: query ? `${path}?${query}` : path, auth, key, contentType: body.contentType, body: body.body, what };
    // fast-check prints counterexamples with this: short, where the bodies and paths can be megabytes.
    return Object.assign(request, { [fc.toStringMethod]: () => `${request.method} ${request.path.slice(0, 80)} (${what.slice(0, 80)})` });
  };
  const validPath = fillPath(operation, () => null);
  const freshKey: FuzzRequest['key'] = operation.write ? 'fresh' : 'missing';

  // What breaks the request (with valid credentials, so the validators see it).
  // A CSV route's validator sees the query alone (the file is the importer's to check, with codes
  // of its own): more broken queries there, or one run in eight or so never reached it in ~70 requests.
  const queryWeight = operation.body === 'csv' ? 30 : 3;
  const breakers: Array<fc.WeightedArbitrary<FuzzRequest>> = [
    { weight: queryWeight, arbitrary: fc.tuple(brokenQuery(operation), bodies(operation, false)).map(([query, body]) => base(`${query.kind}; ${body.kind}`, validPath, query.query, body, 'valid', freshKey)) },
  ];
  if (operation.pathParams.length > 0) {
    const parameter = operation.pathParams[0]!;
    breakers.push({
      weight: 2,
      arbitrary: fc.tuple(brokenPathValue(parameter.schema), bodies(operation, false)).map(([broken, body]) =>
        base(`${broken.kind}; ${body.kind}`, fillPath(operation, (name) => (name === parameter.name ? broken.raw : null)), validQuery(operation), body, 'valid', freshKey),
      ),
    });
  }
  if (operation.write || operation.body !== 'none') {
    breakers.push({ weight: 8, arbitrary: bodies(operation, true).map((body) => base(body.kind, validPath, validQuery(operation), body, 'valid', freshKey)) });
  }
  if (operation.write) {
    breakers.push({
      weight: 1,
      arbitrary: fc
        .tuple(fc.constantFrom<FuzzRequest['key']>('missing', { header: 'has space' }, { header: 'k'.repeat(201) }, { header: 'ключ' .replace(/./g, 'x') + '/' }, { header: '' }), bodies(operation, false))
        .map(([key, body]) => base(`bad Idempotency-Key; ${body.kind}`, validPath, validQuery(operation), body, 'valid', key)),
    });
  }
  // The path itself: a trailing slash, a doubled one, another case, a very long tail.
  breakers.push({
    weight: 1,
    arbitrary: fc.constantFrom(`${validPath}/`, `/${validPath}`, validPath.toUpperCase(), `${validPath}/${'x'.repeat(3000)}`, `${validPath}%00`, `${validPath}/..`).map((path) =>
      base(`odd path ${path.slice(0, 40)}`, path, '', { contentType: null, body: null }, 'valid', freshKey),
    ),
  });

  // Broken credentials: the request may otherwise be anything.
  const badAuth: Array<fc.Arbitrary<FuzzRequest['auth']>> = [
    fc.constantFrom<FuzzRequest['auth']>(
      { header: null },
      { header: 'Bearer' },
      { header: 'Bearer ' },
      { header: 'Bearer a.b.c' },
      { header: 'Basic dXNlcjpwYXNz' },
      { header: `Bearer ${'x'.repeat(5000)}` },
      { header: 'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIiwib3JnIjoianMifQ.' },
    ),
    fc.constant(null).map(() => ({ header: `Bearer ${tamper(tokenFor(operation) ?? tokens.member)}` })),
  ];
  if (operation.forbidden.length > 0) badAuth.push(fc.constantFrom(...operation.forbidden).map((role) => ({ role })));
  const unauthorised = fc
    .tuple(fc.oneof(...badAuth), fc.oneof(bodies(operation, false), bodies(operation, true)), fc.oneof(fc.constant(validQuery(operation)), brokenQuery(operation).map((query) => query.query)))
    .map(([auth, body, query]) => base(`bad credentials; ${body.kind}`, validPath, query, body, auth, freshKey));

  return operation.role === null && !operation.write ? fc.oneof(...breakers) : fc.oneof({ weight: 1, arbitrary: fc.oneof(...breakers) }, { weight: 1, arbitrary: unauthorised });
}

/**
 * A valid token with the first character of its signature changed (the last one would not do:
 * its low bits are padding, so some changes decode to the same signature).
 */
function tamper(token: string): string {
  const [header, claims, signature] = token.split('.') as [string, string, string];
  return `${header}.${claims}.${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
}

// ---------------------------------------------------------------------------------------------
// Checking the answers
// ---------------------------------------------------------------------------------------------

function problemOf(request: FuzzRequest, operation: Operation, status: number, text: string): string | undefined {
  if (status >= 500 || status < 100) return `answered ${status}`;
  if (status >= 400) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return `answered ${status} with a body that is not JSON: ${text.slice(0, 200)}`;
    }
    const record = body as Record<string, unknown>;
    if (!STRICT && typeof record.code === 'string' && FRAMEWORK_ERRORS.has(record.code)) return undefined;
    const shaped =
      typeof body === 'object' &&
      body !== null &&
      Object.keys(record).sort().join(',') === 'code,details,message' &&
      typeof record.code === 'string' &&
      typeof record.message === 'string' &&
      typeof record.details === 'object' &&
      record.details !== null &&
      !Array.isArray(record.details);
    if (!shaped) return `answered ${status} without the { code, message, details } shape: ${text.slice(0, 200)}`;
    return undefined;
  }
  // A JSON write with valid credentials is malformed by construction: accepting it is a hole.
  if (request.auth === 'valid' && operation.write && operation.body !== 'csv') return `accepted with ${status}`;
  return undefined;
}

function describeOutcome(outcome: Outcome): string {
  const { request } = outcome;
  const body = request.body === null ? '(none)' : request.body.length > 300 ? `${request.body.length} bytes, starting ${JSON.stringify(request.body.subarray(0, 120).toString('latin1'))}` : JSON.stringify(request.body.toString('latin1'));
  return [
    `${outcome.problem}`,
    `  request: ${request.method} ${request.path.slice(0, 300)}`,
    `  malformed by: ${request.what}`,
    `  auth: ${JSON.stringify(request.auth).slice(0, 120)}, key: ${JSON.stringify(request.key).slice(0, 60)}, content-type: ${request.contentType}`,
    `  body: ${body}`,
    `  answer: ${outcome.status} ${outcome.text.slice(0, 400)}`,
  ].join('\n');
}

/**
 * Events stored, but for the auditors' access log: an auditor's read is recorded as `AuditorRead`
 * before it is answered, whatever it finds, so a request the fuzzer happens to make well-formed
 * for an audit route rightly leaves one (test/api/audit.api.spec.ts checks those records).
 */
async function eventCount(): Promise<number> {
  const { count } = await app.database.db.one<{ count: string }>("SELECT count(*) FROM ul_events WHERE event_type <> 'AuditorRead'");
  return Number(count);
}

// ---------------------------------------------------------------------------------------------

let operations: Operation[];
let eventsBefore: number;

beforeAll(async () => {
  app = await startLedgerApp();
  agent = new http.Agent({ keepAlive: true, maxSockets: BATCH });
  const system = { type: 'system', id: 'fuzz-setup' };
  for (const [orgId, parentId, level] of [
    ['js', null, 'province'],
    ['js-nj', 'js', 'city'],
    ['u-a', 'js-nj', 'grassroots'],
  ] as const) {
    await app.ledger.orgs.registerOrganisation({ orgId, name: `Union ${orgId}`, parentId, level }, { commandId: `org:${orgId}`, actor: system });
  }
  await app.ledger.catchUpReadModels();
  const nationalId = testNationalId(77);
  const idHmac = app.ledger.vault.idHmac(nationalId);
  const memberId = app.ledger.vault.memberIdFor(idHmac);
  const piiCipher = await app.ledger.vault.seal(memberId, { idNumber: nationalId, phone: '13800138000' });
  await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'u-a', name: '模糊', idHmac, piiCipher }, { commandId: `enrol:${idHmac}`, actor: system });
  // Fixtures the routes act on: an active member with points and a hold, a quiz, the rules, an admitted merchant.
  await activateThroughWeChat(app, { user: 'fuzz', nationalId, name: '模糊', phone: '13800138000' });
  tokens.member = await app.token(memberId, 'member', 'u-a');
  tokens.visitor = await app.token('f'.repeat(64), 'visitor', '-');
  tokens.admin = await app.token('admin-js', 'admin', 'js');
  tokens.finance = await app.token('finance-js', 'finance', 'js');
  tokens.auditor = await app.token('auditor-1', 'auditor', 'js');
  // A merchant's terminal: its org is an admitted merchant, signed by u-a.
  const applied = await app.ledger.benefits.applyMerchant(
    { sub: 'admin-js', role: 'admin', org: 'js' },
    { merchantId: 'fuzz-shop', name: '模糊商户', category: 'supermarket', signingOrgId: 'u-a', bankCard: '6222021234567890128' },
    'setup-merchant',
  );
  await app.ledger.benefits.approve({ sub: 'finance-js', role: 'finance', org: 'js' }, applied.proposal.proposalId, 'setup-admission');
  tokens.merchant = await app.token('terminal-1', 'merchant', 'fuzz-shop');
  const setup = async (method: string, route: string, token: string, body?: unknown) => {
    const answer = await app.call(method, route, { token, key: `setup-${(keyCounter += 1)}`, body });
    expect(answer.status).toBeLessThan(300);
  };
  await setup('POST', '/v1/me/holds', tokens.member, { points: 10, purpose: 'mall', expiresInSeconds: 3600 });
  await setup('POST', '/v1/admin/quizzes', tokens.admin, { quizId: 'q-1', question: '?', options: ['A', 'B'], correctAnswer: 'A' });
  await setup('GET', '/v1/admin/earning-rules', tokens.admin);
  await app.ledger.catchUpReadModels();

  eventsBefore = await eventCount();
  operations = await loadOperations();
  for (const operation of operations) await probeRoles(operation);
}, 120_000);

afterAll(async () => {
  agent?.destroy();
  await app?.close();
});

describe(`fuzz (FUZZ_SEED=${SEED}, FUZZ_REQUESTS=${REQUESTS})`, () => {
  it('answers malformed requests on every route with a 4xx in the error shape and stores no event', async () => {
    const started = performance.now();
    const byOperation = new Map(operations.map((operation) => [operation.id, operation]));
    const statuses = new Map<number, number>();
    const perOperation = new Map<string, { sent: number; validation: number }>(operations.map((operation) => [operation.id, { sent: 0, validation: 0 }]));
    let frameworkShaped = 0;
    let sent = 0;

    // Each route's arbitrary is built once: building it samples schemas and allocates the large bodies.
    const perRoute = new Map(operations.map((operation) => [operation.id, requests(operation)]));
    const request = fc.constantFrom(...operations).chain((operation) => perRoute.get(operation.id)!);
    await fc.assert(
      fc.asyncProperty(fc.array(request, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
        const outcomes = await Promise.all(
          batch.map(async (fuzzRequest): Promise<Outcome> => {
            const operation = byOperation.get(fuzzRequest.operation)!;
            let answer: { status: number; text: string };
            try {
              answer = await send(fuzzRequest, { token: tokenFor(operation) });
            } catch (error) {
              answer = { status: 0, text: `no answer: ${(error as Error).message}` };
            }
            return { request: fuzzRequest, ...answer, problem: problemOf(fuzzRequest, operation, answer.status, answer.text) };
          }),
        );
        for (const outcome of outcomes) {
          sent += 1;
          statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1);
          const counts = perOperation.get(outcome.request.operation)!;
          counts.sent += 1;
          if (outcome.text.includes('"VALIDATION.FAILED"')) counts.validation += 1;
          if (/"code":"FST_ERR_/.test(outcome.text)) frameworkShaped += 1;
        }
        const failed = outcomes.filter((outcome) => outcome.problem !== undefined);
        if (failed.length > 0) throw new Error(`${failed.length} answer(s) broke the contract:\n${failed.map(describeOutcome).join('\n')}`);
      }),
      { numRuns: Math.ceil(REQUESTS / BATCH), seed: SEED, endOnFailure: true },
    );

    const seconds = (performance.now() - started) / 1000;
    const eventsAfter = await eventCount();
    const summary = [
      `fuzz: ${sent} requests over ${operations.length} routes in ${seconds.toFixed(1)} s (seed ${SEED})`,
      `  by status: ${[...statuses.entries()].sort(([a], [b]) => a - b).map(([status, count]) => `${status}: ${count}`).join(', ')}`,
      `  framework-shaped answers (FST_ERR_*, reported for http.ts): ${frameworkShaped}`,
      ...[...perOperation.entries()].map(([id, counts]) => `  ${id} (as ${byOperation.get(id)!.role ?? 'anyone'}): ${counts.sent} sent, ${counts.validation} VALIDATION.FAILED`),
      `  ul_events: ${eventsBefore} before, ${eventsAfter} after`,
    ].join('\n');
    console.log(summary);

    expect(eventsAfter).toBe(eventsBefore);
    expect(sent).toBeGreaterThanOrEqual(REQUESTS);
    // Every route was fuzzed, and every one that checks its input was reached by the malformed requests.
    for (const operation of operations) {
      const counts = perOperation.get(operation.id)!;
      expect({ route: operation.id, fuzzed: counts.sent >= REQUESTS / operations.length / 3 }).toEqual({ route: operation.id, fuzzed: true });
      if (operation.template !== '/health') expect({ route: operation.id, reachedValidation: counts.validation > 0 }).toEqual({ route: operation.id, reachedValidation: true });
    }
  }, 300_000);
});
