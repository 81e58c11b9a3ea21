import type { JobsOptions } from 'bullmq';
import { recordEffects, type EffectOutcome, type EffectRequest } from '../../application/jobs';
import type { EventStore, RecordedEvent, SubscriptionHandle } from '../../eventstore/event-store';
import type { Database } from '../../infra/database';
import { loadCheckpoint, saveCheckpoint, type CheckpointFence } from '../../projections';
import type { QueueSet } from '../queue-set';
import { DEFAULT_JOB_OPTIONS, EFFECT_EVENTS, EFFECT_OUTCOMES, type EffectJob, type QueueKey } from '../queues';

/**
 * The durable relay: a checkpointed subscription over the stored log (never the in-memory bus)
 * that turns effect-requesting events into BullMQ jobs.
 *
 * A batch's jobs are added first, and the checkpoint moves only once Redis has acknowledged every
 * add. A crash in between leaves the checkpoint where it was, so the batch is added again; the job
 * id is the event id, and BullMQ refuses a second job with an id it holds, so the duplicate is
 * absorbed. In the transaction that moves the checkpoint the relay also keeps its effect log
 * (ul_effects): the requests it queued, and the outcome events it passed. That log is what the
 * replay (replay.ts) reads when Redis lost its data.
 */

/** The relay's checkpoint in ul_checkpoints (beside the projections', which are named by context). */
export const RELAY_CHECKPOINT = 'workers.relay';

/** Outcome event type → its queue and the data field that names the effect. */
const OUTCOME_TYPES: ReadonlyMap<string, { queue: QueueKey; keyField: string }> = new Map(
  (Object.entries(EFFECT_OUTCOMES) as Array<[QueueKey, { keyField: string; outcomeEvents: readonly string[] }]>).flatMap(([queue, spec]) =>
    spec.outcomeEvents.map((type) => [type, { queue, keyField: spec.keyField }] as const),
  ),
);

/** Every event type the relay reads: the requests, and the outcomes for its effect log. */
export const RELAY_EVENT_TYPES: readonly string[] = [...Object.keys(EFFECT_EVENTS), ...OUTCOME_TYPES.keys()];

export interface RelayOptions {
  store: EventStore;
  db: Database;
  queues: QueueSet;
  /** Events per batch (default 500): one addBulk per queue and one transaction per batch. */
  batchSize?: number;
  pollIntervalMs?: number;
  onError?(error: unknown): void;
  /** Called after each batch is stored (for logs and lag). */
  onBatch?(summary: { jobs: number; outcomes: number; checkpoint: bigint }): void;
  /**
   * Runs after a batch's jobs were added and before the checkpoint moves: where a crash leaves
   * jobs added and the checkpoint behind them. Tests use it to crash there.
   */
  beforeCheckpoint?(events: readonly RecordedEvent[]): Promise<void>;
  /** Checked in the checkpoint's transaction, with its compare-and-set: fails the batch when this process no longer leads the relay (a Lease). */
  fence?: CheckpointFence;
}

/** A job for a requesting event: ids only, its id the event's id, every limit explicit. */
export function jobFor(event: Pick<RecordedEvent, 'eventId' | 'streamId' | 'revision' | 'type'>): { name: string; data: EffectJob; opts: JobsOptions } {
  return {
    name: event.type,
    data: { eventId: event.eventId, streamId: event.streamId, revision: event.revision.toString() },
    opts: { ...DEFAULT_JOB_OPTIONS, jobId: event.eventId },
  };
}

function effectKeyOf(event: RecordedEvent, keyField: string): string {
  const key = event.data[keyField];
  // A requesting or outcome event without its key is a decider bug: stop rather than lose track of it.
  if (typeof key !== 'string' || key.length === 0) throw new Error(`invariant violated: ${event.type} ${event.eventId} has no ${keyField}`);
  return key;
}

/** What one batch of the log asks of the queues and records in the effect log. */
export function planBatch(events: readonly RecordedEvent[]): {
  jobs: Map<QueueKey, Array<ReturnType<typeof jobFor>>>;
  requests: EffectRequest[];
  outcomes: EffectOutcome[];
} {
  const jobs = new Map<QueueKey, Array<ReturnType<typeof jobFor>>>();
  const requests: EffectRequest[] = [];
  const outcomes: EffectOutcome[] = [];
  for (const event of events) {
    const queue = EFFECT_EVENTS[event.type];
    if (queue) {
      const list = jobs.get(queue) ?? [];
      list.push(jobFor(event));
      jobs.set(queue, list);
      const spec = EFFECT_OUTCOMES[queue];
      if (spec) {
        requests.push({
          eventId: event.eventId,
          type: event.type,
          queue,
          streamId: event.streamId,
          revision: event.revision,
          effectKey: effectKeyOf(event, spec.keyField),
          globalPosition: event.globalPosition,
        });
      }
      continue;
    }
    const outcome = OUTCOME_TYPES.get(event.type);
    if (outcome) outcomes.push({ streamId: event.streamId, effectKey: effectKeyOf(event, outcome.keyField), eventId: event.eventId, type: event.type });
  }
  return { jobs, requests, outcomes };
}

export function startRelay(options: RelayOptions): SubscriptionHandle {
  let checkpoint = -1n;
  return options.store.subscribe({
    name: RELAY_CHECKPOINT,
    eventTypes: [...RELAY_EVENT_TYPES],
    batchSize: options.batchSize ?? 500,
    ...(options.pollIntervalMs ? { pollIntervalMs: options.pollIntervalMs } : {}),
    ...(options.onError ? { onError: options.onError } : {}),
    loadCheckpoint: async () => {
      checkpoint = await loadCheckpoint(options.db, RELAY_CHECKPOINT);
      return checkpoint;
    },
    handle: async (events, nextAfter) => {
      const { jobs, requests, outcomes } = planBatch(events);
      // Every add acknowledged by Redis before the checkpoint moves; a throw here retries the batch.
      await Promise.all([...jobs].map(([queue, list]) => options.queues.get(queue).addBulk(list)));
      await options.beforeCheckpoint?.(events);
      await options.db.tx('relay', async (tx) => {
        await recordEffects(tx, requests, outcomes);
        // Compare-and-set: a second relay (another worker process) that moved it first makes
        // this batch fail and start again from the stored checkpoint; its adds were duplicates.
        await saveCheckpoint(tx, RELAY_CHECKPOINT, checkpoint, nextAfter, options.fence);
      });
      checkpoint = nextAfter;
      let jobCount = 0;
      for (const list of jobs.values()) jobCount += list.length;
      options.onBatch?.({ jobs: jobCount, outcomes: outcomes.length, checkpoint });
    },
  });
}
