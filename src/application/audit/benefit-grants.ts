import type { Queryable } from '../../infra/database';
import { recomputeBatch, recomputeVoucherExpiries, type BenefitFinding, type StoredBenefitEvent } from '../../domain/audit';

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

const BATCH_EVENTS = ['BatchDrafted', 'BatchItemsListed', 'BatchSealed'];
const WALLET_VOUCHER_EVENTS = ['VoucherGranted', 'VoucherExpired', 'PaymentAuthorised', 'PaymentCaptured', 'PaymentVoided', 'PaymentRefunded'];

export async function recomputeBenefitGrants(db: Queryable, maxFindings = 1_000): Promise<BenefitGrantsReport> {
  const findings: BenefitFinding[] = [];
  const keep = (found: BenefitFinding[]): void => {
    for (const finding of found) if (findings.length < maxFindings) findings.push(finding);
  };
  let batches = 0;
  await streamsWith(db, 'BatchSealed', 'batch-', async (streamId) => {
    batches += 1;
    keep(recomputeBatch(streamId, await readStreamEvents(db, streamId, BATCH_EVENTS)));
  });
  let voucherExpiries = 0;
  await streamsWith(db, 'VoucherExpired', 'wallet-', async (streamId) => {
    const events = await readStreamEvents(db, streamId, WALLET_VOUCHER_EVENTS);
    voucherExpiries += events.filter((event) => event.type === 'VoucherExpired').length;
    keep(recomputeVoucherExpiries(streamId, events));
  });
  return { batches, voucherExpiries, findings };
}
