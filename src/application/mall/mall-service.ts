import { createHash, randomInt } from 'node:crypto';
import {
  authorisePayment,
  capturePayment,
  refundPayment,
  voidPayment,
  walletStream,
  MAX_AUTHORISATION_TTL_MS,
  MIN_AUTHORISATION_TTL_MS,
  type WalletEvent,
  type WalletState,
} from '../../domain/benefits';
import {
  DEFAULT_ORDER_TTL_MS,
  MALL_POINTS_PURPOSE,
  MALL_VOUCHER_CATEGORY,
  addStock,
  cancelOrder,
  checkMallId,
  collectOrder,
  commitStock,
  confirmOrder,
  dispatchOrder,
  dueOrder,
  evolveOrder,
  evolveSku,
  evolveStock,
  initialOrderState,
  initialSkuState,
  initialStockState,
  listSku,
  mallMerchantId,
  orderHoldId,
  orderPaymentId,
  orderStream,
  placeOrder,
  recordRejected,
  recordReserved,
  recordSettled,
  releaseStock,
  requireOrder,
  requireSku,
  reservationOf,
  reserveStock,
  returnOrder,
  skuStream,
  stockStream,
  withdrawSku,
  type Fulfilment,
  type OrderEvent,
  type OrderPlacedData,
  type OrderState,
  type SkuEvent,
  type SkuListing,
  type SkuState,
  type StockEvent,
  type StockState,
} from '../../domain/mall';
import { DomainError, schemaVersionOf } from '../../domain/shared';
import { ConcurrencyError } from '../../eventstore/errors';
import type { EventStore } from '../../eventstore/event-store';
import type { Database } from '../../infra/database';
import type { PiiVault } from '../../infra/pii';
import { catalogue, memberOrders, ordersToSweep, skuWithStock, stockShards, unitPickups } from '../../projections/mall';
import { subtreeOrgIds } from '../../projections/orgs';
import { CommandHandler, type CommandMeta } from '../command-handler';
import { deterministicEventId } from '../event-ids';
import type { Role } from '../identity';
import type { MemberService } from '../members';
import type { OrgAccess } from '../orgs';
import { WelfareCombos } from './combos';

/**
 * The welfare mall's use cases. An order is placed in steps across streams, each keyed by the
 * order so any step can be retried: the order (OrderPlaced), one stock shard (StockReserved), the
 * member's points (a hold `mall:<orderId>`), the benefit wallet (an authorisation
 * `mall-<orderId>`), and the order again (OrderReserved). A refused step rejects the order and
 * releases what the earlier steps took. Every later decision (confirm, cancel, expire, return)
 * is appended on the order first, at its expected revision (so of two racing decisions one wins),
 * then carried out on the other streams (`settle`) and recorded as done (OrderSettled); the
 * sweep (schedule `mall-orders`) expires unpaid orders and finishes any settlement a crash
 * interrupted.
 */

export interface MallSettings {
  /** How long a member has to pay a placed order (default 15 minutes). */
  orderTtlMs: number;
  /**
   * How much longer than the order the points hold and the wallet authorisation last. The order
   * must decide first: a hold that lapsed on its own before the order's capture would leave a
   * paid order without its points. The sweep runs every minute; an hour leaves ample room.
   */
  holdGraceMs: number;
}

export const DEFAULT_MALL_SETTINGS: MallSettings = { orderTtlMs: DEFAULT_ORDER_TTL_MS, holdGraceMs: 60 * 60 * 1000 };

export interface Caller {
  sub: string;
  role: Role;
  org: string;
}

export interface MallDeps {
  store: EventStore;
  db: Database;
  vault: () => PiiVault;
  orgAccess: OrgAccess;
  members: Pick<MemberService, 'execute' | 'load'>;
  /** The benefits context's wallet handler: the mall pays through the same aggregate as a till does. */
  wallets: CommandHandler<WalletState, WalletEvent>;
  settings?: Partial<MallSettings>;
  clock?: () => Date;
}

