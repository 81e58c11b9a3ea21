import {
  batchStream,
  issueVouchers,
  nextChunkToPay,
  payChunk,
  programmeStream,
  reserveDisbursement,
  voucherGrant,
  walletCredit,
  walletStream,
  type BatchEvent,
  type BatchState,
  type ProgrammeEvent,
  type WalletEvent,
} from '../../domain/benefits';
import { DomainError, schemaVersionOf } from '../../domain/shared';
import { ConcurrencyError } from '../../eventstore/errors';
import type { Actor, EventStore, StreamAppend } from '../../eventstore/event-store';
import { eventsToAppend, type CommandMeta } from '../command-handler';
import type { BenefitHandlers } from './handlers';

/**
 * Pays an approved batch chunk by chunk. One chunk is one commit over several streams
 * (EventStore.appendToStreams): the programme's reservation at the programme's expected revision
 * (so a budget is never overdrawn, whatever races it), the chunk's record at the batch's expected
 * revision (so a chunk is paid once, however often a crashed or racing run retries it), and one
 * credit per wallet (at any revision: a credit cannot break a wallet's invariants, and the wallet's
 * own commands re-read their stream before deciding). Several hundred members per commit is what
 * makes a 100,000-member batch fast.
 */

const SYSTEM: Actor = { type: 'system', id: 'batch-runner' };
/** Conflicts on the programme stream (another batch, an allocation) decided again before giving up for now. */
const MAX_CHUNK_ATTEMPTS = 50;

export interface BatchProgress {
  batchId: string;
  status: BatchState['status'];
  paidCount: number;
  paidFen: number;
}

export class BatchRunner {
  /** Batches this process is paying: a second start of the same batch joins the first run. */
  private readonly running = new Map<string, Promise<BatchProgress>>();
  /** Set while the process stops: runs end after the chunk in hand (the sweep of the next start resumes them). */
  private stopping = false;

  constructor(
    private readonly store: EventStore,
    private readonly handlers: BenefitHandlers,
    private readonly clock: () => Date,
  ) {}

  /** Pays the batch to its end (or its stop); resolves with where it ended. Safe to call again and from several processes. */
  run(batchId: string): Promise<BatchProgress> {
    const existing = this.running.get(batchId);
    if (existing) return existing;
    const run = this.payAll(batchId).finally(() => this.running.delete(batchId));
    this.running.set(batchId, run);
    return run;
  }

  /** Resolves when no batch is being paid by this process (runs end at their next chunk boundary only when stopped). */
  async idle(): Promise<void> {
    this.stopping = true;
    await Promise.allSettled([...this.running.values()]);
    this.stopping = false;
  }

  /** Batches being paid by this process now. */
  get active(): number {
    return this.running.size;
  }

  /**
   * Pays the next chunk, one commit each, until none is left. The batch is read once per
   * attempt: after a commit (or a conflict) the next read sees what it, or a racing run, wrote.
   */
  private async payAll(batchId: string): Promise<BatchProgress> {
    let conflicts = 0;
    for (;;) {
      const batch = await this.handlers.batches.load(batchStream(batchId));
      const next = nextChunkToPay(batch.state);
      const { state } = batch;
      if (!next || this.stopping) return { batchId, status: state.status, paidCount: state.paidCount, paidFen: state.paidFen };
      if (await this.payChunk(batch, next)) {
        conflicts = 0;
      } else if ((conflicts += 1) >= MAX_CHUNK_ATTEMPTS) {
        throw new ConcurrencyError(batchStream(batchId), 'any', `batch ${batchId} chunk ${next.chunk} still contended after ${MAX_CHUNK_ATTEMPTS} attempts`);
      }
    }
  }

