import { randomBytes, randomUUID, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { Secret, TOTP } from 'otpauth';
import { DomainError } from '../../domain/shared';
import type { Actor, EventStore } from '../../eventstore/event-store';
import type { Database } from '../../infra/database';
import type { PiiVault } from '../../infra/pii';
import type { Role } from './tokens';

/**
 * Accounts of union admins, finance approvers, auditors and merchant terminals: a username, a password (scrypt) and
 * optionally a TOTP second factor, scoped to an organisation. Credentials live in ul_accounts
 * (secrets are not ledger facts: the password only as a scrypt hash, the TOTP secret sealed under
 * the account's own data key); the creation itself is an event (`AccountCreated` in
 * `account-<id>`) naming who created it. Five wrong log-ins in a row lock the account for 15
 * minutes; a wrong username and a wrong password are the same answer.
 */

export const ACCOUNT_ROLES = ['admin', 'finance', 'auditor', 'merchant'] as const satisfies readonly Role[];
export type AccountRole = (typeof ACCOUNT_ROLES)[number];

export interface Account {
  accountId: string;
  username: string;
  name: string;
  orgId: string;
  role: AccountRole;
  totp: boolean;
}

export interface NewAccount {
  username: string;
  name: string;
  orgId: string;
  role: AccountRole;
  /** Enrol a TOTP second factor (the answer carries its otpauth:// URI, once). */
  totp: boolean;
}

export const MAX_FAILED_LOGINS = 5;
export const LOCKOUT_SECONDS = 15 * 60;
const USERNAME = /^[a-z][a-z0-9._-]{2,63}$/;
/** scrypt at N=2^15, r=8: about 32 MiB and tens of milliseconds per check, as OWASP suggests. */
const SCRYPT: ScryptOptions = { N: 2 ** 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };
const KEY_BYTES = 32;

function scryptAsync(password: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => scrypt(password, salt, KEY_BYTES, SCRYPT, (error, key) => (error ? reject(error) : resolve(key))));
}

