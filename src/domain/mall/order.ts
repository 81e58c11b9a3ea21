import { DomainError, invariant } from '../shared';
import type { SkuListing } from './catalogue';

/**
 * A mall order (stream `mall-order-<orderId>`), and the arbiter of everything the order moves on
 * other streams. Placing reserves stock on one shard, holds the points on the member's stream and
 * authorises the wallet; those steps are recorded by OrderReserved. The order then moves by one
 * decision at a time, each appended at the stream's expected revision, so of a confirm and a
 * cancel racing on one order exactly one is recorded; the effects of that decision on the other
 * streams (capture, or release, or refund) follow it, each keyed by the order, and OrderSettled
 * records that they are done. An order not confirmed by its deadline expires (`dueOrder`).
 */

export const MAX_ORDER_QUANTITY = 10;
export const DEFAULT_ORDER_TTL_MS = 15 * 60 * 1000;
export const MAX_RETURN_REASON_CHARS = 200;

export type Fulfilment = 'pickup' | 'delivery';
export type Settlement = 'captured' | 'released' | 'refunded';

export interface OrderPlacedData {
  orderId: string;
  memberId: string;
  /** The member's own unit: where a pickup happens and whose admins see the order. */
  orgId: string;
  skuId: string;
  productId: string;
  name: string;
  /** The union that listed the SKU (the mall's receivable is per listing union). */
  listingOrgId: string;
  quantity: number;
  totalPoints: number;
  totalFen: number;
  fulfilment: Fulfilment;
  /** Delivery address, sealed in the personal-data vault (never plaintext); null for a pickup. */
  addressSealed: string | null;
  /** The pickup code as an HMAC (what the scan is checked against) and sealed for the member to see again. */
  pickupCodeHash: string | null;
  pickupCodeSealed: string | null;
  placedAtMs: number;
  expiresAtMs: number;
  /**
   * Set when a welfare combination pays the order (combo.ts): the member pays nothing (both totals
   * are 0) and `valueFen` is what the order is worth to the combination's budget. Absent on
   * orders placed before combinations existed.
   */
  combo?: { comboId: string; valueFen: number } | null;
  /** Set when a granted claim of a claim campaign is the order (claims context): the member pays nothing; the campaign reserved the stock at its creation. */
  claim?: { campaignId: string } | null;
}

export type OrderEvent =
  | { type: 'OrderPlaced'; data: OrderPlacedData }
  | { type: 'OrderReserved'; data: { orderId: string; shard: number; holdId: string | null; paymentId: string | null } }
  /** A placement step was refused (out of stock, not enough points or money): what it had taken is released. */
  | { type: 'OrderRejected'; data: { orderId: string; code: string } }
  | { type: 'OrderConfirmed'; data: { orderId: string; memberId: string } }
  | { type: 'OrderCancelled'; data: { orderId: string; reason: 'cancelled' | 'expired'; by: string | null } }
  | { type: 'OrderSettled'; data: { orderId: string; settlement: Settlement } }
  | { type: 'OrderCollected'; data: { orderId: string; orgId: string; collectedBy: string } }
  | { type: 'OrderDispatched'; data: { orderId: string; dispatchedBy: string } }
  | { type: 'OrderReturned'; data: { orderId: string; returnedBy: string; reason: string } };

export const orderStream = (orderId: string): string => `mall-order-${orderId}`;
/** The member's points hold and the wallet payment an order makes: named by the order, so every retry finds them. */
export const orderHoldId = (orderId: string): string => `mall:${orderId}`;
export const orderPaymentId = (orderId: string): string => `mall-${orderId}`;
/** The merchant a mall payment is captured for: the listing union's mall (its receivable account). */
export const mallMerchantId = (listingOrgId: string): string => `mall-${listingOrgId}`;
export const MALL_VOUCHER_CATEGORY = 'mall';
export const MALL_POINTS_PURPOSE = 'mall';

export type OrderStatus = 'none' | 'placed' | 'reserved' | 'rejected' | 'confirmed' | 'cancelled' | 'expired' | 'collected' | 'dispatched' | 'returned';

export interface OrderState {
  status: OrderStatus;
  order: OrderPlacedData | null;
  shard: number | null;
  holdId: string | null;
  paymentId: string | null;
  /** What the last decision still owes the other streams; null when nothing (or when it is recorded as done). */
  pending: Settlement | null;
  settled: readonly Settlement[];
  rejectedCode: string | null;
}

export const initialOrderState: OrderState = { status: 'none', order: null, shard: null, holdId: null, paymentId: null, pending: null, settled: [], rejectedCode: null };

