import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { normaliseNationalId } from '../domain/members';
import type { Queryable } from './database';

/**
 * Personal data of the roster (national ID number, phone), kept out of the immutable event log
 * in readable form:
 *
 * - `idHmac`: HMAC-SHA256 of the normalised ID number under the HMAC key. It is what events store
 *   and what activation looks up. ID numbers are a small space (region × birth date × sequence),
 *   so a plain hash could be reversed by enumeration; the key is what prevents that.
 * - `memberIdFor`: the member id is derived from the HMAC, so activation by ID number finds the
 *   member's stream with no look-up table. Consequence: the HMAC key can never be rotated, since
 *   a new key would give every member a new id. Guard it like the master key.
 * - `seal`/`open`: the plaintext is encrypted with AES-256-GCM under a random per-member data key
 *   (AAD = member id, so a ciphertext copied to another member does not open). The data key is
 *   stored wrapped (AES-256-GCM under the master key) in `ul_member_keys`.
 * - `shred`: deleting the member's wrapped key makes every sealed copy unreadable, while the
 *   events, and so the ledger and its hash chains, stay untouched (crypto-shredding).
 *
 * Limits of shredding, stated so nobody over-trusts it: database backups keep the wrapped key
 * until they expire; the idHmac stays in the events, so whoever holds the HMAC key can still
 * test whether a given ID number was a member (pseudonymous, not anonymous); and other processes
 * may hold the unwrapped key in their cache for up to `cacheTtlMs` after the shred.
 */

export interface PiiKeys {
  /** 32 bytes; wraps the per-member data keys. */
  masterKey: Buffer;
  /** 32 bytes; keys the ID-number HMAC. Never rotated: member ids derive from it. */
  hmacKey: Buffer;
}

export interface MemberPii {
  idNumber: string;
  phone: string;
}

export interface PiiVaultOptions {
  /** Unwrapped data keys kept in memory; default 10,000 (one import window reuses them). */
  cacheEntries?: number;
  /** How long an unwrapped key may serve from memory; bounds how long a shred elsewhere goes unnoticed. Default 60 s. */
  cacheTtlMs?: number;
}

const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SEALED_VERSION = 1;
/** Domain separation: the same key material used for another purpose yields unrelated outputs. */
const HMAC_CONTEXT = 'union-ledger:national-id:v1\u0000';
const MEMBER_ID_CONTEXT = 'union-ledger:member-id:v1\u0000';
const WRAP_AAD_PREFIX = 'union-ledger:member-key:v1:';
const SECRET_KEY_SALT = 'union-ledger:secret-key:v1';
const SECRET_AAD_PREFIX = 'union-ledger:secret:v1:';
/** Attempts to get-or-create a key when a concurrent shred deletes it between INSERT and SELECT. */
const KEY_CREATE_ATTEMPTS = 3;

interface CachedKey {
  key: Buffer;
  loadedAtMs: number;
}

export class PiiVault {
  private readonly cache = new Map<string, CachedKey>();
  /** Keys derived for sealSecret, by purpose (a handful of fixed purposes: bounded by the code). */
  private readonly secretKeys = new Map<string, Buffer>();
  private readonly cacheEntries: number;
  private readonly cacheTtlMs: number;

  constructor(
    private readonly db: Queryable,
    private readonly keys: PiiKeys,
    options: PiiVaultOptions = {},
  ) {
    if (keys.masterKey.length !== KEY_BYTES) throw new Error(`PII master key must be ${KEY_BYTES} bytes, got ${keys.masterKey.length}`);
    if (keys.hmacKey.length !== KEY_BYTES) throw new Error(`PII HMAC key must be ${KEY_BYTES} bytes, got ${keys.hmacKey.length}`);
    if (keys.masterKey.equals(keys.hmacKey)) throw new Error('PII master key and HMAC key must differ');
    this.cacheEntries = options.cacheEntries ?? 10_000;
    this.cacheTtlMs = options.cacheTtlMs ?? 60_000;
  }

  /** Hex HMAC-SHA256 of the normalised ID number: the look-up value events store. */
  idHmac(idNumber: string): string {
    return createHmac('sha256', this.keys.hmacKey)
      .update(HMAC_CONTEXT + normaliseNationalId(idNumber), 'utf8')
      .digest('hex');
  }

  /**
   * Hex HMAC-SHA256 of a value under the vault's HMAC key, separated by `context` from every other
   * use of the key: how values that must be found again but never stored in plaintext are kept
   * (a WeChat openid as a login key, a one-time code).
   */
  keyedHash(context: string, value: string): string {
    if (!/^[a-z][a-z0-9-]*:$/.test(context)) throw new Error('invariant violated: a keyed-hash context looks like "login:"');
    return createHmac('sha256', this.keys.hmacKey).update(`union-ledger:${context}${value}`, 'utf8').digest('hex');
  }

