import { activateThroughWeChat, startLedgerApp, testNationalId, wechatLogin, type Answer, type LedgerApp, type Session } from '../support/ledger-app';

/**
 * Log-in, activation and sessions over HTTP, with the WeChat and SMS simulators as real HTTP
 * servers: the account takeover the old activation allowed is gone, the answers do not reveal who
 * is on the roster, refresh tokens rotate and a spent one ends its session, and no code or token
 * rests anywhere in plaintext.
 */

let app: LedgerApp;
const system = { type: 'system', id: 'test-setup' };
let counter = 0;
const key = (): string => `idk-${(counter += 1)}`;

function expectError(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body.code }).toEqual({ status, code });
}

/** Enrols a person on the roster of union u-1 with a phone of their own. */
async function enrol(serial: number, name: string): Promise<{ nationalId: string; memberId: string; phone: string; name: string }> {
  const nationalId = testNationalId(serial);
  const phone = `1390000${String(serial).padStart(4, '0')}`;
  const idHmac = app.ledger.vault.idHmac(nationalId);
  const memberId = app.ledger.vault.memberIdFor(idHmac);
  const piiCipher = await app.ledger.vault.seal(memberId, { idNumber: nationalId, phone });
  await app.ledger.members.execute(memberId, { type: 'EnrolMember', memberId, orgId: 'u-1', name, idHmac, piiCipher }, { commandId: `enrol:${idHmac}`, actor: system });
  return { nationalId, memberId, phone, name };
}

async function start(visitor: Session, nationalId: string, name: string): Promise<Answer> {
  return app.call('POST', '/v1/activation/start', { token: visitor.accessToken, key: key(), body: { nationalId, name } });
}

beforeAll(async () => {
  app = await startLedgerApp();
  await app.ledger.orgs.registerOrganisation({ orgId: 'p-1', name: 'Province', parentId: null, level: 'province' }, { commandId: 'org:p-1', actor: system });
  await app.ledger.orgs.registerOrganisation({ orgId: 'u-1', name: 'Union', parentId: 'p-1', level: 'grassroots' }, { commandId: 'org:u-1', actor: system });
  await app.ledger.orgs.registerOrganisation({ orgId: 'p-2', name: 'Another province', parentId: null, level: 'province' }, { commandId: 'org:p-2', actor: system });
});
afterAll(async () => {
  await app?.close();
});

