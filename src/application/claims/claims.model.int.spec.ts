import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import Redis from 'ioredis';
import { ADMIN, PROGRAMME, enrolActive, setUpUnions } from '../../../test/support/claims-fixtures';
import { createTestDatabase, type TestDatabase } from '../../../test/support/database';
import { testTimeout } from '../../../test/support/wait-for';
import { UnionLedger } from '../../composition-root';
import { loadConfig } from '../../config/config';
import { CLOSE_AFTER_WINDOW_MS, DRAW_DEADLINE_AFTER_CLOSE_MS, campaignStream, claimStream, lotteryStream, slotStream } from '../../domain/claims';
import { evolveProgramme, initialProgrammeState, programmeStream, type ProgrammeEvent } from '../../domain/benefits';
import { DomainError } from '../../domain/shared';
import { ClaimGate } from './gate';
import { RECONCILE_AFTER_MS } from './claims-service';

/**
 * Model-based tests of claims and lotteries on real PostgreSQL and Redis. Random claimants (some
 * not eligible), claims sent concurrently in waves, and crashes between the gate and the log (an
 * admission the process never recorded), repaired by a retry of the member or by reconciliation.
 * After every run: exactly min(N, eligible claimants) granted in the log, slots 1..granted once
 * each, no member twice, every winner eligible, every SOLD_OUT only once the N were gone. For
 * lotteries: every point held by an entry is posted or given back, none held after the draw, a
 * points prize is credited once to each winner, and the budget pays exactly the vouchers won; a
 * lottery nobody draws lapses, giving every point and the prizes' whole value back.
 * Closing a campaign after its window returns the unclaimed units' value once, even with two
 * closes racing: the budget paid exactly the grants.
 */

const HOUR = 3600_000;
const ELIGIBLE = 14;
const PRIZE_POINTS = 70;
let database: TestDatabase;
let redis: Redis;
let ledger: UnionLedger;
let gate: ClaimGate;
let nowMs = Date.parse('2027-01-05T02:00:00Z');
const prefix = `ul-test-claims-${randomBytes(4).toString('hex')}:`;
/** Eligible members, then one of another province and one enrolled but never activated. */
const eligible: string[] = [];
const ineligible: string[] = [];
let runCounter = 0;

