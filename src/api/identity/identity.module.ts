import { Module } from '@nestjs/common';
import { AccountsController } from './accounts.controller';
import { ActivationController } from './activation.controller';
import { IDENTITY_COMMAND_HANDLERS } from './identity-commands';
import { SessionsController } from './sessions.controller';

/** The identity context over HTTP: WeChat and password log-in, sessions, activation, accounts. */
@Module({
  controllers: [SessionsController, ActivationController, AccountsController],
  providers: [...IDENTITY_COMMAND_HANDLERS],
})
export class IdentityModule {}
