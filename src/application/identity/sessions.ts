import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { DomainError } from '../../domain/shared';
import type { Database, DbTask } from '../../infra/database';
import { REVOCATION_SYNC_MS, type SessionRevocations } from './revocations';
import { ACCESS_TOKEN_TTL_SECONDS, type Role, type TokenService } from './tokens';

/**
 * Sessions: a short access token (15 minutes) and a rotating refresh token. A session family is
 * one login on one device. Refresh tokens are 256 random bits, stored only as SHA-256 hashes;
 * each refresh spends the token and issues the next one of the family. Presenting a spent token
 * again revokes the whole family: either it was stolen and the thief or the owner is replaying
 * it, and both must log in again (a retry within REFRESH_RETRY_GRACE_SECONDS, while the successor
 * is unused, gets the same successor instead: see refresh). Revoking a family or every family of a
 * subject stops refreshes at once, and the API refuses the family's access tokens at once too
 * (SessionRevocations: in this process now, in the others within seconds).
 */

export interface SessionTokens {
  accessToken: string;
  /** Absent for visitors, who log in again through WeChat instead. */
  refreshToken: string | null;
  tokenType: 'Bearer';
  expiresInSeconds: number;
  sessionId: string;
  subject: string;
  role: Role;
  org: string;
}

export interface SessionSubject {
  sub: string;
  role: Role;
  org: string;
}

export const REFRESH_TOKEN_TTL_SECONDS = 30 * 24 * 3600;
/** Refresh tokens are base64url of 32 bytes. */
const REFRESH_TOKEN = /^[A-Za-z0-9_-]{43}$/;
const MAX_DEVICE_CHARS = 100;

/**
 * How long after a refresh its spent token may be presented again as a retry (the answer lost on
 * a mobile network, or two requests in flight at once) and get the same successor, instead of
 * ending the session as a replay.
 */
export const REFRESH_RETRY_GRACE_SECONDS = 30;
/** The housekeeping purges expired rows every this many passes (REVOCATION_SYNC_MS each: a minute), PURGE_BATCH a statement. */
const PURGE_EVERY_PASSES = 30;
const PURGE_BATCH = 5000;
/** Full batches in a row before the purge waits for the next minute: at most 50,000 rows a minute per API process. */
const PURGE_BATCHES_PER_RUN = 10;

interface SessionRow {
  family_id: string;
  subject: string;
  role: Role;
  device: string;
  expires_at: Date;
  spent_at: Date | null;
  revoked_at: Date | null;
  successor_sealed: Buffer | null;
}

const hashOf = (token: string): Buffer => createHash('sha256').update(token, 'utf8').digest();

/*
 * A spent token's successor, sealed with AES-256-GCM under SHA-256 of a label and the spent
 * token's plaintext (256 random bits, stored only as an unlabelled SHA-256): the database alone
 * opens nothing, and whoever presents the spent token could refresh with it anyway within the
 * grace window. Node's crypto is enough here; the vault (infra/pii) keys by owner, which a token has not.
 */
const successorKey = (spent: string): Buffer => createHash('sha256').update('union-ledger/refresh-successor\0', 'utf8').update(spent, 'utf8').digest();

function sealSuccessor(spent: string, successor: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', successorKey(spent), iv);
  const sealed = Buffer.concat([cipher.update(successor, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), sealed]);
}

function openSuccessor(spent: string, sealed: Buffer): string {
  const decipher = createDecipheriv('aes-256-gcm', successorKey(spent), sealed.subarray(0, 12), { authTagLength: 16 });
  decipher.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([decipher.update(sealed.subarray(28)), decipher.final()]).toString('utf8');
}

function refused(code: string, message: string): DomainError {
  return new DomainError(code, message, 401);
}

export class SessionService {
  private housekeeping: { timer: NodeJS.Timeout; running: () => Promise<void> | undefined } | undefined;

  constructor(
    private readonly db: Database,
    private readonly tokens: TokenService,
    private readonly clock: () => Date = () => new Date(),
    /** Where ended sessions are noted, so that their access tokens are refused at once (revocations.ts). */
    private readonly revocations?: SessionRevocations,
  ) {}

  /** Opens a session family for a subject on a device; visitors get an access token only. */
  async open(subject: SessionSubject, device: string): Promise<SessionTokens> {
    const familyId = randomUUID();
    if (subject.role === 'visitor') return this.issue(subject, familyId, null);
    const refreshToken = await this.store(this.db, subject, familyId, device.slice(0, MAX_DEVICE_CHARS));
    return this.issue(subject, familyId, refreshToken);
  }

