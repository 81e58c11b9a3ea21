import type { UnitTarget } from '../../domain/campaigns';
import { MAX_TARGET_UNITS, MAX_UNIT_COUNT } from '../../domain/campaigns';
import { CsvFileError, readCsvRows, type CsvLimits } from '../../infra/csv';
import type { Queryable } from '../../infra/database';
import { unitsByIdOrName } from '../../projections/campaigns';

/**
 * The targets table as the unions publish it: `seq, unit, members, target` (序号, 单位, 会员数,
 * 目标数 are accepted as the header too), UTF-8, one row per unit, the unit by id or by name
 * within the campaign's tree. Every row is checked and reported by its line, like the roster
 * import's report; the caller refuses the file when any row is in error.
 */

export interface TargetRowResult {
  line: number;
  status: 'applied' | 'rejected';
  code?: string;
  message?: string;
  orgId?: string;
}

export interface TargetsReport {
  kind: 'campaign-targets';
  totals: { rows: number; applied: number; unchanged: number; rejected: number };
  fatal: { code: string; message: string; line: number } | null;
  /** Rows in error, by line (at most MAX_LISTED_ROWS; `rejectedRowsOmitted` counts the rest). */
  rejectedRows: TargetRowResult[];
  rejectedRowsOmitted: number;
  targetsVersion?: number;
  totalTarget?: number;
}

const COLUMNS = ['seq', 'unit', 'members', 'target'] as const;
const HEADER_ALIASES: Record<string, string> = { 序号: 'seq', 单位: 'unit', 单位名称: 'unit', 会员数: 'members', 会员人数: 'members', 目标数: 'target', 目标: 'target' };
const LIMITS: CsvLimits = { maxRecordBytes: 4 * 1024, maxRows: MAX_TARGET_UNITS };
const MAX_LISTED_ROWS = 1000;
const COUNT = /^(0|[1-9][0-9]{0,7})$/;
const UNIT_MAX_CHARS = 100;

/** The header line with the Chinese column names put in English, the rest of the file as it is. */
function withEnglishHeader(csv: Buffer): Buffer {
  const bom = csv[0] === 0xef && csv[1] === 0xbb && csv[2] === 0xbf ? 3 : 0;
  const end = csv.indexOf(0x0a, bom);
  const headerEnd = end < 0 ? csv.length : end;
  const header = csv.subarray(bom, headerEnd).toString('utf8');
  const mapped = header
    .split(',')
    .map((name) => HEADER_ALIASES[name.trim().replace(/\r$/, '')] ?? name)
    .join(',');
  if (mapped === header) return csv;
  return Buffer.concat([Buffer.from(mapped, 'utf8'), csv.subarray(headerEnd)]);
}

interface ParsedRow {
  line: number;
  unit: string;
  members: number;
  target: number;
}