export interface OrderView {
  orderId: string;
  memberId: string;
  orgId: string;
  skuId: string;
  productId: string;
  name: string;
  quantity: number;
  totalPoints: number;
  totalFen: number;
  fulfilment: Fulfilment;
  status: OrderState['status'];
  pending: OrderState['pending'];
  rejectedCode: string | null;
  /** The welfare combination paying the order, when one does (the member paid nothing). */
  comboId?: string | null;
  placedAt: string;
  expiresAt: string;
  /** Only for the member who placed it (and only a pickup order has one). */
  pickupCode?: string | null;
  /** The delivery address, opened from the vault for the member and their unit's admins. */
  address?: string | null;
  replayed?: boolean;
}

/** Orders the sweep takes per run: bounded work per minute. */
const SWEEP_LIMIT = 500;
const PICKUP_CODE_DIGITS = 8;
/** Rounds over a SKU's shards when some were only contended (each shard already retried by the command handler). */
const RESERVE_ROUNDS = 3;
const MAX_ADDRESS_CHARS = 300;

const SYSTEM_META = (commandId: string): CommandMeta => ({ commandId, actor: { type: 'system', id: 'mall' } });
const metaOf = (caller: Caller, key: string): CommandMeta => ({ commandId: `${caller.sub}:${key}`, actor: { type: caller.role, id: caller.sub } });
/** A step the order takes on another stream: its command id names the order and the step, so every retry of it is the same command. */
const stepMeta = (orderId: string, step: string): CommandMeta => SYSTEM_META(`mall:${orderId}:${step}`);

/** Refusals of a settlement step that mean the step is already done (the same order took it before). */
const ALREADY_DONE = new Set(['HOLD.ALREADY_POSTED', 'HOLD.ALREADY_VOIDED', 'HOLD.ALREADY_EXPIRED', 'HOLD.ALREADY_REFUNDED', 'HOLD.DUPLICATE', 'PAYMENT.EXISTS', 'REFUND.EXISTS']);

export class Mall {
  readonly settings: MallSettings;
  private readonly clock: () => Date;
  readonly skus: CommandHandler<SkuState, SkuEvent>;
  readonly stock: CommandHandler<StockState, StockEvent>;
  readonly orders: CommandHandler<OrderState, OrderEvent>;
  /** Welfare combinations: a unit's offer to its members, picked once, whose picks become orders of this mall (combos.ts). */
  readonly combos: WelfareCombos;

  constructor(private readonly deps: MallDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.settings = { ...DEFAULT_MALL_SETTINGS, ...deps.settings };
    const common = deps.clock ? { clock: deps.clock } : {};
    this.skus = new CommandHandler<SkuState, SkuEvent>(deps.store, { name: 'mall-sku', initialState: initialSkuState, evolve: evolveSku }, { ...common, cacheEntries: 10_000 });
    this.stock = new CommandHandler<StockState, StockEvent>(deps.store, { name: 'mall-stock', initialState: initialStockState, evolve: evolveStock }, { ...common, cacheEntries: 10_000 });
    this.orders = new CommandHandler<OrderState, OrderEvent>(
      deps.store,
      { name: 'mall-order', initialState: initialOrderState, evolve: evolveOrder, due: dueOrder, schemaVersion: (event) => schemaVersionOf(event.data) },
      { ...common, cacheEntries: 100_000 },
    );
    this.combos = new WelfareCombos({ store: deps.store, mall: this, orgAccess: deps.orgAccess, members: deps.members, clock: this.clock });
  }

  // ------------------------------------------------------------ catalogue and stock (union admins)

  private async requireAdminOver(caller: Caller, orgId: string): Promise<void> {
    if (caller.role !== 'admin') throw new DomainError('AUTH.FORBIDDEN', 'this needs the role admin', 403);
    await this.deps.orgAccess.assertCanView(caller, orgId);
  }

  /** Lists a SKU for the subtree of `orgId` (the caller's union or one below it). */
  async listSku(caller: Caller, command: Omit<SkuListing, 'listedBy'>, key: string): Promise<SkuListing> {
    checkMallId(command.skuId, 'SKU');
    await this.requireAdminOver(caller, command.orgId);
    const result = await this.skus.handle(skuStream(command.skuId), (state) => listSku(state, { ...command, listedBy: caller.sub }), metaOf(caller, key));
    return requireSku(result.state);
  }

