import type { Migration } from '../../infra/migrations';

/**
 * The orgs context's table, ul_orgs, was created by version 5 (projections/ledger/schema.ts)
 * when one projection wrote every read model. Version 6 gives the orgs projection a checkpoint of
 * its own, starting where the shared one was, which the table reflects.
 */
export const ORGS_MIGRATIONS: readonly Migration[] = [
  {
    version: 6,
    name: 'orgs: own projection checkpoint',
    sql: /* sql */ `
      INSERT INTO ul_checkpoints (name, position)
      SELECT 'orgs', position FROM ul_checkpoints WHERE name = 'ledger'
      ON CONFLICT (name) DO NOTHING;
    `,
  },
  {
    version: 60,
    name: 'orgs: closed and merged units, the tree version',
    sql: /* sql */ `
      ALTER TABLE ul_orgs ADD COLUMN closed boolean NOT NULL DEFAULT false;
      ALTER TABLE ul_orgs ADD COLUMN merged_into text;
      CREATE INDEX ul_orgs_parent_idx ON ul_orgs (parent_id);
      -- One row: the global position of the last event that changed a path (a move). Caches of
      -- paths in every process compare it with what they were filled at (OrgDirectory).
      CREATE TABLE ul_org_tree (
        id smallint PRIMARY KEY CHECK (id = 1),
        changed_at_position bigint NOT NULL
      );
    `,
  },
];
