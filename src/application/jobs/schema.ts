import type { Migration } from '../../infra/migrations';

/**
 * The jobs context's table: the effect log, what the relay (src/workers/relay) has handed to the
 * queues and whether the log has recorded each effect's outcome yet. It is what lets the relay
 * re-add, after Redis lost its data, exactly the requests that are still waiting, without
 * reading the whole event log. Version 40 leaves room below for the contexts in flight.
 */
export const JOBS_MIGRATIONS: readonly Migration[] = [
  {
    version: 40,
    name: 'effect log',
    sql: /* sql */ `
      -- One row per effect-requesting event the relay has added to a queue (its job id is the
      -- event id), written in the transaction that moves the relay's checkpoint, after Redis
      -- acknowledged the add. The outcome columns are set when the relay passes the event that
      -- records the outcome (same stream, same effect key: for insurance the grant id).
      CREATE TABLE ul_effects (
        event_id text PRIMARY KEY,
        event_type text NOT NULL,
        queue text NOT NULL,
        stream_id text NOT NULL,
        revision bigint NOT NULL,
        effect_key text NOT NULL,
        global_position bigint NOT NULL,
        outcome_event_id text,
        outcome_type text
      );
      CREATE INDEX ul_effects_key_idx ON ul_effects (stream_id, effect_key);
      -- What a replay pages through: the requests still without an outcome, in log order.
      CREATE INDEX ul_effects_outstanding_idx ON ul_effects (global_position) WHERE outcome_event_id IS NULL;
    `,
  },
];