  /**
   * Pays one chunk in one commit, decided on `batch` as read; false when the programme or the
   * batch moved meanwhile (a conflict: the caller reads again and decides again).
   */
  private async payChunk(
    batch: { state: BatchState; revision: bigint },
    next: NonNullable<ReturnType<typeof nextChunkToPay>>,
  ): Promise<boolean> {
    const batchId = batch.state.batchId;
    const chunk = next.chunk;
    const programme = await this.handlers.programmes.load(programmeStream(batch.state.programmeId));
    const now = this.clock();
    const { programmeEvents, covered, stop } = this.reserve(batch.state, programme.state, next);
    const batchEvents = payChunk(batch.state, chunk, covered, stop);
    const items = next.items.slice(0, covered);
    const ref = { batchId, programmeId: batch.state.programmeId, orgId: batch.state.orgId };
    const walletEvents: Array<[string, WalletEvent]> = items.map((item) => [
      item.memberId,
      batch.state.kind === 'money' ? walletCredit(item.memberId, ref, item.amountFen) : voucherGrant(item.memberId, ref, batch.state.voucher!),
    ]);
    const meta: CommandMeta = { commandId: `batch:${batchId}:chunk:${chunk}`, actor: SYSTEM };
    const schemaVersion = (event: { data: object }) => schemaVersionOf(event.data);
    // Event ids are numbered across the whole commit: each stream's events get their own range.
    let first = 0;
    const appends: StreamAppend[] = [];
    const add = (streamId: string, events: ReadonlyArray<ProgrammeEvent | BatchEvent | WalletEvent>, expectedRevision: StreamAppend['expectedRevision']) => {
      if (events.length === 0) return;
      appends.push({ streamId, events: eventsToAppend(events, meta, now, schemaVersion, first), ...(expectedRevision !== undefined ? { expectedRevision } : {}) });
      first += events.length;
    };
    add(programmeStream(batch.state.programmeId), programmeEvents, programme.revision < 0n ? 'no_stream' : programme.revision);
    add(batchStream(batchId), batchEvents, batch.revision);
    for (const [memberId, event] of walletEvents) add(walletStream(memberId), [event], 'any');
    try {
      await this.store.appendToStreams(appends);
      return true;
    } catch (error) {
      if (error instanceof ConcurrencyError) return false; // The programme or the batch moved: decide again on what is there now.
      throw error;
    }
  }

  /** The programme's part of a chunk: how many of its members the budget covers, in list order. */
  private reserve(
    batch: BatchState,
    programme: Parameters<typeof reserveDisbursement>[0],
    next: NonNullable<ReturnType<typeof nextChunkToPay>>,
  ): { programmeEvents: ProgrammeEvent[]; covered: number; stop: 'BUDGET_INSUFFICIENT' | 'PROGRAMME_CLOSED' } {
    if (programme.status === 'closed') return { programmeEvents: [], covered: 0, stop: 'PROGRAMME_CLOSED' };
    try {
      if (batch.kind === 'money') {
        const { events, covered } = reserveDisbursement(programme, {
          orgId: batch.orgId,
          batchId: batch.batchId,
          chunk: next.chunk,
          amountsFen: next.items.map((item) => item.amountFen),
        });
        return { programmeEvents: events, covered, stop: 'BUDGET_INSUFFICIENT' };
      }
      const faceFen = batch.voucher!.faceFen;
      const balance = programme.budgets.get(batch.orgId)?.balance ?? 0;
      const covered = Math.min(next.items.length, Math.floor(balance / faceFen));
      if (covered === 0) return { programmeEvents: [], covered, stop: 'BUDGET_INSUFFICIENT' };
      const events = issueVouchers(programme, { orgId: batch.orgId, campaignId: batch.batchId, chunk: next.chunk, count: covered, faceFen });
      return { programmeEvents: events, covered, stop: 'BUDGET_INSUFFICIENT' };
    } catch (error) {
      // A union without a budget in the programme covers nobody: the batch stops, as when a budget runs out.
      if (error instanceof DomainError && (error.code === 'BUDGET.NOT_FOUND' || error.code === 'BUDGET.INSUFFICIENT')) {
        return { programmeEvents: [], covered: 0, stop: 'BUDGET_INSUFFICIENT' };
      }
      throw error;
    }
  }
}
