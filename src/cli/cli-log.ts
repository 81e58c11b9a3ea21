import type { AppConfig } from '../config/config';
import { createLogger, lineLog, type LineLog } from '../infra/logging';

/**
 * What a command logs along the way (the embedded PostgreSQL starting, migrations, key warnings):
 * pino JSON lines on standard error at LOG_LEVEL, so that a command's standard output stays its
 * answer (a report, a token, a CSV) for the caller to read or pipe.
 */
export function cliLog(config: Pick<AppConfig, 'logLevel'>): LineLog {
  // process.stderr rather than fd 2 directly: whoever runs the CLI in-process (the tests) sees the lines where it looks for them.
  return lineLog(createLogger({ level: config.logLevel, process: 'cli', destination: process.stderr }));
}