describe('log-in and activation through WeChat and SMS', () => {
  it('gives a new WeChat user a visitor session that can only activate, then a member session once the SMS code is confirmed', async () => {
    const person = await enrol(1, '张三');
    const visitor = await wechatLogin(app, 'zhang-san');
    expect(visitor).toMatchObject({ role: 'visitor', refreshToken: null });
    expectError(await app.call('POST', '/v1/me/check-ins', { token: visitor.accessToken, key: key() }), 403, 'AUTH.FORBIDDEN');

    const member = await activateThroughWeChat(app, { user: 'zhang-san', ...person });
    expect(member).toMatchObject({ role: 'member', memberId: person.memberId });
    expect(typeof member.refreshToken).toBe('string');
    const balance = await app.call('GET', '/v1/me/balance', { token: member.accessToken });
    expect(balance.body).toMatchObject({ status: 'active', availablePoints: 100 });
    const events = await app.ledger.store.readStream(`member-${person.memberId}`);
    expect(events.map((event) => event.type)).toEqual(['MemberEnrolled', 'MemberActivated', 'LoginBound', 'PointsGranted', 'InsuranceGrantRequested']);

    // The next log-in of the same WeChat user is a member session at once.
    const again = await wechatLogin(app, 'zhang-san');
    expect(again).toMatchObject({ role: 'member', subject: person.memberId, org: 'u-1' });
  });

  it('refuses the takeover: knowing a name and ID number is not enough, the code goes to the roster phone', async () => {
    const victim = await enrol(2, '李四');
    const attacker = await wechatLogin(app, 'attacker');
    const started = await start(attacker, victim.nationalId, victim.name);
    expect(started.status).toBe(202);
    // The code went to the victim's phone, not to the attacker.
    for (let attempt = 1; attempt <= 5; attempt += 1) {
      const guess = await app.call('POST', '/v1/activation/confirm', { token: attacker.accessToken, body: { challengeId: started.body.challengeId, code: String(100000 + attempt) } });
      expectError(guess, 422, 'ACTIVATION.CODE_INVALID');
      expect(guess.body.details).toEqual({ attemptsLeft: 5 - attempt });
    }
    const sixth = await app.call('POST', '/v1/activation/confirm', { token: attacker.accessToken, body: { challengeId: started.body.challengeId, code: '000000' } });
    expectError(sixth, 429, 'ACTIVATION.TOO_MANY_ATTEMPTS');
    expect((await app.ledger.members.load(victim.memberId)).state.status).toBe('enrolled');

    // The real member, with their own WeChat and phone, activates as usual.
    const member = await activateThroughWeChat(app, { user: 'li-si', ...victim });
    expect(member).toMatchObject({ role: 'member', memberId: victim.memberId });
  });

  it('answers a start alike for a match, a wrong name, an unknown person and an active member, and sends an SMS only for the match', async () => {
    const person = await enrol(3, '王五');
    const active = await enrol(4, '赵六');
    await activateThroughWeChat(app, { user: 'zhao-liu', ...active });
    const shapes: string[] = [];
    const sent = (): number => app.simulators.messagesTo(person.phone).length + app.simulators.messagesTo(active.phone).length;
    const before = sent();
    for (const [user, nationalId, name] of [
      ['probe-1', person.nationalId, '王六'],
      ['probe-2', testNationalId(999), '无名'],
      ['probe-3', active.nationalId, active.name],
      ['probe-4', person.nationalId, person.name],
    ] as const) {
      const answer = await start(await wechatLogin(app, user), nationalId, name);
      expect(answer.status).toBe(202);
      shapes.push(JSON.stringify({ keys: Object.keys(answer.body).sort(), expiresInSeconds: answer.body.expiresInSeconds }));
    }
    expect(new Set(shapes).size).toBe(1);
    for (let wait = 0; wait < 1500 && sent() === before; wait += 1) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(sent() - before).toBe(1);
  });

  it('refuses a bad check digit with 400, an expired code, and a second code within a minute', async () => {
    const person = await enrol(5, '钱七');
    const visitor = await wechatLogin(app, 'qian-qi');
    const badDigit = person.nationalId.slice(0, 17) + (person.nationalId[17] === '0' ? '1' : '0');
    expectError(await start(visitor, badDigit, person.name), 400, 'ACTIVATION.ID_INVALID');
    const started = await start(visitor, person.nationalId, person.name);
    expect(started.status).toBe(202);
    expectError(await start(visitor, person.nationalId, person.name), 429, 'ACTIVATION.RESEND_TOO_SOON');
    await app.database.db.none("UPDATE ul_activation_challenges SET expires_at = now() - interval '1 second' WHERE challenge_id = $1", [started.body.challengeId]);
    const code = await (async () => {
      for (let wait = 0; wait < 1500; wait += 1) {
        const message = app.simulators.messagesTo(person.phone)[0];
        if (message) return String(message.params.code);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      throw new Error('no SMS arrived');
    })();
    expectError(await app.call('POST', '/v1/activation/confirm', { token: visitor.accessToken, body: { challengeId: started.body.challengeId, code } }), 422, 'ACTIVATION.CODE_EXPIRED');
  });

  it('refuses a WeChat code that is invalid or already used', async () => {
    const { code } = app.simulators.issueCode('reuser');
    expect((await app.call('POST', '/v1/sessions/wechat', { body: { code } })).status).toBe(200);
    expectError(await app.call('POST', '/v1/sessions/wechat', { body: { code } }), 401, 'AUTH.WECHAT_CODE_INVALID');
    expectError(await app.call('POST', '/v1/sessions/wechat', { body: { code: 'made-up' } }), 401, 'AUTH.WECHAT_CODE_INVALID');
  });
});

describe('a member who changed phone', () => {
  it('is re-bound by an admin of their union, with an event naming the admin; the old WeChat account loses the member', async () => {
    const person = await enrol(20, '吴十');
    const oldSession = await activateThroughWeChat(app, { user: 'wu-shi-old-phone', ...person });
    const newVisitor = await wechatLogin(app, 'wu-shi-new-phone');
    expect(newVisitor.role).toBe('visitor');

    const outsider = await app.token('admin-p2', 'admin', 'p-2');
    const body = { loginKey: (newVisitor as unknown as { subject: string }).subject };
    expectError(await app.call('POST', `/v1/admin/members/${person.memberId}/login`, { token: outsider, key: key(), body }), 403, 'ORG.FORBIDDEN');
    const admin = await app.token('admin-u1', 'admin', 'u-1');
    const rebound = await app.call('POST', `/v1/admin/members/${person.memberId}/login`, { token: admin, key: key(), body });
    expect(rebound.status).toBe(200);

    const events = await app.ledger.store.readStream(`member-${person.memberId}`);
    expect(events.at(-1)).toMatchObject({ type: 'LoginBound', data: { byAdminId: 'admin-u1' }, metadata: { actor: { type: 'admin', id: 'admin-u1' } } });
    expect(await wechatLogin(app, 'wu-shi-new-phone')).toMatchObject({ role: 'member', subject: person.memberId });
    expect(await wechatLogin(app, 'wu-shi-old-phone')).toMatchObject({ role: 'visitor' });
    expectError(await app.call('POST', '/v1/sessions/refresh', { body: { refreshToken: oldSession.refreshToken } }), 401, 'SESSION.REVOKED');
  });
});

describe('sessions', () => {
  let member: Session;
  beforeAll(async () => {
    const person = await enrol(10, '孙八');
    member = await activateThroughWeChat(app, { user: 'sun-ba', ...person });
  });

  it('rotates the refresh token, answers a retry with the same successor, and a spent refresh token replayed ends the whole session', async () => {
    const first = await app.call('POST', '/v1/sessions/refresh', { body: { refreshToken: member.refreshToken } });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ role: 'member', sessionId: member.sessionId });
    expect(first.body.refreshToken).not.toBe(member.refreshToken);
    expect((await app.call('GET', '/v1/me/balance', { token: first.body.accessToken as string })).status).toBe(200);

    // The answer was lost and the client retries at once: the same successor, the session goes on.
    const retried = await app.call('POST', '/v1/sessions/refresh', { body: { refreshToken: member.refreshToken } });
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ sessionId: member.sessionId, refreshToken: first.body.refreshToken });
    const second = await app.call('POST', '/v1/sessions/refresh', { body: { refreshToken: first.body.refreshToken } });
    expect(second.status).toBe(200);

    // Once the successor was used, the first token is a replay: the whole family ends.
    expectError(await app.call('POST', '/v1/sessions/refresh', { body: { refreshToken: member.refreshToken } }), 401, 'SESSION.REFRESH_REUSED');
    // The thief's (or the owner's) newer token of the same family is dead too.
    expectError(await app.call('POST', '/v1/sessions/refresh', { body: { refreshToken: second.body.refreshToken } }), 401, 'SESSION.REVOKED');
    expectError(await app.call('POST', '/v1/sessions/refresh', { body: { refreshToken: 'x'.repeat(43) } }), 401, 'SESSION.REFRESH_INVALID');
  });

  it('logs out of this device or of every device', async () => {
    const phoneA = await wechatLogin(app, 'sun-ba');
    const phoneB = await wechatLogin(app, 'sun-ba');
    const out = await app.call('DELETE', '/v1/sessions', { token: phoneA.accessToken });
    expect(out.body).toEqual({ endedSessions: 1 });
    expectError(await app.call('POST', '/v1/sessions/refresh', { body: { refreshToken: phoneA.refreshToken } }), 401, 'SESSION.REVOKED');
    // The logged-out device's access token is refused at once, not in 15 minutes; the other device's still works.
    expectError(await app.call('GET', '/v1/me/balance', { token: phoneA.accessToken }), 401, 'AUTH.SESSION_ENDED');
    expect((await app.call('GET', '/v1/me/balance', { token: phoneB.accessToken })).status).toBe(200);
    expect((await app.call('POST', '/v1/sessions/refresh', { body: { refreshToken: phoneB.refreshToken } })).status).toBe(200);
    const all = await app.call('DELETE', '/v1/sessions?scope=all', { token: phoneB.accessToken });
    expect(all.body.endedSessions).toBeGreaterThanOrEqual(1);
    expectError(await app.call('GET', '/v1/me/balance', { token: phoneB.accessToken }), 401, 'AUTH.SESSION_ENDED');
  });

  it('keeps no code or token anywhere in plaintext', async () => {
    const person = await enrol(11, '周九');
    const session = await activateThroughWeChat(app, { user: 'zhou-jiu', ...person });
    const code = String(app.simulators.messagesTo(person.phone)[0]!.params.code);
    const dump = await app.database.db.one<{ text: string }>(
      `SELECT concat_ws(' ', (SELECT string_agg(t::text, ' ') FROM ul_activation_challenges t), (SELECT string_agg(t::text, ' ') FROM ul_sessions t),
                        (SELECT string_agg(t::text, ' ') FROM ul_idempotency t), (SELECT string_agg(e::text, ' ') FROM ul_events e)) AS text`,
    );
    expect(dump.text).not.toContain(session.accessToken);
    expect(dump.text).not.toContain(session.refreshToken!);
    expect(dump.text).not.toContain(`"${code}"`);
    expect(dump.text).not.toContain(person.phone);
  });
});

