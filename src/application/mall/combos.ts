import {
  cancelOrder,
  comboPickStream,
  comboStream,
  confirmOrder,
  evolveCombo,
  evolveComboPick,
  initialComboPickState,
  initialComboState,
  offerCombo,
  orderStream,
  pickCombo,
  requireCombo,
  requireSku,
  withdrawCombo,
  type ComboEvent,
  type ComboOffer,
  type ComboPickEvent,
  type ComboPickState,
  type ComboPicked,
  type ComboState,
  type ComboSku,
} from '../../domain/mall';
import { DomainError } from '../../domain/shared';
import { ConcurrencyError, EventIdConflictError } from '../../eventstore/errors';
import type { EventStore, StreamAppend } from '../../eventstore/event-store';
import { CommandHandler, eventsToAppend, type CommandMeta } from '../command-handler';
import { deterministicEventId } from '../event-ids';
import type { MemberService } from '../members';
import type { OrgAccess } from '../orgs';
import type { Caller, Mall, OrderView } from './mall-service';

/**
 * Welfare combinations (docs/MALL.md, "Welfare combinations"). A pick goes:
 *
 *   1. checks: the combination, the member (active, in the offering unit's subtree), not picked
 *      yet, the pick within the budget (decided on the current streams, to refuse early);
 *   2. one order per SKU, ids derived from (combination, member, Idempotency-Key, SKU), placed at
 *      no cost to the member and its stock reserved on the SKU's shards like any order's; a
 *      refused reservation (out of stock) cancels the pick's other orders (released) and refuses
 *      the pick, which is not recorded: the member may pick again;
 *   3. ONE commit: ComboPicked on the pick stream at no_stream, and OrderConfirmed on every order
 *      at its revision. So "once" is a fact of the log, a pick never stands without its paid
 *      orders, and an order that expired meanwhile (a crash, a very slow request) fails the
 *      commit instead of being paid;
 *   4. the orders are settled (stock committed), as a confirmed order's are; the sweep finishes
 *      a settlement a crash interrupted.
 *
 * A pick losing the race of step 3 (another device of the member, another key) cancels its
 * orders and is refused MALL.COMBO_ALREADY_PICKED. A crash between 2 and 3 leaves reserved
 * orders that the retry (same key) carries on, or that expire at their deadline and release
 * their stock.
 */

export interface CombosDeps {
  store: EventStore;
  mall: Mall;
  orgAccess: OrgAccess;
  members: Pick<MemberService, 'load'>;
  clock: () => Date;
}

export interface ComboView {
  comboId: string;
  orgId: string;
  name: string;
  budgetFen: number;
  skus: ComboSku[];
  status: ComboState['status'];
  offeredBy: string;
  offeredAt: string;
}

export interface PickView {
  comboId: string;
  memberId: string;
  totalFen: number;
  budgetFen: number;
  pickedAt: string;
  orders: OrderView[];
}

/** Rounds of step 3 when an order stream moved under the commit (the sweep, a retry). */
const MAX_PICK_ATTEMPTS = 8;

const metaOf = (caller: Caller, key: string): CommandMeta => ({ commandId: `${caller.sub}:${key}`, actor: { type: caller.role, id: caller.sub } });

export class WelfareCombos {
  readonly combos: CommandHandler<ComboState, ComboEvent>;
  readonly picks: CommandHandler<ComboPickState, ComboPickEvent>;

  constructor(private readonly deps: CombosDeps) {
    this.combos = new CommandHandler(deps.store, { name: 'mall-combo', initialState: initialComboState, evolve: evolveCombo }, { clock: deps.clock, cacheEntries: 1000 });
    // A pick stream is written once: no cache worth keeping.
    this.picks = new CommandHandler(deps.store, { name: 'mall-combo-pick', initialState: initialComboPickState, evolve: evolveComboPick }, { clock: deps.clock, cacheEntries: 1000 });
  }

  private async requireAdminOver(caller: Caller, orgId: string): Promise<void> {
    if (caller.role !== 'admin') throw new DomainError('AUTH.FORBIDDEN', 'this needs the role admin', 403);
    await this.deps.orgAccess.assertCanView(caller, orgId);
  }

  /**
   * A unit's admin (or an admin above it) offers SKUs to the unit's subtree within a budget per
   * member. Each SKU must be listed and visible to the unit's members (listed at the unit or above
   * it); its unit value is its price in fen now.
   */
  async offer(caller: Caller, command: { comboId: string; orgId: string; name: string; skuIds: string[]; budgetFen: number }, key: string): Promise<ComboView> {
    await this.requireAdminOver(caller, command.orgId);
    const skus: ComboSku[] = [];
    for (const skuId of command.skuIds) {
      const state = await this.deps.mall.skuState(skuId);
      const listing = state.listing;
      if (!listing || state.status !== 'listed' || !(await this.deps.orgAccess.isWithin(command.orgId, listing.orgId))) {
        throw new DomainError('MALL.SKU_NOT_FOUND', `no SKU ${skuId} that the unit's members can buy`, 404, { skuId });
      }
      if (listing.priceFen < 1) throw new DomainError('MALL.PRICE_INVALID', `SKU ${skuId} has no price in yuan: a combination's budget is money`, 400, { skuId });
      skus.push({ skuId, name: listing.name, unitFen: listing.priceFen });
    }
    const result = await this.combos.handle(comboStream(command.comboId), (state, now) => offerCombo(state, { comboId: command.comboId, orgId: command.orgId, name: command.name, skus, budgetFen: command.budgetFen, offeredBy: caller.sub }, now), metaOf(caller, key));
    return viewOf(result.state);
  }

