/** Dependency-injection tokens for the objects the process creates before Nest starts. */
export const RUNTIME = Symbol('RUNTIME');
/** The composition root's UnionLedger: every context's services. */
export const LEDGER = Symbol('LEDGER');
/** This app's metrics (src/infra/metrics.ts ServiceMetrics), which GET /metrics renders. */
export const METRICS = Symbol('METRICS');
