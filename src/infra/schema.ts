import type { Migration } from './migrations';

/**
 * The schema of the chassis outside any context: idempotency keys (src/api/common/idempotency.ts)
 * and members' data keys (the personal-data vault, src/infra/pii.ts).
 */
export const INFRA_MIGRATIONS: readonly Migration[] = [
  {
    version: 3,
    name: 'idempotency keys',
    sql: /* sql */ `
      -- One row per (actor, Idempotency-Key): 'pending' while the first request runs, then 'done'
      -- with the response a retry replays. Rows older than 24 h may be purged (purgeIdempotencyKeys).
      CREATE TABLE ul_idempotency (
        actor text NOT NULL,
        key text NOT NULL,
        method text NOT NULL,
        path text NOT NULL,
        request_hash bytea NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'done')),
        response_status integer,
        response_body jsonb,
        -- The response was larger than the service keeps (64 KiB): a retry learns the status only.
        response_omitted boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        PRIMARY KEY (actor, key)
      );
      CREATE INDEX ul_idempotency_created_at_idx ON ul_idempotency (created_at);
    `,
  },
  {
    version: 4,
    name: 'member keys',
    sql: /* sql */ `
      -- One data key per member, wrapped (AES-256-GCM) by the master key from configuration
      -- (src/infra/pii.ts). Deleting a row crypto-shreds the member's personal data: the sealed
      -- copies in the immutable events can no longer be opened, while the ledger stays intact.
      CREATE TABLE ul_member_keys (
        member_id text PRIMARY KEY,
        wrapped_key bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
  {
    version: 9,
    name: 'idempotent responses as sent',
    sql: /* sql */ `
      -- A replay promises the original response byte for byte, and jsonb reorders an object's keys
      -- (shorter keys first): the response is kept as the exact text that was sent. Rows written
      -- before this version have only response_body, which a replay still falls back to; they are
      -- purged within 24 h, after which response_body stays NULL.
      ALTER TABLE ul_idempotency ADD COLUMN response_text text;
    `,
  },
];
