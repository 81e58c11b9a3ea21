import { pgp, type DbTask, type Queryable } from '../../infra/database';

/**
 * The effect log (ul_effects): what the relay handed to the queues, and which of those requests
 * the event log has recorded an outcome for. The relay writes it in the transaction that moves
 * its checkpoint; a replay reads the requests still waiting, a page at a time.
 */

export interface EffectRequest {
  /** The requesting event, which is also the job id. */
  eventId: string;
  /** The requesting event's type (the job's name). */
  type: string;
  queue: string;
  streamId: string;
  revision: bigint;
  /** What the request and its outcome have in common within the stream (insurance: the grant id). */
  effectKey: string;
  globalPosition: bigint;
}

export interface EffectOutcome {
  streamId: string;
  effectKey: string;
  /** The event that recorded the outcome. */
  eventId: string;
  type: string;
}

/** The largest page a replay reads at once. */
export const EFFECT_PAGE_MAX = 1_000;

const requestColumns = new pgp.helpers.ColumnSet(['event_id', 'event_type', 'queue', 'stream_id', 'revision', 'effect_key', 'global_position'], { table: 'ul_effects' });
const outcomeColumns = new pgp.helpers.ColumnSet(['stream_id', 'effect_key', 'outcome_event_id', 'outcome_type']);

/**
 * Records requests (again: a request already there is left alone) and then outcomes, in the
 * caller's transaction. Outcomes are applied after the requests, so a batch holding both a
 * request and its outcome records both.
 */
export async function recordEffects(tx: DbTask, requests: readonly EffectRequest[], outcomes: readonly EffectOutcome[]): Promise<void> {
  if (requests.length > 0) {
    const rows = requests.map((request) => ({
      event_id: request.eventId,
      event_type: request.type,
      queue: request.queue,
      stream_id: request.streamId,
      revision: request.revision.toString(),
      effect_key: request.effectKey,
      global_position: request.globalPosition.toString(),
    }));
    await tx.none(`${pgp.helpers.insert(rows, requestColumns)} ON CONFLICT (event_id) DO NOTHING`);
  }
  if (outcomes.length > 0) {
    const rows = outcomes.map((outcome) => ({ stream_id: outcome.streamId, effect_key: outcome.effectKey, outcome_event_id: outcome.eventId, outcome_type: outcome.type }));
    // The first outcome stands, as in the deciders.
    await tx.none(
      `UPDATE ul_effects AS e SET outcome_event_id = v.outcome_event_id, outcome_type = v.outcome_type
         FROM (VALUES ${pgp.helpers.values(rows, outcomeColumns)}) AS v (stream_id, effect_key, outcome_event_id, outcome_type)
        WHERE e.stream_id = v.stream_id AND e.effect_key = v.effect_key AND e.outcome_event_id IS NULL`,
    );
  }
}

/** A page of requests without a recorded outcome, in log order after `afterPosition` (-1 for the first page). */
export async function outstandingEffects(db: Queryable, queues: readonly string[], afterPosition: bigint, limit: number): Promise<EffectRequest[]> {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > EFFECT_PAGE_MAX) throw new Error(`invariant violated: effect page of ${limit}`);
  if (queues.length === 0) return [];
  const rows = await db.any<{ event_id: string; event_type: string; queue: string; stream_id: string; revision: string; effect_key: string; global_position: string }>(
    `SELECT event_id, event_type, queue, stream_id, revision, effect_key, global_position FROM ul_effects
      WHERE outcome_event_id IS NULL AND global_position > $1 AND queue = ANY($2)
      ORDER BY global_position LIMIT $3`,
    [afterPosition.toString(), [...queues], limit],
  );
  return rows.map((row) => ({
    eventId: row.event_id,
    type: row.event_type,
    queue: row.queue,
    streamId: row.stream_id,
    revision: BigInt(row.revision),
    effectKey: row.effect_key,
    globalPosition: BigInt(row.global_position),
  }));
}

/** How many requests of each queue are waiting for their outcome (for status and logs). */
export async function outstandingCounts(db: Queryable): Promise<Record<string, number>> {
  const rows = await db.any<{ queue: string; count: string }>('SELECT queue, count(*) FROM ul_effects WHERE outcome_event_id IS NULL GROUP BY queue ORDER BY queue');
  return Object.fromEntries(rows.map((row) => [row.queue, Number(row.count)]));
}
