import type { Queryable } from '../../infra/database';

/** The mall's read-model queries: bounded pages with stable cursors. */

export interface SkuRow {
  skuId: string;
  productId: string;
  productName: string;
  name: string;
  orgId: string;
  pricePoints: number;
  priceFen: number;
  shards: number;
  status: string;
  available: number;
  reserved: number;
  sold: number;
}

export interface OrderRow {
  orderId: string;
  memberId: string;
  orgId: string;
  skuId: string;
  productId: string;
  name: string;
  quantity: number;
  totalPoints: number;
  totalFen: number;
  fulfilment: string;
  status: string;
  pending: string | null;
  rejectedCode: string | null;
  placedAt: string;
  expiresAt: string;
  position: string;
}

export interface Page<Row> {
  items: Row[];
  nextCursor: string | null;
}

const SKU_SELECT = `
  SELECT s.sku_id, s.product_id, s.product_name, s.name, s.org_id, s.price_points, s.price_fen, s.shards, s.status,
         COALESCE(sum(st.available), 0) AS available, COALESCE(sum(st.reserved), 0) AS reserved, COALESCE(sum(st.sold), 0) AS sold
    FROM ul_mall_skus s LEFT JOIN ul_mall_stock st ON st.sku_id = s.sku_id`;

interface SkuDbRow {
  sku_id: string;
  product_id: string;
  product_name: string;
  name: string;
  org_id: string;
  price_points: string;
  price_fen: string;
  shards: number;
  status: string;
  available: string;
  reserved: string;
  sold: string;
}

const skuOf = (row: SkuDbRow): SkuRow => ({
  skuId: row.sku_id,
  productId: row.product_id,
  productName: row.product_name,
  name: row.name,
  orgId: row.org_id,
  pricePoints: Number(row.price_points),
  priceFen: Number(row.price_fen),
  shards: row.shards,
  status: row.status,
  available: Number(row.available),
  reserved: Number(row.reserved),
  sold: Number(row.sold),
});

/** Listed SKUs of these unions, by SKU id (page with `after`, the last SKU id seen). */
export async function catalogue(db: Queryable, query: { orgIds: readonly string[]; after: string | null; limit: number }): Promise<Page<SkuRow>> {
  const rows = await db.any<SkuDbRow>(
    `${SKU_SELECT}
      WHERE s.org_id = ANY($1) AND s.status = 'listed' AND ($2::text IS NULL OR s.sku_id > $2)
      GROUP BY s.sku_id ORDER BY s.sku_id LIMIT $3`,
    [query.orgIds, query.after, query.limit + 1],
  );
  const items = rows.slice(0, query.limit).map(skuOf);
  return { items, nextCursor: rows.length > query.limit ? items[items.length - 1]!.skuId : null };
}

/** One SKU with its stock summed over its shards (as far as the projection has caught up). */
export async function skuWithStock(db: Queryable, skuId: string): Promise<SkuRow | null> {
  const row = await db.oneOrNone<SkuDbRow>(`${SKU_SELECT} WHERE s.sku_id = $1 GROUP BY s.sku_id`, [skuId]);
  return row ? skuOf(row) : null;
}

/** A SKU's stock per shard. */
export async function stockShards(db: Queryable, skuId: string): Promise<Array<{ shard: number; available: number; reserved: number; sold: number }>> {
  const rows = await db.any<{ shard: number; available: string; reserved: string; sold: string }>(
    'SELECT shard, available, reserved, sold FROM ul_mall_stock WHERE sku_id = $1 ORDER BY shard',
    [skuId],
  );
  return rows.map((row) => ({ shard: row.shard, available: Number(row.available), reserved: Number(row.reserved), sold: Number(row.sold) }));
}

interface OrderDbRow {
  order_id: string;
  member_id: string;
  org_id: string;
  sku_id: string;
  product_id: string;
  name: string;
  quantity: number;
  total_points: string;
  total_fen: string;
  fulfilment: string;
  status: string;
  pending: string | null;
  rejected_code: string | null;
  placed_at: Date;
  expires_at: Date;
  position: string;
}

const orderOf = (row: OrderDbRow): OrderRow => ({
  orderId: row.order_id,
  memberId: row.member_id,
  orgId: row.org_id,
  skuId: row.sku_id,
  productId: row.product_id,
  name: row.name,
  quantity: row.quantity,
  totalPoints: Number(row.total_points),
  totalFen: Number(row.total_fen),
  fulfilment: row.fulfilment,
  status: row.status,
  pending: row.pending,
  rejectedCode: row.rejected_code,
  placedAt: row.placed_at.toISOString(),
  expiresAt: row.expires_at.toISOString(),
  position: row.position,
});

function orderPage(rows: OrderDbRow[], limit: number): Page<OrderRow> {
  const items = rows.slice(0, limit).map(orderOf);
  return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.position : null };
}

/** A member's orders, newest first (page with `before`, a position). */
export async function memberOrders(db: Queryable, memberId: string, query: { before: string | null; limit: number }): Promise<Page<OrderRow>> {
  const rows = await db.any<OrderDbRow>(
    `SELECT * FROM ul_mall_orders WHERE member_id = $1 AND ($2::bigint IS NULL OR position < $2) ORDER BY position DESC LIMIT $3`,
    [memberId, query.before, query.limit + 1],
  );
  return orderPage(rows, query.limit);
}

/** A unit's pickup orders in a status (default: paid, waiting to be collected), newest first. */
export async function unitPickups(db: Queryable, orgId: string, query: { status: string; before: string | null; limit: number }): Promise<Page<OrderRow>> {
  const rows = await db.any<OrderDbRow>(
    `SELECT * FROM ul_mall_orders WHERE org_id = $1 AND fulfilment = 'pickup' AND status = $2 AND ($3::bigint IS NULL OR position < $3)
      ORDER BY position DESC LIMIT $4`,
    [orgId, query.status, query.before, query.limit + 1],
  );
  return orderPage(rows, query.limit);
}

const SETTLE_GRACE_MS = 10_000;

/** Unpaid orders past their deadline, and orders whose last decision's effects are not recorded as done: the sweep's work. */
export async function ordersToSweep(db: Queryable, nowMs: number, limit: number): Promise<string[]> {
  const rows = await db.any<{ order_id: string }>(
    `(SELECT order_id FROM ul_mall_orders WHERE status IN ('placed', 'reserved') AND expires_at <= $1 ORDER BY expires_at LIMIT $2)
     UNION
     (SELECT order_id FROM ul_mall_orders WHERE pending IS NOT NULL AND updated_at <= $3 ORDER BY updated_at LIMIT $2)`,
    // A decision's effects are carried out right after it; the sweep leaves them a moment before it steps in (both would be safe, one is cheaper).
    [new Date(nowMs), limit, new Date(nowMs - SETTLE_GRACE_MS)],
  );
  return rows.map((row) => row.order_id);
}
