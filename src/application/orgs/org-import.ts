import { createHash } from 'node:crypto';
import { ORG_LEVELS, type OrgLevel, type RegisterOrganisation } from '../../domain/orgs';
import { DomainError } from '../../domain/shared';
import { CsvFileError, readCsvRows, type CsvInput } from '../../infra/csv';
import { rejected, ReportBuilder, type ImportOptions, type ImportReport, type RowResult } from '../import-report';
import type { OrgService } from './org-service';

/**
 * Imports of the organisation tree from CSV, for the CLI (`union-ledger import orgs`) and for
 * admin uploads. Every row is one command through OrgService; a re-run of the same file changes
 * nothing (deterministic command ids, and the decider returns no events for identical data).
 */

/**
 * The command id of an organisation row: the id plus a digest of the details the decider
 * compares. Re-importing the same row is the same command (answered from the stream); the same id
 * with other details is another command, which the decider refuses (ORG.ALREADY_REGISTERED)
 * instead of the command handler answering it with the first row's result.
 */
export function registerCommandId(command: RegisterOrganisation): string {
  const details = createHash('sha256').update(`${command.name.trim()}\u0000${command.parentId ?? ''}\u0000${command.level}`, 'utf8').digest('hex').slice(0, 16);
  return `register-org:${command.orgId}:${details}`;
}

export const ORG_COLUMNS = ['id', 'name', 'parent_id', 'level'] as const;

/** Level names an admin may write: the English ones, 'district' for county, and the Chinese ones. */
const LEVEL_ALIASES: Record<string, OrgLevel> = {
  province: 'province',
  city: 'city',
  county: 'county',
  district: 'county',
  grassroots: 'grassroots',
  省: 'province',
  市: 'city',
  县: 'county',
  区: 'county',
  基层: 'grassroots',
};

function parseLevel(raw: string): OrgLevel | null {
  const level = LEVEL_ALIASES[raw.trim().toLowerCase()];
  return level && (ORG_LEVELS as readonly string[]).includes(level) ? level : null;
}

interface OrgRow {
  line: number;
  bytesRead: number;
  values: Record<string, string> | null;
  error?: { code: string; message: string };
}

/**
 * Imports organisations (`id,name,parent_id,level`) in file order, so a parent must come before
 * its children. The file is read whole before anything is applied (bounded by `limits.maxRows`),
 * so a child listed before its parent can be told exactly that.
 */
export async function importOrganisations(
  input: CsvInput,
  deps: { orgService: OrgService },
  options: ImportOptions,
): Promise<ImportReport> {
  const report = new ReportBuilder('orgs', options);
  const rows: OrgRow[] = [];
  let fatal: CsvFileError | null = null;
  try {
    for await (const row of readCsvRows(input, ORG_COLUMNS, options.limits)) rows.push(row);
  } catch (error) {
    if (!(error instanceof CsvFileError)) throw error;
    fatal = error;
  }

  /** First line of each id in the file, to name a parent listed after its child. */
  const firstLine = new Map<string, number>();
  for (const row of rows) {
    const id = row.values?.id;
    if (id && !firstLine.has(id)) firstLine.set(id, row.line);
  }
  const rejectedIds = new Set<string>();

  for (let index = 0; index < rows.length; index += 1) {
    const row = rows[index]!;
    const result = await applyOrgRow(row, deps.orgService, options, firstLine, rejectedIds);
    if (result.status === 'rejected' && row.values?.id && firstLine.get(row.values.id) === row.line) rejectedIds.add(row.values.id);
    report.add(result, (index + 1) / rows.length);
  }
  if (fatal) report.fail(fatal);
  return report.done();
}

async function applyOrgRow(
  row: OrgRow,
  orgService: OrgService,
  options: ImportOptions,
  firstLine: ReadonlyMap<string, number>,
  rejectedIds: ReadonlySet<string>,
): Promise<RowResult> {
  if (!row.values) return rejected(row.line, row.error!.code, row.error!.message);
  const { id, name, parent_id: parentRaw, level: levelRaw } = row.values as Record<(typeof ORG_COLUMNS)[number], string>;
  const earlier = firstLine.get(id);
  if (earlier !== undefined && earlier !== row.line) {
    return rejected(row.line, 'ORG.DUPLICATE_IN_FILE', `organisation ${id} is already listed on line ${earlier}`);
  }
  const level = parseLevel(levelRaw);
  if (!level) return rejected(row.line, 'ORG.LEVEL_INVALID', `level must be one of province, city, county (or district), grassroots; got '${levelRaw}'`);
  const parentId = parentRaw === '' ? null : parentRaw;
  // A parent that does not exist (yet) is named as such before any authorisation: the row fails
  // either way, and "outside your part of the tree" would send the admin looking in the wrong
  // place. It is refused here rather than left to the decider, so that a parent registered by
  // someone else in between cannot slip past the authorisation below.
  if (options.authorize && parentId !== null && !(await orgService.readOrg(parentId)).registered) {
    return parentUnknown(row.line, parentId, `parent organisation ${parentId} does not exist`, firstLine, rejectedIds);
  }
  if (options.authorize && !(await options.authorize(parentId))) {
    return rejected(row.line, 'ORG.FORBIDDEN', parentId === null ? 'only an admin of a root organisation may add a root' : `organisation ${parentId} is outside your part of the union tree`);
  }
  try {
    const outcome = await orgService.registerOrganisation(
      { orgId: id, name, parentId, level },
      { commandId: registerCommandId({ orgId: id, name, parentId, level }), actor: options.actor },
    );
    return { line: row.line, status: outcome };
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    if (error.code === 'ORG.PARENT_UNKNOWN' && parentId !== null) return parentUnknown(row.line, parentId, error.message, firstLine, rejectedIds);
    return rejected(row.line, error.code, error.message);
  }
}

/** ORG.PARENT_UNKNOWN, saying why when the file tells: the parent comes later, or its own row was rejected. */
function parentUnknown(line: number, parentId: string, message: string, firstLine: ReadonlyMap<string, number>, rejectedIds: ReadonlySet<string>): RowResult {
  const parentLine = firstLine.get(parentId);
  if (parentLine !== undefined && parentLine > line) {
    return rejected(line, 'ORG.PARENT_UNKNOWN', `parent organisation ${parentId} is listed later in the file (line ${parentLine}); list parents before their children`);
  }
  if (parentLine !== undefined && rejectedIds.has(parentId)) {
    return rejected(line, 'ORG.PARENT_UNKNOWN', `parent organisation ${parentId} (line ${parentLine}) was rejected`);
  }
  return rejected(line, 'ORG.PARENT_UNKNOWN', message);
}
