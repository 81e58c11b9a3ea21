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

/** Bytes of log lines gathered before one write (the service and the worker); sonic-boom wants it below its maxWrite of 16 KiB. */
export const LOG_BUFFER_BYTES = 8 * 1024;
/** The longest a line waits in that buffer on a quiet process. */
export const LOG_FLUSH_INTERVAL_MS = 200;

/**
 * The service and the worker write their lines asynchronously and gathered: lines collect in
 * sonic-boom's buffer until LOG_BUFFER_BYTES or until the flush timer (every
 * LOG_FLUSH_INTERVAL_MS), so a busy service makes one write for dozens of request lines instead of
 * one per line (the check-in profile of issue 12 showed a write per request line: a synchronous
 * write would put the terminal's or the log shipper's pipe on every request's path, and an
 * unbuffered asynchronous one still costs a system call and a callback per request). A quiet
 * service's lines come out within LOG_FLUSH_INTERVAL_MS. What is still queued is flushed
 * synchronously when the process exits, so a line logged just before process.exit is not lost.
 * The one-shot CLI commands write synchronously: they log little, and their lines must come out
 * in order with their answer.
 */
function fileDestination(fd: 1 | 2, processName: LoggerOptions['process']): DestinationStream {
  if (processName === 'cli') return pino.destination({ dest: fd, sync: true });
  const stream = pino.destination({ dest: fd, sync: false, minLength: LOG_BUFFER_BYTES });
  const timer = setInterval(() => {
    try {
      stream.flush();
    } catch {
      // Not ready yet (the descriptor is still opening) or closed: the next tick or exit flushes.
    }
  }, LOG_FLUSH_INTERVAL_MS);
  timer.unref();
  process.once('exit', () => {
    clearInterval(timer);
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
