import { runCli } from '../../src/cli/main';
import type { TestDatabase } from './database';

/** Runs the real CLI in this process against a test database and captures what it prints on stdout. */
export async function runCliOn(database: TestDatabase, ...args: string[]): Promise<{ code: number; stdout: string }> {
  const savedUrl = process.env.DATABASE_URL;
  const savedWrite = process.stdout.write.bind(process.stdout);
  let stdout = '';
  process.env.DATABASE_URL = database.url;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += chunk.toString();
    return true;
  }) as typeof process.stdout.write;
  try {
    process.exitCode = 0;
    await runCli(['node', 'union-ledger', ...args]);
    return { code: Number(process.exitCode ?? 0), stdout };
  } finally {
    process.stdout.write = savedWrite;
    process.exitCode = 0;
    if (savedUrl === undefined) delete process.env.DATABASE_URL;
    else process.env.DATABASE_URL = savedUrl;
  }
}
