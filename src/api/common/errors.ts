import { Catch, HttpException, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ConcurrencyError, EventIdConflictError, EventStoreValidationError } from '../../eventstore/errors';
import { DependencyUnavailableError, postgresOutage } from '../../infra/outage';

/**
 * Every error the API answers is `{ code, message, details }`: `code` is stable and clients switch
 * on it (`POINTS.INSUFFICIENT`), `message` is for people, `details` carries the facts (which field,
 * which stream). Bad input is a 4xx, never a 500; a 500 never shows internals.
 */
export interface ErrorBody {
  code: string;
  message: string;
  details: Record<string, unknown>;
}

/** An operating error raised by the API layer itself, with the HTTP status it answers with. */
export class AppError extends Error {
  readonly details: Record<string, unknown>;

  constructor(
    readonly code: string,
    message: string,
    readonly status: number,
    details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
    this.details = details;
  }

  static badRequest(code: string, message: string, details?: Record<string, unknown>): AppError {
    return new AppError(code, message, 400, details);
  }
  static unauthorized(code: string, message: string, details?: Record<string, unknown>): AppError {
    return new AppError(code, message, 401, details);
  }
  static forbidden(code: string, message: string, details?: Record<string, unknown>): AppError {
    return new AppError(code, message, 403, details);
  }
  static notFound(code: string, message: string, details?: Record<string, unknown>): AppError {
    return new AppError(code, message, 404, details);
  }
  static conflict(code: string, message: string, details?: Record<string, unknown>): AppError {
    return new AppError(code, message, 409, details);
  }
  static unprocessable(code: string, message: string, details?: Record<string, unknown>): AppError {
    return new AppError(code, message, 422, details);
  }
}

/** The client went away before its request was complete: nothing to answer, and nothing wrong here. */
export class ClientAbortError extends Error {
  constructor(readonly receivedBytes: number) {
    super(`the client closed the connection after ${receivedBytes} bytes of the body`);
    this.name = 'ClientAbortError';
  }
}

/**
 * What domain errors carry so the API can answer them without importing the domain's classes:
 * a stable code (`POINTS.INSUFFICIENT`) and the HTTP status that fits (422, 409, 404 ...).
 */
export interface CodedError {
  code: string;
  httpStatus: number;
  message?: string;
  details?: Record<string, unknown>;
}

/**
 * Stable codes are UPPER_SNAKE segments joined by dots, with a domain prefix (`POINTS.`,
 * `BUDGET.`, `MEMBER.`). The shape is what tells a domain error from a library's: Node's
 * `ECONNREFUSED` and PostgreSQL's `23505` also have a `code`, and are never rendered with it
 * (a PostgreSQL that cannot be reached is 503 SERVICE.UNAVAILABLE, anything else a 500).
 */
const STABLE_CODE = /^[A-Z][A-Z0-9_]*(\.[A-Z0-9_]+)+$/;

/** Infrastructure prefixes a domain error must not borrow: their meaning is fixed by this layer. */
const RESERVED_PREFIXES = ['HTTP.', 'AUTH.', 'IDEMPOTENCY.', 'INTERNAL'];

export function isCodedError(value: unknown): value is CodedError {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<CodedError>;
  return (
    typeof candidate.code === 'string' &&
    candidate.code.length <= 100 &&
    STABLE_CODE.test(candidate.code) &&
    !RESERVED_PREFIXES.some((prefix) => candidate.code!.startsWith(prefix)) &&
    typeof candidate.httpStatus === 'number' &&
    Number.isInteger(candidate.httpStatus) &&
    candidate.httpStatus >= 400 &&
    candidate.httpStatus <= 599
  );
}

/** Codes for the HTTP-level failures Nest and Fastify raise before a handler runs. */
const HTTP_CODES: Record<number, string> = {
  400: 'HTTP.BAD_REQUEST',
  401: 'HTTP.UNAUTHORIZED',
  403: 'HTTP.FORBIDDEN',
  404: 'HTTP.NOT_FOUND',
  405: 'HTTP.METHOD_NOT_ALLOWED',
  406: 'HTTP.NOT_ACCEPTABLE',
  408: 'HTTP.REQUEST_TIMEOUT',
  409: 'HTTP.CONFLICT',
  413: 'HTTP.PAYLOAD_TOO_LARGE',
  414: 'HTTP.URI_TOO_LONG',
  415: 'HTTP.UNSUPPORTED_MEDIA_TYPE',
  422: 'HTTP.UNPROCESSABLE_ENTITY',
  429: 'HTTP.TOO_MANY_REQUESTS',
  431: 'HTTP.HEADERS_TOO_LARGE',
  503: 'HTTP.SERVICE_UNAVAILABLE',
};

/** Messages of client errors are capped: they may quote the request, and a response is bounded. */
const MAX_MESSAGE_CHARS = 300;

function plainDetails(details: unknown): Record<string, unknown> {
  return typeof details === 'object' && details !== null && !Array.isArray(details) ? (details as Record<string, unknown>) : {};
}

export interface RenderedError {
  status: number;
  body: ErrorBody;
  /** True for errors the client caused (4xx): a retry with the same input gets the same answer. */
  deterministic: boolean;
}

/**
 * Maps any thrown value to the status and body the client sees. Returns undefined for what is not
 * a known operating error, which the caller answers with a generic 500. Shared by the exception
 * filter and the idempotency interceptor, so a replayed error is byte-identical to the first.
 */
