import type Redis from 'ioredis';
import type { Database } from '../../src/infra/database';

/**
 * Projection lag measured from outside the service: while the load runs, the probe reads both
 * projections' checkpoints every `intervalMs` (the ledger's from ul_checkpoints, the leaderboard's
 * from Redis) and notes when each answer arrived. Afterwards every event of the run is matched
 * with the first reading whose checkpoint covers it in feed order (transaction_id,
 * global_position); its lag is that reading's arrival time minus the event's recorded_at. This
 * is an upper bound, coarse by at most one interval plus one query, over every event of the run
 * (the service's own figure covers only its last 10,000 events).
 */
interface Reading {
  atMs: number;
  position: bigint;
}

export interface LagFigures {
  events: number;
  lagsMs: number[];
  /** Events no reading covered (the projection had not reached them when the probe stopped). */
  uncovered: number;
}

type FeedKey = [xid: bigint, position: bigint];

const before = (a: FeedKey, b: FeedKey): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);

export class CheckpointProbe {
  readonly ledger: Reading[] = [];
  readonly leaderboard: Reading[] = [];
  private timer: NodeJS.Timeout | undefined;
  private busy = false;

  constructor(
    private readonly db: Database,
    private readonly redis: Redis,
    private readonly leaderboardCheckpointKey: string,
    private readonly intervalMs = 50,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.read(), this.intervalMs);
  }

  async read(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      await Promise.all([
        this.db.oneOrNone<{ position: string }>("SELECT position FROM ul_checkpoints WHERE name = 'ledger'").then((row) => {
          if (row) this.ledger.push({ atMs: Date.now(), position: BigInt(row.position) });
        }),
        this.redis.get(this.leaderboardCheckpointKey).then((raw) => {
          if (raw !== null) this.leaderboard.push({ atMs: Date.now(), position: BigInt(raw) });
        }),
      ]);
    } finally {
      this.busy = false;
    }
  }

  latest(): { ledger: bigint | undefined; leaderboard: bigint | undefined } {
    return { ledger: this.ledger[this.ledger.length - 1]?.position, leaderboard: this.leaderboard[this.leaderboard.length - 1]?.position };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** The feed key of the newest committed event, or undefined for an empty log. */
export async function lastFeedKey(db: Database): Promise<FeedKey | undefined> {
  const row = await db.oneOrNone<{ xid: string; position: string }>(
    'SELECT transaction_id::text AS xid, global_position AS position FROM ul_events ORDER BY transaction_id DESC, global_position DESC LIMIT 1',
  );
  return row ? [BigInt(row.xid), BigInt(row.position)] : undefined;
}

/** True when the checkpoint (a global position) has reached `target` in feed order. */
export async function covers(db: Database, checkpoint: bigint | undefined, target: FeedKey): Promise<boolean> {
  if (checkpoint === undefined || checkpoint < 0n) return false;
  const row = await db.oneOrNone<{ xid: string }>('SELECT transaction_id::text AS xid FROM ul_events WHERE global_position = $1', [checkpoint.toString()]);
  return row !== null && !before([BigInt(row.xid), checkpoint], target);
}

/**
 * Lags of the events after `afterPosition` (all of them for the ledger, PointsGranted only for the
 * leaderboard, which filters on it) from the probe's readings.
 */
export async function measureLags(db: Database, probe: CheckpointProbe, afterPosition: bigint): Promise<{ ledger: LagFigures; leaderboard: LagFigures }> {
  const events = await db.any<{ xid: string; position: string; type: string; ms: string }>(
    `SELECT transaction_id::text AS xid, global_position AS position, event_type AS type,
            (extract(epoch FROM recorded_at) * 1000)::bigint AS ms
       FROM ul_events WHERE global_position > $1 ORDER BY transaction_id, global_position`,
    [afterPosition.toString()],
  );
  const positions = [...new Set([...probe.ledger, ...probe.leaderboard].map((reading) => reading.position.toString()))];
  const xids = new Map<string, bigint>();
  for (let start = 0; start < positions.length; start += 5000) {
    const rows = await db.any<{ position: string; xid: string }>(
      'SELECT global_position AS position, transaction_id::text AS xid FROM ul_events WHERE global_position = ANY($1::bigint[])',
      [positions.slice(start, start + 5000)],
    );
    for (const row of rows) xids.set(row.position, BigInt(row.xid));
  }
  const figures = (readings: Reading[], include: (type: string) => boolean): LagFigures => {
    const keyed = readings
      .filter((reading) => xids.has(reading.position.toString()))
      .map((reading) => ({ atMs: reading.atMs, key: [xids.get(reading.position.toString())!, reading.position] as FeedKey }))
      .sort((a, b) => a.atMs - b.atMs);
    const lagsMs: number[] = [];
    let uncovered = 0;
    let next = 0;
    for (const event of events) {
      if (!include(event.type)) continue;
      const key: FeedKey = [BigInt(event.xid), BigInt(event.position)];
      // Checkpoints only move forwards, so the first covering reading only moves forwards too.
      while (next < keyed.length && before(keyed[next]!.key, key)) next += 1;
      if (next === keyed.length) {
        uncovered += 1;
        continue;
      }
      lagsMs.push(keyed[next]!.atMs - Number(event.ms));
    }
    return { events: lagsMs.length + uncovered, lagsMs, uncovered };
  };
  return { ledger: figures(probe.ledger, () => true), leaderboard: figures(probe.leaderboard, (type) => type === 'PointsGranted') };
}
