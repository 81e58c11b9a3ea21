import type { Migration } from '../../infra/migrations';

/**
 * The campaigns projection's tables (version 65) and the weekly reports' stored snapshots and
 * files (version 66, written by the report job, not by the projection: a report is what the
 * counts were on a Monday, kept as it was, not something a rebuild recomputes).
 */
export const CAMPAIGNS_MIGRATIONS: readonly Migration[] = [
  {
    version: 65,
    name: 'campaigns: terms, targets, members’ units, counted members, done per unit, milestones',
    sql: /* sql */ `
      CREATE TABLE ul_campaigns (
        campaign_id text PRIMARY KEY,
        name text NOT NULL,
        root_org_id text NOT NULL,
        measure text NOT NULL,
        evaluation_campaign_id text,
        programme_id text,
        starts_at_ms bigint NOT NULL,
        ends_at_ms bigint NOT NULL,
        milestones jsonb NOT NULL,
        created_by text NOT NULL,
        created_at timestamptz NOT NULL,
        targets_version integer NOT NULL DEFAULT 0,
        target_units integer NOT NULL DEFAULT 0,
        total_target bigint NOT NULL DEFAULT 0,
        total_members bigint NOT NULL DEFAULT 0
      );
      CREATE INDEX ul_campaigns_root_idx ON ul_campaigns (root_org_id, campaign_id);
      CREATE TABLE ul_campaign_targets (
        campaign_id text NOT NULL,
        org_id text NOT NULL,
        members integer NOT NULL,
        target integer NOT NULL,
        PRIMARY KEY (campaign_id, org_id)
      );
      -- Each member's unit as of the event being applied: measured events are counted for the
      -- unit the member belonged to when they happened (a later transfer leaves them there).
      CREATE TABLE ul_campaign_member_units (
        member_id text PRIMARY KEY,
        org_id text NOT NULL
      );
      -- A member counts once per campaign (distinct members did the measured thing in the period).
      CREATE TABLE ul_campaign_counted (
        campaign_id text NOT NULL,
        member_id text NOT NULL,
        org_id text NOT NULL,
        PRIMARY KEY (campaign_id, member_id)
      );
      CREATE TABLE ul_campaign_done (
        campaign_id text NOT NULL,
        org_id text NOT NULL,
        done bigint NOT NULL,
        PRIMARY KEY (campaign_id, org_id)
      );
      CREATE TABLE ul_campaign_milestones (
        campaign_id text NOT NULL,
        percent integer NOT NULL,
        by_day text NOT NULL,
        done bigint NOT NULL,
        target bigint NOT NULL,
        reached_at_ms bigint NOT NULL,
        on_time boolean NOT NULL,
        PRIMARY KEY (campaign_id, percent)
      );
    `,
  },
  {
    version: 66,
    name: 'campaigns: weekly report snapshots and their rendered files',
    sql: /* sql */ `
      CREATE TABLE ul_campaign_reports (
        campaign_id text NOT NULL,
        report_id text NOT NULL,
        generated_at timestamptz NOT NULL,
        previous_report_id text,
        units integer NOT NULL,
        PRIMARY KEY (campaign_id, report_id)
      );
      CREATE TABLE ul_campaign_report_rows (
        campaign_id text NOT NULL,
        report_id text NOT NULL,
        org_id text NOT NULL,
        parent_id text,
        name text NOT NULL,
        level text NOT NULL,
        depth integer NOT NULL,
        path text[] NOT NULL,
        done bigint NOT NULL,
        target bigint NOT NULL,
        members bigint NOT NULL,
        rank integer NOT NULL,
        change bigint,
        PRIMARY KEY (campaign_id, report_id, org_id)
      );
      CREATE INDEX ul_campaign_report_rows_path_idx ON ul_campaign_report_rows USING gin (path);
      CREATE TABLE ul_campaign_report_files (
        campaign_id text NOT NULL,
        report_id text NOT NULL,
        org_id text NOT NULL,
        format text NOT NULL,
        content bytea NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (campaign_id, report_id, org_id, format)
      );
    `,
  },
];