export function renderKnownError(error: unknown): RenderedError | undefined {
  // A database that is down or out of reach: the client should retry later (Retry-After), and
  // nothing about its request is wrong. Checked first, as its errors carry codes of their own.
  const outage = isClientAbort(error) ? undefined : postgresOutage(error);
  if (outage) {
    return { status: 503, body: { code: outage.code, message: outage.message, details: outage.details }, deterministic: false };
  }
  if (error instanceof AppError) {
    return { status: error.status, body: { code: error.code, message: error.message, details: error.details }, deterministic: error.status < 500 };
  }
  if (error instanceof EventStoreValidationError) {
    return { status: 400, body: { code: error.code, message: error.message, details: error.details }, deterministic: true };
  }
  if (error instanceof ConcurrencyError) {
    // A lost optimistic race is transient: the same request may well succeed when retried.
    return { status: 409, body: { code: error.code, message: error.message, details: error.details }, deterministic: false };
  }
  if (error instanceof EventIdConflictError) {
    return { status: 409, body: { code: error.code, message: error.message, details: error.details }, deterministic: true };
  }
  if (isCodedError(error)) {
    const message = typeof error.message === 'string' && error.message !== '' ? error.message : error.code;
    return {
      status: error.httpStatus,
      body: { code: error.code, message, details: plainDetails(error.details) },
      deterministic: error.httpStatus < 500,
    };
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    if (status >= 500 && status !== 503) return undefined;
    const code = HTTP_CODES[status] ?? `HTTP.${status}`;
    return { status, body: { code, message: error.message.slice(0, MAX_MESSAGE_CHARS), details: {} }, deterministic: status < 500 };
  }
  return undefined;
}

/**
 * The client went away before its request was complete: an upload it abandoned (ClientAbortError),
 * or a JSON body cut short (Node's 'aborted', ECONNRESET, which Fastify hands on as it is).
 */
function isClientAbort(error: unknown): boolean {
  if (error instanceof ClientAbortError) return true;
  const { code, message } = (typeof error === 'object' && error !== null ? error : {}) as { code?: unknown; message?: unknown };
  return code === 'ECONNRESET' && message === 'aborted';
}

/**
 * What the static files behind /docs (@fastify/static, through `send`) throw for a path they will
 * not serve: a path that climbs out of the folder (403), one that is malformed (400) or missing
 * (404). They carry an http-errors `status`, no stable code; all of them are 404 to the client.
 */
function isStaticFileRefusal(error: unknown, request: FastifyRequest | undefined): boolean {
  if (typeof error !== 'object' || error === null || !request) return false;
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
  const httpStatus = typeof status === 'number' ? status : statusCode;
  return typeof httpStatus === 'number' && httpStatus >= 400 && httpStatus < 500 && /^\/docs(\/|$)/.test(request.url);
}

/** One warning per dependency at most this often: an outage must not flood the log. */
const OUTAGE_WARNING_INTERVAL_MS = 10_000;

export function internalErrorBody(requestId: string | undefined): ErrorBody {
  return {
    code: 'INTERNAL',
    message: 'internal error: the request was not completed; report the request id if it persists',
    details: requestId ? { requestId } : {},
  };
}

/** The route's template for the log, never the URL asked for: a query string may carry personal data. */
function routeOf(request: FastifyRequest | undefined): string {
  return request?.routeOptions?.url ?? 'unmatched';
}

/**
 * The one place errors become responses. Registered globally in http.ts, so it also covers what
 * Fastify raises before routing (malformed JSON, 413, 415) and the 404 for unknown routes.
 */
@Catch()
export class AllExceptionsFilter implements ExceptionFilter {
  private readonly logger = new Logger('http');
  private readonly lastOutageWarningMs = new Map<string, number>();

  catch(error: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest | undefined>();
    const requestId = request?.id;
    if (isClientAbort(error)) {
      // Nobody is left to answer; a client hanging up is routine, so one info line and no stack.
      this.logger.log(`request ${requestId ?? '?'} ${request?.method ?? ''} ${routeOf(request)} aborted by the client: ${(error as Error).message}`);
      return;
    }
    if (isStaticFileRefusal(error, request)) error = AppError.notFound('HTTP.NOT_FOUND', 'no such file');
    let rendered = renderKnownError(error);
    if (rendered?.status === 503) this.warnOutage(error, rendered.body);
    if (!rendered) {
      // Internals (SQL, stack, file paths) go to the log with the request id, never to the client.
      const stack = error instanceof Error ? (error.stack ?? error.message) : String(error);
      this.logger.error(`request ${requestId ?? '?'} ${request?.method ?? ''} ${routeOf(request)} failed: ${stack}`);
      rendered = { status: 500, body: internalErrorBody(requestId), deterministic: false };
    }
    if (reply.sent) {
      // A handler that already answered cannot answer again; the log is all that is left.
      this.logger.warn(`request ${requestId ?? '?'}: error after the response was sent: ${rendered.body.code}`);
      return;
    }
    const retryAfter = rendered.body.details.retryAfterSeconds;
    if (rendered.status === 503 && typeof retryAfter === 'number') void reply.header('retry-after', String(retryAfter));
    void reply.status(rendered.status).header('content-type', 'application/json; charset=utf-8').send(rendered.body);
  }

  /** A dependency outage is one warning per dependency every few seconds, with the reason the client is not told. */
  private warnOutage(error: unknown, body: ErrorBody): void {
    const dependency = String(body.details.dependency ?? body.details.reason ?? 'service');
    const nowMs = Date.now();
    if (nowMs - (this.lastOutageWarningMs.get(dependency) ?? 0) < OUTAGE_WARNING_INTERVAL_MS) return;
    this.lastOutageWarningMs.set(dependency, nowMs);
    const reason = error instanceof DependencyUnavailableError ? error.reason : (postgresOutage(error)?.reason ?? body.message);
    this.logger.warn(`answering 503 SERVICE.UNAVAILABLE (${dependency}): ${reason}`);
  }
}
