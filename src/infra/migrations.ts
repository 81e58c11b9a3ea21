import type { Database } from './database';

/**
 * Versioned schema migrations. A migration is never edited after it has shipped: changes come as
 * a new version. Each runs in its own transaction under an advisory lock so that several
 * processes starting at once apply each migration exactly once.
 */
export interface Migration {
  version: number;
  name: string;
  sql: string;
}

const MIGRATION_LOCK_KEY = 7_312_004_001;

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'event store',
    sql: /* sql */ `
      CREATE TABLE ul_events (
        global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        -- The feed's sort key: the writer's xid, or the stream's previous sort key when that is
        -- larger (see ul_append). Readers only see values below pg_snapshot_xmin.
        transaction_id xid8 NOT NULL,
        stream_id text NOT NULL,
        stream_revision bigint NOT NULL,
        event_id uuid NOT NULL,
        event_type text NOT NULL,
        schema_version integer NOT NULL,
        data jsonb NOT NULL,
        metadata jsonb NOT NULL,
        recorded_at timestamptz NOT NULL,
        content_digest bytea NOT NULL,
        hash bytea NOT NULL,
        CONSTRAINT ul_events_stream_revision_key UNIQUE (stream_id, stream_revision),
        CONSTRAINT ul_events_event_id_key UNIQUE (event_id)
      );
      CREATE INDEX ul_events_feed_idx ON ul_events (transaction_id, global_position);

      -- Events are facts: the table refuses UPDATE, DELETE and TRUNCATE. Only someone who can
      -- disable triggers can alter history, and the hash chain shows where they did.
      CREATE FUNCTION ul_events_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'ul_events is append-only' USING ERRCODE = 'UL403';
      END $$;
      CREATE TRIGGER ul_events_no_update BEFORE UPDATE OR DELETE ON ul_events
        FOR EACH ROW EXECUTE FUNCTION ul_events_immutable();
      CREATE TRIGGER ul_events_no_truncate BEFORE TRUNCATE ON ul_events
        FOR EACH STATEMENT EXECUTE FUNCTION ul_events_immutable();

      -- Appends events to one stream in one round trip.
      -- p_expected_kind: 'any' | 'no_stream' | 'stream_exists' | 'exact' (then p_expected_revision).
      -- p_events: [{"id", "type", "v", "data", "meta", "digest" (hex SHA-256 of the canonical form)}].
      -- Idempotency is not checked here, off the hot path: a repeated append fails on the stream's
      -- revision (UL409) or on the unique event id (23505), and only then does the adapter look
      -- the ids up and answer with the stored result (PostgresEventStore.replayOrConflict).
      CREATE FUNCTION ul_append(p_stream_id text, p_expected_kind text, p_expected_revision bigint, p_events jsonb)
      RETURNS TABLE (out_event_id uuid, out_revision bigint, out_position bigint)
      LANGUAGE plpgsql
      -- PL/pgSQL caches a generic plan per connection after a few calls. Planned while ul_events
      -- is small, that plan scans the table, and keeps scanning it on every append once the table
      -- has grown (measured: 4 ms instead of 1 ms per append after 100k events, 55 ms at 200k).
      -- Every statement here has an index to use, so sequential scans are ruled out for the
      -- function; this costs nothing per call, unlike re-planning every statement.
      SET enable_seqscan = off
      AS $$
      DECLARE
        v_last_revision bigint;
        v_last_hash bytea;
        v_last_xid xid8;
        v_sort_xid xid8;
        v_recorded_at timestamptz;
        v_recorded_ms bigint;
        v_event jsonb;
        v_digest bytea;
        v_hash bytea;
      BEGIN
        -- The stream lock comes before this function's first write. An advisory lock assigns no
        -- xid, so in the usual case the xid is assigned after the lock and the feed keeps the
        -- stream's order. A caller whose transaction already wrote is covered by v_sort_xid below.
        PERFORM pg_advisory_xact_lock(hashtextextended(p_stream_id, 0));

        SELECT e.stream_revision, e.hash, e.transaction_id
          INTO v_last_revision, v_last_hash, v_last_xid
          FROM ul_events e
         WHERE e.stream_id = p_stream_id
         ORDER BY e.stream_revision DESC
         LIMIT 1;

        -- The check raises before any insert, so a refused append burns no position.
        IF (p_expected_kind = 'no_stream' AND v_last_revision IS NOT NULL)
           OR (p_expected_kind = 'stream_exists' AND v_last_revision IS NULL)
           OR (p_expected_kind = 'exact' AND v_last_revision IS DISTINCT FROM p_expected_revision) THEN
          RAISE EXCEPTION 'wrong expected revision'
            USING ERRCODE = 'UL409', DETAIL = coalesce(v_last_revision::text, 'no_stream');
        END IF;

        -- The sort key never falls below the stream's previous one, so the feed, ordered by
        -- (transaction_id, global_position), shows a stream's events in revision order even when
        -- this transaction got its xid before it took the lock. It is still >= this transaction's
        -- own xid, so a reader that stops below pg_snapshot_xmin cannot see past an in-flight writer.
        v_sort_xid := greatest(pg_current_xact_id(), v_last_xid);
        v_recorded_at := date_trunc('milliseconds', clock_timestamp());
        v_recorded_ms := (extract(epoch FROM v_recorded_at) * 1000)::bigint;
        v_last_hash := coalesce(v_last_hash, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
        v_last_revision := coalesce(v_last_revision, -1);

        FOR i IN 0 .. jsonb_array_length(p_events) - 1 LOOP
          v_event := p_events -> i;
          v_last_revision := v_last_revision + 1;
          v_digest := decode(v_event->>'digest', 'hex');
          v_hash := sha256(v_last_hash || int8send(v_last_revision) || int8send(v_recorded_ms) || v_digest);
          INSERT INTO ul_events (transaction_id, stream_id, stream_revision, event_id, event_type, schema_version,
                                 data, metadata, recorded_at, content_digest, hash)
          VALUES (v_sort_xid, p_stream_id, v_last_revision, (v_event->>'id')::uuid, v_event->>'type',
                  (v_event->>'v')::integer, v_event->'data', v_event->'meta', v_recorded_at, v_digest, v_hash)
          RETURNING event_id, stream_revision, global_position
            INTO out_event_id, out_revision, out_position;
          RETURN NEXT;
          v_last_hash := v_hash;
        END LOOP;
      END $$;
    `,
  },
  {
    version: 2,
    name: 'subscription checkpoints',
    sql: /* sql */ `
      CREATE TABLE ul_checkpoints (
        name text PRIMARY KEY,
        position bigint NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
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
    version: 5,
    name: 'ledger projections',
    sql: /* sql */ `
      -- Read models of the ledger projection (src/projections/ledger-projection.ts). Every
      -- column comes from event data, so a rebuild from event zero gives identical rows.
      CREATE TABLE ul_orgs (
        org_id text PRIMARY KEY,
        name text NOT NULL,
        parent_id text,
        level text NOT NULL,
        -- The org's ancestors from the root down, ending with the org itself.
        path text[] NOT NULL
      );
      CREATE INDEX ul_orgs_path_idx ON ul_orgs USING gin (path);
      CREATE TABLE ul_members (
        member_id text PRIMARY KEY,
        org_id text NOT NULL,
        name text NOT NULL,
        status text NOT NULL,
        enrolled_at timestamptz NOT NULL,
        activated_at timestamptz
      );
      CREATE INDEX ul_members_org_idx ON ul_members (org_id);
      -- The double-entry journal: each posting is a debit line (negative) and a credit line
      -- (positive), so every event's lines and the whole table sum to zero.
      CREATE TABLE ul_journal (
        event_id uuid NOT NULL,
        line integer NOT NULL,
        global_position bigint NOT NULL,
        stream_id text NOT NULL,
        stream_revision bigint NOT NULL,
        account text NOT NULL,
        amount bigint NOT NULL,
        member_id text,
        occurred_at timestamptz NOT NULL,
        PRIMARY KEY (event_id, line)
      );
      CREATE INDEX ul_journal_account_idx ON ul_journal (account);
      CREATE TABLE ul_balances (
        member_id text PRIMARY KEY,
        org_id text,
        available bigint NOT NULL,
        held bigint NOT NULL,
        lifetime_earned bigint NOT NULL,
        -- A negative balance here means a decider bug got past its own invariant: refuse it loudly.
        CONSTRAINT ul_balances_not_negative CHECK (available >= 0 AND held >= 0)
      );
      CREATE TABLE ul_statement (
        member_id text NOT NULL,
        revision bigint NOT NULL,
        event_id uuid NOT NULL,
        occurred_at timestamptz NOT NULL,
        kind text NOT NULL,
        rule_id text,
        rule_version integer,
        reference text,
        delta_available bigint NOT NULL,
        delta_held bigint NOT NULL,
        available_after bigint NOT NULL,
        held_after bigint NOT NULL,
        PRIMARY KEY (member_id, revision)
      );
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
];

export interface MigrationReport {
  applied: Migration[];
  current: number;
}

export async function migrate(db: Database, migrations: readonly Migration[] = MIGRATIONS): Promise<MigrationReport> {
  const applied: Migration[] = [];
  await db.tx('migrate', async (tx) => {
    await tx.one('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await tx.none(`CREATE TABLE IF NOT EXISTS ul_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = new Set(
      (await tx.map('SELECT version FROM ul_migrations', [], (row: { version: number }) => row.version)) as number[],
    );
    for (const migration of migrations) {
      if (done.has(migration.version)) continue;
      await tx.none(migration.sql);
      await tx.none('INSERT INTO ul_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name]);
      applied.push(migration);
    }
  });
  const current = migrations.reduce((max, migration) => Math.max(max, migration.version), 0);
  return { applied, current };
}
