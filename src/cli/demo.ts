import { Readable } from 'node:stream';
import type { Caller } from '../application/benefits';
import { importMembers } from '../application/members';
import { importOrganisations } from '../application/orgs';
import type { UnionLedger } from '../composition-root';
import { nationalIdCheckChar } from '../domain/members';
import type { Actor } from '../eventstore/event-store';
import { campaignRow } from '../projections/campaigns';

/**
 * `union-ledger demo`: a synthetic union loaded through the real command path (the composition
 * root's services and the roster importers, never SQL), so that a first `npm start` has something
 * to show: a province root, the city of Zhenjiang (镇江), its five counties and districts, 50
 * grassroots unions, 5,000 members with checksum-valid ID numbers, a week of activations, check-ins
 * and quiz answers, evaluations, a funded benefit programme with a disbursement batch waiting in
 * the approvals inbox, and accounts to log in with.
 *
 * The week is real time past: the ledger's clock is moved day by day over the seven days before
 * today (Asia/Shanghai), so streaks, daily caps and the statements read as a real week would.
 */

export const DEMO_ROOT = 'demo-js';
export const DEMO_CITY = 'demo-zj';
export const DEMO_COUNTIES = [
  { orgId: 'demo-zj-jk', name: '京口区总工会', region: '321102' },
  { orgId: 'demo-zj-rz', name: '润州区总工会', region: '321111' },
  { orgId: 'demo-zj-dt', name: '丹徒区总工会', region: '321112' },
  { orgId: 'demo-zj-dy', name: '丹阳市总工会', region: '321181' },
  { orgId: 'demo-zj-yz', name: '扬中市总工会', region: '321182' },
] as const;
const UNIT_KINDS = ['机械厂', '供电公司', '人民医院', '实验学校', '物流园', '纺织公司', '食品公司', '建设集团', '街道联合', '商贸中心'];
export const UNITS_PER_COUNTY = 10;
export const DEMO_PROGRAMME = 'demo-2026-mid-autumn';
export const DEMO_EVALUATION = 'demo-evaluation-2026';
export const DEMO_CAMPAIGN = 'demo-activation-2026';

const SURNAMES = [...'王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈'];
const GIVEN = [...'伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红梅鹏飞建国志文斌宇浩凯婷雪琳晨阳海燕'];

export interface DemoOptions {
  members: number;
  /** Concurrent commands (each one commit; the event store groups concurrent appends). */
  concurrency: number;
  log(line: string): void;
}

export interface DemoAccount {
  username: string;
  role: string;
  orgId: string;
  password: string;
}

export interface DemoResult {
  orgs: number;
  members: number;
  activated: number;
  checkIns: number;
  quizAnswers: number;
  evaluations: number;
  accounts: DemoAccount[];
  pendingProposalId: string;
  campaignId: string;
  /** A member left enrolled but not activated, to try the mini-program's activation with. */
  trialMember: { memberId: string; orgId: string; name: string; nationalId: string; phone: string };
  /** An activated member, for a development token. */
  activeMember: { memberId: string; orgId: string; name: string };
  elapsedMs: number;
}

export class DemoAlreadyLoaded extends Error {}

/** A small deterministic generator (mulberry32): the same demo every run, no Math.random. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Member i's 18-character ID number: the county's region code, a birth date in 1975-1999, a serial and the ISO 7064 check character. */
export function demoNationalId(i: number, region: string): string {
  const birth = new Date(Date.UTC(1975, 0, 1) + (Math.floor(i / 1000) * 1800 + (i % 1000)) * 86_400_000);
  const date = birth.toISOString().slice(0, 10).replaceAll('-', '');
  const first17 = `${region}${date}${String(i % 1000).padStart(3, '0')}`;
  return first17 + nationalIdCheckChar(first17);
}

export function demoPhone(i: number): string {
  return `139${String(10_000_000 + i).slice(-8)}`;
}

function demoName(i: number): string {
  const surname = SURNAMES[i % SURNAMES.length]!;
  const first = GIVEN[(i * 7) % GIVEN.length]!;
  return i % 3 === 0 ? surname + first : surname + first + GIVEN[(i * 13 + 5) % GIVEN.length]!;
}

const unitId = (county: number, unit: number): string => `${DEMO_COUNTIES[county]!.orgId}-${String(unit + 1).padStart(2, '0')}`;

/** Runs `work` over `items` with at most `concurrency` at once; the first failure stops it. */
async function inPool<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const runners = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next]!;
      next += 1;
      await work(item);
    }
  });
  await Promise.all(runners);
}

