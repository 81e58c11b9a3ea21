/** The time-driven work (sweeps, holds, day and year closes) as BullMQ job schedulers, each period run and recorded once. */
export {
  SCHEDULES,
  SCHEDULES_QUEUE,
  periodOfJob,
  runSchedule,
  scheduleStream,
  startSchedules,
  type ScheduleCounts,
  type ScheduleDefinition,
  type ScheduleJobData,
  type ScheduleName,
  type ScheduleOutcome,
  type Schedules,
  type SchedulesOptions,
  type ScheduleTasks,
} from './schedules';
export { scheduleTasks } from './tasks';
