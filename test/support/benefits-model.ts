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

/** A capture or refund line of a merchant's ledger, at its position in the global log (1-based, as the store counts). */
export interface MerchantLine {
  position: bigint;
  day: string;
  kind: 'capture' | 'refund';
  amountFen: number;
}

/** The merchant line an event at `position` makes, if it is a capture or a refund. */
export function merchantLineOf(event: PostedEvent, position: bigint): (MerchantLine & { merchantId: string }) | null {
  const wallet = event as WalletEvent;
  if (wallet.type !== 'PaymentCaptured' && wallet.type !== 'PaymentRefunded') return null;
  const kind = wallet.type === 'PaymentCaptured' ? 'capture' : 'refund';
  return { merchantId: wallet.data.merchantId, position, day: wallet.data.day, kind, amountFen: wallet.data.amountFen };
}

/** A line is covered when an earlier settlement's day and position both reach it. */
export function isCovered(line: MerchantLine, merchant: MerchantState): boolean {
  return merchant.settlements.some((settlement) => line.day <= settlement.day && line.position <= BigInt(settlement.throughPosition));
}

/** The figures of settling `day` from the merchant ledger read up to `throughPosition`: its lines up to `day` that no earlier settlement covered. */
export function settlementFigures(
  lines: readonly MerchantLine[],
  merchant: MerchantState,
  ids: { settlementId: string; payoutId: string },
  day: string,
  throughPosition: bigint,
): SettlementFigures {
  const settled = lines.filter((line) => line.day <= day && line.position <= throughPosition && !isCovered(line, merchant));
  const total = (kind: MerchantLine['kind']): number => settled.filter((line) => line.kind === kind).reduce((sum, line) => sum + line.amountFen, 0);
  return { ...ids, day, throughPosition, captureFen: total('capture'), refundFen: total('refund'), lines: settled.length };
}

/** Captures minus refunds of the lines no settlement covers yet. */
export function unsettledFen(lines: readonly MerchantLine[], merchant: MerchantState): number {
  return lines.filter((line) => !isCovered(line, merchant)).reduce((sum, line) => sum + (line.kind === 'capture' ? line.amountFen : -line.amountFen), 0);
}
