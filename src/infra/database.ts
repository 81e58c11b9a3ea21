import pgPromise from 'pg-promise';

/**
 * One pg-promise root per process (pg-promise warns when it is initialised twice). Every
 * connection refuses to sit idle inside a transaction: an abandoned transaction would hold back
 * pg_snapshot_xmin and so stall every reader of the global log.
 */
export const pgp = pgPromise({
  capSQL: true,
  // Every statement this process sends (BEGIN and COMMIT included): round trips are the service's
  // largest cost per command, so /metrics shows them (ul_sql_statements_total) and bench:checkin
  // divides them by the commands served.
  query() {
    statementsSent += 1;
  },
});

let statementsSent = 0;

/** SQL statements this process has sent to any PostgreSQL server since it started. */
export function sqlStatementsSent(): number {
  return statementsSent;
}

export type Database = pgPromise.IDatabase<unknown>;
export type DbTask = pgPromise.ITask<unknown>;
/** A database handle or a task/transaction on one connection: the things queries run on. */
export type Queryable = Database | DbTask;

export interface DatabaseOptions {
  url: string;
  poolMax?: number;
  applicationName?: string;
  idleInTransactionTimeoutMs?: number;
  /**
   * Every transaction on these connections is read-only (`default_transaction_read_only`): the
   * auditors' commands run on it, so that a bug in them cannot write either.
   */
  readOnly?: boolean;
}

/** How long a query waits for a connection (a new one, or a free one of the pool) before it fails. */
const CONNECT_TIMEOUT_MS = 5_000;

export function connectDatabase(options: DatabaseOptions): Database {
  const idleMs = options.idleInTransactionTimeoutMs ?? 30_000;
  const config: Parameters<typeof pgp>[0] & object = {
    connectionString: options.url,
    max: options.poolMax ?? 20,
    application_name: options.applicationName ?? 'union-ledger',
    idleTimeoutMillis: 30_000,
    // A server that does not answer (a network partition, a hung host) must not hang requests:
    // getting a connection gives up after this, and the API answers 503 (src/infra/outage.ts).
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
  };
  // node-postgres passes `options` to the server at connect time; pg-promise's types omit it.
  const readOnly = options.readOnly ? ' -c default_transaction_read_only=on' : '';
  Object.assign(config, { options: `-c idle_in_transaction_session_timeout=${idleMs}${readOnly}` });
  const db = pgp(config);
  // An idle pooled connection that the server closes (restart, pg_terminate_backend, a dropped
  // test database) makes the pool emit 'error'; the pool discards that connection by itself, and
  // without a listener Node would end the process over it.
  db.$pool.on('error', () => undefined);
  return db;
}

/** Closes a pool; pg-promise pools are keyed by connection settings, so each one closes on its own. */
export async function closeDatabase(db: Database): Promise<void> {
  await db.$pool.end();
}
