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

/**
 * The service and the worker write their lines asynchronously (no buffering threshold, so a line
 * goes out as soon as the stream is free, and a quiet service's lines are not held back): a
 * synchronous write per request would put the terminal's or the log shipper's pipe on every
 * request's path (issue 12). What is still queued is flushed synchronously when the process exits,
 * so a line logged just before process.exit is not lost. The one-shot CLI commands write
 * synchronously: they log little, and their lines must come out in order with their answer.
 */
function fileDestination(fd: 1 | 2, processName: LoggerOptions['process']): DestinationStream {
  if (processName === 'cli') return pino.destination({ dest: fd, sync: true });
  const stream = pino.destination({ dest: fd, sync: false });
  process.once('exit', () => {
    try {
      stream.flushSync();
    } catch {
      // Nothing is left to write to (the pipe closed): nothing more can be done at exit.
    }
  });
  return stream;
}

export function createLogger(options: LoggerOptions): Logger {
  const destination =
    options.destination === undefined || typeof options.destination === 'number' ? fileDestination(options.destination ?? 1, options.process) : options.destination;
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
