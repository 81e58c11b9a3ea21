import { fenToYuan } from '../../domain/shared';

/** How the mall's figures leave the service: money as yuan text (never a float), points as integers. */

export function presentSku<Row extends { priceFen: number }>(row: Row) {
  const { priceFen, ...rest } = row;
  return { ...rest, price: fenToYuan(priceFen) };
}

export function presentOrder<View extends { totalFen: number; replayed?: boolean | undefined }>(view: View) {
  const { totalFen, replayed: _replayed, ...rest } = view;
  return { ...rest, totalAmount: fenToYuan(totalFen) };
}

export function presentCombo<View extends { budgetFen: number; skus: Array<{ unitFen: number }> }>(view: View) {
  const { budgetFen, skus, ...rest } = view;
  return { ...rest, budget: fenToYuan(budgetFen), skus: skus.map(({ unitFen, ...sku }) => ({ ...sku, unitValue: fenToYuan(unitFen) })) };
}

export function presentPick<View extends { totalFen: number; budgetFen: number; orders: Array<{ totalFen: number }>; replayed?: boolean | undefined }>(view: View) {
  const { totalFen, budgetFen, orders, replayed: _replayed, ...rest } = view;
  return { ...rest, totalValue: fenToYuan(totalFen), budget: fenToYuan(budgetFen), orders: orders.map((order) => presentOrder(order)) };
}
