/**
 * A dependency (PostgreSQL, Redis) that cannot be reached or does not answer in time. The API
 * answers it as 503 SERVICE.UNAVAILABLE with Retry-After (src/api/common/errors.ts) rather than a
 * 500, and at once rather than after waiting the outage out: the client should retry later, and
 * nothing is wrong with its request.
 */

export type Dependency = 'postgresql' | 'redis';

const LABELS: Record<Dependency, string> = { postgresql: 'PostgreSQL', redis: 'Redis' };

/** Seconds a client is told to wait before retrying; short, as most outages are restarts. */
export const OUTAGE_RETRY_AFTER_SECONDS = 5;

/** Carries a stable code and an HTTP status, so the API renders it without knowing this class. */
export class DependencyUnavailableError extends Error {
  readonly code = 'SERVICE.UNAVAILABLE';
  readonly httpStatus = 503;
  readonly details: { dependency: Dependency; retryAfterSeconds: number };

  constructor(
    readonly dependency: Dependency,
    /** What went wrong, for the log; never shown to the client (it may name hosts and ports). */
    readonly reason: string,
  ) {
    super(`${LABELS[dependency]} is unavailable; retry in a few seconds`);
    this.name = 'DependencyUnavailableError';
    this.details = { dependency, retryAfterSeconds: OUTAGE_RETRY_AFTER_SECONDS };
  }
}

/** Socket errors that mean the server is not there (refused, reset, unreachable, name not found). */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);
/**
 * SQLSTATEs of a server that is going away or cannot take us: class 08 (connection exception),
 * 57P01-57P03 (shutdown, crash, not accepting connections yet), 53300 (too many connections).
 */
const UNAVAILABLE_SQLSTATE = /^(08\w{3}|57P0[123]|53300)$/;
/** What node-postgres says when a connection dies or cannot be had in time (its errors carry no code). */
const PG_CONNECTION_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection terminated due to connection timeout)/;

/**
 * The error as an outage of PostgreSQL, or undefined when it is something else (a constraint, a
 * bug). Node's and node-postgres' errors are recognised by their code or message, as they carry
 * no class of their own.
 */
export function postgresOutage(error: unknown): DependencyUnavailableError | undefined {
  if (error instanceof DependencyUnavailableError) return error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATE.test(code)) && text !== 'aborted') {
    return new DependencyUnavailableError('postgresql', `${code}: ${text}`);
  }
  if (PG_CONNECTION_MESSAGES.test(text)) return new DependencyUnavailableError('postgresql', text);
  return undefined;
}

/** ioredis' errors for a client that is disconnected, reconnecting or not answering in time. */
const REDIS_UNAVAILABLE_MESSAGES = /Stream isn't writeable|Command timed out|Connection is closed|Reached the max retries per request limit|connect ETIMEDOUT/;

export function redisOutage(error: unknown): DependencyUnavailableError | undefined {
  if (error instanceof DependencyUnavailableError) return error;
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : '';
  if ((typeof code === 'string' && NETWORK_CODES.has(code)) || REDIS_UNAVAILABLE_MESSAGES.test(text)) return new DependencyUnavailableError('redis', text);
  return undefined;
}
