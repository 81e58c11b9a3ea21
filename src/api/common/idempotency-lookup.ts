import type { Queryable } from '../../infra/database';
import { NaturalBatcher } from '../../infra/natural-batcher';

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
 * racing its original is not serialised on these routes, see EventSourcedIdempotency.) The
 * batching is NaturalBatcher's (src/infra/natural-batcher.ts).
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

/** One string per (actor, key), unambiguous whatever characters the actor holds. */
const idOf = (actor: string, key: string): string => `${actor.length}:${actor}${key}`;

export class IdempotencyLookup {
  private readonly batcher: NaturalBatcher<{ actor: string; key: string }, StoredIdempotencyRow | null>;

  constructor(db: () => Queryable) {
    this.batcher = new NaturalBatcher(async (wanted) => {
      const rows = await db().manyOrNone<StoredIdempotencyRow & { actor: string; key: string }>(
        `SELECT i.actor, i.key, i.method, i.path, i.request_hash, i.status, i.response_status, i.response_body, i.response_text, i.response_omitted
           FROM ul_idempotency i
           JOIN unnest($1::text[], $2::text[]) AS wanted(actor, key) ON i.actor = wanted.actor AND i.key = wanted.key`,
        [wanted.map((item) => item.actor), wanted.map((item) => item.key)],
      );
      const found = new Map(rows.map((row) => [idOf(row.actor, row.key), row]));
      return wanted.map((item) => found.get(idOf(item.actor, item.key)) ?? null);
    }, MAX_LOOKUP_BATCH);
  }

  /** SELECTs run so far and keys they looked up (for tests and benchmarks). */
  get stats(): { queries: number; keys: number } {
    return { queries: this.batcher.stats.batches, keys: this.batcher.stats.items };
  }

  find(actor: string, key: string): Promise<StoredIdempotencyRow | null> {
    return this.batcher.submit({ actor, key });
  }
}

/** A refusal's answer as stored under its key (status done), for retries to replay. */
export interface StoredRefusal {
  actor: string;
  key: string;
  method: string;
  path: string;
  requestHash: Buffer;
  status: number;
  /** The answer's JSON, or null when it was too large to keep (responseOmitted). */
  json: string | null;
  omitted: boolean;
}

/**
 * The refusals of routes with event-sourced idempotency, written in batches as the look-ups are
 * read: one multi-row INSERT for the refusals that come while the previous one runs. A key stored
 * already (a racing retry stored it first) keeps its row, as a lone INSERT ... ON CONFLICT DO
 * NOTHING would; so does the second of two refusals of one key in the same batch.
 */
export class RefusalWriter {
  private readonly batcher: NaturalBatcher<StoredRefusal, void>;

  constructor(db: () => Queryable) {
    this.batcher = new NaturalBatcher(async (refusals) => {
      await db().none(
        `INSERT INTO ul_idempotency (actor, key, method, path, request_hash, status, response_status, response_text, response_omitted, completed_at)
         SELECT r.actor, r.key, r.method, r.path, r.request_hash, 'done', r.response_status, r.response_text, r.response_omitted, now()
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::int[], $7::text[], $8::boolean[])
                AS r(actor, key, method, path, request_hash, response_status, response_text, response_omitted)
         ON CONFLICT DO NOTHING`,
        [
          refusals.map((refusal) => refusal.actor),
          refusals.map((refusal) => refusal.key),
          refusals.map((refusal) => refusal.method),
          refusals.map((refusal) => refusal.path),
          refusals.map((refusal) => refusal.requestHash),
          refusals.map((refusal) => refusal.status),
          refusals.map((refusal) => refusal.json),
          refusals.map((refusal) => refusal.omitted),
        ],
      );
      return refusals.map(() => undefined);
    }, MAX_LOOKUP_BATCH);
  }

  /** INSERTs run so far and the refusals they wrote (for tests and benchmarks). */
  get stats(): { queries: number; refusals: number } {
    return { queries: this.batcher.stats.batches, refusals: this.batcher.stats.items };
  }

  store(refusal: StoredRefusal): Promise<void> {
    return this.batcher.submit(refusal);
  }
}