beforeAll(async () => {
  database = await createTestDatabase();
  redis = new Redis(process.env.TEST_REDIS_URL!, { maxRetriesPerRequest: null });
  ledger = new UnionLedger({
    config: loadConfig({ REDIS_KEY_PREFIX: prefix }),
    db: database.db,
    redis,
    listen: false,
    piiKeys: { masterKey: randomBytes(32), hmacKey: randomBytes(32) },
    clock: () => new Date(nowMs),
  });
  gate = new ClaimGate(redis, prefix);
  await setUpUnions(ledger, 100_000_000);
  for (let serial = 1; serial <= ELIGIBLE; serial += 1) eligible.push(await enrolActive(ledger, serial, serial % 2 === 0 ? 'u-1' : 'u-2'));
  ineligible.push(await enrolActive(ledger, 900, 'other'));
}, testTimeout(2));
afterAll(async () => {
  await ledger?.close();
  const keys = await redis.keys(`${prefix}*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis?.quit();
  await database?.drop();
});

/** What the union's budget holds now, folded from the programme's stream (the truth, no read model). */
async function budgetOf(orgId: string): Promise<number> {
  const events = await ledger.store.readStream(programmeStream(PROGRAMME));
  const state = events.map((event) => ({ type: event.type, data: event.data }) as unknown as ProgrammeEvent).reduce(evolveProgramme, initialProgrammeState);
  return state.budgets.get(orgId)!.balance;
}

interface Claim {
  /** Index into eligible (0..ELIGIBLE-1) or ineligible (ELIGIBLE..). */
  who: number;
  /** The process crashes after the gate admitted the claim and before the log recorded it. */
  crash: boolean;
}

const memberOf = (who: number): string => (who < ELIGIBLE ? eligible[who]! : ineligible[who - ELIGIBLE]!);

async function granted(campaignId: string, members: readonly string[]): Promise<Map<string, number>> {
  const seqs = new Map<string, number>();
  for (const memberId of members) {
    const events = await ledger.store.readStream(claimStream(campaignId, memberId));
    expect(events.length).toBeLessThanOrEqual(1);
    if (events[0]) seqs.set(memberId, (events[0].data as { seq: number }).seq);
  }
  return seqs;
}

it(
  'grants exactly min(N, eligible claimants), in slots 1..granted, nobody twice, through concurrent waves and crashes between gate and log',
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.array(fc.record({ who: fc.integer({ min: 0, max: ELIGIBLE }), crash: fc.boolean() }), { minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 4 }),
        fc.constantFrom<'retry' | 'reconcile'>('retry', 'reconcile'),
        async (units, waves: Claim[][], repair) => {
          const campaignId = `model-${(runCounter += 1)}`;
          const budgetBefore = await budgetOf('gd');
          nowMs += 10 * HOUR;
          const opensAtMs = nowMs + HOUR;
          await ledger.claims.createCampaign(
            ADMIN,
            {
              campaignId,
              orgId: 'gd',
              name: 'model',
              units,
              opensAtMs,
              closesAtMs: opensAtMs + HOUR,
              minPoints: 0,
              programmeId: PROGRAMME,
              voucher: { category: 'rail-ticket', faceFen: 100, validFromMs: opensAtMs, validUntilMs: opensAtMs + 1000 * HOUR },
            },
            `create-${campaignId}`,
          );
          nowMs = opensAtMs + 1;
          const answered = new Map<string, string[]>();
          const crashed = new Set<string>();
          for (const wave of waves) {
            await Promise.all(
              wave.map(async ({ who, crash }) => {
                const memberId = memberOf(who);
                let outcome: string;
                if (crash && who < ELIGIBLE) {
                  // What claim() does up to the crash: eligibility passed, the gate admitted; nothing reached the log.
                  const admission = await gate.admit(campaignId, memberId, nowMs);
                  if (admission.kind === 'admitted') crashed.add(memberId);
                  outcome = `crash:${admission.kind}`;
                } else {
                  try {
                    outcome = `granted:${(await ledger.claims.claim(memberId, campaignId)).seq}`;
                  } catch (error) {
                    if (!(error instanceof DomainError)) throw error;
                    outcome = error.code;
                  }
                }
                answered.set(memberId, [...(answered.get(memberId) ?? []), outcome]);
              }),
            );
          }
          // The repair: the members who crashed retry, or nobody does and reconciliation records them.
          if (repair === 'retry') {
            for (const memberId of crashed) {
              try {
                const seq = (await ledger.claims.claim(memberId, campaignId)).seq;
                answered.set(memberId, [...answered.get(memberId)!, `granted:${seq}`]);
              } catch (error) {
                // A claim of the same member in the same wave found the admission and recorded it already.
                if (!(error instanceof DomainError && error.code === 'CLAIM.ALREADY_CLAIMED')) throw error;
              }
            }
          } else {
            nowMs += RECONCILE_AFTER_MS + 1;
            const result = await ledger.claims.reconcileCampaign(campaignId, nowMs - RECONCILE_AFTER_MS);
            // At most the crashed admissions (a claim of the same member in the same wave may have recorded one).
            expect(result.recorded).toBeLessThanOrEqual(crashed.size);
          }

          const claimants = new Set([...waves.flat()].filter(({ who }) => who < ELIGIBLE).map(({ who }) => memberOf(who)));
          const log = await granted(campaignId, [...eligible, ...ineligible]);
          expect(log.size).toBe(Math.min(units, claimants.size));
          expect([...log.values()].sort((a, b) => a - b)).toEqual(Array.from({ length: log.size }, (_, index) => index + 1));
          for (const memberId of log.keys()) expect(claimants.has(memberId)).toBe(true);
          // Each slot stream holds one event, naming the member the claim stream names.
          for (const [memberId, seq] of log) {
            const slot = await ledger.store.readStream(slotStream(campaignId, seq));
            expect(slot.map((event) => (event.data as { memberId: string }).memberId)).toEqual([memberId]);
          }
          expect(await ledger.store.readStream(slotStream(campaignId, units + 1))).toEqual([]);
          for (const [memberId, outcomes] of answered) {
            // A member answered "granted" holds that very slot in the log; ineligible members are refused as such.
            for (const outcome of outcomes) if (outcome.startsWith('granted:')) expect(`granted:${log.get(memberId)}`).toBe(outcome);
            if (ineligible.includes(memberId)) for (const outcome of outcomes) expect(['CLAIM.NOT_ELIGIBLE', 'CLAIM.SOLD_OUT']).toContain(outcome);
            // Sold out is only ever said once all N are taken.
            if (outcomes.includes('CLAIM.SOLD_OUT')) expect(log.size).toBe(units);
          }
          // The gate agrees with the log once repaired: nothing pending, as many slots as grants.
          expect(await gate.counts(campaignId)).toEqual({ units, taken: log.size, pending: 0 });

          // After the window and its minute, two closes racing: the unclaimed units' value is back once,
          // so the budget paid exactly the granted vouchers.
          nowMs = opensAtMs + HOUR + CLOSE_AFTER_WINDOW_MS;
          const closes = await Promise.all([ledger.claims.closeCampaign(campaignId), ledger.claims.closeCampaign(campaignId)]);
          // Both report the close (the same decision, the same event ids: the store takes the second as a replay); the log holds one.
          const closedEvents = (await ledger.store.readStream(campaignStream(campaignId))).filter((event) => event.type === 'ClaimCampaignClosed');
          expect(closedEvents).toHaveLength(1);
          expect(closes.map((close) => close.unclaimed)).toEqual([units - log.size, units - log.size]);
          expect(await budgetOf('gd')).toBe(budgetBefore - log.size * 100);
        },
      ),
      { numRuns: 25 },
    );
  },
  testTimeout(4),
);

it(
  'conserves points in lotteries: every held entry is posted (winners, spending losers) or given back, nothing stays held',
  async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 0, max: ELIGIBLE - 1 }), { minLength: 0, maxLength: ELIGIBLE }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 120 }),
        fc.constantFrom<'refund' | 'spend'>('refund', 'spend'),
        fc.constantFrom<'voucher' | 'points'>('voucher', 'points'),
        // Nobody draws it: it lapses after its deadline.
        fc.boolean(),
        async (who, prizes, entryPoints, losers, prizeKind, forgotten) => {
          const lotteryId = `lot-${(runCounter += 1)}`;
          nowMs += 10 * HOUR;
          const budgetBefore = await budgetOf('gd');
          const opensAtMs = nowMs + HOUR;
          const closesAtMs = opensAtMs + HOUR;
          await ledger.lotteries.create(
            ADMIN,
            {
              lotteryId,
              orgId: 'gd',
              name: 'model',
              entryPoints,
              prizes,
              opensAtMs,
              closesAtMs,
              losers,
              maxEntries: 100,
              ...(prizeKind === 'points'
                ? { programmeId: null, voucher: null, prizePoints: PRIZE_POINTS }
                : { programmeId: PROGRAMME, voucher: { category: 'gifts', faceFen: 100, validFromMs: opensAtMs, validUntilMs: closesAtMs + 1000 * HOUR } }),
            },
            `create-${lotteryId}`,
          );
          nowMs = opensAtMs;
          const members = who.map((index) => eligible[index]!);
          const before = new Map<string, number>();
          for (const memberId of eligible) before.set(memberId, (await ledger.members.load(memberId)).state.available);
          const entered = new Set<string>();
          await Promise.all(
            members.map(async (memberId) => {
              try {
                await ledger.lotteries.enter(memberId, lotteryId);
                entered.add(memberId);
              } catch (error) {
                // Too few points for the entry: refused, nothing held.
                if (!(error instanceof DomainError && error.code === 'POINTS.INSUFFICIENT')) throw error;
                expect(before.get(memberId)!).toBeLessThan(entryPoints);
              }
            }),
          );
          if (forgotten) {
            nowMs = closesAtMs + DRAW_DEADLINE_AFTER_CLOSE_MS + 1;
            const { state, lapsedNow } = await ledger.lotteries.lapse(lotteryId);
            nowMs = closesAtMs; // Back: the next run's lotteries stay within the programme's year.
            expect({ lapsedNow, status: state.status, winners: state.winners }).toEqual({ lapsedNow: true, status: 'lapsed', winners: [] });
            // Every point given back, every prize's value back in the budget.
            for (const memberId of eligible) expect((await ledger.members.load(memberId)).state).toMatchObject({ held: 0, available: before.get(memberId)! });
            expect(state.unawarded).toEqual({ prizes, returnedFen: prizeKind === 'voucher' ? prizes * 100 : 0 });
            expect(await budgetOf('gd')).toBe(budgetBefore);
            return;
          }
          nowMs = closesAtMs;
          const state = await ledger.lotteries.draw(ADMIN, lotteryId, `draw-${lotteryId}`);
          expect(state.status).toBe('settled');
          expect(state.winners.length).toBe(Math.min(prizes, entered.size));
          let paid = 0;
          for (const memberId of eligible) {
            const after = (await ledger.members.load(memberId)).state;
            expect(after.held).toBe(0);
            const cost = entered.has(memberId) && (state.winners.includes(memberId) || losers === 'spend') ? entryPoints : 0;
            const prize = prizeKind === 'points' && state.winners.includes(memberId) ? PRIZE_POINTS : 0;
            expect(after.available).toBe(before.get(memberId)! - cost + prize);
            paid += cost;
          }
          const spentEvents = (await ledger.store.readStream(lotteryStream(lotteryId))).filter((event) => event.type === 'LotteryEntered');
          expect(spentEvents).toHaveLength(entered.size);
          expect(paid).toBe((losers === 'spend' ? entered.size : state.winners.length) * entryPoints);
          const audit = await ledger.lotteries.audit(lotteryId);
          expect(audit).toMatchObject({ ok: true, recomputedWinners: [...state.winners] });
          // Money: the budget paid the vouchers won, no more (what nobody won came back with the settlement).
          const unawarded = prizes - state.winners.length;
          expect(state.unawarded).toEqual({ prizes: unawarded, returnedFen: prizeKind === 'voucher' ? unawarded * 100 : 0 });
          expect(await budgetOf('gd')).toBe(budgetBefore - (prizeKind === 'voucher' ? state.winners.length * 100 : 0));
        },
      ),
      { numRuns: 12 },
    );
  },
  testTimeout(4),
);
