import { Module } from '@nestjs/common';
import { DashboardController } from './dashboard.controller';
import { JobsController } from './jobs.controller';
import { JOBS_HANDLERS } from './jobs-handlers';

/** The jobs context over HTTP: dead letters and their retry, and the way into the queue dashboard. */
@Module({
  controllers: [JobsController, DashboardController],
  providers: [...JOBS_HANDLERS],
})
export class JobsModule {}
