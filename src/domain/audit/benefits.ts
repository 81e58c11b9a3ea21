import { benefitAccounts } from '../benefits';

/**
 * Recomputing the benefits context's grants (`union-ledger audit grants`, beside the points
 * grants): each disbursement batch's shares from its recorded inputs, and each voucher expiry's
 * amount and time from the member's wallet stream. Written apart from the benefits deciders and
 * from `splitFen` on purpose, as for points: an audit that called the code it audits would repeat
 * its bugs. Pure: the application layer reads the streams and hands them here.
 */

export interface BenefitFinding {
  streamId: string;
  revision: number;
  /** The batch id, or the expiry id. */
  id: string;
  /** What differs: share, memberCount, totalFen (batches); voucher, amountFen, time, expiryId, postings, programme (expiries). */
  what: string;
  recorded: string;
  recomputed: string;
}

/** A stored event of a batch or wallet stream, as read from ul_events. */
export interface StoredBenefitEvent {
  revision: number;
  type: string;
  data: Record<string, unknown>;
  /** metadata.occurredAt in ms (the clock of the command or sweep that wrote it). */
  occurredAtMs: number;
}

/** Differing shares named per batch at most: one forged share is enough to name the batch. */
const SHARES_NAMED_MAX = 20;

/**
 * An equal split of `totalFen` over `count` shares by largest remainder: every exact part has the
 * same remainder, so the fen left over go one each to the earliest shares.
 */
export function equalSharesFen(totalFen: number, count: number): number[] {
  const base = Math.floor(totalFen / count);
  const left = totalFen - base * count;
  return Array.from({ length: count }, (_, index) => base + (index < left ? 1 : 0));
}

const num = (value: unknown): number => (typeof value === 'number' ? value : Number.NaN);

/**
 * One batch stream, in stream order. A sealed batch's listed shares must add up to its sealed
 * total and count; a batch for every member of a union (`source: 'unit'`) of money must list the
 * equal split of that total (a fixed amount per member is the split with no remainder); a voucher
 * campaign lists every member at the voucher's face value. A CSV batch's amounts are its inputs.
 */
export function recomputeBatch(streamId: string, events: readonly StoredBenefitEvent[]): BenefitFinding[] {
  const findings: BenefitFinding[] = [];
  const drafted = events.find((event) => event.type === 'BatchDrafted');
  const sealed = events.find((event) => event.type === 'BatchSealed');
  if (!drafted || !sealed) return findings;
  const batchId = String(drafted.data['batchId']);
  const found = (revision: number, what: string, recorded: unknown, recomputed: unknown): void => {
    findings.push({ streamId, revision, id: batchId, what, recorded: JSON.stringify(recorded), recomputed: JSON.stringify(recomputed) });
  };
  const listed = events
    .filter((event) => event.type === 'BatchItemsListed' && event.revision < sealed.revision)
    .sort((a, b) => num(a.data['chunk']) - num(b.data['chunk']));
  const items: Array<{ memberId: string; amountFen: number; revision: number }> = [];
  for (const event of listed) {
    const rows = Array.isArray(event.data['items']) ? (event.data['items'] as Array<Record<string, unknown>>) : [];
    for (const row of rows) items.push({ memberId: String(row['memberId']), amountFen: num(row['amountFen']), revision: event.revision });
  }
  const totalFen = num(sealed.data['totalFen']);
  const listedFen = items.reduce((total, item) => total + item.amountFen, 0);
  if (num(sealed.data['memberCount']) !== items.length) found(sealed.revision, 'memberCount', sealed.data['memberCount'], items.length);
  if (totalFen !== listedFen) found(sealed.revision, 'totalFen', totalFen, listedFen);
  let expected: number[] | null = null;
  const voucher = drafted.data['voucher'] as Record<string, unknown> | null;
  if (drafted.data['kind'] === 'vouchers') expected = items.map(() => num(voucher?.['faceFen']));
  else if (drafted.data['source'] === 'unit' && items.length > 0 && Number.isSafeInteger(totalFen) && totalFen >= 0) expected = equalSharesFen(totalFen, items.length);
  if (expected) {
    let named = 0;
    for (const [index, item] of items.entries()) {
      if (item.amountFen === expected[index] || named >= SHARES_NAMED_MAX) continue;
      found(item.revision, 'share', { memberId: item.memberId, amountFen: item.amountFen }, { memberId: item.memberId, amountFen: expected[index] });
      named += 1;
    }
  }
  return findings;
}

