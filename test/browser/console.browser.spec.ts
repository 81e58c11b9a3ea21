import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureConsoleBuilt } from '../support/console-build';
import { waitForFeedEnd } from '../support/feed';
import { startLedgerApp, testNationalId, type LedgerApp } from '../support/ledger-app';
import { testTimeout } from '../support/wait-for';

/**
 * The web console in a real Chromium (Debian's /usr/bin/chromium driven by playwright-core)
 * against the real service on real PostgreSQL and Redis: logging in with an account's password,
 * the organisation tree with counts, the masked member search, the earning rules' diff,
 * approving a proposal as a finance approver, and the scope check: an admin of one unit sees
 * nothing of its sibling on any page. Screenshots (viewport-sized PNG) go to test-output/browser/,
 * and with UPDATE_SCREENSHOTS=1 also to docs/screenshots/ (committed, shown in docs/CONSOLE.md):
 * a test run leaves the checkout as it found it.
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const ROOT = path.resolve(__dirname, '..', '..');
const SHOTS = [path.join(ROOT, 'test-output', 'browser'), ...(process.env.UPDATE_SCREENSHOTS === '1' ? [path.join(ROOT, 'docs', 'screenshots')] : [])];
const LAPTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
/** Waits in the page: generous, since the machine may be loaded; each is a condition, never a sleep. */
const UI_TIMEOUT_MS = 20_000;

const system = { type: 'system', id: 'browser-test' };
let app: LedgerApp;
let browser: Browser;
const passwords: Record<string, string> = {};
let pendingProposalId = '';
let nextMilestoneDay = '';

async function enrol(serial: number, orgId: string, name: string, activate: boolean): Promise<string> {
  const nationalId = testNationalId(serial);
  const idHmac = app.ledger.vault.idHmac(nationalId);
  const memberId = app.ledger.vault.memberIdFor(idHmac);
  const piiCipher = await app.ledger.vault.seal(memberId, { idNumber: nationalId, phone: `1390000${String(serial).padStart(4, '0')}` });
  await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId, name, idHmac, piiCipher }, { commandId: `enrol:${serial}`, actor: system });
  if (activate) await app.ledger.members.execute(memberId, { type: 'ActivateMember', name }, { commandId: `activate:${serial}`, actor: system });
  return memberId;
}

async function screenshot(page: Page, name: string): Promise<void> {
  for (const dir of SHOTS) await page.screenshot({ path: path.join(dir, `${name}.png`), scale: 'css' });
}

/** A fresh browser context (its own session storage) logged in through the login page. */
async function logIn(username: string, viewport = LAPTOP): Promise<Page> {
  const context = await browser.newContext({ viewport, locale: 'zh-CN', timezoneId: 'Asia/Shanghai' });
  const page = await context.newPage();
  page.setDefaultTimeout(UI_TIMEOUT_MS);
  await page.goto(`${app.url}/console/`);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', passwords[username]!);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=who]');
  return page;
}

async function open(page: Page, path: string, title: string): Promise<void> {
  await page.click(`nav >> text=${title}`);
  await page.waitForURL(`**/console/${path}`);
}