  private async loadSku(skuId: string): Promise<SkuState> {
    checkMallId(skuId, 'SKU');
    return (await this.skus.load(skuStream(skuId))).state;
  }

  async withdrawSku(caller: Caller, skuId: string, key: string): Promise<SkuState> {
    const listing = requireSku(await this.loadSku(skuId));
    await this.requireAdminOver(caller, listing.orgId);
    return (await this.skus.handle(skuStream(skuId), (state) => withdrawSku(state, { withdrawnBy: caller.sub }), metaOf(caller, key))).state;
  }

  /**
   * Adds units, spread evenly over the SKU's shards (the first shards take the remainder). Each
   * shard's part is its own command under the same restock id, so a retried request adds what a
   * crash left out and nothing twice.
   */
  async restock(caller: Caller, skuId: string, quantity: number, key: string): Promise<{ skuId: string; added: number; shards: number[] }> {
    const listing = requireSku(await this.loadSku(skuId));
    await this.requireAdminOver(caller, listing.orgId);
    const restockId = `${caller.sub}:${key}`;
    const parts: number[] = [];
    for (let shard = 0; shard < listing.shards; shard += 1) {
      parts.push(Math.floor(quantity / listing.shards) + (shard < quantity % listing.shards ? 1 : 0));
    }
    if (!Number.isSafeInteger(quantity) || quantity < 1) addStock(initialStockState, { skuId, shard: 0, restockId, quantity }); // throws MALL.QUANTITY_INVALID
    for (const [shard, part] of parts.entries()) {
      if (part === 0) continue;
      await this.stock.handle(stockStream(skuId, shard), (state) => addStock(state, { skuId, shard, restockId, quantity: part }), { ...metaOf(caller, key), commandId: `${restockId}:shard-${shard}` });
    }
    return { skuId, added: quantity, shards: parts };
  }

  /** The SKU's stock from its shards' streams (the truth, not the read model): what an admin checks before a sale. */
  async stockOf(caller: Caller, skuId: string): Promise<{ skuId: string; available: number; reserved: number; sold: number; shards: Array<{ shard: number; available: number; reserved: number; sold: number }> }> {
    const listing = await this.visibleSku(caller, skuId);
    const shards: Array<{ shard: number; available: number; reserved: number; sold: number }> = [];
    for (let shard = 0; shard < listing.shards; shard += 1) {
      const { state } = await this.stock.load(stockStream(skuId, shard));
      shards.push({ shard, available: state.available, reserved: state.reserved, sold: state.sold });
    }
    const total = (field: 'available' | 'reserved' | 'sold') => shards.reduce((sum, shard) => sum + shard[field], 0);
    return { skuId, available: total('available'), reserved: total('reserved'), sold: total('sold'), shards };
  }

  /** A SKU the caller may see: a member's if listed on their path up the tree, an admin's if listed in their subtree; else not found. */
  private async visibleSku(caller: Caller, skuId: string): Promise<SkuListing> {
    const state = await this.loadSku(skuId);
    const listing = state.listing;
    const visible =
      listing !== null &&
      (caller.role === 'auditor' ||
        (caller.role === 'member' && state.status === 'listed' && (await this.deps.orgAccess.isWithin(caller.org, listing.orgId))) ||
        (caller.role === 'admin' && ((await this.deps.orgAccess.isWithin(listing.orgId, caller.org)) || (await this.deps.orgAccess.isWithin(caller.org, listing.orgId)))));
    if (!visible) throw new DomainError('MALL.SKU_NOT_FOUND', 'no such SKU', 404, { skuId });
    return listing;
  }

  // ------------------------------------------------------------ orders