interface VoucherFold {
  programmeId: string;
  orgId: string;
  validUntilMs: number;
  available: number;
  expiries: number;
}

function parts(value: unknown): Array<{ voucherId: string; amountFen: number }> {
  return Array.isArray(value) ? (value as Array<Record<string, unknown>>).map((part) => ({ voucherId: String(part['voucherId']), amountFen: num(part['amountFen']) })) : [];
}

/**
 * One wallet stream, in stream order: each voucher's remaining value folded from its grant, the
 * payments that held, released and refunded it and the expiries before; each VoucherExpired must
 * take exactly that remainder, no earlier than the voucher's validity end, back to the returns
 * account of the programme that issued it. A wrong expiry still counts as recorded afterwards.
 */
export function recomputeVoucherExpiries(streamId: string, events: readonly StoredBenefitEvent[]): BenefitFinding[] {
  const findings: BenefitFinding[] = [];
  const vouchers = new Map<string, VoucherFold>();
  const change = (list: unknown, sign: 1 | -1): void => {
    for (const part of parts(list)) {
      const voucher = vouchers.get(part.voucherId);
      if (voucher) voucher.available += sign * part.amountFen;
    }
  };
  for (const event of events) {
    const { data } = event;
    switch (event.type) {
      case 'VoucherGranted':
        vouchers.set(String(data['voucherId']), {
          programmeId: String(data['programmeId']),
          orgId: String(data['orgId']),
          validUntilMs: num(data['validUntilMs']),
          available: num(data['faceFen']),
          expiries: 0,
        });
        break;
      case 'PaymentAuthorised':
        change(data['vouchers'], -1);
        break;
      case 'PaymentCaptured':
        change(data['releasedVouchers'], 1);
        break;
      case 'PaymentVoided':
      case 'PaymentRefunded':
        change(data['vouchers'], 1);
        break;
      case 'VoucherExpired': {
        const voucherId = String(data['voucherId']);
        const expiryId = String(data['expiryId']);
        const found = (what: string, recorded: unknown, recomputed: unknown): void => {
          findings.push({ streamId, revision: event.revision, id: expiryId, what, recorded: JSON.stringify(recorded), recomputed: JSON.stringify(recomputed) });
        };
        const voucher = vouchers.get(voucherId);
        if (!voucher) {
          found('voucher', voucherId, 'no such voucher granted before');
          break;
        }
        const memberId = streamId.slice('wallet-'.length);
        const amountFen = num(data['amountFen']);
        if (amountFen !== voucher.available || amountFen <= 0) found('amountFen', amountFen, voucher.available);
        if (!(event.occurredAtMs >= voucher.validUntilMs)) found('time', new Date(event.occurredAtMs).toISOString(), `at or after ${new Date(voucher.validUntilMs).toISOString()}`);
        if (expiryId !== `${voucherId}:${voucher.expiries + 1}`) found('expiryId', expiryId, `${voucherId}:${voucher.expiries + 1}`);
        if (data['programmeId'] !== voucher.programmeId || data['orgId'] !== voucher.orgId) {
          found('programme', { programmeId: data['programmeId'], orgId: data['orgId'] }, { programmeId: voucher.programmeId, orgId: voucher.orgId });
        }
        const expectedPostings = [{ debit: benefitAccounts.voucher(memberId), credit: benefitAccounts.voucherReturns(voucher.programmeId), amount: voucher.available, asset: 'CNY_FEN' }];
        const postings = Array.isArray(data['postings'])
          ? (data['postings'] as Array<Record<string, unknown>>).map((p) => ({ debit: p['debit'], credit: p['credit'], amount: p['amount'], asset: p['asset'] }))
          : data['postings'];
        if (JSON.stringify(postings) !== JSON.stringify(expectedPostings)) found('postings', data['postings'], expectedPostings);
        // Counted as recorded, as the wallet's own state does.
        voucher.available -= Number.isFinite(amountFen) ? amountFen : 0;
        voucher.expiries += 1;
        break;
      }
      default:
        break;
    }
  }
  return findings;
}

