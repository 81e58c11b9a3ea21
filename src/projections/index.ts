/**
 * The projections chassis: the checkpointed runner, catch-up and rebuild, lag tracking. Each
 * context's read models (projection, schema, queries) live in projections/<context>/ behind its
 * own index.ts, which is all that other layers may import (.dependency-cruiser.js enforces it).
 */
export { CheckpointMovedError, listCheckpoints, loadCheckpoint, saveCheckpoint, startProjection, type Projection } from './runner';
export { catchUpProjection, dumpTables, rebuildProjection, waitForVisibleFeed } from './catch-up';
export { LagTracker } from './lag';
