import pino, { type DestinationStream, type Logger } from 'pino';
import type { LogLevel } from '../config/config';

/**
 * Structured logs: every process (the service, `union-ledger worker`, the CLI) writes pino JSON
 * lines, one object per line, at the level LOG_LEVEL names. The request lines of the HTTP app are
 * built in src/api/common/request-log.ts over the same logger (nestjs-pino).
 */

export type { Logger };

/**
 * Censored wherever they appear, as a second line of defence: the request serializers already
 * log no header and no body, but a log call that passes a request, a body or a member's record
 * must not leak a bearer token, a session cookie or personal data either. fast-redact's `*`
 * matches one level, so the top level and one level down are both listed.
 */
const SENSITIVE_FIELDS = ['nationalId', 'idNumber', 'name', 'phone', 'mobile', 'bankCard', 'cardNumber', 'address', 'smsCode', 'password', 'refreshToken', 'token'];
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.body',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'authorization',
  'cookie',
  ...SENSITIVE_FIELDS,
  ...SENSITIVE_FIELDS.map((field) => `*.${field}`),
];
export const REDACTED = '[redacted]';

export interface LoggerOptions {
  level: LogLevel;
  /** Default: standard output. The CLI logs to standard error (2), keeping its output to itself. */
  destination?: DestinationStream | 1 | 2;
  /** Bound to every line: which process wrote it. */
  process: 'service' | 'worker' | 'cli';
}

export function createLogger(options: LoggerOptions): Logger {
  const destination =
    options.destination === undefined || typeof options.destination === 'number'
      ? // Synchronous writes: a line logged just before process.exit is not lost.
        pino.destination({ dest: options.destination ?? 1, sync: true })
      : options.destination;
  return pino(
    {
      level: options.level,
      base: { process: options.process, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Level names, not numbers: log shippers and people read them without a table.
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: [...REDACTED_PATHS], censor: REDACTED },
    },
    destination,
  );
}

/** A logger that writes nothing: what the tests get unless they ask to read the logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** The three-method shape the worker host, the relay and the start-up steps log through. */
export interface LineLog {
  log(line: string): void;
  warn(line: string): void;
  error(line: string): void;
}

export function lineLog(logger: Logger): LineLog {
  return {
    log: (line) => logger.info(line),
    warn: (line) => logger.warn(line),
    error: (line) => logger.error(line),
  };
}
