import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, type AppConfig } from '../config/config';
import type { PiiKeys } from './pii';

/**
 * Where the personal-data keys come from: PII_MASTER_KEY and PII_HMAC_KEY (base64 of 32 bytes
 * each) in production. When neither is set, development keys are generated once and kept in
 * `${dataDir}/pii-keys.json` (mode 0600), so a developer's data stays readable across restarts;
 * a warning says so, because keys on the same disk as the database protect nothing.
 *
 * Losing the master key makes every member's personal data unreadable; losing or changing the
 * HMAC key changes every member id (src/infra/pii.ts). Back both up outside the database.
 */

export const PII_KEYS_FILE = 'pii-keys.json';
const KEY_BYTES = 32;

type Env = Record<string, string | undefined>;

function decodeKey(name: string, raw: string, problems: string[]): Buffer | undefined {
  const trimmed = raw.trim();
  // Buffer.from(..., 'base64') ignores junk silently, so check the alphabet and the length first.
  const key = /^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) ? Buffer.from(trimmed, 'base64') : undefined;
  if (!key || key.length !== KEY_BYTES) {
    // The value is a secret: only its decoded length is reported.
    problems.push(`${name} must be base64 of exactly ${KEY_BYTES} bytes (got ${key ? `${key.length} bytes` : 'not base64'}); generate one with: openssl rand -base64 32`);
    return undefined;
  }
  return key;
}

function readKeysFile(file: string, log: (line: string) => void): PiiKeys {
  let parsed: { masterKey?: unknown; hmacKey?: unknown };
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as typeof parsed;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code) throw error;
    // Deleting it would make every member's personal data unreadable, so say so instead of suggesting it.
    throw new ConfigError([`${file} is not valid JSON; restore it from a backup (deleting it loses access to all sealed personal data)`]);
  }
  const mode = fs.statSync(file).mode;
  if ((mode & 0o077) !== 0) log(`WARNING: ${file} is readable by other users (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  const problems: string[] = [];
  const masterKey = typeof parsed.masterKey === 'string' ? decodeKey(`${file}: masterKey`, parsed.masterKey, problems) : undefined;
  const hmacKey = typeof parsed.hmacKey === 'string' ? decodeKey(`${file}: hmacKey`, parsed.hmacKey, problems) : undefined;
  if (!masterKey || !hmacKey) throw new ConfigError(problems.length > 0 ? problems : [`${file} lacks masterKey or hmacKey`]);
  return { masterKey, hmacKey };
}

export function loadPiiKeys(
  config: Pick<AppConfig, 'dataDir'>,
  options: { env?: Env; log?: (line: string) => void } = {},
): PiiKeys {
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const rawMaster = env.PII_MASTER_KEY ?? '';
  const rawHmac = env.PII_HMAC_KEY ?? '';
  if (rawMaster !== '' || rawHmac !== '') {
    const problems: string[] = [];
    // Half a configuration is a mistake, not a request for one development key.
    if (rawMaster === '') problems.push('PII_MASTER_KEY must be set when PII_HMAC_KEY is');
    if (rawHmac === '') problems.push('PII_HMAC_KEY must be set when PII_MASTER_KEY is');
    const masterKey = rawMaster === '' ? undefined : decodeKey('PII_MASTER_KEY', rawMaster, problems);
    const hmacKey = rawHmac === '' ? undefined : decodeKey('PII_HMAC_KEY', rawHmac, problems);
    if (masterKey && hmacKey && masterKey.equals(hmacKey)) problems.push('PII_MASTER_KEY and PII_HMAC_KEY must differ');
    if (problems.length > 0 || !masterKey || !hmacKey) throw new ConfigError(problems);
    return { masterKey, hmacKey };
  }

  const file = path.join(config.dataDir, PII_KEYS_FILE);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(config.dataDir, { recursive: true });
    const body = JSON.stringify(
      {
        note: 'Development keys for personal data, generated because PII_MASTER_KEY / PII_HMAC_KEY are unset. Production must set them.',
        createdAt: new Date().toISOString(),
        masterKey: randomBytes(KEY_BYTES).toString('base64'),
        hmacKey: randomBytes(KEY_BYTES).toString('base64'),
      },
      null,
      2,
    );
    // Written to a private temporary file and then linked into place: link() fails if the file
    // exists, so when two processes start at once one wins and both read its complete file.
    const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    fs.writeFileSync(temporary, `${body}\n`, { mode: 0o600, flag: 'wx' });
    try {
      fs.linkSync(temporary, file);
      log(`WARNING: PII_MASTER_KEY and PII_HMAC_KEY are unset: generated development keys in ${file}; production must set both`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    } finally {
      fs.rmSync(temporary, { force: true });
    }
  } else {
    log(`WARNING: PII_MASTER_KEY and PII_HMAC_KEY are unset: using development keys from ${file}; production must set both`);
  }
  return readKeysFile(file, log);
}
