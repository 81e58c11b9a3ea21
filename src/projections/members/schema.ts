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
];