beforeAll(async () => {
  ensureConsoleBuilt();
  for (const dir of SHOTS) mkdirSync(dir, { recursive: true });
  app = await startLedgerApp();
  for (const [orgId, name, parentId, level] of [
    ['zj', '镇江市总工会', null, 'province'],
    ['zj-jk', '京口区总工会', 'zj', 'county'],
    ['zj-jk-01', '京口机械厂工会', 'zj-jk', 'grassroots'],
    ['zj-jk-02', '京口人民医院工会', 'zj-jk', 'grassroots'],
  ] as const) {
    await app.ledger.orgs.registerOrganisation({ orgId, name, parentId, level }, { commandId: `org:${orgId}`, actor: system });
  }
  // The activation campaign of the city, created before anyone activates (it counts from its creation).
  await waitForFeedEnd(app.ledger.db);
  await app.ledger.catchUpReadModels();
  const cityAdmin = { sub: 'city-admin', role: 'admin' as const, org: 'zj' };
  const nowMs = Date.now();
  const dayOf = (ms: number) => new Date(ms + 8 * 3600_000).toISOString().slice(0, 10);
  nextMilestoneDay = dayOf(nowMs + 50 * 86_400_000);
  await app.ledger.campaigns.create(
    cityAdmin,
    {
      campaignId: 'activation-2026',
      name: '2026 会员实名激活',
      rootOrgId: 'zj',
      measure: 'activations',
      startsAtMs: nowMs - 86_400_000,
      endsAtMs: nowMs + 60 * 86_400_000,
      milestones: [
        { percent: 20, byDay: dayOf(nowMs + 20 * 86_400_000) },
        { percent: 90, byDay: dayOf(nowMs + 50 * 86_400_000) },
      ],
    },
    'campaign',
  );
  // The published form: units by name.
  await app.ledger.campaigns.importTargets(cityAdmin, 'activation-2026', Buffer.from('seq,unit,members,target\n1,京口机械厂工会,2,2\n2,京口人民医院工会,2,2\n'), 'targets');
  await enrol(1, 'zj-jk-01', '张三丰', true);
  await enrol(2, 'zj-jk-01', '张翠山', false);
  await enrol(3, 'zj-jk-02', '张无忌', true);
  await enrol(4, 'zj-jk-02', '赵敏', true);
  for (const [username, role, orgId] of [
    ['city-admin', 'admin', 'zj'],
    ['city-finance', 'finance', 'zj'],
    ['unit1-admin', 'admin', 'zj-jk-01'],
  ] as const) {
    const created = await app.ledger.accounts.create({ username, name: username, orgId, role, totp: false }, system);
    passwords[username] = created.password;
  }
  // A funding proposal by the city's admin, waiting for the finance approver.
  const admin = { sub: 'city-admin', role: 'admin' as const, org: 'zj' };
  await app.ledger.benefits.openProgramme(admin, { programmeId: 'mid-autumn', name: '2026 中秋慰问', year: 2026, rootOrgId: 'zj' }, 'programme');
  pendingProposalId = (await app.ledger.benefits.proposeFunding(admin, 'mid-autumn', { amountFen: 12_000_000, source: 'union_funds', reference: '镇工字〔2026〕8号' }, 'fund')).proposalId;
  // A second version of the earning rules, so there is a diff to show.
  const current = await app.ledger.rules.currentRules();
  await app.ledger.rules.publish({ rules: { ...current.rules, checkin: { ...current.rules.checkin, points: current.rules.checkin.points + 5 } }, streakBonus: current.streakBonus }, current.version, { type: 'admin', id: 'city-admin' }, 'rules-v2');
  await waitForFeedEnd(app.ledger.db);
  await app.ledger.catchUpReadModels();
  // A weekly report, labelled with the next Monday (Asia/Shanghai) after the campaign's creation.
  const shanghaiToday = Date.parse(`${dayOf(nowMs)}T00:00:00+08:00`);
  const daysToMonday = ((8 - new Date(shanghaiToday + 8 * 3600_000).getUTCDay()) % 7) || 7;
  await app.ledger.campaigns.reports.generateWeekly(dayOf(shanghaiToday + daysToMonday * 86_400_000));
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}, testTimeout(2));

afterAll(async () => {
  await browser?.close();
  await app?.close();
});

test('the console is served at /console with an SPA fallback, immutable hashed assets and helmet headers', async () => {
  const index = await fetch(`${app.url}/console/approvals`);
  expect(index.status).toBe(200);
  expect(index.headers.get('cache-control')).toBe('no-cache');
  expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
  const html = await index.text();
  const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  expect(asset).toBeDefined();
  const script = await fetch(`${app.url}${asset}`);
  expect({ status: script.status, cache: script.headers.get('cache-control') }).toEqual({ status: 200, cache: 'public, max-age=31536000, immutable' });
  expect((await fetch(`${app.url}/console/assets/missing.js`)).status).toBe(404);
});

test('an admin logs in and sees the organisation tree with member counts, and searches members with masked names', async () => {
  const page = await logIn('city-admin');
  await page.waitForSelector('tr[data-org=zj]');
  // The city's row sums its subtree: four members, three activated.
  const city = page.locator('tr[data-org=zj] td.num');
  expect(await city.allTextContents()).toEqual(['1', '4', '3']);
  await page.click('tr[data-org=zj-jk] button.twisty');
  await page.waitForSelector('tr[data-org=zj-jk-02]');
  await screenshot(page, 'console-orgs');

  await open(page, 'members', '会员查询');
  await page.fill('input[name=q]', '张');
  await page.click('form.inline button[type=submit]');
  await page.waitForSelector('table tbody tr');
  const names = await page.locator('table tbody tr td:first-child').allTextContents();
  expect(names.sort()).toEqual(['张**', '张**', '张**']);
  expect(await page.content()).not.toContain('张三丰');
  await screenshot(page, 'console-members');

  await open(page, 'rules', '积分规则');
  await page.waitForSelector('[data-testid=diff] .added');
  expect(await page.locator('[data-testid=diff] .added').first().textContent()).toContain('"points"');
  await screenshot(page, 'console-rules');
  await page.context().close();
});

test('a finance approver approves the waiting proposal in the inbox', async () => {
  const page = await logIn('city-finance');
  await open(page, 'approvals', '审批事项');
  const item = page.locator(`li[data-proposal="${pendingProposalId}"]`);
  await item.waitFor();
  await screenshot(page, 'console-approvals');
  await item.locator('button', { hasText: '批准' }).click();
  await page.waitForSelector('.ok[role=status]');
  expect(await page.locator('.ok[role=status]').textContent()).toBe('已批准并执行');
  // The service recorded it: the proposal is approved and the programme funded.
  const proposal = await app.ledger.benefits.readProposal({ sub: 'city-finance', role: 'finance', org: 'zj' }, pendingProposalId);
  expect({ status: proposal.status, outcome: proposal.outcome }).toEqual({ status: 'approved', outcome: { status: 'done' } });
  await page.context().close();
});

