import type { Queryable } from '../../infra/database';
import { paidShares, recomputeBatch, recomputeBatchCredits, recomputeVoucherExpiries, type BenefitFinding, type StoredBenefitEvent, type StoredCredit } from '../../domain/audit';
import { BATCH_CHUNK } from '../../domain/benefits';

/**
 * The benefits part of `union-ledger audit grants`: every sealed batch's shares and every voucher
 * expiry recomputed (src/domain/audit/benefits.ts), straight from ul_events. Reads only; one
 * stream in memory at a time (a batch of 200,000 members is 400 listed events).
 */

/** Streams read per query. */
const STREAMS_PAGE = 500;

export interface BenefitGrantsReport {
  batches: number;
  voucherExpiries: number;
  findings: BenefitFinding[];
}

interface Row {
  stream_revision: string;
  event_type: string;
  data: Record<string, unknown>;
  occurred_ms: string | null;
}

async function streamsWith(db: Queryable, eventType: string, prefix: string, each: (streamId: string) => Promise<void>): Promise<void> {
  let cursor: string | null = null;
  for (;;) {
    const streams: string[] = await db.map(
      `SELECT DISTINCT stream_id FROM ul_events WHERE event_type = $1 AND stream_id LIKE $2
          AND ($3::text IS NULL OR stream_id > $3) ORDER BY stream_id LIMIT $4`,
      [eventType, `${prefix}%`, cursor, STREAMS_PAGE],
      (row: { stream_id: string }) => row.stream_id,
    );
    for (const streamId of streams) await each(streamId);
    if (streams.length < STREAMS_PAGE) return;
    cursor = streams[streams.length - 1]!;
  }
}

async function readStreamEvents(db: Queryable, streamId: string, types: readonly string[]): Promise<StoredBenefitEvent[]> {
  const rows = await db.any<Row>(
    `SELECT stream_revision, event_type, data,
            (extract(epoch FROM (metadata->>'occurredAt')::timestamptz) * 1000)::bigint::text AS occurred_ms
       FROM ul_events WHERE stream_id = $1 AND event_type = ANY($2) ORDER BY stream_revision`,
    [streamId, types],
  );
  return rows.map((row) => ({ revision: Number(row.stream_revision), type: row.event_type, data: row.data, occurredAtMs: row.occurred_ms === null ? Number.NaN : Number(row.occurred_ms) }));
}

const BATCH_EVENTS = ['BatchDrafted', 'BatchItemsListed', 'BatchSealed', 'BatchChunkPaid'];
const WALLET_VOUCHER_EVENTS = ['VoucherGranted', 'VoucherExpired', 'PaymentAuthorised', 'PaymentCaptured', 'PaymentVoided', 'PaymentRefunded'];

/**
 * The wallet credits made in a batch's name, read from the wallets of the members it lists (by
 * stream id, one query per listed chunk, on the stream index), against the shares its paid chunks
 * record. A credit in the batch's name to a member it does not list is not looked for here.
 */
async function checkCredits(db: Queryable, events: readonly StoredBenefitEvent[]): Promise<BenefitFinding[]> {
  const drafted = events.find((event) => event.type === 'BatchDrafted');
  if (!drafted) return [];
  const batchId = String(drafted.data['batchId']);
  const kind = drafted.data['kind'];
  const credits: StoredCredit[] = [];
  for (const event of events) {
    if (event.type !== 'BatchItemsListed' || !Array.isArray(event.data['items'])) continue;
    const wallets = (event.data['items'] as Array<Record<string, unknown>>).map((item) => `wallet-${String(item['memberId'])}`);
    const rows = await db.any<{ stream_id: string; stream_revision: string; data: Record<string, unknown> }>(
      `SELECT stream_id, stream_revision, data FROM ul_events
        WHERE stream_id = ANY($1) AND event_type = $2 AND data->>'batchId' = $3 ORDER BY stream_id, stream_revision`,
      [wallets, kind === 'vouchers' ? 'VoucherGranted' : 'WalletCredited', batchId],
    );
    credits.push(...rows.map((row) => ({ streamId: row.stream_id, revision: Number(row.stream_revision), data: row.data })));
  }
  return recomputeBatchCredits(batchId, kind, paidShares(events, BATCH_CHUNK), credits);
}

export async function recomputeBenefitGrants(db: Queryable, maxFindings = 1_000): Promise<BenefitGrantsReport> {
  const findings: BenefitFinding[] = [];
  const keep = (found: BenefitFinding[]): void => {
    for (const finding of found) if (findings.length < maxFindings) findings.push(finding);
  };
  let batches = 0;
  await streamsWith(db, 'BatchSealed', 'batch-', async (streamId) => {
    batches += 1;
    const events = await readStreamEvents(db, streamId, BATCH_EVENTS);
    keep(recomputeBatch(streamId, events));
    keep(await checkCredits(db, events));
  });
  let voucherExpiries = 0;
  await streamsWith(db, 'VoucherExpired', 'wallet-', async (streamId) => {
    const events = await readStreamEvents(db, streamId, WALLET_VOUCHER_EVENTS);
    voucherExpiries += events.filter((event) => event.type === 'VoucherExpired').length;
    keep(recomputeVoucherExpiries(streamId, events));
  });
  return { batches, voucherExpiries, findings };
}
