/**
 * The mall context (福利商城): a catalogue of SKUs priced in points and/or money, stock as sharded
 * event-sourced inventory, and orders that hold points and authorise the benefit wallet, then
 * capture, release or refund exactly once. docs/MALL.md.
 */
export {
  MALL_ID,
  MAX_NAME_CHARS,
  MAX_PRICE_FEN,
  MAX_PRICE_POINTS,
  MAX_STOCK_SHARDS,
  checkMallId,
  evolveSku,
  initialSkuState,
  listSku,
  requireSku,
  skuStream,
  withdrawSku,
  type SkuEvent,
  type SkuListing,
  type SkuState,
} from './catalogue';
export { MAX_RESTOCK_QUANTITY, addStock, commitStock, evolveStock, initialStockState, releaseStock, reservationOf, reserveStock, stockStream, type StockEvent, type StockState } from './stock';
export {
  DEFAULT_ORDER_TTL_MS,
  MALL_POINTS_PURPOSE,
  MALL_VOUCHER_CATEGORY,
  MAX_ORDER_QUANTITY,
  MAX_RETURN_REASON_CHARS,
  cancelOrder,
  collectOrder,
  confirmOrder,
  dispatchOrder,
  dueOrder,
  evolveOrder,
  initialOrderState,
  mallMerchantId,
  orderHoldId,
  orderPaymentId,
  orderStream,
  placeOrder,
  recordRejected,
  recordReserved,
  recordSettled,
  requireOrder,
  returnOrder,
  type Fulfilment,
  type OrderEvent,
  type OrderPlacedData,
  type OrderState,
  type OrderStatus,
  type PlaceOrder,
  type Settlement,
} from './order';
