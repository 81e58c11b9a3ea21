import { Module } from '@nestjs/common';
import { JobsController } from './jobs.controller';
import { JOBS_HANDLERS } from './jobs-handlers';

/** The jobs context over HTTP: dead letters and their retry. */
@Module({
  controllers: [JobsController],
  providers: [...JOBS_HANDLERS],
})
export class JobsModule {}
