/**
 * The projections chassis: the checkpointed runner, catch-up and rebuild, lag tracking. Each
 * context's read models (projection, schema, queries) live in projections/<context>/ behind its
 * own index.ts, which is all that other layers may import (.dependency-cruiser.js enforces it).
 */
export { CheckpointMovedError, checkLayout, listCheckpoints, loadCheckpoint, partitionCountOf, saveCheckpoint, startProjection, storedLayouts, type CheckpointFence, type Projection } from './runner';
export { MAX_PARTITIONS, partitionName, partitionOf, partitions, SINGLE, streamHash, type Partition } from './partition';
export { catchUpProjection, dumpTables, rebuildProjection, waitForVisibleFeed } from './catch-up';
export { LagTracker } from './lag';
