import { Module } from '@nestjs/common';
import { AccountsController } from './accounts.controller';
import { ActivationController } from './activation.controller';
import { IDENTITY_COMMAND_HANDLERS } from './identity-commands';
import { MemberLoginsController } from './member-logins.controller';
import { SessionsController } from './sessions.controller';

/** The identity context over HTTP: WeChat and password log-in, sessions, activation, accounts. */
@Module({
  controllers: [SessionsController, ActivationController, AccountsController, MemberLoginsController],
  providers: [...IDENTITY_COMMAND_HANDLERS],
})
export class IdentityModule {}