async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${(await scryptAsync(password, salt)).toString('base64')}`;
}

async function passwordMatches(password: string, stored: string): Promise<boolean> {
  const [scheme, , , , salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const given = await scryptAsync(password, Buffer.from(salt, 'base64'));
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** A hash no password meets, checked for unknown usernames so both answers take the same time. */
const DECOY = hashPassword(randomBytes(16).toString('hex'));

function totpOf(secret: string, username: string): TOTP {
  return new TOTP({ issuer: 'Union Ledger', label: username, algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) });
}

const invalidCredentials = (): DomainError => new DomainError('SESSION.CREDENTIALS_INVALID', 'the username, password or one-time code is not right', 401);

interface AccountRow {
  account_id: string;
  username: string;
  name: string;
  org_id: string;
  role: AccountRole;
  password_hash: string;
  totp_sealed: string | null;
  failed_logins: number;
  locked_until: Date | null;
}

const toAccount = (row: AccountRow): Account => ({
  accountId: row.account_id,
  username: row.username,
  name: row.name,
  orgId: row.org_id,
  role: row.role,
  totp: row.totp_sealed !== null,
});

export class AccountService {
  constructor(
    private readonly deps: {
      db: Database;
      store: EventStore;
      vault: PiiVault;
      /**
       * Whether the account's scope exists (read from its stream, so it never lags): the union of
       * an admin, finance approver or auditor; the admitted merchant of a merchant terminal.
       */
      scopeExists(role: AccountRole, orgId: string): Promise<boolean>;
      clock?: () => Date;
    },
  ) {}

  private now(): Date {
    return this.deps.clock?.() ?? new Date();
  }

  /** Creates an account; answers its one-time password (shown once, never stored) and the TOTP URI. */
  async create(input: NewAccount, actor: Actor): Promise<{ account: Account; password: string; totpUri: string | null }> {
    const username = input.username.trim().toLowerCase();
    if (!USERNAME.test(username)) throw new DomainError('ACCOUNT.USERNAME_INVALID', 'username: 3-64 of a-z 0-9 . _ -, starting with a letter', 400);
    const name = input.name.trim();
    if (name.length === 0 || [...name].length > 50) throw new DomainError('ACCOUNT.NAME_INVALID', 'name: 1-50 characters', 400);
    if (!(ACCOUNT_ROLES as readonly string[]).includes(input.role)) throw new DomainError('ACCOUNT.ROLE_INVALID', `role: ${ACCOUNT_ROLES.join(', ')}`, 400);
    if (!(await this.deps.scopeExists(input.role, input.orgId))) {
      throw input.role === 'merchant'
        ? new DomainError('MERCHANT.NOT_FOUND', `no admitted merchant ${input.orgId}`, 404)
        : new DomainError('ORG.NOT_FOUND', `no organisation ${input.orgId}`, 404);
    }

    const accountId = randomUUID();
    const password = randomBytes(12).toString('base64url');
    const totpSecret = input.totp ? new Secret({ size: 20 }).base32 : null;
    const totpSealed = totpSecret ? await this.deps.vault.sealText(accountId, totpSecret) : null;
    const inserted = await this.deps.db.oneOrNone(
      `INSERT INTO ul_accounts (account_id, username, name, org_id, role, password_hash, totp_sealed, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (username) DO NOTHING RETURNING account_id`,
      [accountId, username, name, input.orgId, input.role, await hashPassword(password), totpSealed, this.now()],
    );
    if (!inserted) throw new DomainError('ACCOUNT.USERNAME_TAKEN', `the username ${username} is taken`, 409);
    await this.deps.store.appendToStream(
      `account-${accountId}`,
      [{ type: 'AccountCreated', data: { accountId, username, name, orgId: input.orgId, role: input.role, totp: totpSecret !== null }, metadata: { occurredAt: this.now().toISOString(), actor } }],
      { expectedRevision: 'no_stream' },
    );
    const account: Account = { accountId, username, name, orgId: input.orgId, role: input.role, totp: totpSecret !== null };
    return { account, password, totpUri: totpSecret ? totpOf(totpSecret, username).toString() : null };
  }

  /** Checks a log-in; counts failures and locks the account after MAX_FAILED_LOGINS in a row. */
  async logIn(usernameRaw: string, password: string, totpCode: string | undefined): Promise<Account> {
    const username = usernameRaw.trim().toLowerCase();
    const row = USERNAME.test(username) ? await this.deps.db.oneOrNone<AccountRow>('SELECT * FROM ul_accounts WHERE username = $1', [username]) : null;
    const now = this.now();
    if (!row) {
      await passwordMatches(password, await DECOY);
      throw invalidCredentials();
    }
    if (row.locked_until && row.locked_until.getTime() > now.getTime()) {
      const retryAfterSeconds = Math.ceil((row.locked_until.getTime() - now.getTime()) / 1000);
      throw new DomainError('SESSION.ACCOUNT_LOCKED', 'too many wrong log-ins: the account is locked for a while', 429, { retryAfterSeconds });
    }
    let ok = await passwordMatches(password, row.password_hash);
    if (ok && row.totp_sealed) {
      const secret = await this.deps.vault.openText(row.account_id, row.totp_sealed);
      ok = secret !== null && totpCode !== undefined && /^\d{6}$/.test(totpCode) && totpOf(secret, row.username).validate({ token: totpCode, window: 1 }) !== null;
    }
    if (!ok) {
      await this.deps.db.none(
        `UPDATE ul_accounts SET failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
                locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3::timestamptz ELSE locked_until END
          WHERE account_id = $1`,
        [row.account_id, MAX_FAILED_LOGINS, new Date(now.getTime() + LOCKOUT_SECONDS * 1000)],
      );
      throw invalidCredentials();
    }
    if (row.failed_logins > 0) await this.deps.db.none('UPDATE ul_accounts SET failed_logins = 0 WHERE account_id = $1', [row.account_id]);
    return toAccount(row);
  }

  async find(accountId: string): Promise<Account | null> {
    const row = await this.deps.db.oneOrNone<AccountRow>('SELECT * FROM ul_accounts WHERE account_id = $1', [accountId]);
    return row ? toAccount(row) : null;
  }
}
