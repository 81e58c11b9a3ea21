import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { ACCOUNT_ROLES, ExternalServiceError, type Account, type AccountRole, type ActivationStarted, type NewAccount, type Role, type SessionTokens } from '../../application/identity';
import type { UnionLedger } from '../../composition-root';
import type { JwtClaims } from '../common/auth';
import { commandMeta } from '../common/commands';
import { AppError } from '../common/errors';
import { subtreeAuthorizer } from '../common/imports';
import { LEDGER } from '../tokens';

export { ACCOUNT_ROLES, type AccountRole };

/**
 * The identity context's commands as @nestjs/cqrs commands: one class and one handler each.
 * Log-ins answer with a session; a WeChat user bound to an active member gets a member session,
 * anyone else a visitor session that may only activate.
 */

export class WeChatLogin extends Command<SessionTokens> {
  constructor(
    readonly code: string,
    readonly device: string,
  ) {
    super();
  }
}

@CommandHandler(WeChatLogin)
export class WeChatLoginHandler implements ICommandHandler<WeChatLogin> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ code, device }: WeChatLogin): Promise<SessionTokens> {
    const { wechat, activation, sessions } = this.ledger.identity;
    let openid: string;
    try {
      ({ openid } = await wechat.code2session(code));
    } catch (error) {
      if (!(error instanceof ExternalServiceError)) throw error;
      if (error.refused) throw AppError.unauthorized('AUTH.WECHAT_CODE_INVALID', error.message);
      throw new AppError('SERVICE.UNAVAILABLE', 'WeChat did not answer; try again shortly', 503, { service: 'wechat' });
    }
    const loginKey = activation.loginKeyOf(openid);
    const memberId = await activation.memberOf(loginKey);
    if (memberId !== null) {
      const { state } = await this.ledger.members.load(memberId);
      if (state.status === 'active' && state.loginKey === loginKey) return sessions.open({ sub: memberId, role: 'member', org: state.orgId }, device);
    }
    return sessions.open({ sub: loginKey, role: 'visitor', org: '-' }, device);
  }
}

export class RefreshSession extends Command<SessionTokens> {
  constructor(readonly refreshToken: string) {
    super();
  }
}

@CommandHandler(RefreshSession)
export class RefreshSessionHandler implements ICommandHandler<RefreshSession> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  execute({ refreshToken }: RefreshSession): Promise<SessionTokens> {
    return this.ledger.identity.sessions.refresh(refreshToken, (subject, role) => this.currentOrg(subject, role));
  }

  /** The subject's organisation now (a member may have moved union since the session opened); null ends the session. */
  private async currentOrg(subject: string, role: Role): Promise<string | null> {
    if (role === 'member') {
      const { state } = await this.ledger.members.load(subject);
      return state.status === 'active' ? state.orgId : null;
    }
    const account = await this.ledger.accounts.find(subject);
    return account && account.role === role ? account.orgId : null;
  }
}

export class EndSessions extends Command<{ endedSessions: number }> {
  constructor(
    readonly user: JwtClaims,
    /** This session only, or every session of the caller. */
    readonly scope: 'current' | 'all',
  ) {
    super();
  }
}

@CommandHandler(EndSessions)
export class EndSessionsHandler implements ICommandHandler<EndSessions> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, scope }: EndSessions): Promise<{ endedSessions: number }> {
    const { sessions } = this.ledger.identity;
    if (scope === 'all') return { endedSessions: await sessions.revokeSubject(user.sub) };
    return { endedSessions: user.sid && (await sessions.revokeFamily(user.sid, user.sub)) ? 1 : 0 };
  }
}

export class StartActivation extends Command<ActivationStarted> {
  constructor(
    readonly visitor: JwtClaims,
    readonly nationalId: string,
    readonly name: string,
  ) {
    super();
  }
}

@CommandHandler(StartActivation)
export class StartActivationHandler implements ICommandHandler<StartActivation> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  execute({ visitor, nationalId, name }: StartActivation): Promise<ActivationStarted> {
    return this.ledger.identity.activation.start(visitor.sub, nationalId, name);
  }
}

