-- The auditor's database role: it can read every table and write none. `union-ledger verify` and
-- the `union-ledger audit` commands run on it (DATABASE_URL with this role's credentials); they
-- open read-only connections and migrate nothing. Run as the database owner, after
-- `union-ledger migrate`, replacing ul_auditor and union_ledger with your role and database names
-- (and setting a password, or a client certificate, as your pg_hba.conf requires).
CREATE ROLE ul_auditor LOGIN NOINHERIT;
GRANT CONNECT ON DATABASE union_ledger TO ul_auditor;
GRANT USAGE ON SCHEMA public TO ul_auditor;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ul_auditor;
-- Except credentials and the personal-data keys, which no audit reads: password and session
-- hashes, SMS challenges, payment codes, members' wrapped data keys, cached API answers.
REVOKE SELECT ON ul_accounts, ul_sessions, ul_activation_challenges, ul_payment_codes, ul_member_keys, ul_idempotency FROM ul_auditor;
-- Tables that later migrations create, when the owner runs them.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ul_auditor;
-- Even a statement the role could run opens a read-only transaction.
ALTER ROLE ul_auditor SET default_transaction_read_only = on;
