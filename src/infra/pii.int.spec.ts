import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createTestDatabase, type TestDatabase } from '../../test/support/database';
import { ConfigError } from '../config/config';
import { PiiVault, type PiiKeys } from './pii';
import { loadPiiKeys, PII_KEYS_FILE } from './pii-keys';

/** A synthetic ID number: 17 digits and the GB 11643 check character computed here. */
function syntheticId(first17: string): string {
  let sum = 0;
  for (let index = 0; index < 17; index += 1) sum += Number(first17[index]) * (2 ** (17 - index) % 11);
  return first17 + '10X98765432'[sum % 11]!;
}

const freshKeys = (): PiiKeys => ({ masterKey: randomBytes(32), hmacKey: randomBytes(32) });

describe('PiiVault', () => {
  let database: TestDatabase;
  let keys: PiiKeys;
  let vault: PiiVault;
  const idNumber = syntheticId('32010219900101123');
  const pii = { idNumber, phone: '13812345678' };

  beforeEach(async () => {
    database = await createTestDatabase();
    // drop() ends the pool and drops WITH (FORCE) at once: a connection still closing gets a FATAL
    // after pg-promise removed its pool error listener; that expected error must not crash the run.
    database.db.$pool.on('error', () => undefined);
    keys = freshKeys();
    vault = new PiiVault(database.db, keys);
  });
  afterEach(async () => {
    await database.drop();
  });

  it('derives a stable HMAC over the normalised number, and a UUID-shaped member id from it', () => {
    const hmac = vault.idHmac(idNumber);
    expect(hmac).toMatch(/^[0-9a-f]{64}$/);
    expect(vault.idHmac(` ${idNumber.toLowerCase()}\n`)).toBe(hmac);
    expect(new PiiVault(database.db, freshKeys()).idHmac(idNumber)).not.toBe(hmac);
    const memberId = vault.memberIdFor(hmac);
    expect(memberId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(vault.memberIdFor(hmac)).toBe(memberId);
    expect(memberId.replace(/-/g, '')).not.toBe(hmac.slice(0, 32));
  });

  it('seals with a fresh IV each time and opens only for the same member', async () => {
    const memberId = vault.memberIdFor(vault.idHmac(idNumber));
    const first = await vault.seal(memberId, pii);
    const second = await vault.seal(memberId, pii);
    expect(first).not.toBe(second);
    expect(JSON.parse(first)).toEqual({ v: 1, iv: expect.any(String), tag: expect.any(String), ct: expect.any(String) });
    expect(first).not.toContain(idNumber);
    expect(first).not.toContain(pii.phone);
    expect(await vault.open(memberId, first)).toEqual(pii);
    expect(await vault.open(memberId, second)).toEqual(pii);

    // The AAD binds the ciphertext to its member: a copy pasted onto another member does not open.
    const other = vault.memberIdFor(vault.idHmac(syntheticId('32010219900101456')));
    await vault.seal(other, { idNumber: syntheticId('32010219900101456'), phone: '13900000000' });
    await expect(vault.open(other, first)).rejects.toThrow();
    // A flipped ciphertext bit fails authentication instead of decrypting to garbage.
    const tampered = JSON.parse(first) as { ct: string };
    const ct = Buffer.from(tampered.ct, 'base64');
    ct[0] = ct[0]! ^ 1;
    await expect(vault.open(memberId, JSON.stringify({ ...tampered, ct: ct.toString('base64') }))).rejects.toThrow();
  });

  it('seals a short-lived secret without the database, opening only for its purpose and binding', async () => {
    const sealed = vault.sealSecret('sms-code', 'sms-1', '042917');
    expect(sealed).not.toContain('042917');
    expect(vault.sealSecret('sms-code', 'sms-1', '042917')).not.toBe(sealed);
    expect(vault.openSecret('sms-code', 'sms-1', sealed)).toBe('042917');
    // Another process with the same master key opens it; another binding, purpose or key does not.
    expect(new PiiVault(database.db, { ...keys }).openSecret('sms-code', 'sms-1', sealed)).toBe('042917');
    expect(() => vault.openSecret('sms-code', 'sms-2', sealed)).toThrow();
    expect(() => vault.openSecret('other-purpose', 'sms-1', sealed)).toThrow();
    expect(() => new PiiVault(database.db, freshKeys()).openSecret('sms-code', 'sms-1', sealed)).toThrow();
    // No member key was read or created on the way.
    expect((await database.db.one<{ count: number }>('SELECT count(*)::int AS count FROM ul_member_keys')).count).toBe(0);
  });

  it('stores one wrapped key per member, even when many processes seal at once', async () => {
    const memberId = vault.memberIdFor(vault.idHmac(idNumber));
    // Separate vaults share no cache, like separate processes.
    const vaults = Array.from({ length: 8 }, () => new PiiVault(database.db, keys));
    const sealed = await Promise.all(vaults.map((each) => each.seal(memberId, pii)));
    const rows = await database.db.any<{ wrapped_key: Buffer }>('SELECT wrapped_key FROM ul_member_keys WHERE member_id = $1', [memberId]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.wrapped_key).toHaveLength(12 + 16 + 32);
    for (const copy of sealed) expect(await vault.open(memberId, copy)).toEqual(pii);
  });

  it('needs the right master key to unwrap a data key', async () => {
    const memberId = vault.memberIdFor(vault.idHmac(idNumber));
    const sealed = await vault.seal(memberId, pii);
    const wrongMaster = new PiiVault(database.db, { masterKey: randomBytes(32), hmacKey: keys.hmacKey });
    await expect(wrongMaster.open(memberId, sealed)).rejects.toThrow();
  });

  it('shreds: the key row goes, open() answers null, and the cache forgets it', async () => {
    const memberId = vault.memberIdFor(vault.idHmac(idNumber));
    const sealed = await vault.seal(memberId, pii);
    expect(await vault.open(memberId, sealed)).toEqual(pii);
    expect(await vault.shred(memberId)).toBe(true);
    expect(await vault.open(memberId, sealed)).toBeNull();
    expect(await vault.shred(memberId)).toBe(false);
    expect(await database.db.one('SELECT count(*)::int AS n FROM ul_member_keys')).toEqual({ n: 0 });
  });

  it('lets another process notice a shred once its cache entry is older than cacheTtlMs', async () => {
    const memberId = vault.memberIdFor(vault.idHmac(idNumber));
    const sealed = await vault.seal(memberId, pii);
    const longCache = new PiiVault(database.db, keys, { cacheTtlMs: 60_000 });
    const noCache = new PiiVault(database.db, keys, { cacheTtlMs: 0 });
    expect(await longCache.open(memberId, sealed)).toEqual(pii);
    expect(await noCache.open(memberId, sealed)).toEqual(pii);
    await vault.shred(memberId);
    expect(await noCache.open(memberId, sealed)).toBeNull();
    // The documented window: a cached key still opens until its entry expires.
    expect(await longCache.open(memberId, sealed)).toEqual(pii);
  });

  it('keeps at most cacheEntries keys in memory', async () => {
    const small = new PiiVault(database.db, keys, { cacheEntries: 2 });
    const members = ['a', 'b', 'c'].map((suffix) => `member-${suffix}`);
    const sealed: string[] = [];
    for (const memberId of members) sealed.push(await small.seal(memberId, pii)); // In order: a is the oldest.
    // 'member-a' was evicted, so a shred by someone else is seen at once; 'member-c' is still cached.
    await vault.shred('member-a');
    await vault.shred('member-c');
    expect(await small.open('member-a', sealed[0]!)).toBeNull();
    expect(await small.open('member-c', sealed[2]!)).toEqual(pii);
  });
});

describe('loadPiiKeys', () => {
  let dataDir: string;
  const lines: string[] = [];
  const log = (line: string): void => {
    lines.push(line);
  };

  beforeEach(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ul-pii-keys-'));
    lines.length = 0;
  });
  afterEach(() => {
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it('takes both keys from the environment', () => {
    const master = randomBytes(32);
    const hmac = randomBytes(32);
    const keys = loadPiiKeys({ dataDir }, { env: { PII_MASTER_KEY: master.toString('base64'), PII_HMAC_KEY: hmac.toString('base64') }, log });
    expect(keys.masterKey.equals(master)).toBe(true);
    expect(keys.hmacKey.equals(hmac)).toBe(true);
    expect(fs.existsSync(path.join(dataDir, PII_KEYS_FILE))).toBe(false);
  });

  it.each([
    [{ PII_MASTER_KEY: randomBytes(16).toString('base64'), PII_HMAC_KEY: randomBytes(32).toString('base64') }, /PII_MASTER_KEY must be base64 of exactly 32 bytes \(got 16 bytes\)/],
    [{ PII_MASTER_KEY: randomBytes(32).toString('base64'), PII_HMAC_KEY: 'not base64!' }, /PII_HMAC_KEY must be base64 of exactly 32 bytes \(got not base64\)/],
    [{ PII_MASTER_KEY: randomBytes(32).toString('base64') }, /PII_HMAC_KEY must be set when PII_MASTER_KEY is/],
  ])('names the wrong variable (%#)', (env, message) => {
    expect(() => loadPiiKeys({ dataDir }, { env, log })).toThrow(ConfigError);
    expect(() => loadPiiKeys({ dataDir }, { env, log })).toThrow(message);
  });

  it('never repeats a key value in its error', () => {
    const secret = randomBytes(31).toString('base64');
    try {
      loadPiiKeys({ dataDir }, { env: { PII_MASTER_KEY: secret, PII_HMAC_KEY: secret }, log });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect((error as Error).message).not.toContain(secret);
    }
  });

  it('generates development keys once, mode 0600, with a warning, and reuses them', () => {
    const first = loadPiiKeys({ dataDir }, { env: {}, log });
    const file = path.join(dataDir, PII_KEYS_FILE);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(lines.join('\n')).toMatch(/WARNING: .*generated development keys/);
    const second = loadPiiKeys({ dataDir }, { env: {}, log });
    expect(second.masterKey.equals(first.masterKey)).toBe(true);
    expect(second.hmacKey.equals(first.hmacKey)).toBe(true);
    expect(first.masterKey.equals(first.hmacKey)).toBe(false);
  });
});
