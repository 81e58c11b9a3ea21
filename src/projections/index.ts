/**
 * What the API may use of the projections: query-side classes and constants. Projection
 * internals (appliers, table layouts) stay behind this file (.dependency-cruiser.js enforces it).
 */
export { LEADERBOARD_PERIODS, LEADERBOARD_TOP_MAX, type LeaderboardPeriod, type Leaderboards } from './leaderboard';
export { OrgDirectory } from './org-directory';
