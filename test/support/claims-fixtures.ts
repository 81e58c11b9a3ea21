import type { UnionLedger } from '../../src/composition-root';
import { testNationalId } from './ledger-app';

/**
 * The claims tests' world: a province `gd` with a city `gd-gz` and two grassroots unions, another
 * province `other`, and a benefits programme of `gd` funded (maker-checker: an admin proposes, a
 * finance approver approves) to pay the vouchers of claims and lottery prizes.
 */

const system = { type: 'system', id: 'claims-test-setup' };
export const ADMIN = { sub: 'admin-gd', role: 'admin' as const, org: 'gd' };
const FINANCE = { sub: 'finance-gd', role: 'finance' as const, org: 'gd' };
export const PROGRAMME = 'spring-2027';

export async function setUpUnions(ledger: UnionLedger, fundFen: number): Promise<void> {
  for (const [orgId, parentId, level] of [
    ['gd', null, 'province'],
    ['gd-gz', 'gd', 'city'],
    ['u-1', 'gd-gz', 'grassroots'],
    ['u-2', 'gd-gz', 'grassroots'],
    ['other', null, 'province'],
  ] as const) {
    await ledger.orgs.registerOrganisation({ orgId, name: `Union ${orgId}`, parentId, level }, { commandId: `org:${orgId}`, actor: system });
  }
  await ledger.benefits.openProgramme(ADMIN, { programmeId: PROGRAMME, name: '2027 春运', year: 2027, rootOrgId: 'gd' }, 'open-programme');
  const proposal = await ledger.benefits.proposeFunding(ADMIN, PROGRAMME, { amountFen: fundFen, source: 'union_funds', reference: '粤工字〔2027〕1号' }, 'fund-programme');
  await ledger.benefits.approve(FINANCE, proposal.proposalId, 'approve-funding');
}

/** An enrolled and activated member (activation earns the rules' points: 100 by default). */
export async function enrolActive(ledger: UnionLedger, serial: number, orgId: string): Promise<string> {
  const nationalId = testNationalId(serial);
  // testNationalId repeats after 1000 serials: the member's identity here is the serial's keyed hash.
  const idHmac = ledger.vault.keyedHash('claims-test-member:', String(serial));
  const memberId = ledger.vault.memberIdFor(idHmac);
  const piiCipher = await ledger.vault.seal(memberId, { idNumber: nationalId, phone: `1390000${String(serial).padStart(4, '0')}` });
  const name = `会员${serial}`;
  await ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId, name, idHmac, piiCipher }, { commandId: `enrol:${serial}`, actor: system });
  await ledger.members.execute(memberId, { type: 'ActivateMember', name }, { commandId: `activate:${serial}`, actor: system });
  return memberId;
}