export function evolveOrder(state: OrderState, event: OrderEvent): OrderState {
  switch (event.type) {
    case 'OrderPlaced':
      return { ...state, status: 'placed', order: event.data };
    case 'OrderReserved':
      return { ...state, status: 'reserved', shard: event.data.shard, holdId: event.data.holdId, paymentId: event.data.paymentId };
    case 'OrderRejected':
      return { ...state, status: 'rejected', rejectedCode: event.data.code, pending: 'released' };
    case 'OrderConfirmed':
      return { ...state, status: 'confirmed', pending: 'captured' };
    case 'OrderCancelled':
      return { ...state, status: event.data.reason === 'expired' ? 'expired' : 'cancelled', pending: 'released' };
    case 'OrderSettled':
      return { ...state, pending: null, settled: [...state.settled, event.data.settlement] };
    case 'OrderCollected':
      return { ...state, status: 'collected' };
    case 'OrderDispatched':
      return { ...state, status: 'dispatched' };
    case 'OrderReturned':
      return { ...state, status: 'returned', pending: 'refunded' };
    default: {
      const unknown: never = event;
      throw new Error(`unknown order event ${(unknown as { type: string }).type}`);
    }
  }
}

export function requireOrder(state: OrderState): OrderPlacedData {
  if (!state.order) throw new DomainError('MALL.ORDER_NOT_FOUND', 'no such order', 404);
  return state.order;
}

function refuseStatus(state: OrderState, wanted: string): never {
  const orderId = state.order!.orderId;
  const status = state.status;
  const code =
    status === 'confirmed' || status === 'collected' || status === 'dispatched' || status === 'returned'
      ? 'MALL.ORDER_ALREADY_CONFIRMED'
      : status === 'cancelled'
        ? 'MALL.ORDER_CANCELLED'
        : status === 'expired'
          ? 'MALL.ORDER_EXPIRED'
          : status === 'rejected'
            ? 'MALL.ORDER_REJECTED'
            : 'MALL.ORDER_NOT_RESERVED';
  throw new DomainError(code, `the order is ${status}; ${wanted}`, 409, { orderId, status });
}

export interface PlaceOrder {
  orderId: string;
  memberId: string;
  orgId: string;
  sku: SkuListing;
  quantity: number;
  fulfilment: Fulfilment;
  addressSealed: string | null;
  pickupCodeHash: string | null;
  pickupCodeSealed: string | null;
  ttlMs: number;
  /** A welfare combination pays the order: nothing is taken from the member; `unitFen` is the offer's value of one unit. */
  combo?: { comboId: string; unitFen: number } | undefined;
  /** A claim campaign's prize: nothing is taken from the member. */
  claim?: { campaignId: string } | undefined;
}

/** Records the order with its prices fixed from the listing; the steps that take stock, points and money follow. */
export function placeOrder(state: OrderState, command: PlaceOrder, now: Date): OrderEvent[] {
  if (state.status !== 'none') throw new DomainError('MALL.ORDER_EXISTS', 'an order with this id exists', 409, { orderId: command.orderId });
  const { quantity, sku, fulfilment } = command;
  if (!Number.isSafeInteger(quantity) || quantity < 1 || quantity > MAX_ORDER_QUANTITY) {
    throw new DomainError('MALL.QUANTITY_INVALID', `an order is for 1 to ${MAX_ORDER_QUANTITY} units`, 400);
  }
  if (fulfilment === 'delivery' && !command.addressSealed) throw new DomainError('MALL.ADDRESS_REQUIRED', 'a delivery needs an address', 400);
  if (fulfilment === 'pickup' && (!command.pickupCodeHash || !command.pickupCodeSealed)) {
    throw new Error('invariant violated: a pickup order is placed with its pickup code');
  }
  invariant(Number.isSafeInteger(command.ttlMs) && command.ttlMs > 0, 'an order has a positive time limit');
  return [
    {
      type: 'OrderPlaced',
      data: {
        orderId: command.orderId,
        memberId: command.memberId,
        orgId: command.orgId,
        skuId: sku.skuId,
        productId: sku.productId,
        name: sku.name,
        listingOrgId: sku.orgId,
        quantity,
        totalPoints: command.combo || command.claim ? 0 : sku.pricePoints * quantity,
        totalFen: command.combo || command.claim ? 0 : sku.priceFen * quantity,
        fulfilment,
        addressSealed: fulfilment === 'delivery' ? command.addressSealed : null,
        pickupCodeHash: fulfilment === 'pickup' ? command.pickupCodeHash : null,
        pickupCodeSealed: fulfilment === 'pickup' ? command.pickupCodeSealed : null,
        placedAtMs: now.getTime(),
        expiresAtMs: now.getTime() + command.ttlMs,
        ...(command.combo ? { combo: { comboId: command.combo.comboId, valueFen: command.combo.unitFen * quantity } } : {}),
        ...(command.claim ? { claim: { campaignId: command.claim.campaignId } } : {}),
      },
    },
  ];
}

/** Every placement step succeeded: stock on `shard`, the points hold and the wallet authorisation (null when the price has no such part). */
export function recordReserved(state: OrderState, command: { shard: number; holdId: string | null; paymentId: string | null }): OrderEvent[] {
  const order = requireOrder(state);
  if (state.status === 'reserved' && state.shard === command.shard) return [];
  if (state.status !== 'placed') refuseStatus(state, 'only a placed order is reserved');
  return [{ type: 'OrderReserved', data: { orderId: order.orderId, ...command } }];
}

