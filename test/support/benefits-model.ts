import type { Asset, Posting } from '../../src/domain/shared';
import { merchantLine, type MerchantEvent, type WalletEvent } from '../../src/domain/benefits';

/**
 * The ledger as the read models will see the benefits context: account balances summed from the
 * events' postings alone (never from the deciders' states, so the two can be compared), and each
 * merchant's capture and refund lines counted from the wallet events alone, to check what the
 * merchant's own stream settles.
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

/** A capture or refund at a merchant as the model counts it: from the wallet's events alone, never from the merchant's stream. */
export interface ModelLine {
  day: string;
  kind: 'capture' | 'refund';
  amountFen: number;
  /** The settlement that took the line in; null while no settlement has. */
  settlementId: string | null;
}

/** The line a wallet event makes, if it is a capture or a refund. */
export function modelLineOf(event: PostedEvent): (ModelLine & { merchantId: string }) | null {
  const wallet = event as WalletEvent;
  if (wallet.type !== 'PaymentCaptured' && wallet.type !== 'PaymentRefunded') return null;
  const kind = wallet.type === 'PaymentCaptured' ? 'capture' : 'refund';
  return { merchantId: wallet.data.merchantId, day: wallet.data.day, kind, amountFen: wallet.data.amountFen, settlementId: null };
}

/**
 * The merchant's events to append in the same commit as a wallet decision, exactly as the
 * application builds them (BenefitsService's `merchantLines`, passed to the command handler as
 * `alongside`): one MerchantLineRecorded per capture and refund, on the stream of the merchant
 * the terminal belongs to.
 */
export function merchantLinesBeside(merchantId: string, events: readonly WalletEvent[]): MerchantEvent[] {
  return events.flatMap((event) =>
    event.type === 'PaymentCaptured' || event.type === 'PaymentRefunded'
      ? [
          merchantLine({
            merchantId,
            kind: event.type === 'PaymentCaptured' ? 'capture' : 'refund',
            paymentId: event.data.paymentId,
            refundId: event.type === 'PaymentRefunded' ? event.data.refundId : null,
            memberId: event.data.memberId,
            amountFen: event.data.amountFen,
            day: event.data.day,
          }),
        ]
      : [],
  );
}

/** What settling `day` must take: every line no settlement has taken yet whose business day is `day` or earlier. */
export function linesToSettle<Line extends ModelLine>(lines: readonly Line[], day: string): Line[] {
  return lines.filter((line) => line.settlementId === null && line.day <= day);
}

/** A settlement's figures over `lines`. */
export function figuresOf(lines: readonly ModelLine[]): { captureFen: number; refundFen: number; lines: number } {
  const total = (kind: ModelLine['kind']): number => lines.filter((line) => line.kind === kind).reduce((sum, line) => sum + line.amountFen, 0);
  return { captureFen: total('capture'), refundFen: total('refund'), lines: lines.length };
}

/** Captures minus refunds of the lines no settlement has taken yet. */
export function unsettledFen(lines: readonly ModelLine[]): number {
  return lines.filter((line) => line.settlementId === null).reduce((sum, line) => sum + (line.kind === 'capture' ? line.amountFen : -line.amountFen), 0);
}
