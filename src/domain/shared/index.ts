/**
 * The shared kernel: what every context's domain may use. A decider imports only this and the
 * index.ts of a context it depends on (docs/ARCHITECTURE.md).
 */
export { DomainError, invariant } from './errors';
export { periodsOf, previousDay, type Periods } from './calendar';
export { ASSETS, MAX_POSTING_AMOUNT, POSTINGS_SCHEMA_VERSION, pointsPosting, posting, schemaVersionOf, upcastPostings, type Asset, type Posting } from './postings';
export { fenToYuan, splitFen, yuanToFen } from './money';
