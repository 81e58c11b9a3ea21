/** Dependency-injection tokens for the objects the process creates before Nest starts. */
export const RUNTIME = Symbol('RUNTIME');
export const LEDGER = Symbol('LEDGER');
