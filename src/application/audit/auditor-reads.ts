import type { EventStore, JsonObject, RecordedEvent } from '../../eventstore/event-store';
import { pgp, type Database } from '../../infra/database';
import type { HeadsSealedData } from '../../domain/audit';
import { balancesAsOf, type AsOf, type BalancesAsOf } from './balances';
import { Seals } from './seals';
import { accountStatement, type AccountStatementPage } from './statement';
import { Verifications } from './verification';

/**
 * What the auditor routes read, and the record of each read: every access by an auditor is an
 * `AuditorRead` event on `audit-access-<auditor id>`, so the log of who looked at what is as
 * tamper-evident as the ledger it looked at.
 */

export const auditAccessStream = (auditorId: string): string => `audit-access-${auditorId}`;
/** Events one stream read answers at most. */
export const STREAM_EVENTS_MAX = 500;

const READ_ONLY_SNAPSHOT = new pgp.txMode.TransactionMode({ tiLevel: pgp.txMode.isolationLevel.repeatableRead, readOnly: true });

export class AuditorReads {
  private readonly seals: Seals;
  /** The last verification run and the one in progress (src/application/audit/verification.ts). */
  readonly verifications: Verifications;

  constructor(
    private readonly store: EventStore,
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.seals = new Seals(store, db);
    this.verifications = new Verifications(db, clock);
  }

  /** Records one read before it is answered: a read that could not be logged is not answered. */
  async logAccess(auditorId: string, route: string, params: Record<string, string | number | null>): Promise<void> {
    await this.store.appendToStream(auditAccessStream(auditorId), [
      {
        type: 'AuditorRead',
        data: { auditorId, route, params } as JsonObject,
        metadata: { occurredAt: this.clock().toISOString(), actor: { type: 'auditor', id: auditorId } },
      },
    ]);
  }

  balances(asOf: AsOf, options: { account?: string; limit?: number }): Promise<BalancesAsOf> {
    return this.db.tx({ mode: READ_ONLY_SNAPSHOT }, (tx) => balancesAsOf(tx, asOf, options));
  }

  /** One snapshot: the cursor's sort key and the page agree. */
  accountStatement(account: string, afterPosition: bigint | null, limit: number): Promise<AccountStatementPage> {
    return this.db.tx({ mode: READ_ONLY_SNAPSHOT }, (tx) => accountStatement(tx, account, afterPosition, limit));
  }

  listSeals(): Promise<HeadsSealedData[]> {
    return this.seals.list();
  }

  streamEvents(streamId: string, fromRevision: bigint, limit: number): Promise<RecordedEvent[]> {
    return this.store.readStream(streamId, { fromRevision, maxCount: Math.min(limit, STREAM_EVENTS_MAX) });
  }
}
