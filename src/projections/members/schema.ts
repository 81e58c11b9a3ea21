import type { Migration } from '../../infra/migrations';

/**
 * The members context's table, ul_members, was created by version 5 (projections/ledger/schema.ts)
 * when one projection wrote every read model. Version 7 gives the members projection a checkpoint
 * of its own, starting where the shared one was, which the table reflects.
 */
export const MEMBERS_MIGRATIONS: readonly Migration[] = [
  {
    version: 7,
    name: 'members: own projection checkpoint',
    sql: /* sql */ `
      INSERT INTO ul_checkpoints (name, position)
      SELECT 'members', position FROM ul_checkpoints WHERE name = 'ledger'
      ON CONFLICT (name) DO NOTHING;
    `,
  },
  {
    version: 61,
    name: 'members: transfers and join applications waiting for a unit',
    sql: /* sql */ `
      -- Transfers (kind 'transfer', id = the transfer id) and online applications to join (kind
      -- 'join', id = the application id), pending until the unit at to_org_id decides. The
      -- approvals inbox of a unit reads them by (to_org_id, status), in feed order.
      CREATE TABLE ul_member_requests (
        kind text NOT NULL,
        request_id text NOT NULL,
        member_id text NOT NULL,
        name text NOT NULL,
        from_org_id text,
        to_org_id text NOT NULL,
        status text NOT NULL,
        requested_by text,
        requested_at timestamptz NOT NULL,
        requested_position bigint NOT NULL,
        decided_by text,
        decided_at timestamptz,
        reason text,
        PRIMARY KEY (kind, request_id)
      );
      CREATE INDEX ul_member_requests_to_idx ON ul_member_requests (to_org_id, kind, status, requested_position);
      CREATE INDEX ul_member_requests_from_idx ON ul_member_requests (from_org_id, kind, status, requested_position);
      CREATE INDEX ul_members_org_member_idx ON ul_members (org_id, member_id);
    `,
  },
];