  async withdraw(caller: Caller, comboId: string, key: string): Promise<ComboView> {
    const offer = await this.visible(caller, comboId);
    await this.requireAdminOver(caller, offer.orgId);
    const result = await this.combos.handle(comboStream(comboId), (state) => withdrawCombo(state, { withdrawnBy: caller.sub }), metaOf(caller, key));
    return viewOf(result.state);
  }

  /** A combination the caller may see: a member of the unit's subtree, an admin over the unit, an auditor; anyone else: not found. */
  private async visible(caller: Caller, comboId: string): Promise<ComboOffer> {
    const { state } = await this.combos.load(comboStream(comboId));
    const offer = requireCombo(state);
    const visible =
      caller.role === 'auditor' ||
      (caller.role === 'member' && (await this.deps.orgAccess.isWithin(caller.org, offer.orgId))) ||
      (caller.role === 'admin' && (await this.deps.orgAccess.isWithin(offer.orgId, caller.org)));
    if (!visible) throw new DomainError('MALL.COMBO_NOT_FOUND', 'no such welfare combination', 404, { comboId });
    return offer;
  }

  async read(caller: Caller, comboId: string): Promise<ComboView> {
    await this.visible(caller, comboId);
    return viewOf((await this.combos.load(comboStream(comboId))).state);
  }

  /** The member's pick and its orders (with their pickup codes), from the log; MALL.COMBO_NOT_PICKED when there is none. */
  async pickOf(caller: Caller, comboId: string): Promise<PickView> {
    if (caller.role !== 'member') throw new DomainError('AUTH.FORBIDDEN', 'only a member picks', 403);
    const offer = await this.visible(caller, comboId);
    const { state } = await this.picks.load(comboPickStream(comboId, caller.sub));
    if (!state.pick) throw new DomainError('MALL.COMBO_NOT_PICKED', 'you have not picked from this welfare combination', 404, { comboId });
    return this.pickView(caller, offer, state.pick);
  }