  /**
   * The member id for an ID-number HMAC: deterministic and UUID-shaped (version nibble 8, the
   * RFC 9562 "custom" version). Derived through a second hash so the id does not expose the HMAC.
   */
  memberIdFor(idHmac: string): string {
    if (!/^[0-9a-f]{64}$/.test(idHmac)) throw new Error('memberIdFor expects a hex HMAC-SHA256 (64 characters)');
    const hex = createHash('sha256').update(MEMBER_ID_CONTEXT + idHmac, 'utf8').digest('hex');
    const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
  }

  /**
   * Encrypts the member's personal data under their data key (created on first use). Every call
   * uses a fresh random IV, so sealing the same data twice gives different strings.
   */
  async seal(memberId: string, pii: MemberPii): Promise<string> {
    return this.sealText(memberId, JSON.stringify({ idNumber: normaliseNationalId(pii.idNumber), phone: pii.phone }));
  }

  /**
   * Encrypts any secret text under the data key of its owner (a member, or an account for its
   * TOTP secret); shredding the owner's key makes it unreadable like the rest of their data.
   */
  async sealText(ownerId: string, text: string): Promise<string> {
    const key = await this.dataKey(ownerId, true);
    if (!key) throw new Error('invariant violated: dataKey(create=true) returned no key');
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(ownerId, 'utf8'));
    const plaintext = Buffer.from(text, 'utf8');
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return JSON.stringify({
      v: SEALED_VERSION,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      ct: ct.toString('base64'),
    });
  }

  /**
   * Decrypts a sealed copy; null when the member's key was shredded (or never existed). A
   * ciphertext that fails authentication is an error, not "shredded": it was altered or belongs
   * to another member.
   */
  async open(memberId: string, sealed: string): Promise<MemberPii | null> {
    const text = await this.openText(memberId, sealed);
    if (text === null) return null;
    const parsed = JSON.parse(text) as MemberPii;
    return { idNumber: parsed.idNumber, phone: parsed.phone };
  }

  /** Decrypts what sealText sealed; null when the owner's key was shredded (or never existed). */
  async openText(ownerId: string, sealed: string): Promise<string | null> {
    const parts = parseSealed(sealed);
    const key = await this.dataKey(ownerId, false);
    if (!key) return null;
    const decipher = createDecipheriv('aes-256-gcm', key, parts.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(ownerId, 'utf8'));
    decipher.setAuthTag(parts.tag);
    return Buffer.concat([decipher.update(parts.ct), decipher.final()]).toString('utf8');
  }

  /**
   * Encrypts a short-lived secret (a one-time code on its way to an SMS) under a key derived from
   * the master key for `purpose` (HKDF-SHA256), bound to `boundTo` (AAD: the SMS id, so a sealed
   * code copied to another request does not open). Unlike sealText it needs no database: no
   * per-member key is read or created, so sealing costs the same whoever the secret is for (an
   * activation seals a throwaway code on a miss to match a hit's work), and a member without a
   * key (never sealed, or shredded) does not get one created as a side effect. Such secrets are
   * not crypto-shredded with the member: they must be worthless within minutes anyway.
   */
  sealSecret(purpose: string, boundTo: string, text: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.secretKey(purpose), iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(`${SECRET_AAD_PREFIX}${purpose}:${boundTo}`, 'utf8'));
    const ct = Buffer.concat([cipher.update(Buffer.from(text, 'utf8')), cipher.final()]);
    return JSON.stringify({ v: SEALED_VERSION, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), ct: ct.toString('base64') });
  }

  /** Decrypts what sealSecret sealed for the same purpose and binding; throws when it was altered or belongs elsewhere. */
  openSecret(purpose: string, boundTo: string, sealed: string): string {
    const parts = parseSealed(sealed);
    const decipher = createDecipheriv('aes-256-gcm', this.secretKey(purpose), parts.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(`${SECRET_AAD_PREFIX}${purpose}:${boundTo}`, 'utf8'));
    decipher.setAuthTag(parts.tag);
    return Buffer.concat([decipher.update(parts.ct), decipher.final()]).toString('utf8');
  }

  private secretKey(purpose: string): Buffer {
    if (!/^[a-z][a-z0-9-]*$/.test(purpose)) throw new Error('invariant violated: a secret purpose looks like "sms-code"');
    let key = this.secretKeys.get(purpose);
    if (!key) {
      key = Buffer.from(hkdfSync('sha256', this.keys.masterKey, SECRET_KEY_SALT, `union-ledger:secret:${purpose}`, KEY_BYTES));
      this.secretKeys.set(purpose, key);
    }
    return key;
  }

  /** Deletes the member's data key: every sealed copy of their data becomes unreadable. True if a key existed. */
  async shred(memberId: string): Promise<boolean> {
    this.cache.delete(memberId);
    const rows = await this.db.any('DELETE FROM ul_member_keys WHERE member_id = $1 RETURNING member_id', [memberId]);
    // Evict again: a seal running concurrently in this process may have cached the key meanwhile.
    this.cache.delete(memberId);
    return rows.length > 0;
  }

  private async dataKey(memberId: string, create: boolean): Promise<Buffer | null> {
    const cached = this.cache.get(memberId);
    if (cached && Date.now() - cached.loadedAtMs < this.cacheTtlMs) {
      // Re-insert so the Map's insertion order is least-recently-used first.
      this.cache.delete(memberId);
      this.cache.set(memberId, cached);
      return cached.key;
    }
    this.cache.delete(memberId);
    const wrapped = create ? await this.createOrLoadWrapped(memberId) : await this.loadWrapped(memberId);
    if (!wrapped) return null;
    const key = this.unwrap(memberId, wrapped);
    this.cache.set(memberId, { key, loadedAtMs: Date.now() });
    while (this.cache.size > this.cacheEntries) this.cache.delete(this.cache.keys().next().value!);
    return key;
  }

  private async loadWrapped(memberId: string): Promise<Buffer | null> {
    const row = await this.db.oneOrNone<{ wrapped_key: Buffer }>('SELECT wrapped_key FROM ul_member_keys WHERE member_id = $1', [memberId]);
    return row?.wrapped_key ?? null;
  }

  /**
   * Race-safe get-or-create: two processes sealing the same new member both try to insert their
   * own random key, one wins, and both read back (and so use) the winner's key.
   */
  private async createOrLoadWrapped(memberId: string): Promise<Buffer> {
    for (let attempt = 1; attempt <= KEY_CREATE_ATTEMPTS; attempt += 1) {
      const fresh = this.wrap(memberId, randomBytes(KEY_BYTES));
      const inserted = await this.db.oneOrNone<{ wrapped_key: Buffer }>(
        'INSERT INTO ul_member_keys (member_id, wrapped_key) VALUES ($1, $2) ON CONFLICT (member_id) DO NOTHING RETURNING wrapped_key',
        [memberId, fresh],
      );
      if (inserted) return inserted.wrapped_key;
      const existing = await this.loadWrapped(memberId);
      if (existing) return existing;
      // The conflicting row was shredded between our INSERT and SELECT: try again.
    }
    throw new Error(`could not create a data key for member ${memberId} after ${KEY_CREATE_ATTEMPTS} attempts`);
  }

  /** iv (12) ‖ tag (16) ‖ encrypted key (32); the AAD binds the wrapped key to its member row. */
  private wrap(memberId: string, dataKey: Buffer): Buffer {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.keys.masterKey, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(WRAP_AAD_PREFIX + memberId, 'utf8'));
    const ct = Buffer.concat([cipher.update(dataKey), cipher.final()]);
    return Buffer.concat([iv, cipher.getAuthTag(), ct]);
  }

  private unwrap(memberId: string, wrapped: Buffer): Buffer {
    if (wrapped.length !== IV_BYTES + TAG_BYTES + KEY_BYTES) throw new Error(`wrapped key of member ${memberId} has ${wrapped.length} bytes`);
    const decipher = createDecipheriv('aes-256-gcm', this.keys.masterKey, wrapped.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
    decipher.setAAD(Buffer.from(WRAP_AAD_PREFIX + memberId, 'utf8'));
    decipher.setAuthTag(wrapped.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    // Throws when the master key is wrong or the row was tampered with or moved to another member.
    return Buffer.concat([decipher.update(wrapped.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]);
  }
}

function parseSealed(sealed: string): { iv: Buffer; tag: Buffer; ct: Buffer } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(sealed);
  } catch {
    throw new Error('sealed personal data is not JSON');
  }
  const value = parsed as { v?: unknown; iv?: unknown; tag?: unknown; ct?: unknown };
  if (value.v !== SEALED_VERSION || typeof value.iv !== 'string' || typeof value.tag !== 'string' || typeof value.ct !== 'string') {
    throw new Error(`sealed personal data is not version ${SEALED_VERSION} {v, iv, tag, ct}`);
  }
  const iv = Buffer.from(value.iv, 'base64');
  const tag = Buffer.from(value.tag, 'base64');
  if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) throw new Error('sealed personal data has a malformed iv or tag');
  return { iv, tag, ct: Buffer.from(value.ct, 'base64') };
}