describe('admin, finance and auditor accounts', () => {
  it('lets a root admin create accounts over the API (answering the one-time password once), and nobody else', async () => {
    const root = await app.token('root-admin', 'admin', 'p-1');
    const created = await app.call('POST', '/v1/admin/accounts', { token: root, body: { username: 'auditor.wang', name: '王审计', orgId: 'p-1', role: 'auditor' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ account: { username: 'auditor.wang', role: 'auditor', orgId: 'p-1', totp: false }, totpUri: null });
    expectError(await app.call('POST', '/v1/admin/accounts', { token: root, body: { username: 'auditor.wang', name: '重名', orgId: 'p-1', role: 'auditor' } }), 409, 'ACCOUNT.USERNAME_TAKEN');
    const unionAdmin = await app.token('union-admin', 'admin', 'u-1');
    expectError(await app.call('POST', '/v1/admin/accounts', { token: unionAdmin, body: { username: 'x.y.z', name: 'X', orgId: 'u-1', role: 'admin' } }), 403, 'AUTH.FORBIDDEN');

    const login = await app.call('POST', '/v1/sessions/password', { body: { username: 'auditor.wang', password: created.body.password } });
    expect(login.status).toBe(200);
    expect(login.body).toMatchObject({ role: 'auditor', org: 'p-1', subject: (created.body.account as { accountId: string }).accountId });
    const refreshed = await app.call('POST', '/v1/sessions/refresh', { body: { refreshToken: login.body.refreshToken } });
    expect(refreshed.body).toMatchObject({ role: 'auditor', org: 'p-1' });
    // The creation is an event naming the admin who created the account; the password is nowhere.
    const [event] = await app.ledger.store.readStream(`account-${(created.body.account as { accountId: string }).accountId}`);
    expect(event).toMatchObject({ type: 'AccountCreated', metadata: { actor: { type: 'admin', id: 'root-admin' } } });
    const dump = await app.database.db.one<{ text: string }>("SELECT (SELECT string_agg(t::text, ' ') FROM ul_accounts t) || (SELECT string_agg(e::text, ' ') FROM ul_events e) AS text");
    expect(dump.text).not.toContain(created.body.password as string);
  });

  it('refuses on every route the token of an admin whose organisation does not exist', async () => {
    const ghost = await app.token('ghost-admin', 'admin', 'no-such-org');
    expectError(await app.call('GET', '/v1/admin/projections', { token: ghost }), 403, 'AUTH.ORG_UNKNOWN');
    expectError(await app.call('GET', '/v1/admin/earning-rules', { token: ghost }), 403, 'AUTH.ORG_UNKNOWN');
    expect((await app.call('GET', '/v1/admin/projections', { token: await app.token('real-admin', 'admin', 'u-1') })).status).toBe(200);
  });

  it('answers a wrong password and an unknown user alike, and locks the account after five wrong tries', async () => {
    const { password } = await app.ledger.accounts.create({ username: 'finance.li', name: '李财务', orgId: 'u-1', role: 'finance', totp: false }, system);
    expectError(await app.call('POST', '/v1/sessions/password', { body: { username: 'nobody.here', password } }), 401, 'SESSION.CREDENTIALS_INVALID');
    for (let attempt = 0; attempt < 5; attempt += 1) {
      expectError(await app.call('POST', '/v1/sessions/password', { body: { username: 'finance.li', password: 'wrong-password' } }), 401, 'SESSION.CREDENTIALS_INVALID');
    }
    const locked = await app.call('POST', '/v1/sessions/password', { body: { username: 'finance.li', password } });
    expectError(locked, 429, 'SESSION.ACCOUNT_LOCKED');
    expect(locked.body.details).toMatchObject({ retryAfterSeconds: expect.any(Number) });
  });

  it('asks for the TOTP code of an account that enrolled one', async () => {
    const { password, totpUri } = await app.ledger.accounts.create({ username: 'admin.zhao', name: '赵管理', orgId: 'u-1', role: 'admin', totp: true }, system);
    expect(totpUri).toMatch(/^otpauth:\/\/totp\//);
    const { URI } = await import('otpauth');
    const totp = URI.parse(totpUri!) as import('otpauth').TOTP;
    expectError(await app.call('POST', '/v1/sessions/password', { body: { username: 'admin.zhao', password } }), 401, 'SESSION.CREDENTIALS_INVALID');
    expectError(await app.call('POST', '/v1/sessions/password', { body: { username: 'admin.zhao', password, totp: '000000' === totp.generate() ? '111111' : '000000' } }), 401, 'SESSION.CREDENTIALS_INVALID');
    const login = await app.call('POST', '/v1/sessions/password', { body: { username: 'admin.zhao', password, totp: totp.generate() } });
    expect(login.body).toMatchObject({ role: 'admin', org: 'u-1' });
  });
});
