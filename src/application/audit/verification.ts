import { verifyHashChains, type VerifyReport } from '../../eventstore/postgres/verify';
import { pgp, type Database } from '../../infra/database';
import { checkTrialBalance, type TrialBalanceReport } from '../../projections/ledger';
import { visibleFeedEnd } from './heads';

/**
 * The verification status the auditor reads over HTTP: what `union-ledger verify` checks (every
 * stream's hash chain, then double entry: trial balance, journal and balances against the events),
 * run by the same code, in the background.
 *
 * Why a cached result and not a verify per request: a full verify reads every event (the chains
 * are recomputed from the stored columns), minutes on a province's ledger, far past a request's
 * time budget, and an auditor polling the route would run it once per poll. Why not only the log
 * since the latest seal: a seal proves the heads, not that every link below them was checked, and
 * an event altered below the seal would pass. So the route answers the last finished full run with
 * the feed position and times it was taken at, and starts a new run (one at a time per process)
 * when there is none or it is older than `maxAgeMs`. The cache is in memory: each service process
 * keeps its own, and a restart starts over (a run is read-only, so losing one costs only time).
 */

export const VERIFICATION_MAX_AGE_MS = 10 * 60_000;

const READ_ONLY_SNAPSHOT = new pgp.txMode.TransactionMode({ tiLevel: pgp.txMode.isolationLevel.repeatableRead, readOnly: true });

export interface VerificationResult {
  ok: boolean;
  /** The visible end of the feed when the run started: every event at or before it was checked. */
  feedPosition: string;
  startedAt: string;
  finishedAt: string;
  hashChains: {
    ok: boolean;
    eventsChecked: number;
    streamsChecked: number;
    broken: Array<Omit<VerifyReport['broken'][number], 'revision' | 'globalPosition'> & { revision: string; globalPosition: string }>;
  };
  trialBalance: TrialBalanceReport;
}

export interface VerificationStatus {
  /** The last finished run, null before the first. */
  last: VerificationResult | null;
  /** When the run in progress started, null when none is running. */
  runningSince: string | null;
  /** Why the last attempt failed to finish (a database error, not a finding), null if it finished. */
  lastError: string | null;
  maxAgeMs: number;
}

export class Verifications {
  private last: VerificationResult | null = null;
  private runningSince: Date | null = null;
  private lastError: string | null = null;
  private running: Promise<void> | null = null;

  constructor(
    private readonly db: Database,
    private readonly clock: () => Date = () => new Date(),
    private readonly maxAgeMs = VERIFICATION_MAX_AGE_MS,
  ) {}

  /** The status now; starts a run when the last is missing or stale and none is running. Never waits for a run. */
  status(): VerificationStatus {
    const stale = this.last === null || this.clock().getTime() - Date.parse(this.last.finishedAt) > this.maxAgeMs;
    if (stale && this.running === null) this.start();
    return { last: this.last, runningSince: this.runningSince?.toISOString() ?? null, lastError: this.lastError, maxAgeMs: this.maxAgeMs };
  }

  /** The run in progress, if any (for shutdown and tests). */
  async settled(): Promise<void> {
    await this.running;
  }

  private start(): void {
    const startedAt = this.clock();
    this.runningSince = startedAt;
    this.running = this.run(startedAt)
      .then((result) => {
        this.last = result;
        this.lastError = null;
      })
      .catch((error: unknown) => {
        // An operating error (the database went away): reported on the status, the next read retries.
        this.lastError = error instanceof Error ? error.message : String(error);
      })
      .finally(() => {
        this.running = null;
        this.runningSince = null;
      });
  }

  private async run(startedAt: Date): Promise<VerificationResult> {
    const end = await visibleFeedEnd(this.db);
    // As `verify` does: the chains first, then the journal judged as it stands in one snapshot.
    const chains = await verifyHashChains(this.db);
    const balance = await this.db.tx({ mode: READ_ONLY_SNAPSHOT }, (tx) => checkTrialBalance(tx));
    return {
      ok: chains.ok && balance.ok,
      feedPosition: end.position.toString(),
      startedAt: startedAt.toISOString(),
      finishedAt: this.clock().toISOString(),
      hashChains: {
        ok: chains.ok,
        eventsChecked: chains.eventsChecked,
        streamsChecked: chains.streamsChecked,
        broken: chains.broken.map((link) => ({ ...link, revision: link.revision.toString(), globalPosition: link.globalPosition.toString() })),
      },
      trialBalance: balance,
    };
  }
}
