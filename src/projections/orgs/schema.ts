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
];
