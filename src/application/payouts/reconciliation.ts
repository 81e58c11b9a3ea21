import { DomainError, periodsOf, previousDay } from '../../domain/shared';
import {
  DAY,
  comparePayouts,
  evolveReconciliation,
  initialReconciliationState,
  isReported,
  reconciliationStream,
  recordReconciliation,
  type PayoutMismatch,
  type ReconciliationEvent,
  type ReconciliationFigures,
  type ReconciliationState,
} from '../../domain/payouts';
import type { EventStore } from '../../eventstore/event-store';
import type { Database } from '../../infra/database';
import { CheckpointMovedError, catchUpProjection } from '../../projections';
import { ledgerPayouts, payoutsProjection } from '../../projections/payouts';
import { CommandHandler } from '../command-handler';
import type { PaymentGatewayPort } from './ports';

/**
 * A day's payouts reconciled (domain/payouts/reconciliation.ts): the gateway's statement file
 * against the ledger's payouts read model, brought up to the end of the log first. `report` only
 * compares (the admin route); `reconcile` also records each new mismatch and the run on the day's
 * stream (the daily job and `union-ledger reconcile --date`).
 */

export interface ReconciliationView extends ReconciliationFigures {
  day: string;
  /** Every mismatch found now, and whether the day's stream has recorded it. */
  mismatches: Array<PayoutMismatch & { recorded: boolean }>;
  /** Events this run appended to the day's stream (0 for a report). */
  recordedEvents: number;
}

export interface PayoutReconciliationDeps {
  store: EventStore;
  db: Database;
  gateway: PaymentGatewayPort;
  clock?: () => Date;
}

/** Catch-ups tried when the live projection runner moves the checkpoint at the same moment. */
const CATCH_UP_ATTEMPTS = 5;

export class PayoutReconciliation {
  private readonly days: CommandHandler<ReconciliationState, ReconciliationEvent>;

  constructor(private readonly deps: PayoutReconciliationDeps) {
    this.days = new CommandHandler(
      deps.store,
      { name: 'reconciliation', initialState: initialReconciliationState, evolve: evolveReconciliation },
      { cacheEntries: 64, ...(deps.clock ? { clock: deps.clock } : {}) },
    );
  }

  /** Yesterday in Shanghai: the day the daily job reconciles. */
  yesterday(): string {
    return previousDay(periodsOf(this.now()).day);
  }

  /** Compares without recording: a day in progress may be looked at too. */
  async report(day: string): Promise<ReconciliationView> {
    checkDay(day);
    const report = await this.compare(day);
    const { state } = await this.days.load(reconciliationStream(day));
    return { ...report, mismatches: report.mismatches.map((mismatch) => ({ ...mismatch, recorded: isReported(state, mismatch) })), recordedEvents: 0 };
  }

  /** Compares and records: each new mismatch once, and the run when its figures changed. */
  async reconcile(day: string): Promise<ReconciliationView> {
    checkDay(day);
    const report = await this.compare(day);
    const today = periodsOf(this.now()).day;
    // One run's command id per outcome: a run repeated with the same outcome appends nothing anyway.
    const commandId = `reconciliation:${day}:${report.statementLines}:${report.statementFen}:${report.ledgerPayouts}:${report.ledgerFen}:${report.mismatches.length}`;
    const result = await this.days.handle(reconciliationStream(day), (state) => recordReconciliation(state, report, today), { commandId, actor: { type: 'system', id: 'reconciliation' } });
    return {
      ...report,
      mismatches: report.mismatches.map((mismatch) => ({ ...mismatch, recorded: isReported(result.state, mismatch) })),
      recordedEvents: result.replayed ? 0 : result.events.length,
    };
  }

  private async compare(day: string) {
    const statement = await this.deps.gateway.statement(day);
    await this.catchUp();
    const ledger = await ledgerPayouts(this.deps.db, day, [...new Set(statement.map((line) => line.requestId))]);
    return comparePayouts(day, statement, ledger);
  }

  private async catchUp(): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await catchUpProjection(this.deps.store, this.deps.db, payoutsProjection());
        return;
      } catch (error) {
        // The service's own runner moved the checkpoint meanwhile: it is applying the same events; catch up again.
        if (!(error instanceof CheckpointMovedError) || attempt >= CATCH_UP_ATTEMPTS) throw error;
      }
    }
  }

  private now(): Date {
    return this.deps.clock?.() ?? new Date();
  }
}

function checkDay(day: string): void {
  if (!DAY.test(day)) throw new DomainError('RECONCILIATION.DAY_INVALID', 'a day is YYYY-MM-DD', 400, { day });
}