  /**
   * Places an order for the member: the order id comes from the member and the Idempotency-Key,
   * so a retried request finds the order and carries on from where it stopped.
   */
  async placeOrder(caller: Caller, command: { skuId: string; quantity: number; fulfilment: Fulfilment; address?: string | undefined }, key: string): Promise<OrderView> {
    if (caller.role !== 'member') throw new DomainError('AUTH.FORBIDDEN', 'only a member places an order', 403);
    const orderId = deterministicEventId(`mall-order:${caller.sub}:${key}`, 0);
    const existing = await this.orders.load(orderStream(orderId));
    if (existing.state.status === 'none') {
      const sku = await this.visibleSku(caller, command.skuId);
      const vault = this.deps.vault();
      let addressSealed: string | null = null;
      let pickupCodeHash: string | null = null;
      let pickupCodeSealed: string | null = null;
      if (command.fulfilment === 'delivery') {
        const address = (command.address ?? '').trim();
        if (address.length < 1 || address.length > MAX_ADDRESS_CHARS) throw new DomainError('MALL.ADDRESS_REQUIRED', `a delivery needs an address of 1 to ${MAX_ADDRESS_CHARS} characters`, 400);
        addressSealed = await vault.sealText(caller.sub, address);
      } else {
        let code = '';
        while (code.length < PICKUP_CODE_DIGITS) code += String(randomInt(10));
        pickupCodeHash = this.pickupHash(orderId, code);
        pickupCodeSealed = await vault.sealText(caller.sub, code);
      }
      await this.orders.handle(
        orderStream(orderId),
        (state, now) =>
          placeOrder(
            state,
            { orderId, memberId: caller.sub, orgId: caller.org, sku, quantity: command.quantity, fulfilment: command.fulfilment, addressSealed, pickupCodeHash, pickupCodeSealed, ttlMs: this.settings.orderTtlMs },
            now,
          ),
        metaOf(caller, key),
      );
    }
    const state = await this.reserve(orderId, existing.state.status !== 'none');
    if (state.status === 'rejected') {
      const busy = state.rejectedCode === 'MALL.STOCK_BUSY';
      throw new DomainError(state.rejectedCode!, busy ? 'too many orders for this SKU at once: place it again' : 'the order was refused: nothing is held for it', busy ? 429 : 422, { orderId });
    }
    return this.view(caller, state, existing.state.status !== 'none');
  }

  /**
   * A welfare combination's order (combos.ts): placed for the member at no cost to them, with a
   * pickup code, and its stock reserved like any order's (no points hold, no wallet authorisation:
   * both totals are 0). `orderId` is derived by the caller from the pick, so a retried pick finds
   * its orders and carries on. Answers the order's state: reserved, or rejected (MALL.OUT_OF_STOCK…).
   */
  async placeComboOrder(member: { memberId: string; orgId: string }, orderId: string, sku: SkuListing, quantity: number, combo: { comboId: string; unitFen: number }, meta: CommandMeta): Promise<OrderState> {
    const existing = await this.orders.load(orderStream(orderId));
    if (existing.state.status === 'none') {
      let code = '';
      while (code.length < PICKUP_CODE_DIGITS) code += String(randomInt(10));
      const pickupCodeHash = this.pickupHash(orderId, code);
      const pickupCodeSealed = await this.deps.vault().sealText(member.memberId, code);
      await this.orders.handle(
        orderStream(orderId),
        (state, now) =>
          placeOrder(
            state,
            { orderId, memberId: member.memberId, orgId: member.orgId, sku, quantity, fulfilment: 'pickup', addressSealed: null, pickupCodeHash, pickupCodeSealed, ttlMs: this.settings.orderTtlMs, combo },
            now,
          ),
        meta,
      );
    }
    return this.reserve(orderId, existing.state.status !== 'none');
  }

  /** The order as its member (or an admin) sees it: for answers built outside this class (combos.ts). */
  async orderView(caller: Caller, orderId: string): Promise<OrderView> {
    const { state } = await this.orders.load(orderStream(orderId));
    return this.view(caller, state, false);
  }

  /** A SKU's listing from its stream (the caller checks who may see it). */
  async skuState(skuId: string): Promise<SkuState> {
    return this.loadSku(skuId);
  }

  /** A new pickup code for an order placed elsewhere (a claim campaign's prize order): its HMAC and its copy sealed for the member. */
  async newPickupCode(orderId: string, memberId: string): Promise<{ pickupCodeHash: string; pickupCodeSealed: string }> {
    let code = '';
    while (code.length < PICKUP_CODE_DIGITS) code += String(randomInt(10));
    return { pickupCodeHash: this.pickupHash(orderId, code), pickupCodeSealed: await this.deps.vault().sealText(memberId, code) };
  }

