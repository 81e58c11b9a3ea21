import type { Queryable } from '../../infra/database';

/**
 * The read that routes with event-sourced idempotency make before running (is a refusal stored
 * under this key?), gathered across concurrent requests: at most one such SELECT is in flight per
 * process, and the requests that arrive while it runs go together in the next one ("natural
 * batching", as group commit does for appends). A lone request still goes at once, so nothing
 * waits on a timer; under load, N concurrent check-ins cost one round trip instead of N.
 *
 * The answer for a key is as fresh as a lone read would be: every lookup's query starts after
 * the lookup was asked, so a row committed before the request arrived is always seen. (A row
 * committed while the query runs may or may not be seen, exactly as for a lone read: a retry
 * racing its original is not serialised on these routes, see EventSourcedIdempotency.)
 *
 * Hand-written rather than taken from `dataloader`: that package is not a dependency, it
 * batches per tick rather than per in-flight query, and this is 60 lines.
 */

export interface StoredIdempotencyRow {
  method: string;
  path: string;
  request_hash: Buffer;
  status: 'pending' | 'done';
  response_status: number | null;
  response_body: unknown;
  response_text: string | null;
  response_omitted: boolean;
}

/** Keys per SELECT: bounds the statement's size; more waiting keys go in the following ones. */
export const MAX_LOOKUP_BATCH = 500;

interface Waiting {
  actor: string;
  key: string;
  resolve(row: StoredIdempotencyRow | null): void;
  reject(error: unknown): void;
}

/** One string per (actor, key), unambiguous whatever characters the actor holds. */
const idOf = (actor: string, key: string): string => `${actor.length}:${actor}${key}`;

export class IdempotencyLookup {
  private waiting: Waiting[] = [];
  private inFlight = false;
  /** SELECTs run so far and keys they looked up (for tests and benchmarks). */
  readonly stats = { queries: 0, keys: 0 };

  constructor(private readonly db: () => Queryable) {}

  find(actor: string, key: string): Promise<StoredIdempotencyRow | null> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ actor, key, resolve, reject });
      if (!this.inFlight) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.inFlight = true;
    try {
      // Bounded: each turn takes up to MAX_LOOKUP_BATCH of the keys waiting, and the loop ends when
      // none are left; requests keep arriving only as fast as the service accepts them.
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, MAX_LOOKUP_BATCH);
        try {
          const rows = await this.db().manyOrNone<StoredIdempotencyRow & { actor: string; key: string }>(
            `SELECT i.actor, i.key, i.method, i.path, i.request_hash, i.status, i.response_status, i.response_body, i.response_text, i.response_omitted
               FROM ul_idempotency i
               JOIN unnest($1::text[], $2::text[]) AS wanted(actor, key) ON i.actor = wanted.actor AND i.key = wanted.key`,
            [batch.map((item) => item.actor), batch.map((item) => item.key)],
          );
          this.stats.queries += 1;
          this.stats.keys += batch.length;
          const found = new Map(rows.map((row) => [idOf(row.actor, row.key), row]));
          for (const item of batch) item.resolve(found.get(idOf(item.actor, item.key)) ?? null);
        } catch (error) {
          for (const item of batch) item.reject(error);
        }
      }
    } finally {
      this.inFlight = false;
    }
  }
}
