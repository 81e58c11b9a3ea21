import { createHash } from 'node:crypto';
import { checkNationalId, checkPhone } from '../../domain/members';
import { ORG_ID, type OrgState } from '../../domain/orgs';
import { DomainError } from '../../domain/shared';
import { EventIdConflictError } from '../../eventstore/errors';
import { CsvFileError, readCsvRows, type CsvInput, type CsvRow } from '../../infra/csv';
import type { MemberPii } from '../../infra/pii';
import { fractionOf, rejected, ReportBuilder, type ImportOptions, type ImportReport, type RowResult } from '../import-report';
import type { OrgService } from '../orgs';
import type { MemberService } from './member-service';

/**
 * Imports of the real-name member roster from CSV, for the CLI (`union-ledger import members`)
 * and for admin uploads. Every row is checked and reported on its own; a good row is one command
 * (one event), so a row is applied completely or not at all, and a re-run of the same file
 * changes nothing. Reports never carry a national ID number or phone number: rows are named by
 * their line.
 */

export const MEMBER_COLUMNS = ['name', 'national_id', 'phone', 'org_id'] as const;
export const MEMBER_NAME_MAX_CHARS = 50;
/** Rows being enrolled at once; enough to hide round-trip latency, few enough to leave the pool room. */
export const DEFAULT_MEMBER_CONCURRENCY = 16;
/** An enrolment that lost a race to an identical one is retried once, and then answers from the stream. */
const ENROL_ATTEMPTS = 2;
/** Organisations remembered during one import; the cache is cleared when it fills. */
const ORG_CACHE_ENTRIES = 10_000;
/** Hex characters of the ID HMAC kept to spot repeats in a file: 128 bits, no accidental collisions at 1M rows. */
const DUPLICATE_KEY_HEX = 32;

/** What member import needs from the personal-data vault (src/infra/pii.ts PiiVault). */
export interface PiiSealer {
  idHmac(idNumber: string): string;
  memberIdFor(idHmac: string): string;
  seal(memberId: string, pii: MemberPii): Promise<string>;
}

export interface MemberImportDeps {
  memberService: MemberService;
  orgService: OrgService;
  vault: PiiSealer;
  /**
   * The rule book the member service decides with. Loaded once before rows run in parallel: on
   * an empty store its first use stores the default rules, and concurrent first uses collide.
   */
  rules?: { currentRules(): Promise<unknown> };
}

type Outcome = { result: RowResult } | { error: unknown };

/**
 * The command id of an enrolment row: the ID-number HMAC plus a digest of the details the decider
 * compares. Re-importing the same row is the same command (answered from the stream); the same
 * person with other details is a different command, so the decider sees it and refuses it
 * (MEMBER.ALREADY_ENROLLED) instead of the command handler replaying the first row's result, and
 * two such rows racing differ in event ids rather than colliding on one.
 */
export function enrolCommandId(idHmac: string, orgId: string, name: string): string {
  const details = createHash('sha256').update(`${orgId}\u0000${name}`, 'utf8').digest('hex').slice(0, 16);
  return `enrol:${idHmac}:${details}`;
}

/** A row that passed the checks that need no I/O (its organisation is checked next). */
export interface MemberRow {
  line: number;
  name: string;
  /** Normalised. */
  idNumber: string;
  /** The vault's HMAC of the ID number (what events store and the member id derives from). */
  idHmac: string;
  phone: string;
  orgId: string;
}

/**
 * The checks of a roster row that need no I/O, in file order: the file's shape, the ID number
 * (format, birth date, check digit), a repeat of an earlier line's ID number, the phone, the name
 * and the organisation id's shape. The checker remembers the ID numbers it has seen (as a
 * truncated HMAC), so one checker reads one file from its first row.
 */
export function memberRowChecker(vault: Pick<PiiSealer, 'idHmac'>, now: () => Date): (row: CsvRow) => RowResult | MemberRow {
  const seen = new Map<string, number>();
  return (row) => {
    if (!row.values) return rejected(row.line, row.error!.code, row.error!.message);
    const values = row.values as Record<(typeof MEMBER_COLUMNS)[number], string>;
    const id = checkNationalId(values.national_id, now());
    if (!id.ok) return rejected(row.line, id.code, id.message);
    const idHmac = vault.idHmac(id.value);
    const duplicateKey = idHmac.slice(0, DUPLICATE_KEY_HEX);
    const firstLine = seen.get(duplicateKey);
    if (firstLine !== undefined) {
      return rejected(row.line, 'MEMBER.DUPLICATE_IN_FILE', `the same national ID number is already on line ${firstLine}`);
    }
    seen.set(duplicateKey, row.line);
    const phone = checkPhone(values.phone);
    if (!phone.ok) return rejected(row.line, phone.code, phone.message);
    const name = checkName(values.name);
    if (name === null) return rejected(row.line, 'MEMBER.NAME_INVALID', `name must be 1-${MEMBER_NAME_MAX_CHARS} characters without control characters`);
    const orgId = values.org_id;
    if (!ORG_ID.test(orgId)) return rejected(row.line, 'ORG.ID_INVALID', 'org_id must be 1-64 letters, digits, _ or -');
    return { line: row.line, name, idNumber: id.value, idHmac, phone: phone.value, orgId };
  };
}