/** Midnight in Shanghai `daysAgo` days before today, plus `hour` hours (UTC+8, no daylight saving). */
function shanghaiDay(nowMs: number, daysAgo: number, hour: number): number {
  const shanghaiMidnight = Math.floor((nowMs + 8 * 3600_000) / 86_400_000) * 86_400_000 - 8 * 3600_000;
  return shanghaiMidnight - daysAgo * 86_400_000 + hour * 3600_000;
}

/**
 * Loads the demo. `ledger` must run on `clock` (the caller builds it with `clock: () => new
 * Date(clock.nowMs)`), which this moves over the week and leaves at the real time at the end.
 */
export async function loadDemo(ledger: UnionLedger, clock: { nowMs: number }, options: DemoOptions): Promise<DemoResult> {
  const startedMs = Date.now();
  const realNow = () => Date.now();
  if ((await ledger.orgs.readOrg(DEMO_ROOT)).registered) {
    throw new DemoAlreadyLoaded(`the demo is already loaded in this database (organisation ${DEMO_ROOT} exists)`);
  }
  const system: Actor = { type: 'operator', id: 'cli:demo' };
  const week = 7;
  clock.nowMs = shanghaiDay(realNow(), week, 8);

  // ---- the tree, through the organisation importer
  const orgRows = ['id,name,parent_id,level', `${DEMO_ROOT},江苏省总工会（演示）,,province`, `${DEMO_CITY},镇江市总工会,${DEMO_ROOT},city`];
  DEMO_COUNTIES.forEach((county, c) => {
    orgRows.push(`${county.orgId},${county.name},${DEMO_CITY},county`);
    for (let u = 0; u < UNITS_PER_COUNTY; u += 1) orgRows.push(`${unitId(c, u)},${county.name.replace('总工会', '')}${UNIT_KINDS[u]}工会,${county.orgId},grassroots`);
  });
  const orgReport = await importOrganisations(Readable.from([orgRows.join('\n') + '\n']), { orgService: ledger.orgs }, { actor: system, keepRows: false });
  if (orgReport.fatal || orgReport.totals.rejected > 0) throw new Error(`the demo's organisations were refused: ${JSON.stringify(orgReport.fatal ?? orgReport.totals)}`);
  options.log(`organisations: ${orgReport.totals.applied} (a province, the city, ${DEMO_COUNTIES.length} counties, ${DEMO_COUNTIES.length * UNITS_PER_COUNTY} grassroots unions)`);

  // ---- the roster, through the member importer (sealed ID numbers and phones, HMAC member ids)
  const people = Array.from({ length: options.members }, (_, i) => {
    const county = i % DEMO_COUNTIES.length;
    const unit = Math.floor(i / DEMO_COUNTIES.length) % UNITS_PER_COUNTY;
    const nationalId = demoNationalId(i, DEMO_COUNTIES[county]!.region);
    const memberId = ledger.vault.memberIdFor(ledger.vault.idHmac(nationalId));
    return { i, name: demoName(i), nationalId, phone: demoPhone(i), orgId: unitId(county, unit), memberId };
  });
  const roster = ['name,national_id,phone,org_id', ...people.map((p) => `${p.name},${p.nationalId},${p.phone},${p.orgId}`)].join('\n') + '\n';
  const memberReport = await importMembers(
    Readable.from([roster]),
    { memberService: ledger.members, orgService: ledger.orgs, vault: ledger.vault, rules: ledger.rules },
    { actor: system, keepRows: false, concurrency: options.concurrency },
  );
  if (memberReport.fatal || memberReport.totals.rejected > 0) throw new Error(`the demo's roster was refused: ${JSON.stringify(memberReport.fatal ?? memberReport.totals)}`);
  options.log(`members: ${memberReport.totals.applied} enrolled`);

  // ---- accounts, and the activation campaign (网上激活 targets per unit, 20/50/90% milestones),
  // created at 07:00 of the week's first day, before anyone activates.
  clock.nowMs = shanghaiDay(realNow(), week, 7);
  const accounts: DemoAccount[] = [];
  const account = async (username: string, name: string, role: 'admin' | 'finance' | 'auditor', orgId: string) => {
    const created = await ledger.accounts.create({ username, name, orgId, role, totp: false }, system);
    accounts.push({ username, role, orgId, password: created.password });
    return { sub: created.account.accountId, role, org: orgId } satisfies Caller;
  };
  const admin = await account('demo-admin', '演示省级管理员', 'admin', DEMO_ROOT);
  const finance = await account('demo-finance', '演示财务审批人', 'finance', DEMO_ROOT);
  await account('demo-county', '演示京口区管理员', 'admin', DEMO_COUNTIES[0].orgId);
  await account('demo-auditor', '演示审计', 'auditor', DEMO_ROOT);
  // Targets name units as the published tables do (by name), which the orgs read model resolves.
  await ledger.catchUpReadModels();
  const weekStartMs = shanghaiDay(realNow(), week, 0);
  const dayOf = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10);
  await ledger.campaigns.create(
    admin,
    {
      campaignId: DEMO_CAMPAIGN,
      name: '2026 会员实名激活（演示）',
      rootOrgId: DEMO_CITY,
      measure: 'activations',
      startsAtMs: weekStartMs,
      endsAtMs: weekStartMs + 90 * 86_400_000,
      milestones: [
        { percent: 20, byDay: dayOf(weekStartMs + 30 * 86_400_000) },
        { percent: 50, byDay: dayOf(weekStartMs + 60 * 86_400_000) },
        { percent: 90, byDay: dayOf(weekStartMs + 89 * 86_400_000) },
      ],
    },
    'demo:campaign',
  );
  const unitsPerCounty = Math.min(UNITS_PER_COUNTY, Math.ceil(options.members / DEMO_COUNTIES.length));
  const targetRows = ['seq,unit,members,target'];
  DEMO_COUNTIES.forEach((county, c) => {
    for (let u = 0; u < unitsPerCounty; u += 1) {
      const members = people.filter((p) => p.orgId === unitId(c, u)).length;
      targetRows.push(`${targetRows.length},${county.name.replace('总工会', '')}${UNIT_KINDS[u]}工会,${members},${Math.ceil(members * 0.85)}`);
    }
  });
  await ledger.campaigns.importTargets(admin, DEMO_CAMPAIGN, Buffer.from(targetRows.join('\n') + '\n'), 'demo:targets');
  options.log(`campaign ${DEMO_CAMPAIGN}: activations in ${targetRows.length - 1} units, targets 85% of each unit's members`);
  // The weekly report of the week's last Monday (Asia/Shanghai), made after the week: the campaigns
  // read model dates a campaign by when it was recorded (now, not the demo's moved clock), so the
  // schedule's generateWeekly would find it too young for that Monday; its per-campaign step is used.
  const mondayMs = (() => {
    const shanghaiNow = new Date(realNow() + 8 * 3600_000);
    return shanghaiDay(realNow(), (shanghaiNow.getUTCDay() + 6) % 7, 0);
  })();

  // ---- a week of activity: each day some members activate, active ones check in and answer the quiz
  const rng = random(20261130);
  const trial = people[0]!;
  // Activation day per member (null: not yet activated): about 70% by the end of the week, most early.
  const activationDay = people.map((p) => (p === trial ? null : rng() < 0.7 ? Math.min(week - 1, Math.floor(rng() * rng() * week)) : null));
  let activated = 0;
  let checkIns = 0;
  let quizAnswers = 0;
  let evaluations = 0;
  for (let day = 0; day < week; day += 1) {
    const daysAgo = week - day;
    clock.nowMs = shanghaiDay(realNow(), daysAgo, 8);
    const quiz = { quizId: `demo-quiz-${day + 1}`, question: `第${day + 1}天：职工代表大会每届任期几年？`, options: ['3年', '5年'], correctAnswer: '5年', orgId: DEMO_CITY };
    await ledger.quizzes.publish(quiz, system, `demo:quiz:${day + 1}`);
    const today = people.filter((_, index) => activationDay[index] === day);
    await inPool(today, options.concurrency, async (p) => {
      await ledger.members.execute(p.memberId, { type: 'ActivateMember', name: p.name }, { commandId: `demo:activate:${p.i}`, actor: { type: 'member', id: p.memberId } });
      activated += 1;
    });
    clock.nowMs = shanghaiDay(realNow(), daysAgo, 12);
    const active = people.filter((_, index) => activationDay[index] !== null && activationDay[index]! <= day);
    const checking = active.filter(() => rng() < 0.55);
    await inPool(checking, options.concurrency, async (p) => {
      await ledger.members.execute(p.memberId, { type: 'CheckIn' }, { commandId: `demo:checkin:${p.i}:${day}`, actor: { type: 'member', id: p.memberId } });
      checkIns += 1;
    });
    const answering = active.filter(() => rng() < 0.3);
    await inPool(answering, options.concurrency, async (p) => {
      const answer = rng() < 0.8 ? '5年' : '3年';
      await ledger.members.execute(p.memberId, { type: 'AnswerQuiz', quizId: quiz.quizId, answer, correctAnswer: quiz.correctAnswer }, { commandId: `demo:quiz:${p.i}:${day}`, actor: { type: 'member', id: p.memberId } });
      quizAnswers += 1;
    });
    // The online evaluation (网上评议) of the members' own unions runs over the week.
    const evaluating = active.filter(() => rng() < 0.05);
    await inPool(evaluating, options.concurrency, async (p) => {
      const overall = 3 + Math.floor(rng() * 3);
      const result = await ledger.members.execute(
        p.memberId,
        { type: 'SubmitEvaluation', campaignId: DEMO_EVALUATION, overall, items: {}, suggestion: null },
        { commandId: `demo:evaluation:${p.i}`, actor: { type: 'member', id: p.memberId } },
      );
      if (result.events.length > 0) evaluations += 1;
    });
    options.log(`day ${day + 1}/${week}: ${today.length} activated, ${checking.length} check-ins, ${answering.length} quiz answers, ${evaluating.length} evaluations`);
  }

  clock.nowMs = realNow();
  await ledger.catchUpReadModels();
  const campaign = await campaignRow(ledger.db, DEMO_CAMPAIGN);
  if (!campaign) throw new Error(`invariant violated: campaign ${DEMO_CAMPAIGN} is missing from the read model after catching up`);
  const units = await ledger.campaigns.reports.generate(campaign, dayOf(mondayMs));
  options.log(`weekly report ${dayOf(mondayMs)}: ${units} organisations`);
  const milestones = await ledger.campaigns.checkMilestones();
  if (milestones > 0) options.log(`campaign milestones reached: ${milestones}`);

  // ---- a benefit programme with a batch waiting for its approver
  await ledger.benefits.openProgramme(admin, { programmeId: DEMO_PROGRAMME, name: '2026 中秋慰问（演示）', year: new Date(clock.nowMs).getUTCFullYear(), rootOrgId: DEMO_ROOT }, 'demo:programme');
  const approve = async (proposal: { proposalId: string }, key: string) => ledger.benefits.approve(finance, proposal.proposalId, key);
  const funding = await ledger.benefits.proposeFunding(admin, DEMO_PROGRAMME, { amountFen: 50_000_000, source: 'union_funds', reference: '镇工字〔2026〕8号' }, 'demo:fund');
  await approve(funding, 'demo:fund:approve');
  const unit = unitId(0, 0);
  const hops: Array<[string, string, number]> = [
    [DEMO_ROOT, DEMO_CITY, 20_000_000],
    [DEMO_CITY, DEMO_COUNTIES[0].orgId, 5_000_000],
    [DEMO_COUNTIES[0].orgId, unit, 1_000_000],
  ];
  for (const [fromOrgId, toOrgId, amountFen] of hops) {
    const proposal = await ledger.benefits.proposeAllocation(admin, DEMO_PROGRAMME, { fromOrgId, toOrgId, amountFen }, `demo:alloc:${toOrgId}`);
    await approve(proposal, `demo:alloc:${toOrgId}:approve`);
  }
  // The batch lists the unit's active members from the members read model: bring it up to date first.
  await ledger.catchUpReadModels();
  const drafted = await ledger.benefits.draftBatch(
    admin,
    { batchId: 'demo-batch-1', kind: 'money', programmeId: DEMO_PROGRAMME, orgId: unit, amountFen: 20_000, items: null, voucher: null },
    'demo:batch',
  );
  const pendingProposalId = drafted.proposal.proposalId;
  options.log(`benefits: programme ${DEMO_PROGRAMME} funded and allocated to ${unit}; batch demo-batch-1 waits for approval (proposal ${pendingProposalId})`);

  const active = people.find((_, index) => activationDay[index] === 0)!;
  return {
    orgs: orgReport.totals.applied,
    members: memberReport.totals.applied,
    activated,
    checkIns,
    quizAnswers,
    evaluations,
    accounts,
    pendingProposalId,
    campaignId: DEMO_CAMPAIGN,
    trialMember: { memberId: trial.memberId, orgId: trial.orgId, name: trial.name, nationalId: trial.nationalId, phone: trial.phone },
    activeMember: { memberId: active.memberId, orgId: active.orgId, name: active.name },
    elapsedMs: Date.now() - startedMs,
  };
}
