import { Module } from '@nestjs/common';
import { CatalogueController } from './catalogue.controller';
import { MALL_HANDLERS } from './mall-commands';
import { OrdersController } from './orders.controller';

/** The welfare mall over HTTP: catalogue, stock, orders, pickups. */
@Module({
  controllers: [CatalogueController, OrdersController],
  providers: [...MALL_HANDLERS],
})
export class MallModule {}