  /**
   * Spends a refresh token and issues the family's next one. `currentOrg` answers the subject's
   * organisation now (a member may have moved union since the session opened), or null when the
   * subject no longer exists, which ends the session.
   *
   * A spent token presented again ends the family, except within REFRESH_RETRY_GRACE_SECONDS of
   * its spending while its successor is still unused: that is a client retrying a refresh whose
   * answer the network lost (or two requests in flight at once), and it gets the same successor
   * again, so whichever answer it keeps is good. Once the successor has been used, or later, the
   * spent token is a replay. The successor is spent and stored in one transaction, so a retry
   * never finds the token spent without its successor.
   */
  async refresh(refreshToken: string, currentOrg: (subject: string, role: Role) => Promise<string | null>): Promise<SessionTokens> {
    if (!REFRESH_TOKEN.test(refreshToken)) throw refused('SESSION.REFRESH_INVALID', 'the refresh token is not valid');
    const now = this.clock();
    const spent = await this.db.tx('session-refresh', async (tx) => {
      const row = await tx.oneOrNone<SessionRow>(
        'SELECT family_id, subject, role, device, expires_at, spent_at, revoked_at, successor_sealed FROM ul_sessions WHERE token_hash = $1 FOR UPDATE',
        [hashOf(refreshToken)],
      );
      if (!row) return { error: refused('SESSION.REFRESH_INVALID', 'the refresh token is not valid') };
      if (row.revoked_at) return { error: refused('SESSION.REVOKED', 'this session was ended; log in again') };
      if (row.spent_at) {
        const retried = await this.successorForRetry(tx, row, refreshToken, now);
        if (retried !== null) return { row, next: retried };
        await tx.none('UPDATE ul_sessions SET revoked_at = coalesce(revoked_at, $2), successor_sealed = NULL WHERE family_id = $1', [row.family_id, now]);
        return { error: refused('SESSION.REFRESH_REUSED', 'this refresh token was already used: the session is ended; log in again'), ended: row.family_id };
      }
      if (row.expires_at.getTime() <= now.getTime()) return { error: refused('SESSION.REFRESH_EXPIRED', 'the refresh token has expired; log in again') };
      const next = await this.store(tx, { sub: row.subject, role: row.role }, row.family_id, row.device);
      // Only the newest spent token of a family keeps a sealed successor: an older one's successor
      // was used (this token), so presenting it is a replay, and its sealed copy must not let
      // whoever holds that old token walk the chain up to the live one. A row a concurrent retry
      // has locked is skipped rather than waited for (that retry locks its successor, this row,
      // next: waiting would deadlock); the housekeeping erases it within the retry window.
      await tx.none(
        `UPDATE ul_sessions SET successor_sealed = NULL
          WHERE token_hash IN (SELECT token_hash FROM ul_sessions WHERE family_id = $1 AND successor_sealed IS NOT NULL FOR UPDATE SKIP LOCKED)`,
        [row.family_id],
      );
      await tx.none('UPDATE ul_sessions SET spent_at = $2, successor_sealed = $3 WHERE token_hash = $1', [hashOf(refreshToken), now, sealSuccessor(refreshToken, next)]);
      return { row, next };
    });
    // The revocation above must commit even though the caller is refused, hence the error as a value.
    if ('error' in spent) {
      if ('ended' in spent && spent.ended !== undefined) this.revocations?.note([spent.ended]);
      throw spent.error;
    }
    const { row, next } = spent;
    const org = await currentOrg(row.subject, row.role);
    if (org === null) {
      await this.revokeFamily(row.family_id);
      throw refused('SESSION.SUBJECT_GONE', 'the account of this session no longer exists');
    }
    return this.issue({ sub: row.subject, role: row.role, org }, row.family_id, next);
  }

  /** The successor of a spent token presented again, when that is a retry (see refresh); null when it is a replay. */
  private async successorForRetry(tx: DbTask, row: SessionRow, refreshToken: string, now: Date): Promise<string | null> {
    if (row.spent_at === null || row.successor_sealed === null) return null;
    if (now.getTime() - row.spent_at.getTime() > REFRESH_RETRY_GRACE_SECONDS * 1000) return null;
    let successor: string;
    try {
      successor = openSuccessor(refreshToken, row.successor_sealed);
    } catch {
      return null; // Not sealed under this token (cannot happen unless the row was altered): a replay.
    }
    const next = await tx.oneOrNone<{ spent_at: Date | null; revoked_at: Date | null }>('SELECT spent_at, revoked_at FROM ul_sessions WHERE token_hash = $1 FOR UPDATE', [
      hashOf(successor),
    ]);
    return next && next.spent_at === null && next.revoked_at === null ? successor : null;
  }

