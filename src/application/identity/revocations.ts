import type { Database } from '../../infra/database';
import { ACCESS_TOKEN_TTL_SECONDS } from './tokens';

/**
 * Sessions ended before their access tokens run out: a logout, "every device", a login re-bound
 * by an admin, a replayed refresh token, a subject gone. Without this an access token outlives its
 * session by up to 15 minutes; with it the API refuses the token at once in the process that ended
 * the session and within REVOCATION_SYNC_MS in every other.
 *
 * The list is ul_sessions itself (revoked_at, with its own index since migration 72): each sync
 * reads the families revoked within the lifetime of an access token, which is all a token can
 * still be refused for, so nothing else needs keeping. A whole window is read each time, not what
 * is newer than the last read, so a revocation whose transaction commits late is not missed.
 * Per request the check is one Map lookup. SessionService.start runs the sync every
 * REVOCATION_SYNC_MS in each API process.
 */

/** How often each API process reads the sessions ended elsewhere (SessionService.start). */
export const REVOCATION_SYNC_MS = 2000;
/** An access token lives this long after its session ended, at most (its lifetime and the verifier's clock skew). */
const TOKEN_LIFETIME_MS = (ACCESS_TOKEN_TTL_SECONDS + 60) * 1000;
/** At most this many ended sessions are read per sync (a mass revocation of more is logged and read next time as they age). */
const MAX_ENDED = 200_000;

export class SessionRevocations {
  /** Session id → the instant after which no access token of it is valid anyway. */
  private readonly ended = new Map<string, number>();

  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Sessions this process just ended: refused from now on here, and elsewhere at their next sync. */
  note(sessionIds: Iterable<string>): void {
    const until = this.clock().getTime() + TOKEN_LIFETIME_MS;
    for (const sessionId of sessionIds) this.ended.set(sessionId, until);
  }

  /** True when the session of an access token was ended (a token without a session id is never refused here). */
  isEnded(sessionId: string | undefined): boolean {
    return sessionId !== undefined && this.ended.has(sessionId);
  }

  /** Reads the sessions ended within an access token's lifetime, and forgets the ones whose tokens have all run out. */
  async sync(log: (message: string) => void = () => undefined): Promise<void> {
    const nowMs = this.clock().getTime();
    const rows = await this.db.any<{ family_id: string; revoked_at: Date }>(
      `SELECT family_id, max(revoked_at) AS revoked_at FROM ul_sessions
        WHERE revoked_at > $1 GROUP BY family_id ORDER BY max(revoked_at) DESC LIMIT $2`,
      [new Date(nowMs - TOKEN_LIFETIME_MS), MAX_ENDED],
    );
    if (rows.length === MAX_ENDED) log(`session revocations: more than ${MAX_ENDED} sessions ended within 16 minutes; the oldest are read as newer ones age out`);
    for (const row of rows) {
      const until = row.revoked_at.getTime() + TOKEN_LIFETIME_MS;
      if (until > (this.ended.get(row.family_id) ?? 0)) this.ended.set(row.family_id, until);
    }
    for (const [sessionId, until] of this.ended) if (until <= nowMs) this.ended.delete(sessionId);
  }
}