  private pickupHash(orderId: string, code: string): string {
    return this.deps.vault().keyedHash('mall-pickup:', `${orderId}:${code}`);
  }

  /**
   * The placement steps of a placed order, each keyed by the order. `resuming`: the order was
   * found placed (a retry, the sweep), so a shard may already hold its reservation: every shard
   * is looked at before a new one is taken, or a retry could reserve twice.
   */
  private async reserve(orderId: string, resuming: boolean): Promise<OrderState> {
    let { state } = await this.orders.load(orderStream(orderId));
    if (state.status !== 'placed') return state;
    const order = requireOrder(state);
    const sku = requireSku(await this.loadSku(order.skuId));
    const refuse = async (code: string): Promise<OrderState> => {
      await this.orders.handle(orderStream(orderId), (current) => (current.status === 'placed' ? recordRejected(current, { code }) : []), stepMeta(orderId, 'rejected'));
      return this.settle(orderId);
    };
    const shard = (resuming ? await this.findReservation(order, sku.shards) : null) ?? (await this.reserveSomeShard(order, sku.shards));
    if (typeof shard === 'string') return refuse(shard);
    let holdId: string | null = null;
    let paymentId: string | null = null;
    try {
      if (order.totalPoints > 0) {
        holdId = orderHoldId(orderId);
        await this.step(() =>
          this.deps.members.execute(
            order.memberId,
            { type: 'HoldPoints', holdId: holdId!, points: order.totalPoints, purpose: MALL_POINTS_PURPOSE, expiresAtMs: order.expiresAtMs + this.settings.holdGraceMs },
            stepMeta(orderId, 'hold'),
          ),
        );
      }
      if (order.totalFen > 0) {
        paymentId = orderPaymentId(orderId);
        const pid = paymentId;
        await this.step(() =>
          this.deps.wallets.handle(
            walletStream(order.memberId),
            (wallet, now) => {
              const ttlMs = Math.min(MAX_AUTHORISATION_TTL_MS, Math.max(MIN_AUTHORISATION_TTL_MS, order.expiresAtMs - now.getTime() + this.settings.holdGraceMs));
              return authorisePayment(
                wallet,
                { memberId: order.memberId, paymentId: pid, merchantId: mallMerchantId(order.listingOrgId), category: MALL_VOUCHER_CATEGORY, amountFen: order.totalFen, ttlMs },
                now,
              );
            },
            stepMeta(orderId, 'authorise'),
          ),
        );
      }
    } catch (error) {
      if (error instanceof DomainError) return refuse(error.code);
      throw error;
    }
    state = (await this.orders.handle(orderStream(orderId), (current) => (current.status === 'placed' ? recordReserved(current, { shard, holdId, paymentId }) : []), stepMeta(orderId, 'reserved'))).state;
    // The deadline may have passed during the steps (the handler recorded the expiry): release at once.
    return state.pending ? this.settle(orderId) : state;
  }

  /** Runs a step; a refusal that says the step was already taken for this order counts as done. */
  private async step(run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (error) {
      if (error instanceof DomainError && ALREADY_DONE.has(error.code)) return;
      throw error;
    }
  }

  /** The shard order a given order tries: from a hash of the order id, so buyers of one SKU spread over its shards. */
  private shardOrder(orderId: string, shards: number): number[] {
    const start = createHash('sha256').update(orderId).digest().readUInt32BE(0) % shards;
    return Array.from({ length: shards }, (_, index) => (start + index) % shards);
  }

