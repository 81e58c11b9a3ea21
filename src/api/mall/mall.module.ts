import { Module } from '@nestjs/common';
import { CatalogueController } from './catalogue.controller';
import { CombosController } from './combos.controller';
import { MALL_HANDLERS } from './mall-commands';
import { OrdersController } from './orders.controller';

/** The welfare mall over HTTP: catalogue, stock, orders, pickups, welfare combinations. */
@Module({
  controllers: [CatalogueController, OrdersController, CombosController],
  providers: [...MALL_HANDLERS],
})
export class MallModule {}
