import { Module } from '@nestjs/common';
import { LEDGER_QUERY_HANDLERS } from './ledger-queries';
import { ProjectionsController } from './projections.controller';
import { StatementController } from './statement.controller';

/** The ledger context over HTTP: member statements, projection status. */
@Module({
  controllers: [StatementController, ProjectionsController],
  providers: [...LEDGER_QUERY_HANDLERS],
})
export class LedgerModule {}