/** The organisation checks of a member row: it exists, is a grassroots union, and is within the importer's part of the tree. */
export async function checkMemberOrg(
  line: number,
  orgId: string,
  org: Pick<OrgState, 'registered' | 'level'> & Partial<Pick<OrgState, 'closed'>>,
  authorize: ImportOptions['authorize'],
): Promise<RowResult | null> {
  if (!org.registered) return rejected(line, 'ORG.UNKNOWN', `organisation ${orgId} does not exist`);
  // A closed (or merged) unit takes no member: its members were transferred before it closed.
  if (org.closed) return rejected(line, 'ORG.CLOSED', `organisation ${orgId} is closed`);
  if (org.level !== 'grassroots') return rejected(line, 'ORG.NOT_GRASSROOTS', `members belong to a grassroots union; ${orgId} is a ${org.level}`);
  if (authorize && !(await authorize(orgId))) return rejected(line, 'ORG.FORBIDDEN', `organisation ${orgId} is outside your part of the union tree`);
  return null;
}

function checkName(raw: string): string | null {
  const name = raw.trim();
  const chars = [...name].length;
  // Control characters would corrupt reports and the exact match activation relies on.
  if (chars < 1 || chars > MEMBER_NAME_MAX_CHARS || /\p{Cc}/u.test(name)) return null;
  return name;
}

/**
 * Imports members (`name,national_id,phone,org_id`). Rows are checked in file order (so the
 * later of two rows with the same ID number is the one refused), enrolled with up to
 * `concurrency` in flight, and reported in line order.
 */
export async function importMembers(
  input: CsvInput,
  deps: MemberImportDeps,
  options: ImportOptions & { concurrency?: number },
): Promise<ImportReport> {
  const report = new ReportBuilder('members', options);
  const concurrency = Math.max(1, Math.min(options.concurrency ?? DEFAULT_MEMBER_CONCURRENCY, 256));
  const now = options.now ?? (() => new Date());
  const orgs = new Map<string, Promise<OrgState>>();
  const window: Array<{ outcome: Promise<Outcome>; bytesRead: number }> = [];

  const lookupOrg = (orgId: string): Promise<OrgState> => {
    let found = orgs.get(orgId);
    if (!found) {
      if (orgs.size >= ORG_CACHE_ENTRIES) orgs.clear();
      found = deps.orgService.readOrg(orgId);
      // A failed read is not remembered: the next row asks again.
      found.catch(() => orgs.delete(orgId));
      orgs.set(orgId, found);
    }
    return found;
  };

  const enrol = async (line: number, name: string, idNumber: string, phone: string, orgId: string): Promise<RowResult> => {
    const refused = await checkMemberOrg(line, orgId, await lookupOrg(orgId), options.authorize);
    if (refused) return refused;
    const idHmac = deps.vault.idHmac(idNumber);
    const memberId = deps.vault.memberIdFor(idHmac);
    for (let attempt = 1; attempt <= ENROL_ATTEMPTS; attempt += 1) {
      const { state } = await deps.memberService.load(memberId);
      // Only a new member gets a sealed copy (and so a data key): a re-run seals nothing, and a
      // member whose key was shredded does not get a fresh key by being imported again.
      const piiCipher = state.status === 'none' ? await deps.vault.seal(memberId, { idNumber, phone }) : state.piiCipher;
      try {
        const result = await deps.memberService.execute(
          memberId,
          { type: 'EnrolMember', memberId, orgId, name, idHmac, piiCipher },
          { commandId: enrolCommandId(idHmac, orgId, name), actor: options.actor },
        );
        return { line, status: result.events.length > 0 && !result.replayed ? 'applied' : 'unchanged' };
      } catch (error) {
        if (error instanceof DomainError) return rejected(line, error.code, error.message);
        // Another importer enrolled the same row first: same event id, but a different sealed copy
        // and timestamp, so the store refuses it as a conflict (it checks ids before revisions).
        // Loading again finds the command in the stream and answers 'unchanged'.
        if (error instanceof EventIdConflictError && attempt < ENROL_ATTEMPTS) continue;
        throw error;
      }
    }
    throw new Error('invariant violated: the enrolment loop returns or throws');
  };

  const checkRow = memberRowChecker(deps.vault, now);
  /** Checks a row without I/O; returns the rejection, or the work that enrols it. */
  const check = (row: CsvRow): RowResult | (() => Promise<RowResult>) => {
    const checked = checkRow(row);
    if ('status' in checked) return checked;
    return () => enrol(checked.line, checked.name, checked.idNumber, checked.phone, checked.orgId);
  };

  /** Reports the oldest row in flight; an unexpected error stops the import once the rest has settled. */
  const emitOldest = async (): Promise<void> => {
    const oldest = window.shift()!;
    const outcome = await oldest.outcome;
    if ('error' in outcome) {
      await Promise.all(window.map((entry) => entry.outcome));
      throw outcome.error;
    }
    report.add(outcome.result, fractionOf(oldest.bytesRead, options));
  };

  await deps.rules?.currentRules();
  try {
    for await (const row of readCsvRows(input, MEMBER_COLUMNS, options.limits)) {
      const checked = check(row);
      // Each outcome promise never rejects (errors become values), so no rejection goes unhandled while it waits.
      const outcome: Promise<Outcome> =
        typeof checked === 'function' ? checked().then((result) => ({ result }), (error: unknown) => ({ error })) : Promise.resolve({ result: checked });
      window.push({ outcome, bytesRead: row.bytesRead });
      while (window.length >= concurrency) await emitOldest();
    }
  } catch (error) {
    if (!(error instanceof CsvFileError)) {
      await Promise.all(window.map((entry) => entry.outcome));
      throw error;
    }
    report.fail(error);
  }
  while (window.length > 0) await emitOldest();
  return report.done();
}