  /** The member picks once (steps 1-4 above). */
  async pick(caller: Caller, comboId: string, items: Array<{ skuId: string; quantity: number }>, key: string): Promise<PickView & { replayed: boolean }> {
    if (caller.role !== 'member') throw new DomainError('AUTH.FORBIDDEN', 'only a member picks', 403);
    const offer = await this.visible(caller, comboId);
    const memberId = caller.sub;
    const pickStreamId = comboPickStream(comboId, memberId);
    const meta = metaOf(caller, key);
    const orderIdOf = (skuId: string): string => deterministicEventId(`mall-combo-order:${comboId}:${memberId}:${key}:${skuId}`, 0);
    const withIds = items.map((item) => ({ ...item, orderId: orderIdOf(item.skuId) }));

    // 1. Checks, decided on the streams as they are (the commit decides again).
    const picked = await this.picks.load(pickStreamId);
    if (isThisPick(picked.state.pick, withIds)) return { ...(await this.finish(caller, offer, picked.state.pick!)), replayed: true }; // This very request, answered again.
    const member = await this.deps.members.load(memberId);
    if (member.state.status !== 'active' || !(await this.deps.orgAccess.isWithin(member.state.orgId, offer.orgId))) {
      throw new DomainError('MALL.COMBO_NOT_ELIGIBLE', 'the combination is for active members of the unit that offers it', 403, { comboId });
    }
    const unit = { memberId, orgId: member.state.orgId };
    const combo = await this.combos.load(comboStream(comboId));
    pickCombo(combo.state, picked.state, { ...unit, items: withIds }, this.deps.clock()); // Throws the refusal; the events are decided at the commit.
    const skus = [];
    for (const item of withIds) {
      const state = await this.deps.mall.skuState(item.skuId);
      if (state.status !== 'listed') throw new DomainError('MALL.SKU_NOT_FOUND', `SKU ${item.skuId} is no longer sold`, 404, { skuId: item.skuId });
      skus.push(requireSku(state));
    }

    // 2. The orders, their stock reserved.
    for (const [index, item] of withIds.entries()) {
      const unitFen = offer.skus.find((sku) => sku.skuId === item.skuId)!.unitFen;
      const state = await this.deps.mall.placeComboOrder(unit, item.orderId, skus[index]!, item.quantity, { comboId, unitFen }, { ...meta, commandId: `${meta.commandId}:order-${item.skuId}` });
      if (state.status !== 'reserved') {
        await this.release(withIds.map((other) => other.orderId), memberId);
        const code = state.rejectedCode ?? 'MALL.ORDER_EXPIRED';
        const busy = code === 'MALL.STOCK_BUSY';
        throw new DomainError(code, busy ? 'too many orders for this SKU at once: pick again' : 'the pick was refused: nothing is held for it, and you may pick again', busy ? 429 : 422, { comboId, skuId: item.skuId });
      }
    }

    // 3. The pick and the orders' confirmation, in one commit.
    for (let attempt = 1; attempt <= MAX_PICK_ATTEMPTS; attempt += 1) {
      const now = this.deps.clock();
      const pickState = await this.picks.load(pickStreamId);
      // Our own commit, stored by an attempt whose answer was lost (a retry racing it): answered as done.
      if (isThisPick(pickState.state.pick, withIds)) return { ...(await this.finish(caller, offer, pickState.state.pick!)), replayed: false };
      const comboState = await this.combos.load(comboStream(comboId));
      let pickEvents: ComboPickEvent[];
      try {
        pickEvents = pickCombo(comboState.state, pickState.state, { ...unit, items: withIds }, now);
      } catch (refusal) {
        // Another request of the member picked first (or the combination was withdrawn): this one's orders go back.
        await this.release(withIds.map((item) => item.orderId), memberId);
        throw refusal;
      }
      const appends: StreamAppend[] = [{ streamId: pickStreamId, events: eventsToAppend(pickEvents, meta, now), expectedRevision: 'no_stream' }];
      let first = pickEvents.length;
      for (const item of withIds) {
        const order = await this.deps.mall.orders.load(orderStream(item.orderId));
        let confirmed;
        try {
          confirmed = confirmOrder(order.state, { memberId });
        } catch (refusal) {
          // The order expired (or was cancelled) before the pick was recorded: nothing is picked.
          await this.release(withIds.map((other) => other.orderId), memberId);
          throw refusal;
        }
        appends.push({ streamId: orderStream(item.orderId), events: eventsToAppend(confirmed, meta, now, undefined, first), expectedRevision: order.revision });
        first += confirmed.length;
      }
      try {
        await this.deps.store.appendToStreams(appends);
      } catch (error) {
        if (error instanceof ConcurrencyError || error instanceof EventIdConflictError) continue; // Decide again on what is there now.
        throw error;
      }
      return { ...(await this.finish(caller, offer, (await this.picks.load(pickStreamId)).state.pick!)), replayed: false };
    }
    throw new ConcurrencyError(pickStreamId, 'no_stream', `still contended after ${MAX_PICK_ATTEMPTS} attempts`);
  }

  /** Cancels (and releases) the orders a refused pick had reserved; an order already decided is left as it is. */
  private async release(orderIds: readonly string[], memberId: string): Promise<void> {
    for (const orderId of orderIds) {
      const { state } = await this.deps.mall.orders.load(orderStream(orderId));
      if (state.status === 'placed' || state.status === 'reserved') {
        await this.deps.mall.orders.handle(orderStream(orderId), (current) => (current.status === 'placed' || current.status === 'reserved' ? cancelOrder(current, { by: memberId }) : []), {
          commandId: `mall-combo-release:${orderId}`,
          actor: { type: 'system', id: 'mall' },
        });
      }
      if (state.status !== 'none') await this.deps.mall.settle(orderId);
    }
  }

  /** 4. Each order's effects (stock committed), as for a member's confirmation; a rerun finds them done. */
  private async finish(caller: Caller, offer: ComboOffer, pick: ComboPicked): Promise<PickView> {
    for (const item of pick.items) await this.deps.mall.settle(item.orderId);
    return this.pickView(caller, offer, pick);
  }

  private async pickView(caller: Caller, offer: ComboOffer, pick: ComboPicked): Promise<PickView> {
    const orders: OrderView[] = [];
    for (const item of pick.items) orders.push(await this.deps.mall.orderView(caller, item.orderId));
    return { comboId: pick.comboId, memberId: pick.memberId, totalFen: pick.totalFen, budgetFen: offer.budgetFen, pickedAt: new Date(pick.pickedAtMs).toISOString(), orders };
  }
}

/** The recorded pick is this request's: the same orders (their ids come from the Idempotency-Key) and quantities. */
function isThisPick(pick: ComboPicked | null, items: ReadonlyArray<{ skuId: string; quantity: number; orderId: string }>): boolean {
  return (
    pick !== null &&
    pick.items.length === items.length &&
    items.every((item) => pick.items.some((picked) => picked.orderId === item.orderId && picked.quantity === item.quantity))
  );
}

function viewOf(state: ComboState): ComboView {
  const offer = requireCombo(state);
  return {
    comboId: offer.comboId,
    orgId: offer.orgId,
    name: offer.name,
    budgetFen: offer.budgetFen,
    skus: offer.skus,
    status: state.status,
    offeredBy: offer.offeredBy,
    offeredAt: new Date(offer.offeredAtMs).toISOString(),
  };
}
