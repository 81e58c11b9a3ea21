import type { Migration } from '../../infra/migrations';

/**
 * The identity context's operational tables. They hold secrets and short-lived state (hashed
 * one-time codes, hashed refresh tokens), not facts of the ledger, so they live beside the event
 * log rather than in it; what they decide (a member activated and bound to a login) is recorded
 * as events.
 */
export const IDENTITY_MIGRATIONS: readonly Migration[] = [
  {
    version: 20,
    name: 'identity: activation challenges and sessions',
    sql: /* sql */ `
      -- One row per activation start. code_hash is an HMAC of the code under a server key; a start
      -- that matched nobody gets a random hash (no code exists) so it is answered like any other.
      CREATE TABLE ul_activation_challenges (
        challenge_id uuid PRIMARY KEY,
        login_key text NOT NULL,
        member_id text,
        code_hash bytea NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        confirmed_at timestamptz
      );
      CREATE INDEX ul_activation_challenges_login_idx ON ul_activation_challenges (login_key, created_at);

      -- Refresh tokens, stored only as SHA-256 hashes. A session family is one login on one device;
      -- each refresh spends its token and issues the next of the family. Spending a spent token
      -- again revokes the whole family (it was stolen, or the client is confused: either way, log in again).
      CREATE TABLE ul_sessions (
        token_hash bytea PRIMARY KEY,
        family_id uuid NOT NULL,
        subject text NOT NULL,
        role text NOT NULL,
        device text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        spent_at timestamptz,
        revoked_at timestamptz
      );
      CREATE INDEX ul_sessions_family_idx ON ul_sessions (family_id);
      CREATE INDEX ul_sessions_subject_idx ON ul_sessions (subject);
    `,
  },
  {
    version: 21,
    name: 'identity: admin, finance and auditor accounts',
    sql: /* sql */ `
      -- password_hash: scrypt$N$r$p$salt$hash. totp_sealed: the TOTP secret sealed under the
      -- account's own data key (ul_member_keys, keyed by account id). Creation is also an event
      -- (AccountCreated in account-<id>) naming who created the account.
      CREATE TABLE ul_accounts (
        account_id uuid PRIMARY KEY,
        username text NOT NULL UNIQUE,
        name text NOT NULL,
        org_id text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'finance', 'auditor')),
        password_hash text NOT NULL,
        totp_sealed text,
        failed_logins integer NOT NULL DEFAULT 0,
        locked_until timestamptz,
        created_at timestamptz NOT NULL
      );
    `,
  },
  {
    version: 22,
    name: 'identity: merchant terminal accounts',
    sql: /* sql */ `
      -- A merchant's till terminal logs in like an admin; its org_id is the merchant's id.
      ALTER TABLE ul_accounts DROP CONSTRAINT ul_accounts_role_check;
      ALTER TABLE ul_accounts ADD CONSTRAINT ul_accounts_role_check CHECK (role IN ('admin', 'finance', 'auditor', 'merchant'));
    `,
  },
  {
    version: 71,
    name: 'identity: a spent refresh token keeps its successor, sealed under the spent token',
    sql: /* sql */ `
      -- AES-256-GCM (iv | tag | ciphertext) under a key derived from the spent token's plaintext,
      -- which is stored nowhere: only whoever presents the spent token can open it. A client that
      -- lost the refresh answer and retries within the grace window gets the same successor again.
      ALTER TABLE ul_sessions ADD COLUMN successor_sealed bytea;
    `,
  },
  {
    version: 72,
    name: 'identity: sessions ended recently, sealed successors to erase and expired rows to purge, found by every API process (sessions.ts)',
    sql: /* sql */ `
      CREATE INDEX ul_sessions_revoked_idx ON ul_sessions (revoked_at) WHERE revoked_at IS NOT NULL;
      -- The sealed successors still within their retry window: erased by every API process's housekeeping.
      CREATE INDEX ul_sessions_sealed_idx ON ul_sessions (spent_at) WHERE successor_sealed IS NOT NULL;
      -- Rows whose refresh token has expired are of no use (no access token of theirs lives): purged by the housekeeping.
      CREATE INDEX ul_sessions_expires_idx ON ul_sessions (expires_at);
    `,
  },
];
