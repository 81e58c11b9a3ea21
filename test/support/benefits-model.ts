import type { Asset, Posting } from '../../src/domain/shared';
import type { MerchantState, SettlementFigures, WalletEvent } from '../../src/domain/benefits';

/**
 * The ledger as the read models will see the benefits context: account balances summed from the
 * events' postings alone (never from the deciders' states, so the two can be compared), and a
 * merchant's settlement figures summed from the wallet events' capture and refund lines, as the
 * application will from its merchant ledger.
 */

/** Anything that may carry postings: every benefits event. */
export interface PostedEvent {
  type: string;
  data: object;
}

export const postingsOf = (event: PostedEvent): readonly Posting[] => (event.data as { postings?: Posting[] }).postings ?? [];

/** Balance of every account touched by `events` in `asset`: what was credited to it minus what was debited from it. */
export function balancesOf(events: readonly PostedEvent[], asset: Asset = 'CNY_FEN'): Map<string, number> {
  const balances = new Map<string, number>();
  for (const event of events) addPostings(balances, postingsOf(event), asset);
  return balances;
}

export function addPostings(balances: Map<string, number>, postings: readonly Posting[], asset: Asset = 'CNY_FEN'): void {
  for (const { debit, credit, amount, asset: postedAsset } of postings) {
    if (postedAsset !== asset) continue;
    balances.set(debit, (balances.get(debit) ?? 0) - amount);
    balances.set(credit, (balances.get(credit) ?? 0) + amount);
  }
}

/** A capture or refund line of a merchant at a position of the global log (1-based, as the store counts). */
export interface MerchantLine {
  position: bigint;
  day: string;
  kind: 'capture' | 'refund';
  amountFen: number;
}

export function merchantLines(log: readonly PostedEvent[], merchantId: string): MerchantLine[] {
  const lines: MerchantLine[] = [];
  log.forEach((entry, index) => {
    const event = entry as WalletEvent;
    if ((event.type === 'PaymentCaptured' || event.type === 'PaymentRefunded') && event.data.merchantId === merchantId) {
      lines.push({ position: BigInt(index + 1), day: event.data.day, kind: event.type === 'PaymentCaptured' ? 'capture' : 'refund', amountFen: event.data.amountFen });
    }
  });
  return lines;
}

/** A line is covered when an earlier settlement's day and position both reach it. */
export function isCovered(line: MerchantLine, merchant: MerchantState): boolean {
  return merchant.settlements.some((settlement) => line.day <= settlement.day && line.position <= BigInt(settlement.throughPosition));
}

/** The figures of settling `day` now: the merchant's lines up to `day` and the log's end that no earlier settlement covered. */
export function settlementFigures(
  log: readonly PostedEvent[],
  merchant: MerchantState,
  ids: { settlementId: string; payoutId: string },
  day: string,
): SettlementFigures {
  const throughPosition = BigInt(log.length);
  const lines = merchantLines(log, merchant.merchantId).filter((line) => line.day <= day && line.position <= throughPosition && !isCovered(line, merchant));
  const total = (kind: MerchantLine['kind']): number => lines.filter((line) => line.kind === kind).reduce((sum, line) => sum + line.amountFen, 0);
  return { ...ids, day, throughPosition, captureFen: total('capture'), refundFen: total('refund'), lines: lines.length };
}

/** Captures minus refunds of the lines no settlement covers yet. */
export function unsettledFen(log: readonly PostedEvent[], merchant: MerchantState): number {
  return merchantLines(log, merchant.merchantId)
    .filter((line) => !isCovered(line, merchant))
    .reduce((sum, line) => sum + (line.kind === 'capture' ? line.amountFen : -line.amountFen), 0);
}
