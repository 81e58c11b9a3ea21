import { array, int, object, oneOf, optional, str } from '../common/validation';

/** Request bodies, queries and path parameters of the mall routes (TypeBox, see common/validation.ts). */

/** Ids of SKUs and products: they become part of stream names. */
const MALL_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const ORG_ID = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Yuan as text, at most two decimals. */
const YUAN = /^(0|[1-9][0-9]{0,12})(\.[0-9]{1,2})?$/;
/** A page cursor that is a position in the log: at most 18 digits, so it always fits a bigint. */
const position = (description: string) => str({ min: 1, max: 18, pattern: /^[0-9]+$/, description });
const id = (description: string) => str({ min: 1, max: 64, pattern: MALL_ID, description });

export const MALL_PAGE_MAX = 100;

export const skuParams = object({ skuId: id('the SKU') });
export const orderParams = object({ orderId: str({ min: 36, max: 36, pattern: UUID, description: 'the order id (from the order placed)' }) });
export const unitParams = object({ orgId: str({ min: 1, max: 64, pattern: ORG_ID, description: 'the unit (grassroots union) where members pick up' }) });

export const listSkuSchema = object({
  skuId: id('your id for the SKU, for example rice-5kg'),
  productId: id('the product the SKU is a variant of, for example rice'),
  productName: str({ min: 1, max: 100 }),
  name: str({ min: 1, max: 100, description: 'the SKU as members see it, for example 五常大米 5kg' }),
  orgId: str({ min: 1, max: 64, pattern: ORG_ID, description: 'the union listing it: its subtree sees and buys it (yours or one below)' }),
  pricePoints: int({ min: 0, max: 1_000_000, description: 'points per unit (0: money only)' }),
  price: str({ min: 1, max: 16, pattern: YUAN, description: 'yuan per unit, paid from the benefit wallet and mall vouchers ("0": points only); at most 5000' }),
  shards: optional(int({ min: 1, max: 32, description: 'stock shards (default 8): more for a SKU many members buy at once' })),
});
export const restockSchema = object({ quantity: int({ min: 1, max: 1_000_000, description: 'units added, spread over the shards' }) });

export const placeOrderSchema = object({
  skuId: id('the SKU'),
  quantity: int({ min: 1, max: 10 }),
  fulfilment: oneOf(['pickup', 'delivery'] as const),
  address: optional(str({ min: 1, max: 300, description: 'delivery address (kept sealed in the personal-data vault); required for delivery' })),
});
export const collectSchema = object({ pickupCode: str({ min: 8, max: 8, pattern: /^[0-9]{8}$/, description: 'the code the member shows (scanned from their QR)' }) });
export const returnSchema = object({ reason: str({ min: 1, max: 200 }) });

export const catalogueQuery = object({
  after: optional(id('the last SKU id of the previous page')),
  limit: optional(int({ min: 1, max: MALL_PAGE_MAX })),
});
export const ordersQuery = object({
  before: optional(position('the nextCursor of the previous page')),
  limit: optional(int({ min: 1, max: MALL_PAGE_MAX })),
});
export const pickupsQuery = object({
  status: optional(oneOf(['confirmed', 'collected', 'returned'] as const)),
  before: optional(position('the nextCursor of the previous page')),
  limit: optional(int({ min: 1, max: MALL_PAGE_MAX })),
});

export const comboParams = object({ comboId: id('the welfare combination') });
export const offerComboSchema = object({
  comboId: id('your id for the combination, for example spring-2027'),
  orgId: str({ min: 1, max: 64, pattern: ORG_ID, description: 'the unit offering it: active members of its subtree pick (yours or one below)' }),
  name: str({ min: 1, max: 100, description: 'as members see it, for example 2027 春节福利' }),
  skuIds: array(id('a SKU listed at the unit or above it, priced in yuan'), { min: 1, max: 20 }),
  budget: str({ min: 1, max: 16, pattern: YUAN, description: 'yuan per member: what a pick may be worth at the SKUs’ prices when offered (at most 50000)' }),
});
export const pickComboSchema = object({
  items: array(object({ skuId: id('a SKU of the combination'), quantity: int({ min: 1, max: 10 }) }), { min: 1, max: 20 }),
});
