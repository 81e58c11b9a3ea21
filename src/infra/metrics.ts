import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { sqlStatementsSent } from './database';

/**
 * Prometheus metrics (prom-client), one registry per service instance rather than prom-client's
 * global one, so that the tests, which start several apps in one process, do not register the
 * same metric twice. What is read on scrape (projection lag, queue depths) comes from sources the
 * caller wires; what happens between scrapes (HTTP requests, finished jobs) is observed here.
 */

/** What a projection's lag tracker tells (src/projections/lag.ts LagTracker.summary()). */
export interface LagReading {
  appliedEvents: number;
  lagP50Ms: number | null;
  lagP99Ms: number | null;
}

/** The states of a queue whose depth is reported. */
export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed'] as const;
export type QueueState = (typeof QUEUE_STATES)[number];

export interface MetricsSources {
  /** Lag per projection, read on scrape. */
  lag(): Record<string, LagReading>;
  /** Jobs per queue and state, read on scrape; absent where this process has no queues. */
  queueDepths?: (() => Promise<Record<string, Record<QueueState, number>>>) | undefined;
}

/** What the worker host knows of a finished attempt beyond its duration. */
export interface JobAttempt {
  /** processedOn - timestamp, or null when BullMQ did not record them. */
  waitMs: number | null;
  /** The job's last attempt: a failure leaves a dead letter. */
  final: boolean;
}

/** Seconds; from a fast read (5 ms) to past the request timeout. */
const HTTP_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds; outside services answer in tens of milliseconds to tens of seconds. */
const JOB_BUCKETS_SECONDS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** The route label of a request that matched no route: one value, whatever URL was asked for. */
export const UNMATCHED_ROUTE = 'unmatched';

export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly httpDuration: Histogram<'method' | 'route' | 'status_class'>;
  private readonly jobDuration: Histogram<'queue' | 'outcome'>;
  private readonly jobsFinished: Counter<'queue' | 'outcome'>;
  private readonly jobWait: Histogram<'queue'>;
  private readonly jobsDeadLettered: Counter<'queue'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.httpDuration = new Histogram({
      name: 'ul_http_request_duration_seconds',
      help: 'HTTP requests by method, route template (never the raw URL) and status class',
      labelNames: ['method', 'route', 'status_class'],
      buckets: HTTP_BUCKETS_SECONDS,
      registers,
    });
    this.jobDuration = new Histogram({
      name: 'ul_job_duration_seconds',
      help: 'Time a job attempt ran in a worker of this process, by queue and outcome',
      labelNames: ['queue', 'outcome'],
      buckets: JOB_BUCKETS_SECONDS,
      registers,
    });
    this.jobsFinished = new Counter({
      name: 'ul_jobs_finished_total',
      help: 'Job attempts finished by the workers of this process, by queue and outcome (completed, failed)',
      labelNames: ['queue', 'outcome'],
      registers,
    });
    this.jobWait = new Histogram({
      name: 'ul_job_wait_seconds',
      help: "Time a job waited in its queue before an attempt started (BullMQ's processedOn - timestamp: a retried or delayed job's back-off and delay count too), by queue",
      labelNames: ['queue'],
      buckets: JOB_BUCKETS_SECONDS,
      registers,
    });
    this.jobsDeadLettered = new Counter({
      name: 'ul_jobs_dead_lettered_total',
      help: 'Jobs whose last attempt failed (attempts ran out, or an unrecoverable error): now dead letters, by queue',
      labelNames: ['queue'],
      registers,
    });
    new Gauge({
      name: 'ul_projection_lag_seconds',
      help: "Time from an event's recording to its projection, over recent events of this process (quantile 0.5 and 0.99)",
      labelNames: ['projection', 'quantile'],
      registers,
      collect() {
        this.reset();
        for (const [projection, reading] of Object.entries(sources.lag())) {
          if (reading.lagP50Ms !== null) this.set({ projection, quantile: '0.5' }, reading.lagP50Ms / 1000);
          if (reading.lagP99Ms !== null) this.set({ projection, quantile: '0.99' }, reading.lagP99Ms / 1000);
        }
      },
    });
    new Gauge({
      name: 'ul_projection_applied_events',
      help: 'Events each projection applied in this process since it started',
      labelNames: ['projection'],
      registers,
      collect() {
        for (const [projection, reading] of Object.entries(sources.lag())) this.set({ projection }, reading.appliedEvents);
      },
    });
    let statementsCounted = 0;
    new Counter({
      name: 'ul_sql_statements_total',
      help: 'SQL statements this process sent to PostgreSQL (BEGIN and COMMIT included), read on scrape',
      registers,
      collect() {
        const sent = sqlStatementsSent();
        if (sent > statementsCounted) this.inc(sent - statementsCounted);
        statementsCounted = sent;
      },
    });
    const queueDepths = sources.queueDepths;
    if (queueDepths) {
      new Gauge({
        name: 'ul_queue_jobs',
        help: 'Jobs in each queue by state (waiting, active, delayed, failed), read from Redis on scrape',
        labelNames: ['queue', 'state'],
        registers,
        async collect() {
          this.reset();
          for (const [queue, counts] of Object.entries(await queueDepths())) {
            for (const state of QUEUE_STATES) this.set({ queue, state }, counts[state]);
          }
        },
      });
    }
  }

  /** One answered request; `route` is the route's template (or UNMATCHED_ROUTE). */
  observeHttp(method: string, route: string, statusCode: number, durationMs: number): void {
    this.httpDuration.observe({ method, route, status_class: `${Math.floor(statusCode / 100)}xx` }, durationMs / 1000);
  }

  /** One job attempt finished by a worker; `attempt` (when known) tells its wait and whether it left a dead letter. */
  observeJob(queue: string, outcome: 'completed' | 'failed', durationMs: number, attempt?: JobAttempt): void {
    this.jobsFinished.inc({ queue, outcome });
    this.jobDuration.observe({ queue, outcome }, Math.max(0, durationMs) / 1000);
    if (!attempt) return;
    if (attempt.waitMs !== null) this.jobWait.observe({ queue }, Math.max(0, attempt.waitMs) / 1000);
    if (outcome === 'failed' && attempt.final) this.jobsDeadLettered.inc({ queue });
  }

  /** The exposition text and its content type. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
