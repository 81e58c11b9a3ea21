import { Inject } from '@nestjs/common';
import { Command, CommandHandler, Query, QueryHandler, type ICommandHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { Mall } from '../../application/mall';
import type { UnionLedger } from '../../composition-root';
import { yuanToFen } from '../../domain/shared';
import type { JwtClaims } from '../common/auth';
import { LEDGER } from '../tokens';

/**
 * The mall's commands and queries as @nestjs/cqrs messages: one class per use, each handler a
 * thin call into the application layer (Mall). Yuan text becomes fen here (decimal.js, in
 * domain/shared/money.ts).
 */

abstract class MallCommand<Input, Result> extends Command<Result> {
  constructor(
    readonly user: JwtClaims,
    readonly key: string,
    readonly input: Input,
  ) {
    super();
  }
}

abstract class MallQuery<Input, Result> extends Query<Result> {
  constructor(
    readonly user: JwtClaims,
    readonly input: Input,
  ) {
    super();
  }
}

abstract class MallHandler {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}
  protected get mall(): Mall {
    return this.ledger.mall;
  }
}

type Out<M extends keyof Mall> = Mall[M] extends (...args: never[]) => Promise<infer R> ? R : never;

export class ListSku extends MallCommand<
  { skuId: string; productId: string; productName: string; name: string; orgId: string; pricePoints: number; price: string; shards?: number | undefined },
  Out<'listSku'>
> {}
@CommandHandler(ListSku)
export class ListSkuHandler extends MallHandler implements ICommandHandler<ListSku> {
  execute({ user, key, input }: ListSku) {
    const { price, shards, ...rest } = input;
    return this.mall.listSku(user, { ...rest, priceFen: yuanToFen(price), shards: shards ?? 8 }, key);
  }
}

export class WithdrawSku extends MallCommand<{ skuId: string }, Out<'withdrawSku'>> {}
@CommandHandler(WithdrawSku)
export class WithdrawSkuHandler extends MallHandler implements ICommandHandler<WithdrawSku> {
  execute({ user, key, input }: WithdrawSku) {
    return this.mall.withdrawSku(user, input.skuId, key);
  }
}

export class Restock extends MallCommand<{ skuId: string; quantity: number }, Out<'restock'>> {}
@CommandHandler(Restock)
export class RestockHandler extends MallHandler implements ICommandHandler<Restock> {
  execute({ user, key, input }: Restock) {
    return this.mall.restock(user, input.skuId, input.quantity, key);
  }
}

export class PlaceOrder extends MallCommand<{ skuId: string; quantity: number; fulfilment: 'pickup' | 'delivery'; address?: string | undefined }, Out<'placeOrder'>> {}
@CommandHandler(PlaceOrder)
export class PlaceOrderHandler extends MallHandler implements ICommandHandler<PlaceOrder> {
  execute({ user, key, input }: PlaceOrder) {
    return this.mall.placeOrder(user, input, key);
  }
}

export class ConfirmOrder extends MallCommand<{ orderId: string }, Out<'confirm'>> {}
@CommandHandler(ConfirmOrder)
export class ConfirmOrderHandler extends MallHandler implements ICommandHandler<ConfirmOrder> {
  execute({ user, key, input }: ConfirmOrder) {
    return this.mall.confirm(user, input.orderId, key);
  }
}

export class CancelOrder extends MallCommand<{ orderId: string }, Out<'cancel'>> {}
@CommandHandler(CancelOrder)
export class CancelOrderHandler extends MallHandler implements ICommandHandler<CancelOrder> {
  execute({ user, key, input }: CancelOrder) {
    return this.mall.cancel(user, input.orderId, key);
  }
}

export class CollectOrder extends MallCommand<{ orderId: string; pickupCode: string }, Out<'collect'>> {}
@CommandHandler(CollectOrder)
export class CollectOrderHandler extends MallHandler implements ICommandHandler<CollectOrder> {
  execute({ user, key, input }: CollectOrder) {
    return this.mall.collect(user, input.orderId, input.pickupCode, key);
  }
}

export class DispatchOrder extends MallCommand<{ orderId: string }, Out<'dispatch'>> {}
@CommandHandler(DispatchOrder)
export class DispatchOrderHandler extends MallHandler implements ICommandHandler<DispatchOrder> {
  execute({ user, key, input }: DispatchOrder) {
    return this.mall.dispatch(user, input.orderId, key);
  }
}

export class ReturnOrder extends MallCommand<{ orderId: string; reason: string }, Out<'returnOrder'>> {}
@CommandHandler(ReturnOrder)
export class ReturnOrderHandler extends MallHandler implements ICommandHandler<ReturnOrder> {
  execute({ user, key, input }: ReturnOrder) {
    return this.mall.returnOrder(user, input.orderId, input.reason, key);
  }
}

// ------------------------------------------------------------ queries

