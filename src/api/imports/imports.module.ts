import { Module } from '@nestjs/common';
import { ImportsController } from './imports.controller';
import { IMPORTS_QUERY_HANDLERS } from './imports-queries';

/** The imports context over HTTP: following a roster import that runs as a job. */
@Module({
  controllers: [ImportsController],
  providers: [...IMPORTS_QUERY_HANDLERS],
})
export class ImportsModule {}
