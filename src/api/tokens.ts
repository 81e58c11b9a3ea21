/** Dependency-injection tokens for the objects the process creates before Nest starts. */
export const RUNTIME = Symbol('RUNTIME');
/** The composition root's UnionLedger: every context's services. */
export const LEDGER = Symbol('LEDGER');
