import { randomBytes, randomInt, randomUUID, timingSafeEqual } from 'node:crypto';
import { claimLogin, evolveLogin, initialLoginState, loginStream, releaseLogin, type LoginEvent, type LoginState } from '../../domain/identity';
import { checkNationalId } from '../../domain/members';
import { DomainError } from '../../domain/shared';
import type { EventStore } from '../../eventstore/event-store';
import type { Database } from '../../infra/database';
import type { PiiVault } from '../../infra/pii';
import { CommandHandler, type CommandMeta } from '../command-handler';
import type { MemberService } from '../members';
import type { SmsService } from '../sms';

/**
 * Activation that proves possession. A WeChat user (a visitor, known by the HMAC of their openid)
 * names a person (national ID number and name); if the roster holds that person, not yet active,
 * a 6-digit code is owed by SMS to the phone on the roster (requested as an event, sent by the
 * SMS worker). Confirming the code binds the login to the member (one member per login, one login
 * per member) and activates them. The answer to a
 * start is the same whether or not the person exists, is active or the name matches, so the
 * endpoint cannot be used to probe the roster.
 */

export const CODE_TTL_SECONDS = 5 * 60;
export const MAX_CODE_ATTEMPTS = 5;
/** A login may start again after this long, and at most MAX_STARTS_PER_HOUR times an hour. */
export const RESEND_AFTER_SECONDS = 60;
export const MAX_STARTS_PER_HOUR = 5;

export interface ActivationStarted {
  challengeId: string;
  expiresInSeconds: number;
  resendAfterSeconds: number;
}

export interface ActivationDeps {
  db: Database;
  store: EventStore;
  members: MemberService;
  vault: PiiVault;
  /** Where the code is requested durably; the SMS worker sends it (src/workers/sms). */
  sms: Pick<SmsService, 'requestCode' | 'withholdCode'>;
  clock?: () => Date;
}

const codeHash = (vault: PiiVault, challengeId: string, code: string): Buffer => Buffer.from(vault.keyedHash('activation-code:', `${challengeId}:${code}`), 'hex');

export class ActivationService {
  private readonly logins: CommandHandler<LoginState, LoginEvent>;
  private readonly clock: () => Date;

  constructor(private readonly deps: ActivationDeps) {
    this.logins = new CommandHandler(deps.store, { name: 'login', initialState: initialLoginState, evolve: evolveLogin }, { cacheEntries: 10_000 });
    this.clock = deps.clock ?? (() => new Date());
  }

  /** The login key of a WeChat openid: an HMAC, so no openid is stored anywhere. */
  loginKeyOf(openid: string): string {
    return this.deps.vault.keyedHash('login-wechat:', openid);
  }

  /** The member a login is bound to, read from its stream (never from a lagging read model). */
  async memberOf(loginKey: string): Promise<string | null> {
    return (await this.logins.load(loginStream(loginKey))).state.memberId;
  }

