import type { Migration } from '../../infra/migrations';

/**
 * The event store's schema (PostgreSQL adapter) and the checkpoints of subscriptions over it.
 * Shipped migrations are never edited: changes come as new versions (src/infra/migrations.ts).
 */
export const EVENT_STORE_MIGRATIONS: readonly Migration[] = [
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
    version: 10,
    name: 'event store: ul_append names the stream of a wrong expected revision',
    // Migration 1's function unchanged but for the RAISE: it now names the stream (HINT), so that
    // a multi-stream append (PostgresEventStore.appendToStreams), which calls ul_append for many
    // streams in one statement, can say which one was not at its expected revision.
    sql: /* sql */ `
      CREATE OR REPLACE FUNCTION ul_append(p_stream_id text, p_expected_kind text, p_expected_revision bigint, p_events jsonb)
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
          -- HINT carries the stream id: a multi-stream append calls this once per stream in one
          -- statement, and the error has to say which stream it was (RAISE has no field of its own for it).
          RAISE EXCEPTION 'wrong expected revision of stream %', p_stream_id
            USING ERRCODE = 'UL409', DETAIL = coalesce(v_last_revision::text, 'no_stream'), HINT = p_stream_id;
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
    version: 11,
    name: 'event store: ul_append_each, a group append answering per stream',
    // Group commit (PostgresEventStore.appendEach and the batched appendToStream): many streams in
    // one transaction, like appendToStreams, but a stream that is not at its expected revision, or
    // whose caller ids are stored already, is answered as such and skipped instead of raising, so
    // the other streams commit. The body per stream is ul_append's: the same lock, the same
    // check before any insert (a skipped stream burns no position), the same sort key and hash
    // chain. No EXCEPTION block: each would be a subtransaction, and a transaction with more than
    // 64 of them overflows the snapshot's subxid cache, which slows every reader of the cluster.
    // Streams are taken in array order (the adapter sorts them by id, as for appendToStreams), so
    // two group appends, or a group and a multi-append, cannot deadlock over their locks.
    // p_events: one JSON array per stream, as ul_append's p_events, in the same order.
    // out_status: 'appended' (one row per event), 'conflict' (out_revision = the stream's last
    // revision, NULL when it has none), 'stored' (some of the ids are stored already: the adapter
    // decides replay or conflict from the stored rows, as after a failed ul_append).
    sql: /* sql */ `
      CREATE FUNCTION ul_append_each(p_stream_ids text[], p_kinds text[], p_revisions bigint[], p_check_ids boolean[], p_events jsonb)
      RETURNS TABLE (out_ord integer, out_status text, out_event_id uuid, out_revision bigint, out_position bigint)
      LANGUAGE plpgsql
      -- As ul_append: a cached generic plan must never scan the table (migration 1).
      SET enable_seqscan = off
      AS $$
      DECLARE
        v_stream_id text;
        v_kind text;
        v_expected bigint;
        v_events jsonb;
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
        FOR s IN 1 .. coalesce(array_length(p_stream_ids, 1), 0) LOOP
          v_stream_id := p_stream_ids[s];
          v_kind := p_kinds[s];
          v_expected := p_revisions[s];
          v_events := p_events -> (s - 1);
          out_ord := s;
          out_event_id := NULL;
          out_revision := NULL;
          out_position := NULL;

          -- The lock before this stream's first write; see ul_append.
          PERFORM pg_advisory_xact_lock(hashtextextended(v_stream_id, 0));

          -- Caller ids already stored (a retried command) would fail the unique index and with it
          -- the whole statement; checked under the lock, so a concurrent writer of this stream
          -- has committed or not started.
          IF p_check_ids[s] AND EXISTS (
               SELECT 1 FROM ul_events e
                WHERE e.event_id = ANY (ARRAY(SELECT (x ->> 'id')::uuid FROM jsonb_array_elements(v_events) AS x))) THEN
            out_status := 'stored';
            RETURN NEXT;
            CONTINUE;
          END IF;

          SELECT e.stream_revision, e.hash, e.transaction_id
            INTO v_last_revision, v_last_hash, v_last_xid
            FROM ul_events e
           WHERE e.stream_id = v_stream_id
           ORDER BY e.stream_revision DESC
           LIMIT 1;

          -- Checked before any insert of this stream: a refused stream burns no position.
          IF (v_kind = 'no_stream' AND v_last_revision IS NOT NULL)
             OR (v_kind = 'stream_exists' AND v_last_revision IS NULL)
             OR (v_kind = 'exact' AND v_last_revision IS DISTINCT FROM v_expected) THEN
            out_status := 'conflict';
            out_revision := v_last_revision;
            RETURN NEXT;
            CONTINUE;
          END IF;

          -- The sort key of ul_append: never below the stream's previous key, never below our xid.
          v_sort_xid := greatest(pg_current_xact_id(), v_last_xid);
          v_recorded_at := date_trunc('milliseconds', clock_timestamp());
          v_recorded_ms := (extract(epoch FROM v_recorded_at) * 1000)::bigint;
          v_last_hash := coalesce(v_last_hash, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
          v_last_revision := coalesce(v_last_revision, -1);
          out_status := 'appended';

          FOR i IN 0 .. jsonb_array_length(v_events) - 1 LOOP
            v_event := v_events -> i;
            v_last_revision := v_last_revision + 1;
            v_digest := decode(v_event->>'digest', 'hex');
            v_hash := sha256(v_last_hash || int8send(v_last_revision) || int8send(v_recorded_ms) || v_digest);
            INSERT INTO ul_events (transaction_id, stream_id, stream_revision, event_id, event_type, schema_version,
                                   data, metadata, recorded_at, content_digest, hash)
            VALUES (v_sort_xid, v_stream_id, v_last_revision, (v_event->>'id')::uuid, v_event->>'type',
                    (v_event->>'v')::integer, v_event->'data', v_event->'meta', v_recorded_at, v_digest, v_hash)
            RETURNING event_id, stream_revision, global_position
              INTO out_event_id, out_revision, out_position;
            RETURN NEXT;
            v_last_hash := v_hash;
          END LOOP;
        END LOOP;
      END $$;
    `,
  },
  {
    version: 70,
    name: 'event store: ul_append_each runs a few set-based statements per call instead of three per stream',
    // Migration 11's function answered the same, stream by stream: a lock, a lookup and an insert
    // per stream, each a statement of its own (an executor start, a snapshot), which made it cost
    // ~50 µs of backend CPU per one-event stream. Now, whatever the number of streams: one
    // statement takes every lock, in array order (an aggregate over the unnest, which yields its
    // rows in array order), before any write; one looks up every caller id already stored, when
    // the call has any; one reads every stream's last revision, hash and sort key, under a
    // snapshot taken after the last lock was granted, so every writer the locks waited for is seen;
    // the checks, sort keys and hash chains are computed in PL/pgSQL from those arrays, without SQL;
    // and one INSERT writes every event, in array order (so each stream's events take ascending
    // positions). What it keeps from migration 11: a stale stream or one whose ids are stored is
    // answered and skipped, before any insert, so it burns no position; the sort key is
    // greatest(own xid, the stream's previous key); no EXCEPTION block. What changes: every lock
    // is taken before the group's first write, so the group's xid is assigned after all of them
    // (the 1-3-2 trap cannot arise inside a group any more; the sort key still covers a caller
    // whose transaction wrote before); and one recorded_at for the whole group.
    // Plans are forced generic: with array parameters the plan cache would otherwise keep
    // re-planning each statement for the arrays of every call (measured: +100 µs per call).
    sql: /* sql */ `
      CREATE OR REPLACE FUNCTION ul_append_each(p_stream_ids text[], p_kinds text[], p_revisions bigint[], p_check_ids boolean[], p_events jsonb)
      RETURNS TABLE (out_ord integer, out_status text, out_event_id uuid, out_revision bigint, out_position bigint)
      LANGUAGE plpgsql
      -- As ul_append: a cached generic plan must never scan the table (migration 1).
      SET enable_seqscan = off
      SET plan_cache_mode = force_generic_plan
      AS $$
      DECLARE
        v_count integer := coalesce(array_length(p_stream_ids, 1), 0);
        v_stored integer[];
        v_last_revisions bigint[];
        v_last_hashes bytea[];
        v_last_xids xid8[];
        v_own_xid xid8;
        v_sort_xid xid8;
        v_recorded_at timestamptz;
        v_recorded_ms bigint;
        v_kind text;
        v_last bigint;
        v_events jsonb;
        v_revision bigint;
        v_digest bytea;
        v_hash bytea;
        -- The rows to insert, in insertion order: the stream's place in the call, the event's
        -- place in its stream's array, and what the loop below computed for it.
        r_stream integer[] := '{}';
        r_event integer[] := '{}';
        r_xid xid8[] := '{}';
        r_revision bigint[] := '{}';
        r_digest bytea[] := '{}';
        r_hash bytea[] := '{}';
        n integer := 0;
      BEGIN
        IF v_count = 0 THEN
          RETURN;
        END IF;

        -- Every stream's lock, in array order, before any write (an advisory lock assigns no xid).
        PERFORM count(pg_advisory_xact_lock(hashtextextended(a.stream_id, 0))) FROM unnest(p_stream_ids) AS a(stream_id);

        -- Caller ids already stored (a retried command) would fail the unique index and with it
        -- the whole statement; looked up under the locks, so a concurrent writer of these streams
        -- has committed or not started.
        IF true = ANY (p_check_ids) THEN
          SELECT array_agg(a.ord) INTO v_stored
            FROM unnest(p_check_ids) WITH ORDINALITY AS a(check_ids, ord)
           WHERE a.check_ids AND EXISTS (
                   SELECT 1 FROM ul_events e
                    WHERE e.event_id = ANY (ARRAY(SELECT (x ->> 'id')::uuid FROM jsonb_array_elements(p_events -> (a.ord::integer - 1)) AS x)));
        END IF;

        -- A new statement, so a new snapshot, taken after the last lock was granted: every writer
        -- of these streams that the locks waited for has committed, and its rows are seen here.
        SELECT array_agg(l.stream_revision ORDER BY a.ord), array_agg(l.hash ORDER BY a.ord), array_agg(l.transaction_id ORDER BY a.ord)
          INTO v_last_revisions, v_last_hashes, v_last_xids
          FROM unnest(p_stream_ids) WITH ORDINALITY AS a(stream_id, ord)
          LEFT JOIN LATERAL (
            SELECT e.stream_revision, e.hash, e.transaction_id FROM ul_events e
             WHERE e.stream_id = a.stream_id
             ORDER BY e.stream_revision DESC
             LIMIT 1) l ON true;

        v_recorded_at := date_trunc('milliseconds', clock_timestamp());
        v_recorded_ms := (extract(epoch FROM v_recorded_at) * 1000)::bigint;
        FOR s IN 1 .. v_count LOOP
          out_ord := s;
          out_event_id := NULL;
          out_revision := NULL;
          out_position := NULL;
          IF s = ANY (v_stored) THEN
            out_status := 'stored';
            RETURN NEXT;
            CONTINUE;
          END IF;
          -- Checked before any insert: a refused stream burns no position.
          v_kind := p_kinds[s];
          v_last := v_last_revisions[s];
          IF (v_kind = 'no_stream' AND v_last IS NOT NULL)
             OR (v_kind = 'stream_exists' AND v_last IS NULL)
             OR (v_kind = 'exact' AND v_last IS DISTINCT FROM p_revisions[s]) THEN
            out_status := 'conflict';
            out_revision := v_last;
            RETURN NEXT;
            CONTINUE;
          END IF;
          -- The xid is assigned here, after every lock, and only if something is written.
          IF v_own_xid IS NULL THEN
            v_own_xid := pg_current_xact_id();
          END IF;
          -- The sort key of ul_append: never below the stream's previous key, never below our xid.
          v_sort_xid := greatest(v_own_xid, v_last_xids[s]);
          v_hash := coalesce(v_last_hashes[s], '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
          v_revision := coalesce(v_last, -1);
          v_events := p_events -> (s - 1);
          FOR i IN 0 .. jsonb_array_length(v_events) - 1 LOOP
            v_revision := v_revision + 1;
            v_digest := decode(v_events -> i ->> 'digest', 'hex');
            v_hash := sha256(v_hash || int8send(v_revision) || int8send(v_recorded_ms) || v_digest);
            -- Element assignment extends the arrays in place (no copy per event).
            n := n + 1;
            r_stream[n] := s;
            r_event[n] := i;
            r_xid[n] := v_sort_xid;
            r_revision[n] := v_revision;
            r_digest[n] := v_digest;
            r_hash[n] := v_hash;
          END LOOP;
        END LOOP;
        IF n = 0 THEN
          RETURN;
        END IF;

        -- One insert for the whole group. The unnest yields its rows in array order and the insert
        -- takes them in that order, so each stream's events get ascending positions.
        RETURN QUERY
          WITH inserted AS (
            INSERT INTO ul_events (transaction_id, stream_id, stream_revision, event_id, event_type, schema_version,
                                   data, metadata, recorded_at, content_digest, hash)
            SELECT r.sort_xid, p_stream_ids[r.s], r.revision, (r.ev ->> 'id')::uuid, r.ev ->> 'type', (r.ev ->> 'v')::integer,
                   r.ev -> 'data', r.ev -> 'meta', v_recorded_at, r.digest, r.hash
              FROM (SELECT x.s, x.sort_xid, x.revision, x.digest, x.hash, p_events -> (x.s - 1) -> x.i AS ev
                      FROM unnest(r_stream, r_event, r_xid, r_revision, r_digest, r_hash) AS x(s, i, sort_xid, revision, digest, hash)) r
            RETURNING stream_id, event_id, stream_revision, global_position)
          SELECT a.ord::integer, 'appended'::text, i.event_id, i.stream_revision, i.global_position
            FROM inserted i JOIN unnest(p_stream_ids) WITH ORDINALITY AS a(stream_id, ord) ON a.stream_id = i.stream_id
           ORDER BY i.global_position;
      END $$;
    `,
  },
];
