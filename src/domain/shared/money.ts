import Decimal from 'decimal.js';
import { DomainError } from './errors';

/**
 * Money is whole fen (CNY_FEN) everywhere inside the ledger; yuan text ("200.00") exists only at
 * the edges. decimal.js does the conversions and splits, so no binary floating point ever touches
 * an amount. Splits follow one documented rule (largest remainder) so no fen is created or lost.
 */

const FEN_PER_YUAN = 100;
/** Yuan text as the API accepts it: digits, at most two decimals, no sign, no exponent. */
const YUAN_TEXT = /^(0|[1-9]\d{0,12})(\.\d{1,2})?$/;

/** "200.5" → 20050. Refuses anything that is not a non-negative amount with at most two decimals. */
export function yuanToFen(text: string): number {
  if (!YUAN_TEXT.test(text)) {
    throw new DomainError('MONEY.AMOUNT_INVALID', 'an amount is yuan with at most two decimals, such as "200.00"', 400, { amount: text });
  }
  const fen = new Decimal(text).times(FEN_PER_YUAN);
  return fen.toNumber();
}

/** 20050 → "200.50". */
export function fenToYuan(fen: number): string {
  if (!Number.isSafeInteger(fen)) throw new Error(`invariant violated: fen must be a safe integer (got ${fen})`);
  return new Decimal(fen).dividedBy(FEN_PER_YUAN).toFixed(2);
}

/**
 * Splits `totalFen` by `weights` (for example 1 each for an equal split over N members, or
 * percentages). Each share is the floor of its exact part; the fen left over go one each to the
 * shares with the largest fractional remainders, ties to the earlier share. The shares always add
 * up to `totalFen` exactly.
 */
export function splitFen(totalFen: number, weights: readonly number[]): number[] {
  if (!Number.isSafeInteger(totalFen) || totalFen < 0) throw new Error(`invariant violated: a split needs whole non-negative fen (got ${totalFen})`);
  if (weights.length === 0 || weights.some((weight) => !Number.isFinite(weight) || weight < 0)) {
    throw new Error('invariant violated: a split needs at least one non-negative weight');
  }
  const sum = weights.reduce((total, weight) => total.plus(weight), new Decimal(0));
  if (sum.isZero()) throw new Error('invariant violated: the weights of a split must not all be zero');
  const exact = weights.map((weight) => new Decimal(totalFen).times(weight).dividedBy(sum));
  const shares = exact.map((part) => part.floor().toNumber());
  let left = totalFen - shares.reduce((total, share) => total + share, 0);
  const order = exact
    .map((part, index) => ({ index, remainder: part.minus(part.floor()) }))
    .sort((a, b) => b.remainder.comparedTo(a.remainder) || a.index - b.index);
  for (const { index } of order) {
    if (left === 0) break;
    shares[index]! += 1;
    left -= 1;
  }
  return shares;
}
