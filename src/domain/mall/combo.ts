import { DomainError, invariant } from '../shared';
import { MAX_ORDER_QUANTITY } from './order';

/**
 * Welfare combinations (福利套餐): a unit offers its members a set of SKUs and a value per member
 * (`budgetFen`); each active member of the unit's subtree picks once, SKUs and quantities whose
 * value at the offer's prices stays within the budget, and the pick becomes one mall order per
 * SKU, paid by the combination (nothing from the member's points or wallet).
 *
 * Two streams: `mall-combo-<comboId>` holds the offer (its SKUs with their unit values fixed at
 * the offer, so a later re-pricing of a SKU changes no combination), and
 * `mall-combopick-<comboId>-<memberId>` holds the member's pick. "Once" is a fact of the log: the
 * pick stream is appended at no_stream, in the same commit as the confirmation of the pick's
 * orders, so two picks racing (two devices, two keys) record one, and a pick is never recorded
 * without its orders nor its orders paid without the pick.
 */

export const MAX_COMBO_SKUS = 20;
/** ¥50,000.00: far above any festival box; the bound keeps sums in safe integers. */
export const MAX_COMBO_BUDGET_FEN = 5_000_000;
export const MAX_COMBO_NAME_CHARS = 100;

export interface ComboSku {
  skuId: string;
  name: string;
  /** The value of one unit to the combination's budget: the SKU's price in fen when offered. */
  unitFen: number;
}

export interface ComboOffer {
  comboId: string;
  /** The unit offering it: active members of its subtree pick. */
  orgId: string;
  name: string;
  skus: ComboSku[];
  budgetFen: number;
  offeredBy: string;
  offeredAtMs: number;
}

export type ComboEvent = { type: 'ComboOffered'; data: ComboOffer } | { type: 'ComboWithdrawn'; data: { comboId: string; withdrawnBy: string } };

export interface ComboPickItem {
  skuId: string;
  quantity: number;
  /** The order the item became (mall-order-<orderId>), paid by the combination. */
  orderId: string;
  valueFen: number;
}

export interface ComboPicked {
  comboId: string;
  memberId: string;
  orgId: string;
  items: ComboPickItem[];
  totalFen: number;
  pickedAtMs: number;
}

export type ComboPickEvent = { type: 'ComboPicked'; data: ComboPicked };

export const comboStream = (comboId: string): string => `mall-combo-${comboId}`;
export const comboPickStream = (comboId: string, memberId: string): string => `mall-combopick-${comboId}-${memberId}`;

export interface ComboState {
  status: 'none' | 'offered' | 'withdrawn';
  offer: ComboOffer | null;
}

export const initialComboState: ComboState = { status: 'none', offer: null };

export function evolveCombo(state: ComboState, event: ComboEvent): ComboState {
  switch (event.type) {
    case 'ComboOffered':
      return { status: 'offered', offer: event.data };
    case 'ComboWithdrawn':
      return { ...state, status: 'withdrawn' };
    default: {
      const unknown: never = event;
      throw new Error(`unknown combo event ${(unknown as { type: string }).type}`);
    }
  }
}

export interface ComboPickState {
  pick: ComboPicked | null;
}

export const initialComboPickState: ComboPickState = { pick: null };

export function evolveComboPick(state: ComboPickState, event: ComboPickEvent): ComboPickState {
  switch (event.type) {
    case 'ComboPicked':
      invariant(state.pick === null, 'a member picks a combination once (the pick stream is appended at no_stream)');
      return { pick: event.data };
    default: {
      const unknown: never = event.type;
      throw new Error(`unknown combo pick event ${String(unknown)}`);
    }
  }
}

export function requireCombo(state: ComboState): ComboOffer {
  if (!state.offer) throw new DomainError('MALL.COMBO_NOT_FOUND', 'no such welfare combination', 404);
  return state.offer;
}

export type OfferCombo = Omit<ComboOffer, 'offeredAtMs'>;