export class ConfirmActivation extends Command<SessionTokens & { memberId: string }> {
  constructor(
    readonly visitor: JwtClaims,
    readonly challengeId: string,
    readonly code: string,
    readonly device: string,
  ) {
    super();
  }
}

@CommandHandler(ConfirmActivation)
export class ConfirmActivationHandler implements ICommandHandler<ConfirmActivation> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ visitor, challengeId, code, device }: ConfirmActivation) {
    const { activation, sessions } = this.ledger.identity;
    // One activation per challenge: the command id makes a raced duplicate answer from the stream.
    const meta = { commandId: `activation:${challengeId}`, actor: { type: 'visitor', id: visitor.sub } };
    const { memberId, orgId } = await activation.confirm(visitor.sub, challengeId, code, meta);
    if (visitor.sid) await sessions.revokeFamily(visitor.sid, visitor.sub); // The visitor session has served its purpose.
    return { ...(await sessions.open({ sub: memberId, role: 'member', org: orgId }, device)), memberId };
  }
}

/** An admin's, finance approver's or auditor's log-in with username, password and, when enrolled, a TOTP code. */
export class PasswordLogin extends Command<SessionTokens> {
  constructor(
    readonly username: string,
    readonly password: string,
    readonly totp: string | undefined,
    readonly device: string,
  ) {
    super();
  }
}

@CommandHandler(PasswordLogin)
export class PasswordLoginHandler implements ICommandHandler<PasswordLogin> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ username, password, totp, device }: PasswordLogin): Promise<SessionTokens> {
    const account = await this.ledger.accounts.logIn(username, password, totp);
    return this.ledger.identity.sessions.open({ sub: account.accountId, role: account.role, org: account.orgId }, device);
  }
}

/** A root admin creates an account; the one-time password is in the answer only. */
export class CreateAccount extends Command<{ account: Account; password: string; totpUri: string | null }> {
  constructor(
    readonly admin: JwtClaims,
    readonly input: NewAccount,
  ) {
    super();
  }
}

@CommandHandler(CreateAccount)
export class CreateAccountHandler implements ICommandHandler<CreateAccount> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ admin, input }: CreateAccount) {
    if (!(await this.ledger.orgAccess.isRootAdmin(admin))) {
      throw AppError.forbidden('AUTH.FORBIDDEN', 'only an admin of a root organisation may create accounts');
    }
    return this.ledger.accounts.create(input, { type: admin.role, id: admin.sub });
  }
}

/** An admin of the member's union binds the member's new WeChat login. */
export class RebindMemberLogin extends Command<{ memberId: string; loginKey: string }> {
  constructor(
    readonly admin: JwtClaims,
    readonly idempotencyKey: string,
    readonly memberId: string,
    readonly loginKey: string,
  ) {
    super();
  }
}

@CommandHandler(RebindMemberLogin)
export class RebindMemberLoginHandler implements ICommandHandler<RebindMemberLogin> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ admin, idempotencyKey, memberId, loginKey }: RebindMemberLogin) {
    const { state } = await this.ledger.members.load(memberId);
    if (state.status === 'none') throw AppError.notFound('MEMBER.NOT_FOUND', 'no such member');
    if (!(await subtreeAuthorizer(this.ledger, admin)(state.orgId))) {
      throw AppError.forbidden('ORG.FORBIDDEN', `the member's union ${state.orgId} is outside your part of the union tree`);
    }
    await this.ledger.identity.activation.rebind(memberId, loginKey, commandMeta(admin, idempotencyKey));
    // Sessions opened through the old login end now; the member logs in again with the new one.
    await this.ledger.identity.sessions.revokeSubject(memberId);
    return { memberId, loginKey };
  }
}

export const IDENTITY_COMMAND_HANDLERS = [
  RebindMemberLoginHandler,
  PasswordLoginHandler,
  CreateAccountHandler,WeChatLoginHandler, RefreshSessionHandler, EndSessionsHandler, StartActivationHandler, ConfirmActivationHandler];
