/** The durable relay: effect-requesting events of the log into jobs, and the replay when Redis lost its data. */
export { RELAY_CHECKPOINT, RELAY_EVENT_TYPES, jobFor, planBatch, startRelay, type RelayOptions } from './relay';
export { replayOutstanding, type ReplayOptions, type ReplayReport } from './replay';
export { redisRunId, watchRedisRestarts, type RedisRestartWatch, type RedisRestartWatchOptions } from './redis-restarts';