  /**
   * Reserves the order's units on the first shard (in the order's own shard order) that holds
   * enough. A shard that stays contended through the handler's retries is passed over for the next;
   * when every shard was empty the SKU is out of stock, and when some were only contended the
   * shards are tried again (bounded) before the order is refused as MALL.STOCK_BUSY, a refusal the
   * member may retry, never reported as out of stock.
   */
  private async reserveSomeShard(order: OrderPlacedData, shards: number): Promise<number | 'MALL.OUT_OF_STOCK' | 'MALL.STOCK_BUSY'> {
    for (let round = 0; round < RESERVE_ROUNDS; round += 1) {
      let contended = false;
      for (const shard of this.shardOrder(order.orderId, shards)) {
        try {
          await this.stock.handle(
            stockStream(order.skuId, shard),
            (state) => reserveStock(state, { skuId: order.skuId, shard, orderId: order.orderId, quantity: order.quantity }),
            stepMeta(order.orderId, `reserve-${shard}`),
          );
          return shard;
        } catch (error) {
          if (error instanceof DomainError && error.code === 'MALL.OUT_OF_STOCK') continue;
          if (error instanceof ConcurrencyError) {
            contended = true;
            continue;
          }
          throw error;
        }
      }
      if (!contended) return 'MALL.OUT_OF_STOCK';
    }
    return 'MALL.STOCK_BUSY';
  }

  private async findReservation(order: OrderPlacedData, shards: number): Promise<number | null> {
    for (let shard = 0; shard < shards; shard += 1) {
      const { state } = await this.stock.load(stockStream(order.skuId, shard));
      if (reservationOf(state, order.orderId)) return shard;
    }
    return null;
  }

  /** The member pays: the order is confirmed (of a racing confirm and cancel, one), then captured. */
  async confirm(caller: Caller, orderId: string, key: string): Promise<OrderView> {
    if (caller.role !== 'member') throw new DomainError('AUTH.FORBIDDEN', 'only the member who placed an order pays it', 403);
    const result = await this.orders.handle(orderStream(this.checkOrderId(orderId)), (state) => confirmOrder(state, { memberId: caller.sub }), metaOf(caller, key));
    return this.view(caller, await this.settle(orderId), result.replayed);
  }

  /** The member, or an admin of their unit's tree, cancels an unpaid order: everything it took is released. */
  async cancel(caller: Caller, orderId: string, key: string): Promise<OrderView> {
    await this.requireOrderAccess(caller, orderId);
    const result = await this.orders.handle(orderStream(orderId), (state) => cancelOrder(state, { by: caller.sub }), metaOf(caller, key));
    return this.view(caller, await this.settle(orderId), result.replayed);
  }

  /** The unit admin scanned the member's pickup code (the QR holds the order id and the code). */
  async collect(caller: Caller, orderId: string, pickupCode: string, key: string): Promise<OrderView> {
    await this.requireAdminOfOrder(caller, orderId);
    const pickupCodeHash = this.pickupHash(orderId, pickupCode);
    const result = await this.orders.handle(orderStream(orderId), (state) => collectOrder(state, { pickupCodeHash, collectedBy: caller.sub }), metaOf(caller, key));
    return this.view(caller, result.state, result.replayed);
  }

  async dispatch(caller: Caller, orderId: string, key: string): Promise<OrderView> {
    await this.requireAdminOfOrder(caller, orderId);
    const result = await this.orders.handle(orderStream(orderId), (state) => dispatchOrder(state, { dispatchedBy: caller.sub }), metaOf(caller, key));
    return this.view(caller, result.state, result.replayed);
  }

  /** The unit admin takes the goods back: everything paid (points and money) is refunded, once. */
  async returnOrder(caller: Caller, orderId: string, reason: string, key: string): Promise<OrderView> {
    await this.requireAdminOfOrder(caller, orderId);
    const result = await this.orders.handle(orderStream(orderId), (state) => returnOrder(state, { returnedBy: caller.sub, reason }), metaOf(caller, key));
    return this.view(caller, await this.settle(orderId), result.replayed);
  }

  async readOrder(caller: Caller, orderId: string): Promise<OrderView> {
    const state = await this.requireOrderAccess(caller, orderId);
    return this.view(caller, state, false);
  }

  private checkOrderId(orderId: string): string {
    if (!/^[0-9a-f-]{36}$/.test(orderId)) throw new DomainError('MALL.ORDER_NOT_FOUND', 'no such order', 404);
    return orderId;
  }