test("an admin reads a campaign's progress, drills down to the units, and opens the weekly report's chart", async () => {
  const page = await logIn('city-admin');
  await open(page, 'campaigns', '目标任务');
  await page.waitForSelector('[data-testid=campaign-progress]');
  // The city: 3 of the 4 targeted members activated since the campaign began.
  expect(await page.locator('[data-testid=campaign-done]').textContent()).toBe('3');
  expect(await page.locator('[data-testid=campaign-percent]').textContent()).toBe('75%');
  // 20% is reached; the next milestone is 90% (4 of 4), its day as the route answers it (`by`).
  expect(await page.locator('[data-testid=campaign-next]').textContent()).toBe(`${nextMilestoneDay} 前 90%`);
  await page.click('tr[data-unit=zj-jk] button.link');
  await page.waitForSelector('tr[data-unit=zj-jk-02]');
  const ranks = await page.locator('tr[data-unit]').evaluateAll((rows) => rows.map((row) => [row.getAttribute('data-unit'), row.querySelector('td')?.textContent]));
  expect(ranks).toEqual([
    ['zj-jk-02', '1'],
    ['zj-jk-01', '2'],
  ]);
  await page.waitForSelector('canvas');
  await screenshot(page, 'console-campaign');
  await page.click('button:has-text("查看图表")');
  await page.waitForSelector('img.report-image');
  expect(await page.locator('img.report-image').evaluate((image) => (image as unknown as { naturalWidth: number }).naturalWidth)).toBeGreaterThan(0);
  await page.context().close();
});

test("an admin of one unit sees nothing of its sibling on any console page", async () => {
  const page = await logIn('unit1-admin');
  await page.waitForSelector('tr[data-org=zj-jk-01]');
  const orgs = await page.locator('tr[data-org]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-org')));
  expect(orgs).toEqual(['zj-jk-01']);
  expect(await page.content()).not.toContain('京口人民医院');

  await open(page, 'members', '会员查询');
  await page.fill('input[name=q]', '张');
  await page.click('form.inline button[type=submit]');
  await page.waitForSelector('table tbody tr');
  // 张三丰 and 张翠山 of their own unit; 张无忌 of the sibling is not there.
  expect(await page.locator('table tbody tr td:nth-child(2)').allTextContents()).toEqual(['京口机械厂工会', '京口机械厂工会']);
  await page.fill('input[name=q]', '赵');
  await page.click('form.inline button[type=submit]');
  await page.waitForSelector('.empty');

  await open(page, 'approvals', '审批事项');
  await page.waitForSelector('.empty');
  await open(page, 'batches', '福利发放');
  await page.waitForSelector('.empty');
  await screenshot(page, 'console-scope-unit-admin');
  // The city's campaign, seen from the unit: its own progress, no sibling.
  await open(page, 'campaigns', '目标任务');
  await page.waitForSelector('[data-testid=campaign-progress]');
  expect(await page.locator('[data-testid=campaign-done]').textContent()).toBe('1');
  expect(await page.locator('tr[data-unit]').count()).toBe(0);
  expect(await page.content()).not.toContain('京口人民医院');

  // And the routes behind the pages, asked directly for the sibling: not found.
  const token = await page.evaluate(() => JSON.parse((globalThis as unknown as { sessionStorage: { getItem(key: string): string } }).sessionStorage.getItem('union-ledger.console.session')).accessToken as string);
  for (const route of ['/v1/admin/org-tree?orgId=zj-jk-02', '/v1/admin/member-search?q=%E5%BC%A0&orgId=zj-jk-02']) {
    const answer = await app.call('GET', route, { token });
    expect({ route, status: answer.status, code: answer.body.code }).toEqual({ route, status: 404, code: 'ORG.NOT_FOUND' });
  }
  // The token never appears in a URL the console asked for.
  expect(page.url()).not.toContain(token);
  await page.context().close();
});

test('on a phone the menu folds away and the pages stay usable', async () => {
  const page = await logIn('city-admin', PHONE);
  await page.waitForSelector('tr[data-org=zj]');
  expect(await page.locator('nav.side').isVisible()).toBe(false);
  await page.click('button.menu');
  await page.locator('nav.side').waitFor({ state: 'visible' });
  await screenshot(page, 'console-phone-menu');
  await page.click('nav >> text=系统运行');
  await page.waitForSelector('.tile.good');
  await screenshot(page, 'console-phone-health');
  await page.context().close();
});