export function offerCombo(state: ComboState, command: OfferCombo, now: Date): ComboEvent[] {
  if (state.status !== 'none') throw new DomainError('MALL.COMBO_EXISTS', 'a welfare combination with this id exists', 409, { comboId: command.comboId });
  const name = command.name.trim();
  if (name.length < 1 || name.length > MAX_COMBO_NAME_CHARS) throw new DomainError('MALL.NAME_INVALID', `a name is 1 to ${MAX_COMBO_NAME_CHARS} characters`, 400);
  if (command.skus.length < 1 || command.skus.length > MAX_COMBO_SKUS) throw new DomainError('MALL.COMBO_SKUS_INVALID', `a combination offers 1 to ${MAX_COMBO_SKUS} SKUs`, 400);
  if (new Set(command.skus.map((sku) => sku.skuId)).size !== command.skus.length) throw new DomainError('MALL.COMBO_SKUS_INVALID', 'a SKU is offered once per combination', 400);
  if (!Number.isSafeInteger(command.budgetFen) || command.budgetFen < 1 || command.budgetFen > MAX_COMBO_BUDGET_FEN) {
    throw new DomainError('MALL.BUDGET_INVALID', 'the budget per member is ¥0.01 to ¥50,000.00', 400);
  }
  const cheapest = Math.min(...command.skus.map((sku) => sku.unitFen));
  // A combination nobody could pick anything from is a mistake, not an offer.
  if (cheapest > command.budgetFen) throw new DomainError('MALL.BUDGET_INVALID', 'the budget per member buys none of the SKUs', 400, { cheapestFen: cheapest });
  return [{ type: 'ComboOffered', data: { ...command, name, offeredAtMs: now.getTime() } }];
}

export function withdrawCombo(state: ComboState, command: { withdrawnBy: string }): ComboEvent[] {
  const offer = requireCombo(state);
  if (state.status === 'withdrawn') return [];
  return [{ type: 'ComboWithdrawn', data: { comboId: offer.comboId, withdrawnBy: command.withdrawnBy } }];
}

export interface PickCombo {
  memberId: string;
  /** The member's unit (where the orders are picked up). */
  orgId: string;
  items: Array<{ skuId: string; quantity: number; orderId: string }>;
}

/**
 * The member's pick, priced at the offer's unit values. Refused: a combination withdrawn, a
 * member who already picked (MALL.COMBO_ALREADY_PICKED), a SKU not offered, a repeated SKU, a
 * quantity out of 1..10, a value above the budget (MALL.COMBO_OVER_BUDGET: the member pays
 * nothing towards a combination, so an over-budget pick is refused, never topped up).
 */
export function pickCombo(combo: ComboState, pick: ComboPickState, command: PickCombo, now: Date): ComboPickEvent[] {
  const offer = requireCombo(combo);
  if (pick.pick !== null) throw new DomainError('MALL.COMBO_ALREADY_PICKED', 'you already picked from this welfare combination', 409, { comboId: offer.comboId, orderIds: pick.pick.items.map((item) => item.orderId) });
  if (combo.status === 'withdrawn') throw new DomainError('MALL.COMBO_WITHDRAWN', 'the welfare combination was withdrawn', 409, { comboId: offer.comboId });
  if (command.items.length < 1 || command.items.length > offer.skus.length) throw new DomainError('MALL.COMBO_PICK_INVALID', `a pick has 1 to ${offer.skus.length} SKUs of the combination`, 400);
  if (new Set(command.items.map((item) => item.skuId)).size !== command.items.length) throw new DomainError('MALL.COMBO_PICK_INVALID', 'a SKU appears once in a pick (use its quantity)', 400);
  const items: ComboPickItem[] = command.items.map((item) => {
    const sku = offer.skus.find((offered) => offered.skuId === item.skuId);
    if (!sku) throw new DomainError('MALL.COMBO_PICK_INVALID', `the combination does not offer ${item.skuId}`, 400, { skuId: item.skuId });
    if (!Number.isSafeInteger(item.quantity) || item.quantity < 1 || item.quantity > MAX_ORDER_QUANTITY) {
      throw new DomainError('MALL.QUANTITY_INVALID', `an item is 1 to ${MAX_ORDER_QUANTITY} units`, 400);
    }
    return { skuId: item.skuId, quantity: item.quantity, orderId: item.orderId, valueFen: sku.unitFen * item.quantity };
  });
  const totalFen = items.reduce((sum, item) => sum + item.valueFen, 0);
  if (totalFen > offer.budgetFen) {
    throw new DomainError('MALL.COMBO_OVER_BUDGET', 'the pick is worth more than the combination gives each member', 422, { totalFen, budgetFen: offer.budgetFen });
  }
  return [{ type: 'ComboPicked', data: { comboId: offer.comboId, memberId: command.memberId, orgId: command.orgId, items, totalFen, pickedAtMs: now.getTime() } }];
}