  /**
   * The API process's housekeeping, every REVOCATION_SYNC_MS until close: the sessions ended
   * elsewhere are read (SessionRevocations), and the sealed successors whose retry window is over
   * are erased, so that a spent token opens nothing once it can no longer be retried. The first
   * read of the list is awaited; a failed pass is logged and the next one tries again (a service
   * started while PostgreSQL is down still starts, its requests that need the database answering 503).
   */
  async start(log: (message: string) => void = () => undefined): Promise<void> {
    if (this.housekeeping) return;
    const failed = (error: unknown): void => log(`sessions: housekeeping failed, retried in ${REVOCATION_SYNC_MS} ms: ${(error as Error).message}`);
    // Only the list of ended sessions is needed before the first request; the erasing and the
    // purge (up to 50,000 deletes) wait for the timer, so they never hold up a start.
    await this.revocations?.sync(log).catch(failed);
    let passes = 0;
    const pass = async (): Promise<void> => {
      try {
        await this.revocations?.sync(log);
        await this.forgetSpentSuccessors();
        // Once a minute or so: every refresh adds a row, and rows outlive their use by nothing.
        if (passes++ % PURGE_EVERY_PASSES === 0) {
          for (let batch = 0; batch < PURGE_BATCHES_PER_RUN; batch += 1) if ((await this.purgeExpired()) < PURGE_BATCH) break;
        }
      } catch (error) {
        failed(error);
      }
    };
    let running: Promise<void> | undefined;
    const timer = setInterval(() => {
      running ??= pass().finally(() => {
        running = undefined;
      });
    }, REVOCATION_SYNC_MS);
    timer.unref();
    this.housekeeping = { timer, running: () => running };
  }

  async close(): Promise<void> {
    if (!this.housekeeping) return;
    clearInterval(this.housekeeping.timer);
    await this.housekeeping.running();
    this.housekeeping = undefined;
  }

  /**
   * Deletes rows whose refresh token has expired, PURGE_BATCH at a time (rows another process is
   * purging are skipped): such a row answers nothing a refresh needs, and no access token of its
   * session is alive (the newest row of a family expires last). Returns how many were deleted.
   */
  async purgeExpired(): Promise<number> {
    const result = await this.db.result(
      `DELETE FROM ul_sessions WHERE token_hash IN (SELECT token_hash FROM ul_sessions WHERE expires_at < $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)`,
      [this.clock(), PURGE_BATCH],
    );
    return result.rowCount;
  }

  /** Erases the sealed successors of tokens spent longer ago than the retry window; returns how many. */
  async forgetSpentSuccessors(): Promise<number> {
    const cutoff = new Date(this.clock().getTime() - REFRESH_RETRY_GRACE_SECONDS * 1000);
    const result = await this.db.result('UPDATE ul_sessions SET successor_sealed = NULL WHERE successor_sealed IS NOT NULL AND spent_at < $1', [cutoff]);
    return result.rowCount;
  }

  /** Ends one session family (logout on one device); true when it was open. */
  async revokeFamily(familyId: string, subject?: string): Promise<boolean> {
    const result = await this.db.result(
      'UPDATE ul_sessions SET revoked_at = $3, successor_sealed = NULL WHERE family_id = $1 AND ($2::text IS NULL OR subject = $2) AND revoked_at IS NULL',
      [familyId, subject ?? null, this.clock()],
    );
    // A visitor's session has no refresh row: its access token is refused here all the same.
    this.revocations?.note([familyId]);
    return result.rowCount > 0;
  }

  /** Ends every session of a subject (all devices); returns how many families were open. */
  async revokeSubject(subject: string): Promise<number> {
    const rows = await this.db.any<{ family_id: string }>(
      `WITH revoked AS (UPDATE ul_sessions SET revoked_at = $2, successor_sealed = NULL WHERE subject = $1 AND revoked_at IS NULL RETURNING family_id)
       SELECT DISTINCT family_id FROM revoked`,
      [subject, this.clock()],
    );
    this.revocations?.note(rows.map((row) => row.family_id));
    return rows.length;
  }

  private async store(on: DbTask | Database, subject: Pick<SessionSubject, 'sub' | 'role'>, familyId: string, device: string): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    const now = this.clock();
    await on.none(
      `INSERT INTO ul_sessions (token_hash, family_id, subject, role, device, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [hashOf(token), familyId, subject.sub, subject.role, device, now, new Date(now.getTime() + REFRESH_TOKEN_TTL_SECONDS * 1000)],
    );
    return token;
  }

  private async issue(subject: SessionSubject, familyId: string, refreshToken: string | null): Promise<SessionTokens> {
    const accessToken = await this.tokens.sign({ ...subject, sid: familyId }, { ttlSeconds: ACCESS_TOKEN_TTL_SECONDS, nowMs: this.clock().getTime() });
    return {
      accessToken,
      refreshToken,
      tokenType: 'Bearer',
      expiresInSeconds: ACCESS_TOKEN_TTL_SECONDS,
      sessionId: familyId,
      subject: subject.sub,
      role: subject.role,
      org: subject.org,
    };
  }
}
