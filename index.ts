// septflow's programmatic API: start and follow SEPT runs, schedule them, validate their configuration.
export * from './lib/client';
export {
  buildScheduleOptions,
  createSchedule,
  deleteSchedule,
  describeSchedule,
  listSchedules,
  OVERLAP_POLICIES,
  type OverlapName,
  pauseSchedule,
  ScheduleInputError,
  type SeptScheduleInput,
  triggerSchedule,
  unpauseSchedule,
} from './lib/temporal/schedules';
export { connectClient, connectConfig } from './lib/temporal/connection';
