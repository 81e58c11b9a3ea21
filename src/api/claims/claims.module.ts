import { Module } from '@nestjs/common';
import { CLAIMS_COMMAND_HANDLERS } from './claims-commands';
import { CLAIMS_QUERY_HANDLERS } from './claims-queries';
import { ClaimsController } from './claims.controller';
import { LotteriesController } from './lotteries.controller';

/** The claims context over HTTP: claim campaigns and lotteries. */
@Module({
  controllers: [ClaimsController, LotteriesController],
  providers: [...CLAIMS_COMMAND_HANDLERS, ...CLAIMS_QUERY_HANDLERS],
})
export class ClaimsModule {}