  /** The member who placed the order, an admin of its unit's tree, or an auditor; anyone else is told it does not exist. */
  private async requireOrderAccess(caller: Caller, orderId: string): Promise<OrderState> {
    const { state } = await this.orders.load(orderStream(this.checkOrderId(orderId)));
    const order = requireOrder(state);
    const allowed =
      caller.role === 'auditor' ||
      (caller.role === 'member' && order.memberId === caller.sub) ||
      (caller.role === 'admin' && (await this.deps.orgAccess.isWithin(order.orgId, caller.org)));
    if (!allowed) throw new DomainError('MALL.ORDER_NOT_FOUND', 'no such order', 404);
    return state;
  }

  private async requireAdminOfOrder(caller: Caller, orderId: string): Promise<OrderState> {
    if (caller.role !== 'admin') throw new DomainError('AUTH.FORBIDDEN', 'this needs the role admin', 403);
    return this.requireOrderAccess(caller, orderId);
  }

  /**
   * Carries out what the order's last decision owes the other streams, each step keyed by the
   * order (so a rerun, or the sweep racing the request, takes it once), then records it as done.
   */
  async settle(orderId: string): Promise<OrderState> {
    const { state } = await this.orders.load(orderStream(orderId));
    if (state.pending === null) return state;
    const order = requireOrder(state);
    const settlement = state.pending;
    const merchantId = mallMerchantId(order.listingOrgId);
    const holdId = orderHoldId(orderId);
    const paymentId = orderPaymentId(orderId);
    if (settlement === 'captured') {
      await this.stock.handle(stockStream(order.skuId, state.shard!), (stock) => commitStock(stock, { skuId: order.skuId, shard: state.shard!, orderId }), stepMeta(orderId, 'commit'));
      if (state.holdId) await this.step(() => this.deps.members.execute(order.memberId, { type: 'PostHold', holdId }, stepMeta(orderId, 'post-hold')));
      if (state.paymentId) {
        await this.step(() =>
          this.deps.wallets.handle(
            walletStream(order.memberId),
            (wallet, now) => (wallet.payments.get(paymentId)?.status === 'captured' ? [] : capturePayment(wallet, { paymentId, merchantId, amountFen: order.totalFen }, now)),
            stepMeta(orderId, 'capture'),
          ),
        );
      }
    } else if (settlement === 'released') {
      const sku = requireSku(await this.loadSku(order.skuId));
      // An order refused or expired before OrderReserved does not know its shard: every shard is looked at.
      const shards = state.shard !== null ? [state.shard] : Array.from({ length: sku.shards }, (_, shard) => shard);
      for (const shard of shards) {
        await this.stock.handle(stockStream(order.skuId, shard), (stock) => releaseStock(stock, { skuId: order.skuId, shard, orderId }), stepMeta(orderId, `release-${shard}`));
      }
      if (order.totalPoints > 0) {
        await this.step(async () => {
          try {
            await this.deps.members.execute(order.memberId, { type: 'VoidHold', holdId }, stepMeta(orderId, 'void-hold'));
          } catch (error) {
            if (error instanceof DomainError && error.code === 'HOLD.NOT_FOUND') return; // The hold step never ran.
            throw error;
          }
        });
      }
      if (order.totalFen > 0) {
        await this.deps.wallets.handle(
          walletStream(order.memberId),
          (wallet) => (wallet.payments.get(paymentId)?.status === 'authorised' ? voidPayment(wallet, { paymentId, merchantId }) : []),
          stepMeta(orderId, 'void-payment'),
        );
      }
    } else {
      if (state.holdId) await this.step(() => this.deps.members.execute(order.memberId, { type: 'RefundHold', holdId }, stepMeta(orderId, 'refund-hold')));
      if (state.paymentId) {
        await this.step(() =>
          this.deps.wallets.handle(
            walletStream(order.memberId),
            (wallet, now) => refundPayment(wallet, { paymentId, merchantId, refundId: `return:${orderId}`, amountFen: order.totalFen }, now),
            stepMeta(orderId, 'refund'),
          ),
        );
      }
    }
    return (await this.orders.handle(orderStream(orderId), (current) => recordSettled(current, { settlement }), stepMeta(orderId, `settled-${settlement}`))).state;
  }

