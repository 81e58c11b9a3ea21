import { randomBytes } from 'node:crypto';
import { link, mkdir, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { JWT_SECRET_MIN_LENGTH, type AppConfig } from '../config/config';

/**
 * The process's secrets. JWT_SECRET from the environment wins; without it (the quick start, a
 * developer's machine) a random secret is generated once and kept in `${DATA_DIR}/secrets.json`
 * with mode 0600, so tokens minted by `union-ledger token` stay valid across restarts and the
 * service and the command agree. Production sets JWT_SECRET.
 */
export interface Secrets {
  jwtSecret: string;
  /** Where the secret came from, for the start-up log (never the secret itself). */
  source: 'environment' | 'file' | 'generated';
  file: string | undefined;
}

interface SecretsFile {
  jwtSecret: string;
}

export function secretsFilePath(config: Pick<AppConfig, 'dataDir'>): string {
  return path.join(config.dataDir, 'secrets.json');
}

async function readSecretsFile(file: string, log: (line: string) => void): Promise<SecretsFile> {
  const raw = await readFile(file, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new Error(`${file} is not valid JSON: fix it, or delete it to generate a new development secret`);
  }
  const jwtSecret = (parsed as Partial<SecretsFile> | null)?.jwtSecret;
  if (typeof jwtSecret !== 'string' || jwtSecret.length < JWT_SECRET_MIN_LENGTH) {
    throw new Error(`${file}: jwtSecret must be a string of at least ${JWT_SECRET_MIN_LENGTH} characters`);
  }
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) log(`warning: ${file} is readable by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  return { jwtSecret };
}

export async function loadOrCreateSecrets(
  config: Pick<AppConfig, 'dataDir' | 'jwtSecret'>,
  log: (line: string) => void = () => undefined,
): Promise<Secrets> {
  if (config.jwtSecret) return { jwtSecret: config.jwtSecret, source: 'environment', file: undefined };
  const file = secretsFilePath(config);
  try {
    return { ...(await readSecretsFile(file, log)), source: 'file', file };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(path.dirname(file), { recursive: true });
  // 48 random bytes: more than HS256's 256-bit key; base64url keeps the file plain ASCII.
  const created: SecretsFile = { jwtSecret: randomBytes(48).toString('base64url') };
  // Written whole to a private temporary file, then linked into place: link() fails if the file
  // exists, so when the service and a CLI command start together one wins and the other reads the
  // winner's complete file, never a half-written one.
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(created, null, 2)}\n`, { flag: 'wx', mode: 0o600 });
    await link(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return { ...(await readSecretsFile(file, log)), source: 'file', file };
  } finally {
    await unlink(temporary).catch(() => undefined);
  }
  log(`JWT_SECRET is not set: generated a development secret in ${file} (set JWT_SECRET in production)`);
  return { ...created, source: 'generated', file };
}
