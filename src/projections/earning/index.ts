/** The earning context's read models: leaderboards per organisation and period (Redis). */
export {
  LEADERBOARD_EVENT_TYPES,
  LEADERBOARD_PERIODS,
  LEADERBOARD_PROJECTION,
  LEADERBOARD_STREAM_PREFIXES,
  LEADERBOARD_TOP_MAX,
  Leaderboards,
  catchUpLeaderboards,
  rebuildLeaderboards,
  startLeaderboardProjection,
  type LeaderboardPeriod,
} from './leaderboard';
