import { DomainError } from '../shared';

/**
 * The mall's catalogue: one stream per SKU (`mall-sku-<skuId>`). A SKU belongs to a product (a
 * product is the grouping the catalogue shows: its id and name travel on each of its SKUs, so no
 * order ever reads a second stream to price a SKU). A SKU is priced in points, in money (fen,
 * paid from the member's benefit wallet or vouchers), or both, and is visible to the subtree of
 * the union that lists it. Its stock lives on `shards` streams of its own (stock.ts).
 */

export const MALL_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
/** Shards a SKU's stock may be split into: enough for 16+ concurrent buyers of one SKU on a small machine. */
export const MAX_STOCK_SHARDS = 32;
export const MAX_PRICE_POINTS = 1_000_000;
/** ¥5,000.00 per unit; an order's total stays within one wallet payment (MAX_PAYMENT_FEN, ¥50,000.00). */
export const MAX_PRICE_FEN = 500_000;
export const MAX_NAME_CHARS = 100;

export interface SkuListing {
  skuId: string;
  productId: string;
  productName: string;
  name: string;
  /** The union that lists it: members of its subtree see and buy it. */
  orgId: string;
  pricePoints: number;
  priceFen: number;
  shards: number;
  listedBy: string;
}

export type SkuEvent = { type: 'SkuListed'; data: SkuListing } | { type: 'SkuWithdrawn'; data: { skuId: string; withdrawnBy: string } };

export const skuStream = (skuId: string): string => `mall-sku-${skuId}`;

export interface SkuState {
  status: 'none' | 'listed' | 'withdrawn';
  listing: SkuListing | null;
}

export const initialSkuState: SkuState = { status: 'none', listing: null };

export function evolveSku(state: SkuState, event: SkuEvent): SkuState {
  switch (event.type) {
    case 'SkuListed':
      return { status: 'listed', listing: event.data };
    case 'SkuWithdrawn':
      return { ...state, status: 'withdrawn' };
    default: {
      const unknown: never = event;
      throw new Error(`unknown sku event ${(unknown as { type: string }).type}`);
    }
  }
}

export function checkMallId(id: string, what: string): void {
  if (!MALL_ID.test(id)) throw new DomainError('MALL.ID_INVALID', `a ${what} id is 1 to 64 letters, digits, _ or -, starting with a letter or digit`, 400, { id });
}

function checkName(name: string, what: string): void {
  if (name.trim().length < 1 || name.length > MAX_NAME_CHARS) throw new DomainError('MALL.NAME_INVALID', `a ${what} name is 1 to ${MAX_NAME_CHARS} characters`, 400);
}

/** Lists a SKU; listing the same SKU again with the same terms changes nothing (an import re-run). */
export function listSku(state: SkuState, listing: SkuListing): SkuEvent[] {
  checkMallId(listing.skuId, 'SKU');
  checkMallId(listing.productId, 'product');
  checkName(listing.name, 'SKU');
  checkName(listing.productName, 'product');
  const { pricePoints, priceFen, shards } = listing;
  if (!Number.isSafeInteger(pricePoints) || pricePoints < 0 || pricePoints > MAX_PRICE_POINTS) {
    throw new DomainError('MALL.PRICE_INVALID', `a price in points is a whole number from 0 to ${MAX_PRICE_POINTS}`, 400);
  }
  if (!Number.isSafeInteger(priceFen) || priceFen < 0 || priceFen > MAX_PRICE_FEN) {
    throw new DomainError('MALL.PRICE_INVALID', `a price in money is from 0 to ${MAX_PRICE_FEN / 100} yuan`, 400);
  }
  if (pricePoints === 0 && priceFen === 0) throw new DomainError('MALL.PRICE_INVALID', 'a SKU costs points, money or both', 400);
  if (!Number.isSafeInteger(shards) || shards < 1 || shards > MAX_STOCK_SHARDS) {
    throw new DomainError('MALL.SHARDS_INVALID', `a SKU's stock is split into 1 to ${MAX_STOCK_SHARDS} shards`, 400);
  }
  if (state.status !== 'none') {
    const before = state.listing!;
    const same = (['productId', 'productName', 'name', 'orgId', 'pricePoints', 'priceFen', 'shards'] as const).every((field) => before[field] === listing[field]);
    if (same && state.status === 'listed') return [];
    throw new DomainError('MALL.SKU_EXISTS', 'a SKU with this id is already listed with other terms', 409, { skuId: listing.skuId });
  }
  return [{ type: 'SkuListed', data: listing }];
}

export function withdrawSku(state: SkuState, command: { withdrawnBy: string }): SkuEvent[] {
  const listing = requireSku(state);
  if (state.status === 'withdrawn') return [];
  return [{ type: 'SkuWithdrawn', data: { skuId: listing.skuId, withdrawnBy: command.withdrawnBy } }];
}

export function requireSku(state: SkuState): SkuListing {
  if (!state.listing) throw new DomainError('MALL.SKU_NOT_FOUND', 'no such SKU', 404);
  return state.listing;
}
