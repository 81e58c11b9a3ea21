import { DomainError, yuanToFen } from '../../domain/shared';
import { readCsvRows, CsvFileError, type CsvLimits } from '../../infra/csv';
import type { BatchItem } from '../../domain/benefits';

/** The columns of a per-member disbursement file: the member's id and the yuan they receive. */
export const BATCH_COLUMNS = ['member_id', 'amount'] as const;
const MEMBER_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
/** Problems listed in a refusal; a file with more is refused all the same. */
const MAX_LISTED_PROBLEMS = 100;

/**
 * Reads a disbursement file (UTF-8 CSV: member_id,amount with amounts in yuan such as "200.00").
 * Money must be right before anything is proposed, so a file with any bad row is refused whole,
 * with the first rows at fault and their lines.
 */
export async function readBatchCsv(csv: Buffer, limits: CsvLimits): Promise<BatchItem[]> {
  const items: BatchItem[] = [];
  const problems: Array<{ line: number; code: string; message: string }> = [];
  try {
    for await (const row of readCsvRows([csv], BATCH_COLUMNS, limits)) {
      if (problems.length >= MAX_LISTED_PROBLEMS) break;
      if (!row.values) {
        problems.push({ line: row.line, code: row.error?.code ?? 'CSV.ROW_INVALID', message: row.error?.message ?? 'malformed row' });
        continue;
      }
      const memberId = row.values['member_id'] ?? '';
      if (!MEMBER_ID.test(memberId)) {
        problems.push({ line: row.line, code: 'MEMBER.ID_INVALID', message: 'member_id is not a member id' });
        continue;
      }
      try {
        const amountFen = yuanToFen(row.values['amount'] ?? '');
        if (amountFen < 1) throw new DomainError('MONEY.AMOUNT_INVALID', 'the amount must be at least 0.01', 400);
        items.push({ memberId, amountFen });
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
        problems.push({ line: row.line, code: error.code, message: error.message });
      }
    }
  } catch (error) {
    if (error instanceof CsvFileError) throw new DomainError(error.code, error.message, 400, { line: error.line });
    throw error;
  }
  if (problems.length > 0) throw new DomainError('BATCH.CSV_INVALID', 'the file has rows that are not right; nothing was drafted', 422, { problems });
  if (items.length === 0) throw new DomainError('BATCH.EMPTY', 'the file lists no member', 422);
  return items;
}
