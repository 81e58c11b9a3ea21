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
