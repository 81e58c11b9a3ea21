import type { UnionLedger } from '../../src/composition-root';
import type { EventStore } from '../../src/eventstore/event-store';
import type { Simulators } from '../../src/infra/simulators/simulators';
import { testNationalId } from './ledger-app';

/**
 * Helpers for the insurance tests: many members activated at once (each activation requests a
 * grant), and the exactly-once figures of a run: what the insurer applied against what the ledger
 * recorded.
 */

const SYSTEM = { type: 'system', id: 'test-setup' };

/** Registers a province and a union, enrols `count` members with sealed personal data, and activates them. Returns their grant ids. */
export async function activateMembers(ledger: UnionLedger, count: number, options: { concurrency?: number } = {}): Promise<string[]> {
  await ledger.orgs.registerOrganisation({ orgId: 'p-ins', name: 'Province', parentId: null, level: 'province' }, { commandId: 'org:p-ins', actor: SYSTEM });
  await ledger.orgs.registerOrganisation({ orgId: 'u-ins', name: 'Union', parentId: 'p-ins', level: 'grassroots' }, { commandId: 'org:u-ins', actor: SYSTEM });
  const grantIds: string[] = new Array<string>(count);
  const concurrency = options.concurrency ?? 8;
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let index = next++; index < count; index = next++) {
      // Serials far from the other tests' so that national ID numbers (and member ids) differ.
      const nationalId = testNationalId(5_000 + index);
      const idHmac = ledger.vault.idHmac(nationalId);
      const memberId = ledger.vault.memberIdFor(idHmac);
      const piiCipher = await ledger.vault.seal(memberId, { idNumber: nationalId, phone: `1370000${String(index).padStart(4, '0')}` });
      const name = `会员${index}`;
      await ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'u-ins', name, idHmac, piiCipher }, { commandId: `enrol:${idHmac}`, actor: SYSTEM });
      await ledger.members.execute(memberId, { type: 'ActivateMember', name }, { commandId: `activate:${idHmac}`, actor: SYSTEM });
      grantIds[index] = `${memberId}:activation-insurance`;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return grantIds;
}

export interface RecordedOutcome {
  type: string;
  grantId: string;
  policyNumber: string | null;
}

/** Every insurance outcome in the log, in log order (a few thousand at most in a test). */
export async function recordedOutcomes(store: EventStore): Promise<RecordedOutcome[]> {
  const outcomes: RecordedOutcome[] = [];
  let after: bigint | undefined;
  for (let page = 0; page < 1_000; page += 1) {
    const result = await store.readAll({ ...(after === undefined ? {} : { after }), limit: 1_000, eventTypes: ['InsuranceGranted', 'InsuranceGrantFailed'] });
    for (const event of result.events) {
      const data = event.data as { grantId: string; policyNumber?: string };
      outcomes.push({ type: event.type, grantId: data.grantId, policyNumber: data.policyNumber ?? null });
    }
    if (result.isEnd) break;
    after = result.nextAfter;
  }
  return outcomes;
}

export interface ExactlyOnceFigures {
  grants: number;
  /** Enrolments the insurer applied. */
  applied: number;
  /** Grants the insurer never enrolled, or the ledger never recorded. */
  lost: number;
  /** Enrolments applied more than once, grants recorded more than once, or records that disagree with the insurer. */
  duplicated: number;
  mismatched: number;
}

/** Compares what the insurer applied with what the ledger recorded, grant by grant. */
export async function exactlyOnceFigures(store: EventStore, simulators: Pick<Simulators, 'insurer'>, grantIds: readonly string[]): Promise<ExactlyOnceFigures> {
  const outcomes = await recordedOutcomes(store);
  const recorded = new Map<string, RecordedOutcome[]>();
  for (const outcome of outcomes) recorded.set(outcome.grantId, [...(recorded.get(outcome.grantId) ?? []), outcome]);
  let lost = 0;
  let duplicated = 0;
  let mismatched = 0;
  for (const grantId of grantIds) {
    const enrolment = simulators.insurer.enrolment(grantId);
    const records = recorded.get(grantId) ?? [];
    if (!enrolment || records.length === 0) lost += 1;
    if ((enrolment && enrolment.appliedTimes > 1) || records.length > 1) duplicated += 1;
    if (enrolment && records.length === 1 && records[0]!.policyNumber !== enrolment.policyNumber) mismatched += 1;
  }
  const stats = simulators.insurer.stats();
  // An enrolment under a request id that is not one of these grants would be a stray second one.
  const known = new Set(grantIds);
  duplicated += simulators.insurer.allEnrolments().filter((enrolment) => !known.has(enrolment.requestId)).length;
  return { grants: grantIds.length, applied: stats.applied, lost, duplicated, mismatched };
}
