import { Module } from '@nestjs/common';
import { PAYOUTS_QUERY_HANDLERS } from './payouts-queries';
import { ReconciliationController } from './reconciliation.controller';

/** The payouts context over HTTP: the reconciliation of a day's payouts. */
@Module({
  controllers: [ReconciliationController],
  providers: [...PAYOUTS_QUERY_HANDLERS],
})
export class PayoutsModule {}
