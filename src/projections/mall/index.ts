/** The mall's read models: catalogue, stock per shard, orders (a member's, a unit's pickups, the sweep's work). */
export { MALL_PROJECTION_MIGRATIONS } from './schema';
export { MALL_PROJECTION, mallProjection } from './mall-projection';
export { catalogue, memberOrders, ordersToSweep, skuWithStock, stockShards, unitPickups, type OrderRow, type Page, type SkuRow } from './queries';
