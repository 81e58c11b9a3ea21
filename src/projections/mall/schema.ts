import type { Migration } from '../../infra/migrations';

/**
 * The mall's read models: the catalogue (one row per SKU), stock per SKU shard, and orders (a
 * member's orders, a unit's pickups, and the sweep's work list: unpaid orders past their deadline
 * and decisions whose effects are not recorded as done).
 */
export const MALL_PROJECTION_MIGRATIONS: readonly Migration[] = [
  {
    version: 50,
    name: 'mall: catalogue, stock shards and orders read models',
    sql: /* sql */ `
      CREATE TABLE ul_mall_skus (
        sku_id text PRIMARY KEY,
        product_id text NOT NULL,
        product_name text NOT NULL,
        name text NOT NULL,
        org_id text NOT NULL,
        price_points bigint NOT NULL,
        price_fen bigint NOT NULL,
        shards integer NOT NULL,
        -- listed | withdrawn
        status text NOT NULL,
        listed_at timestamptz NOT NULL
      );
      CREATE INDEX ul_mall_skus_org_idx ON ul_mall_skus (org_id, product_id, sku_id);

      CREATE TABLE ul_mall_stock (
        sku_id text NOT NULL,
        shard integer NOT NULL,
        available bigint NOT NULL,
        reserved bigint NOT NULL,
        sold bigint NOT NULL,
        PRIMARY KEY (sku_id, shard)
      );

      CREATE TABLE ul_mall_orders (
        order_id text PRIMARY KEY,
        member_id text NOT NULL,
        org_id text NOT NULL,
        sku_id text NOT NULL,
        product_id text NOT NULL,
        name text NOT NULL,
        quantity integer NOT NULL,
        total_points bigint NOT NULL,
        total_fen bigint NOT NULL,
        fulfilment text NOT NULL,
        status text NOT NULL,
        -- captured | released | refunded: what the last decision still owes other streams
        pending text,
        rejected_code text,
        placed_at timestamptz NOT NULL,
        expires_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        -- The global position of the order's first event: a stable cursor for pages.
        position bigint NOT NULL
      );
      CREATE INDEX ul_mall_orders_member_idx ON ul_mall_orders (member_id, position DESC);
      CREATE INDEX ul_mall_orders_unit_idx ON ul_mall_orders (org_id, status, position DESC);
      CREATE INDEX ul_mall_orders_due_idx ON ul_mall_orders (expires_at) WHERE status IN ('placed', 'reserved');
      CREATE INDEX ul_mall_orders_pending_idx ON ul_mall_orders (updated_at) WHERE pending IS NOT NULL;
    `,
  },
];
