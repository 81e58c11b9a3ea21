/** The jobs context over HTTP. */
export { JobsModule } from './jobs.module';
export { DASHBOARD_PATH, mountQueueDashboard, type DashboardAccessCheck } from './queue-dashboard';
