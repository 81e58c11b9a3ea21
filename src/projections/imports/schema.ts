import type { Migration } from '../../infra/migrations';

/**
 * The imports context's tables, in the one migration this feature was given: the read model of
 * roster imports run as jobs (progress, and the report of rejected rows by line), and the sealed
 * uploads waiting for their job, which the application layer keeps (src/application/imports/import-files.ts)
 * and which a rebuild of the read model leaves alone.
 */
export const IMPORTS_MIGRATIONS: readonly Migration[] = [
  {
    version: 42,
    name: 'imports: roster imports as jobs',
    sql: /* sql */ `
      CREATE TABLE ul_imports (
        import_id text PRIMARY KEY,
        kind text NOT NULL,
        uploader_id text NOT NULL,
        -- The uploader's organisation: the import and its report are visible within it.
        org_scope text NOT NULL,
        -- queued | running | completed
        state text NOT NULL,
        rows_total integer NOT NULL,
        rows_done integer NOT NULL DEFAULT 0,
        applied integer NOT NULL DEFAULT 0,
        unchanged integer NOT NULL DEFAULT 0,
        rejected integer NOT NULL DEFAULT 0,
        size_bytes bigint NOT NULL,
        file_digest text NOT NULL,
        requested_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        completed_at timestamptz
      );
      CREATE INDEX ul_imports_scope_idx ON ul_imports (org_scope, requested_at DESC);

      -- One row per rejected line: line numbers and stable codes, never personal data.
      CREATE TABLE ul_import_rejections (
        import_id text NOT NULL,
        line integer NOT NULL,
        code text NOT NULL,
        message text NOT NULL,
        PRIMARY KEY (import_id, line)
      );

      -- Sealed uploads (AES-256-GCM under a vault key of their own), deleted once imported.
      CREATE TABLE ul_import_files (
        import_id text PRIMARY KEY,
        sealed bytea NOT NULL,
        size_bytes bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      );
    `,
  },
];
