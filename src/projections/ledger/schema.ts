import type { Migration } from '../../infra/migrations';

/**
 * The ledger context's tables: the double-entry journal, member balances and the member
 * statement. Version 5 shipped before contexts owned their tables and also created ul_orgs and
 * ul_members (now the orgs' and members' read models); it stays as it shipped.
 */
export const LEDGER_MIGRATIONS: readonly Migration[] = [
  {
    version: 5,
    name: 'ledger projections',
    sql: /* sql */ `
      -- The ledger's read models, as first shipped under one projection. Since version 6 the
      -- orgs, members and ledger contexts each own their tables here. Every
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
    version: 8,
    name: 'ledger: asset-tagged journal',
    sql: /* sql */ `
      -- Every journal line names its asset (POINTS or CNY_FEN); lines written before assets
      -- existed were all points. The trial balance is zero per asset.
      ALTER TABLE ul_journal ADD COLUMN asset text NOT NULL DEFAULT 'POINTS';
      ALTER TABLE ul_journal ALTER COLUMN asset DROP DEFAULT;
      ALTER TABLE ul_journal ADD CONSTRAINT ul_journal_asset_known CHECK (asset IN ('POINTS', 'CNY_FEN'));
    `,
  },
];
