import { Module } from '@nestjs/common';
import { ActivationController } from './activation.controller';
import { IDENTITY_COMMAND_HANDLERS } from './identity-commands';
import { SessionsController } from './sessions.controller';

/** The identity context over HTTP: WeChat log-in, sessions, activation. */
@Module({
  controllers: [SessionsController, ActivationController],
  providers: [...IDENTITY_COMMAND_HANDLERS],
})
export class IdentityModule {}
