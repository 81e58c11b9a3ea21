import type { Caller } from '../../src/application/benefits';
import type { UnionLedger } from '../../src/composition-root';
import type { EffectJob } from '../../src/workers/queues';
import { testNationalId } from './ledger-app';
import { waitFor } from './wait-for';

/**
 * Settled merchant days through the real benefits flow, for the payouts tests: a programme funded
 * and paid out to members' wallets, merchants admitted by a finance approver, and on each day a
 * member paying each merchant with a one-time code (authorise and capture), then the day closed
 * into a settlement that requests a payout. Returns the payouts as the relay would enqueue them.
 */

export interface RequestedPayout {
  job: EffectJob;
  payoutId: string;
  merchantId: string;
  amountFen: number;
  day: string;
}

/** A settable clock shared by the ledger (and the gateway simulator): tests move it day by day. */
export interface TestClock {
  nowMs: number;
  now(): Date;
  /** Moves to `hh:mm` Shanghai time (UTC+8) of `day`. */
  setShanghai(day: string, time?: string): void;
}

export function testClock(start = '2026-09-01T09:00:00+08:00'): TestClock {
  const clock: TestClock = {
    nowMs: Date.parse(start),
    now: () => new Date(clock.nowMs),
    setShanghai: (day, time = '10:00') => {
      clock.nowMs = Date.parse(`${day}T${time}:00+08:00`);
    },
  };
  return clock;
}

/** A Luhn-valid 19-digit card number for `serial` (the check digit computed). */
export function testBankCard(serial: number): string {
  const body = `622202${String(serial).padStart(12, '0')}`;
  let sum = 0;
  for (let index = 0; index < body.length; index += 1) {
    let digit = Number(body[body.length - 1 - index]);
    if (index % 2 === 0) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return `${body}${(10 - (sum % 10)) % 10}`;
}

const system = { type: 'system', id: 'payout-fixtures' };
const admin: Caller = { sub: 'fixture-admin', role: 'admin', org: 'p-1' };
const finance: Caller = { sub: 'fixture-finance', role: 'finance', org: 'p-1' };

export interface EconomyOptions {
  merchants: number;
  days: string[];
  /** Members paying, round robin (each funded well above what they spend). */
  members?: number;
  /** Card of merchant `index` (default testBankCard(index + 1)). */
  cardOf?(index: number): string;
}

let keys = 0;
const key = (): string => `fx-${(keys += 1)}`;

/** Registers the union tree and members, funds their wallets and admits the merchants (ids shop-0 … shop-N). */
export async function openEconomy(ledger: UnionLedger, clock: TestClock, options: EconomyOptions): Promise<{ merchants: string[]; members: string[] }> {
  clock.setShanghai(options.days[0]!, '08:00');
  for (const [orgId, parentId, level] of [
    ['p-1', null, 'province'],
    ['u-1', 'p-1', 'grassroots'],
  ] as const) {
    await ledger.orgs.registerOrganisation({ orgId, name: orgId, parentId, level }, { commandId: `org:${orgId}`, actor: system });
  }
  const members: string[] = [];
  for (let serial = 1; serial <= (options.members ?? 10); serial += 1) {
    const nationalId = testNationalId(serial);
    const idHmac = ledger.vault.idHmac(nationalId);
    const memberId = ledger.vault.memberIdFor(idHmac);
    const piiCipher = await ledger.vault.seal(memberId, { idNumber: nationalId, phone: `1380000${String(serial).padStart(4, '0')}` });
    await ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'u-1', name: `会员${serial}`, idHmac, piiCipher }, { commandId: `enrol:${serial}`, actor: system });
    await ledger.members.execute(memberId, { type: 'ActivateMember', name: `会员${serial}` }, { commandId: `activate:${serial}`, actor: system });
    members.push(memberId);
  }
  await ledger.catchUpReadModels();
  const benefits = ledger.benefits;
  const approve = async (proposal: { proposalId: string }): Promise<void> => {
    const decided = await benefits.approve(finance, proposal.proposalId, key());
    if (decided.outcome?.status !== 'done') throw new Error(`proposal ${proposal.proposalId}: ${JSON.stringify(decided.outcome)}`);
  };
  const year = Number(options.days[0]!.slice(0, 4));
  await benefits.openProgramme(admin, { programmeId: 'payouts', name: 'payouts', year, rootOrgId: 'p-1' }, key());
  await approve(await benefits.proposeFunding(admin, 'payouts', { amountFen: 100_000_000, source: 'union_funds', reference: 'payouts' }, key()));
  await approve(await benefits.proposeAllocation(admin, 'payouts', { fromOrgId: 'p-1', toOrgId: 'u-1', amountFen: 50_000_000 }, key()));
  const { proposal } = await benefits.draftBatch(admin, { batchId: 'payouts-1', kind: 'money', programmeId: 'payouts', orgId: 'u-1', amountFen: 2_000_000, items: null, voucher: null }, key());
  await approve(proposal);
  await waitFor(async () => (await benefits.readBatch(admin, 'payouts-1')).status === 'completed', { what: 'the wallets to be funded' });
  const merchants: string[] = [];
  for (let index = 0; index < options.merchants; index += 1) {
    const merchantId = `shop-${index}`;
    const applied = await benefits.applyMerchant(admin, { merchantId, name: merchantId, category: 'grocery', signingOrgId: 'u-1', bankCard: options.cardOf?.(index) ?? testBankCard(index + 1) }, key());
    await approve(applied.proposal);
    merchants.push(merchantId);
  }
  return { merchants, members };
}

/** On each day, one payment per merchant (a different amount each), then every merchant's day settled. */
export async function settleDays(ledger: UnionLedger, clock: TestClock, economy: { merchants: string[]; members: string[] }, days: readonly string[]): Promise<RequestedPayout[]> {
  const benefits = ledger.benefits;
  const payouts: RequestedPayout[] = [];
  let payment = 0;
  for (const day of days) {
    clock.setShanghai(day, '10:00');
    for (const merchantId of economy.merchants) {
      payment += 1;
      const memberId = economy.members[payment % economy.members.length]!;
      const terminal: Caller = { sub: `terminal-${merchantId}`, role: 'merchant', org: merchantId };
      const { code } = await benefits.issuePaymentCode({ sub: memberId, role: 'member', org: 'u-1' });
      const amountFen = 1_000 + (payment % 97) * 13;
      const authorised = await benefits.authorise(terminal, { paymentCode: code, amountFen }, key());
      await benefits.capture(terminal, authorised.payment.paymentId, amountFen, key());
    }
    clock.setShanghai(day, '23:00');
    for (const merchantId of economy.merchants) {
      const settled = await benefits.settle(null, merchantId, day, key());
      if (settled.payout) {
        const stream = `merchant-${merchantId}`;
        const [event] = await ledger.store.readStream(stream, { fromRevision: settled.merchant.revision >= 0 ? BigInt(settled.merchant.revision) : 0n, maxCount: 1 });
        if (!event || event.type !== 'PayoutRequested') throw new Error(`the settlement of ${merchantId} on ${day} ended with ${event?.type ?? 'nothing'}`);
        const data = event.data as { payoutId: string; amountFen: number };
        payouts.push({ job: { eventId: event.eventId, streamId: stream, revision: event.revision.toString() }, payoutId: data.payoutId, merchantId, amountFen: data.amountFen, day });
      }
    }
  }
  return payouts;
}