  async start(loginKey: string, nationalId: string, name: string): Promise<ActivationStarted> {
    const now = this.clock();
    const recent = await this.deps.db.one<{ last_minute: number; last_hour: number }>(
      `SELECT count(*) FILTER (WHERE created_at > $2::timestamptz - make_interval(secs => $3))::int AS last_minute,
              count(*)::int AS last_hour
         FROM ul_activation_challenges WHERE login_key = $1 AND created_at > $2::timestamptz - interval '1 hour'`,
      [loginKey, now, RESEND_AFTER_SECONDS],
    );
    if (recent.last_minute > 0) {
      throw new DomainError('ACTIVATION.RESEND_TOO_SOON', `wait ${RESEND_AFTER_SECONDS} s before asking for another code`, 429, { retryAfterSeconds: RESEND_AFTER_SECONDS });
    }
    if (recent.last_hour >= MAX_STARTS_PER_HOUR) {
      throw new DomainError('ACTIVATION.TOO_MANY_STARTS', `at most ${MAX_STARTS_PER_HOUR} codes an hour`, 429, { retryAfterSeconds: 3600 });
    }
    const checked = checkNationalId(nationalId, now);
    if (!checked.ok) throw new DomainError('ACTIVATION.ID_INVALID', 'the national ID number is not valid', 400, { reason: checked.code });

    const memberId = this.deps.vault.memberIdFor(this.deps.vault.idHmac(checked.value));
    const { state } = await this.deps.members.load(memberId);
    const matches = state.status === 'enrolled' && state.name === name.trim();
    const challengeId = randomUUID();
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    const expiresAt = new Date(now.getTime() + CODE_TTL_SECONDS * 1000);
    // Without a match no code exists: a random hash that no code can meet, and no SMS.
    const hash = matches ? codeHash(this.deps.vault, challengeId, code) : randomBytes(32);
    await this.deps.db.none(
      `INSERT INTO ul_activation_challenges (challenge_id, login_key, member_id, code_hash, created_at, expires_at)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [challengeId, loginKey, matches ? memberId : null, hash, now, expiresAt],
    );
    // The SMS is owed durably before the answer (the relay and the SMS worker send it, exactly
    // once, even across a crash or a gateway outage), and a match and a miss do the same work so
    // the answer's timing does not tell them apart: both seal a code (CPU only, no database: a
    // key derived from the master key, PiiVault.sealSecret) and append exactly one event to a new
    // stream `sms-<challengeId>` (one read of the empty stream, one append at no_stream). A match
    // appends SmsRequested, which the relay queues; a miss appends SmsWithheld, which nothing
    // reads, and drops its sealed throwaway code. Neither path waits on the SMS gateway. The two
    // events differ by some 250 bytes, which `npm run bench:activation` shows lost in the noise
    // (docs/BENCHMARKS.md: a match, a wrong name and an unknown person within 2 % of each other).
    if (matches) {
      await this.deps.sms.requestCode({ smsId: challengeId, memberId, code, expiresAt, validMinutes: CODE_TTL_SECONDS / 60 });
    } else {
      await this.deps.sms.withholdCode(challengeId, code);
    }
    return { challengeId, expiresInSeconds: CODE_TTL_SECONDS, resendAfterSeconds: RESEND_AFTER_SECONDS };
  }

  /**
   * Checks the code and, when it is right, binds the login and activates the member. Every wrong,
   * unknown or expired code is the same refusal; the fifth wrong attempt ends the challenge.
   */
  async confirm(loginKey: string, challengeId: string, code: string, meta: CommandMeta): Promise<{ memberId: string; orgId: string }> {
    const now = this.clock();
    type Refusal = 'ACTIVATION.CODE_INVALID' | 'ACTIVATION.TOO_MANY_ATTEMPTS' | 'ACTIVATION.CODE_EXPIRED';
    type Verdict = { refusal: Refusal; attemptsLeft?: number } | { memberId: string };
    const verdict = await this.deps.db.tx('activation-confirm', async (tx): Promise<Verdict> => {
      const row = await tx.oneOrNone<{ member_id: string | null; code_hash: Buffer; attempts: number; expires_at: Date; confirmed_at: Date | null }>(
        'SELECT member_id, code_hash, attempts, expires_at, confirmed_at FROM ul_activation_challenges WHERE challenge_id = $1 AND login_key = $2 FOR UPDATE',
        [challengeId, loginKey],
      );
      if (!row || row.confirmed_at) return { refusal: 'ACTIVATION.CODE_INVALID' };
      if (row.attempts >= MAX_CODE_ATTEMPTS) return { refusal: 'ACTIVATION.TOO_MANY_ATTEMPTS' };
      if (row.expires_at.getTime() <= now.getTime()) return { refusal: 'ACTIVATION.CODE_EXPIRED' };
      const given = codeHash(this.deps.vault, challengeId, code);
      const right = given.length === row.code_hash.length && timingSafeEqual(given, row.code_hash) && row.member_id !== null;
      if (!right) {
        await tx.none('UPDATE ul_activation_challenges SET attempts = attempts + 1 WHERE challenge_id = $1', [challengeId]);
        return { refusal: 'ACTIVATION.CODE_INVALID', attemptsLeft: MAX_CODE_ATTEMPTS - row.attempts - 1 };
      }
      await tx.none('UPDATE ul_activation_challenges SET confirmed_at = $2 WHERE challenge_id = $1', [challengeId, now]);
      return { memberId: row.member_id! };
    });
    if ('refusal' in verdict) {
      const messages: Record<Refusal, string> = {
        'ACTIVATION.CODE_INVALID': 'the code is not right',
        'ACTIVATION.TOO_MANY_ATTEMPTS': 'too many wrong codes: start again',
        'ACTIVATION.CODE_EXPIRED': 'the code has expired: start again',
      };
      const status = verdict.refusal === 'ACTIVATION.TOO_MANY_ATTEMPTS' ? 429 : 422;
      throw new DomainError(verdict.refusal, messages[verdict.refusal], status, verdict.attemptsLeft === undefined ? {} : { attemptsLeft: verdict.attemptsLeft });
    }
    return this.bind(loginKey, verdict.memberId, meta);
  }

  /** Claims the login, then activates the member with it; a refused activation releases the claim. */
  private async bind(loginKey: string, memberId: string, meta: CommandMeta): Promise<{ memberId: string; orgId: string }> {
    const stream = loginStream(loginKey);
    await this.logins.handle(stream, (state) => claimLogin(state, loginKey, memberId, null), { ...meta, commandId: `${meta.commandId}:claim` });
    try {
      // The name was matched against the roster when the code was sent; the code proves the phone.
      const { state: enrolled } = await this.deps.members.load(memberId);
      const { state } = await this.deps.members.execute(memberId, { type: 'ActivateMember', name: enrolled.name, loginKey }, meta);
      return { memberId, orgId: state.orgId };
    } catch (error) {
      if (error instanceof DomainError) {
        await this.logins.handle(stream, (state) => releaseLogin(state, memberId, 'activation-refused'), { ...meta, commandId: `${meta.commandId}:release` });
      }
      throw error;
    }
  }

  /**
   * An admin of the member's union binds a new WeChat login to an active member (they changed
   * phone or WeChat account): the new login is claimed for the member, the member's stream
   * records LoginBound naming the admin, and the old login is released. The member shows the
   * admin the login key of their new WeChat log-in (a visitor session's subject).
   */
  async rebind(memberId: string, loginKey: string, meta: CommandMeta): Promise<void> {
    if (!/^[0-9a-f]{64}$/.test(loginKey)) throw new DomainError('LOGIN.KEY_INVALID', 'a login key is 64 hex digits', 400);
    const { state } = await this.deps.members.load(memberId);
    if (state.status !== 'active') throw new DomainError('MEMBER.NOT_ACTIVE', 'only an active member has a login to change', 409);
    const previous = state.loginKey;
    await this.logins.handle(loginStream(loginKey), (login) => claimLogin(login, loginKey, memberId, meta.actor.id), { ...meta, commandId: `${meta.commandId}:claim` });
    try {
      await this.deps.members.execute(memberId, { type: 'RebindLogin', loginKey, adminId: meta.actor.id }, meta);
    } catch (error) {
      if (error instanceof DomainError) {
        await this.logins.handle(loginStream(loginKey), (login) => releaseLogin(login, memberId, 'activation-refused'), { ...meta, commandId: `${meta.commandId}:release` });
      }
      throw error;
    }
    if (previous && previous !== loginKey) {
      await this.logins.handle(loginStream(previous), (login) => releaseLogin(login, memberId, 'rebound'), { ...meta, commandId: `${meta.commandId}:release-previous` });
    }
  }
}
