import type { JobsOptions } from 'bullmq';

/**
 * The queues between the ledger and the world outside it (issue: workers). The relay
 * (src/workers/relay) turns effect-requesting events of the log into jobs; workers carry the
 * effects out and record their outcomes as events. A job carries ids only, never personal data: a
 * worker reads the requesting event from the store and unseals what it needs from the vault.
 *
 * Every job's id is the id of the event that requested it, so a relay that adds the same event
 * twice (after a crash, before its checkpoint moved) adds one job.
 */

export const QUEUES = {
  /** `InsuranceGrantRequested` (member streams): enrol the member in the accident mutual-aid plan. */
  insurance: 'ul-insurance',
  /** `PayoutRequested` (merchant streams): pay a settlement to the merchant's bank card. */
  payouts: 'ul-payouts',
  /** `SmsRequested` (sms streams): send a one-time code to the member's phone. */
  sms: 'ul-sms',
  /** `ImportRequested` (import streams): run a roster upload's import, chunk by chunk. */
  imports: 'ul-imports',
} as const;
export type QueueKey = keyof typeof QUEUES;

/** What every job carries: where its requesting event is. */
export interface EffectJob {
  eventId: string;
  streamId: string;
  /** The requesting event's revision in its stream (decimal text: bigint does not survive JSON). */
  revision: string;
}

/** Which events the relay turns into which queue's jobs. */
export const EFFECT_EVENTS: Readonly<Record<string, QueueKey>> = {
  InsuranceGrantRequested: 'insurance',
  PayoutRequested: 'payouts',
  SmsRequested: 'sms',
  ImportRequested: 'imports',
};

/**
 * How an effect's outcome is recognised in the log, for the relay's effect log (ul_effects) and
 * its replay after Redis lost its data: the data field the request and its outcome share (the
 * effect's id at every hop), and the events that record an outcome. A queue without an entry is
 * relayed but never replayed: a context adds its entry when its worker records outcomes.
 */
export const EFFECT_OUTCOMES: Readonly<Partial<Record<QueueKey, { keyField: string; outcomeEvents: readonly string[] }>>> = {
  insurance: { keyField: 'grantId', outcomeEvents: ['InsuranceGranted', 'InsuranceGrantFailed'] },
  payouts: { keyField: 'payoutId', outcomeEvents: ['PayoutSucceeded', 'PayoutFailed'] },
  sms: { keyField: 'smsId', outcomeEvents: ['SmsSent', 'SmsFailed'] },
  imports: { keyField: 'importId', outcomeEvents: ['ImportCompleted'] },
};

/**
 * BullMQ's key prefix, under the ledger's REDIS_KEY_PREFIX so that ledgers (and test runs) can
 * share a Redis. On a Redis Cluster BullMQ's scripts touch several keys of a queue at once, which
 * must all be in one hash slot: the prefix becomes a hash tag (`{ul:bull}`), so every queue of the
 * ledger lives on one shard (the queues carry little: ids only). On a single server the prefix
 * stays as it was, so an upgrade does not strand the jobs already queued.
 */
export const bullPrefix = (redisKeyPrefix: string, connection?: { readonly isCluster: boolean }): string =>
  connection?.isCluster ? `{${redisKeyPrefix}bull}` : `${redisKeyPrefix}bull`;

/**
 * Explicit limits on every queue: attempts with exponential back-off (an outside service that is
 * down gets time to recover), and bounded retention of finished jobs so Redis does not grow
 * without end (failed jobs are kept longer: they are the dead letters an admin looks at).
 */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 30 * 24 * 3600, count: 100_000 },
};