export function recordRejected(state: OrderState, command: { code: string }): OrderEvent[] {
  const order = requireOrder(state);
  if (state.status === 'rejected') return [];
  if (state.status !== 'placed') refuseStatus(state, 'only a placed order is rejected');
  return [{ type: 'OrderRejected', data: { orderId: order.orderId, code: command.code } }];
}

/** The member pays: only a reserved order before its deadline. */
export function confirmOrder(state: OrderState, command: { memberId: string }): OrderEvent[] {
  const order = requireOrder(state);
  if (order.memberId !== command.memberId) throw new DomainError('MALL.ORDER_NOT_FOUND', 'no such order', 404);
  if (state.status !== 'reserved') refuseStatus(state, 'only a reserved order is confirmed');
  return [{ type: 'OrderConfirmed', data: { orderId: order.orderId, memberId: order.memberId } }];
}

/** The member (or an admin of their union: `by`) cancels an order not yet paid. */
export function cancelOrder(state: OrderState, command: { by: string }): OrderEvent[] {
  const order = requireOrder(state);
  if (state.status !== 'reserved' && state.status !== 'placed') refuseStatus(state, 'only an unpaid order is cancelled');
  return [{ type: 'OrderCancelled', data: { orderId: order.orderId, reason: 'cancelled', by: command.by } }];
}

/** The effects the last decision owed are done. */
export function recordSettled(state: OrderState, command: { settlement: Settlement }): OrderEvent[] {
  const order = requireOrder(state);
  if (state.pending !== command.settlement) {
    invariant(state.settled.includes(command.settlement), `order ${order.orderId} owes ${state.pending}, not ${command.settlement}`);
    return [];
  }
  return [{ type: 'OrderSettled', data: { orderId: order.orderId, settlement: command.settlement } }];
}

function requirePaid(state: OrderState, order: OrderPlacedData, fulfilment: Fulfilment): void {
  if (order.fulfilment !== fulfilment) throw new DomainError('MALL.FULFILMENT_MISMATCH', `the order is for ${order.fulfilment}`, 409, { orderId: order.orderId });
  if (state.status !== 'confirmed') {
    if (state.status === 'collected' || state.status === 'dispatched') {
      throw new DomainError('MALL.ORDER_ALREADY_FULFILLED', `the order is already ${state.status}`, 409, { orderId: order.orderId });
    }
    refuseStatus(state, 'only a paid order is handed over');
  }
  if (!state.settled.includes('captured')) throw new DomainError('MALL.ORDER_NOT_SETTLED', 'the payment is still being captured; try again in a moment', 409, { orderId: order.orderId });
}

/** The unit admin scanned the member's pickup code: the order is collected. */
export function collectOrder(state: OrderState, command: { pickupCodeHash: string; collectedBy: string }): OrderEvent[] {
  const order = requireOrder(state);
  requirePaid(state, order, 'pickup');
  if (command.pickupCodeHash !== order.pickupCodeHash) throw new DomainError('MALL.PICKUP_CODE_INVALID', 'the pickup code does not match the order', 422, { orderId: order.orderId });
  return [{ type: 'OrderCollected', data: { orderId: order.orderId, orgId: order.orgId, collectedBy: command.collectedBy } }];
}

export function dispatchOrder(state: OrderState, command: { dispatchedBy: string }): OrderEvent[] {
  const order = requireOrder(state);
  requirePaid(state, order, 'delivery');
  return [{ type: 'OrderDispatched', data: { orderId: order.orderId, dispatchedBy: command.dispatchedBy } }];
}

/** Goods brought back: everything paid is refunded (once). A paid order is returned whether or not it was handed over yet. */
export function returnOrder(state: OrderState, command: { returnedBy: string; reason: string }): OrderEvent[] {
  const order = requireOrder(state);
  if (command.reason.trim().length < 1 || command.reason.length > MAX_RETURN_REASON_CHARS) {
    throw new DomainError('MALL.REASON_INVALID', `a return has a reason of 1 to ${MAX_RETURN_REASON_CHARS} characters`, 400);
  }
  if (state.status === 'returned') throw new DomainError('MALL.ORDER_ALREADY_RETURNED', 'the order was already returned', 409, { orderId: order.orderId });
  if (state.status !== 'confirmed' && state.status !== 'collected' && state.status !== 'dispatched') refuseStatus(state, 'only a paid order is returned');
  if (!state.settled.includes('captured')) throw new DomainError('MALL.ORDER_NOT_SETTLED', 'the payment is still being captured; try again in a moment', 409, { orderId: order.orderId });
  return [{ type: 'OrderReturned', data: { orderId: order.orderId, returnedBy: command.returnedBy, reason: command.reason } }];
}

/** What time alone has made due: an unpaid order past its deadline expires, exactly once, whatever command comes first. */
export function dueOrder(state: OrderState, now: Date): OrderEvent[] {
  if ((state.status === 'placed' || state.status === 'reserved') && now.getTime() >= state.order!.expiresAtMs) {
    return [{ type: 'OrderCancelled', data: { orderId: state.order!.orderId, reason: 'expired', by: null } }];
  }
  return [];
}