export async function parseTargets(db: Queryable, rootOrgId: string, csv: Buffer): Promise<{ report: TargetsReport; targets: UnitTarget[] }> {
  const results: TargetRowResult[] = [];
  const rows: ParsedRow[] = [];
  let fatal: TargetsReport['fatal'] = null;
  let unreadable = 0;
  const reject = (line: number, code: string, message: string) => results.push({ line, status: 'rejected', code, message });
  try {
    for await (const row of readCsvRows([withEnglishHeader(csv)], COLUMNS, LIMITS)) {
      if (!row.values) {
        unreadable += 1;
        reject(row.line, row.error!.code, row.error!.message);
        continue;
      }
      const { seq, unit, members, target } = row.values as Record<(typeof COLUMNS)[number], string>;
      if (!/^[1-9][0-9]{0,5}$/.test(seq)) reject(row.line, 'TARGET.SEQ_INVALID', 'seq is a whole number from 1');
      else if (unit.length < 1 || unit.length > UNIT_MAX_CHARS) reject(row.line, 'TARGET.UNIT_INVALID', `unit is an organisation id or name of 1 to ${UNIT_MAX_CHARS} characters`);
      else if (!COUNT.test(members) || Number(members) > MAX_UNIT_COUNT) reject(row.line, 'TARGET.MEMBERS_INVALID', `members is a whole number from 0 to ${MAX_UNIT_COUNT}`);
      else if (!COUNT.test(target) || Number(target) > MAX_UNIT_COUNT) reject(row.line, 'TARGET.TARGET_INVALID', `target is a whole number from 0 to ${MAX_UNIT_COUNT}`);
      else if (Number(target) > Number(members)) reject(row.line, 'TARGET.ABOVE_MEMBERS', 'a unit’s target cannot exceed its members');
      else rows.push({ line: row.line, unit, members: Number(members), target: Number(target) });
      if (rows[rows.length - 1]?.line !== row.line) unreadable += 1;
    }
  } catch (error) {
    if (!(error instanceof CsvFileError)) throw error;
    fatal = { code: error.code, message: error.message, line: error.line };
  }
  // Units by id first (ids are unique), else by name, which must name one organisation of the tree.
  const found = await unitsByIdOrName(db, rootOrgId, [...new Set(rows.map((row) => row.unit))]);
  const byId = new Map(found.map((org) => [org.orgId, org]));
  const byName = new Map<string, typeof found>();
  for (const org of found) byName.set(org.name, [...(byName.get(org.name) ?? []), org]);
  const resolved: Array<ParsedRow & { orgId: string; path: string[] }> = [];
  for (const row of rows) {
    const org = byId.get(row.unit) ?? (byName.get(row.unit)?.length === 1 ? byName.get(row.unit)![0] : undefined);
    if (org) resolved.push({ ...row, orgId: org.orgId, path: org.path });
    else if ((byName.get(row.unit)?.length ?? 0) > 1) reject(row.line, 'TARGET.UNIT_AMBIGUOUS', `${byName.get(row.unit)!.length} organisations of the campaign are named so: use the organisation id`);
    else reject(row.line, 'TARGET.UNIT_UNKNOWN', 'no organisation of the campaign’s tree has this id or name');
  }
  const lineOf = new Map<string, number>();
  for (const row of resolved) {
    const first = lineOf.get(row.orgId);
    if (first !== undefined) reject(row.line, 'TARGET.DUPLICATE_UNIT', `the unit has a row already (line ${first})`);
    else lineOf.set(row.orgId, row.line);
  }
  // A target for a county and another for one of its unions would count the union twice in the county's total.
  for (const row of resolved) {
    if (lineOf.get(row.orgId) !== row.line) continue; // A repeated row is reported as such, once.
    const above = row.path.slice(0, -1).find((ancestor) => lineOf.has(ancestor));
    if (above !== undefined) reject(row.line, 'TARGET.OVERLAP', `the unit lies under ${above}, which has a target too (line ${lineOf.get(above)}): give targets to units that do not contain one another`);
  }
  const rejectedLines = new Set(results.map((result) => result.line));
  const targets = resolved.filter((row) => !rejectedLines.has(row.line) && lineOf.get(row.orgId) === row.line).map((row) => ({ orgId: row.orgId, members: row.members, target: row.target }));
  const rejected = [...results].sort((a, b) => a.line - b.line);
  const rowCount = rows.length + unreadable;
  if (rowCount === 0 && !fatal) fatal = { code: 'TARGET.EMPTY', message: 'the file has no target rows', line: 0 };
  return {
    report: {
      kind: 'campaign-targets',
      totals: { rows: rowCount, applied: targets.length, unchanged: 0, rejected: rejectedLines.size },
      fatal,
      rejectedRows: rejected.slice(0, MAX_LISTED_ROWS),
      rejectedRowsOmitted: Math.max(0, rejected.length - MAX_LISTED_ROWS),
    },
    targets,
  };
}