  private async view(caller: Caller, state: OrderState, replayed: boolean): Promise<OrderView> {
    const order = requireOrder(state);
    const vault = this.deps.vault();
    const own = caller.role === 'member' && caller.sub === order.memberId;
    return {
      orderId: order.orderId,
      memberId: order.memberId,
      orgId: order.orgId,
      skuId: order.skuId,
      productId: order.productId,
      name: order.name,
      quantity: order.quantity,
      totalPoints: order.totalPoints,
      totalFen: order.totalFen,
      fulfilment: order.fulfilment,
      status: state.status,
      pending: state.pending,
      rejectedCode: state.rejectedCode,
      comboId: order.combo?.comboId ?? null,
      placedAt: new Date(order.placedAtMs).toISOString(),
      expiresAt: new Date(order.expiresAtMs).toISOString(),
      ...(own && order.pickupCodeSealed ? { pickupCode: await vault.openText(order.memberId, order.pickupCodeSealed) } : {}),
      ...(order.addressSealed && caller.role !== 'auditor' ? { address: await vault.openText(order.memberId, order.addressSealed) } : {}),
      replayed,
    };
  }

  // ------------------------------------------------------------ read models

  /** The SKUs the caller may buy (a member: listed on their path up the tree) or manage (an admin: listed in their subtree). */
  async catalogue(caller: Caller, query: { after?: string | undefined; limit?: number | undefined }) {
    let orgIds: readonly string[];
    if (caller.role === 'member') orgIds = (await this.deps.orgAccess.pathOf(caller.org)) ?? [];
    else if (caller.role === 'admin') orgIds = await subtreeOrgIds(this.deps.db, caller.org);
    else throw new DomainError('AUTH.FORBIDDEN', 'the catalogue is for members and union admins', 403);
    return catalogue(this.deps.db, { orgIds, after: query.after ?? null, limit: query.limit ?? 50 });
  }

  /** One SKU and its stock from the read model (a catalogue page's detail); `stockOf` reads the shards' streams. */
  async sku(caller: Caller, skuId: string) {
    await this.visibleSku(caller, skuId);
    const row = await skuWithStock(this.deps.db, skuId);
    return { sku: row, shards: await stockShards(this.deps.db, skuId) };
  }

  async memberOrders(caller: Caller, query: { before?: string | undefined; limit?: number | undefined }) {
    if (caller.role !== 'member') throw new DomainError('AUTH.FORBIDDEN', 'only a member has orders', 403);
    return memberOrders(this.deps.db, caller.sub, { before: query.before ?? null, limit: query.limit ?? 50 });
  }

  /** A unit's pickup orders (default: paid and waiting), for admins of the unit or above. */
  async unitPickups(caller: Caller, orgId: string, query: { status?: string | undefined; before?: string | undefined; limit?: number | undefined }) {
    await this.requireAdminOver(caller, orgId);
    return unitPickups(this.deps.db, orgId, { status: query.status ?? 'confirmed', before: query.before ?? null, limit: query.limit ?? 50 });
  }

  // ------------------------------------------------------------ sweep

  /**
   * Unpaid orders past their deadline are expired (a no-op command on the order: its `due`
   * records the expiry) and released; decisions whose effects a crash interrupted are finished;
   * an order a crash left placed expires at its deadline like an unpaid one. Bounded per run, safe to repeat.
   */
  async sweep(): Promise<{ expired: number; settled: number }> {
    const now = this.clock();
    let expired = 0;
    let settled = 0;
    for (const orderId of await ordersToSweep(this.deps.db, now.getTime(), SWEEP_LIMIT)) {
      const outcome = await this.sweepOrder(orderId, now);
      expired += outcome.expired ? 1 : 0;
      settled += outcome.settled ? 1 : 0;
    }
    return { expired, settled };
  }

  /** One order's sweep: its expiry recorded if due (a no-op command: `dueOrder` does it), then whatever it owes settled. */
  async sweepOrder(orderId: string, now: Date = this.clock()): Promise<{ expired: boolean; settled: boolean }> {
    const result = await this.orders.handle(orderStream(orderId), () => [], SYSTEM_META(`mall-sweep:${orderId}:${now.getTime()}`));
    const expired = !result.replayed && result.events.some((event) => event.type === 'OrderCancelled');
    if (!result.state.pending) return { expired, settled: false };
    await this.settle(orderId);
    return { expired, settled: true };
  }
}