export class GetCatalogue extends MallQuery<{ after?: string | undefined; limit?: number | undefined }, Out<'catalogue'>> {}
@QueryHandler(GetCatalogue)
export class GetCatalogueHandler extends MallHandler implements IQueryHandler<GetCatalogue> {
  execute({ user, input }: GetCatalogue) {
    return this.mall.catalogue(user, input);
  }
}

export class GetSku extends MallQuery<{ skuId: string }, Out<'sku'>> {}
@QueryHandler(GetSku)
export class GetSkuHandler extends MallHandler implements IQueryHandler<GetSku> {
  execute({ user, input }: GetSku) {
    return this.mall.sku(user, input.skuId);
  }
}

export class GetStock extends MallQuery<{ skuId: string }, Out<'stockOf'>> {}
@QueryHandler(GetStock)
export class GetStockHandler extends MallHandler implements IQueryHandler<GetStock> {
  execute({ user, input }: GetStock) {
    return this.mall.stockOf(user, input.skuId);
  }
}

export class GetOrder extends MallQuery<{ orderId: string }, Out<'readOrder'>> {}
@QueryHandler(GetOrder)
export class GetOrderHandler extends MallHandler implements IQueryHandler<GetOrder> {
  execute({ user, input }: GetOrder) {
    return this.mall.readOrder(user, input.orderId);
  }
}

export class GetMemberOrders extends MallQuery<{ before?: string | undefined; limit?: number | undefined }, Out<'memberOrders'>> {}
@QueryHandler(GetMemberOrders)
export class GetMemberOrdersHandler extends MallHandler implements IQueryHandler<GetMemberOrders> {
  execute({ user, input }: GetMemberOrders) {
    return this.mall.memberOrders(user, input);
  }
}

export class GetUnitPickups extends MallQuery<{ orgId: string; status?: string | undefined; before?: string | undefined; limit?: number | undefined }, Out<'unitPickups'>> {}
@QueryHandler(GetUnitPickups)
export class GetUnitPickupsHandler extends MallHandler implements IQueryHandler<GetUnitPickups> {
  execute({ user, input }: GetUnitPickups) {
    const { orgId, ...query } = input;
    return this.mall.unitPickups(user, orgId, query);
  }
}

// ------------------------------------------------------------ welfare combinations

export class OfferCombo extends MallCommand<{ comboId: string; orgId: string; name: string; skuIds: string[]; budget: string }, Awaited<ReturnType<Mall['combos']['offer']>>> {}
@CommandHandler(OfferCombo)
export class OfferComboHandler extends MallHandler implements ICommandHandler<OfferCombo> {
  execute({ user, key, input }: OfferCombo) {
    const { budget, ...rest } = input;
    return this.mall.combos.offer(user, { ...rest, budgetFen: yuanToFen(budget) }, key);
  }
}

export class WithdrawCombo extends MallCommand<{ comboId: string }, Awaited<ReturnType<Mall['combos']['withdraw']>>> {}
@CommandHandler(WithdrawCombo)
export class WithdrawComboHandler extends MallHandler implements ICommandHandler<WithdrawCombo> {
  execute({ user, key, input }: WithdrawCombo) {
    return this.mall.combos.withdraw(user, input.comboId, key);
  }
}

export class PickCombo extends MallCommand<{ comboId: string; items: Array<{ skuId: string; quantity: number }> }, Awaited<ReturnType<Mall['combos']['pick']>>> {}
@CommandHandler(PickCombo)
export class PickComboHandler extends MallHandler implements ICommandHandler<PickCombo> {
  execute({ user, key, input }: PickCombo) {
    return this.mall.combos.pick(user, input.comboId, input.items, key);
  }
}

export class GetCombo extends MallQuery<{ comboId: string }, Awaited<ReturnType<Mall['combos']['read']>>> {}
@QueryHandler(GetCombo)
export class GetComboHandler extends MallHandler implements IQueryHandler<GetCombo> {
  execute({ user, input }: GetCombo) {
    return this.mall.combos.read(user, input.comboId);
  }
}

export class GetComboPick extends MallQuery<{ comboId: string }, Awaited<ReturnType<Mall['combos']['pickOf']>>> {}
@QueryHandler(GetComboPick)
export class GetComboPickHandler extends MallHandler implements IQueryHandler<GetComboPick> {
  execute({ user, input }: GetComboPick) {
    return this.mall.combos.pickOf(user, input.comboId);
  }
}

export const MALL_HANDLERS = [
  OfferComboHandler,
  WithdrawComboHandler,
  PickComboHandler,
  GetComboHandler,
  GetComboPickHandler,
  ListSkuHandler,
  WithdrawSkuHandler,
  RestockHandler,
  PlaceOrderHandler,
  ConfirmOrderHandler,
  CancelOrderHandler,
  CollectOrderHandler,
  DispatchOrderHandler,
  ReturnOrderHandler,
  GetCatalogueHandler,
  GetSkuHandler,
  GetStockHandler,
  GetOrderHandler,
  GetMemberOrdersHandler,
  GetUnitPickupsHandler,
];