/** A wallet's `WalletCredited` or `VoucherGranted` naming a batch, as read. */
export interface StoredCredit {
  streamId: string;
  revision: number;
  data: Record<string, unknown>;
}

/** The members a batch's paid chunks paid (each chunk pays a prefix of its listed members), with their shares. */
export function paidShares(events: readonly StoredBenefitEvent[], chunkSize: number): Map<string, number> {
  const chunks = new Map<number, Array<Record<string, unknown>>>();
  for (const event of events) {
    if (event.type === 'BatchItemsListed' && Array.isArray(event.data['items'])) chunks.set(num(event.data['chunk']), event.data['items'] as Array<Record<string, unknown>>);
  }
  const paid = new Map<string, number>();
  for (const event of events) {
    if (event.type !== 'BatchChunkPaid') continue;
    const items = chunks.get(num(event.data['chunk'])) ?? [];
    for (const item of items.slice(0, Math.min(num(event.data['paidCount']), chunkSize))) paid.set(String(item['memberId']), num(item['amountFen']));
  }
  return paid;
}

/**
 * A batch's wallet credits against the shares its paid chunks record: every paid member credited
 * once with their share (a voucher at the campaign's face value), from the batch's transit account
 * to their wallet, and nobody else credited in the batch's name.
 */
export function recomputeBatchCredits(batchId: string, kind: unknown, paid: ReadonlyMap<string, number>, credits: readonly StoredCredit[]): BenefitFinding[] {
  const findings: BenefitFinding[] = [];
  const seen = new Set<string>();
  for (const credit of credits) {
    const memberId = credit.streamId.slice('wallet-'.length);
    const found = (what: string, recorded: unknown, recomputed: unknown): void => {
      findings.push({ streamId: credit.streamId, revision: credit.revision, id: batchId, what, recorded: JSON.stringify(recorded), recomputed: JSON.stringify(recomputed) });
    };
    const amountFen = num(kind === 'vouchers' ? credit.data['faceFen'] : credit.data['amountFen']);
    const share = paid.get(memberId);
    if (share === undefined) found('credit', { memberId, amountFen }, 'no paid share in this batch');
    else if (seen.has(memberId)) found('credit', { memberId, amountFen }, 'credited once');
    else if (amountFen !== share) found('credit', { memberId, amountFen }, { memberId, amountFen: share });
    seen.add(memberId);
    const expected = [
      kind === 'vouchers'
        ? { debit: benefitAccounts.voucherTransit(batchId), credit: benefitAccounts.voucher(memberId), amount: amountFen, asset: 'CNY_FEN' }
        : { debit: benefitAccounts.disbursementTransit(batchId), credit: benefitAccounts.wallet(memberId), amount: amountFen, asset: 'CNY_FEN' },
    ];
    const postings = Array.isArray(credit.data['postings'])
      ? (credit.data['postings'] as Array<Record<string, unknown>>).map((p) => ({ debit: p['debit'], credit: p['credit'], amount: p['amount'], asset: p['asset'] }))
      : credit.data['postings'];
    if (JSON.stringify(postings) !== JSON.stringify(expected)) found('postings', credit.data['postings'], expected);
  }
  for (const [memberId, share] of paid) {
    if (!seen.has(memberId)) findings.push({ streamId: `wallet-${memberId}`, revision: -1, id: batchId, what: 'credit', recorded: 'none', recomputed: JSON.stringify({ memberId, amountFen: share }) });
  }
  return findings;
}
