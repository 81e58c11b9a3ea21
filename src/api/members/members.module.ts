import { Module } from '@nestjs/common';
import { ActivationController } from './activation.controller';
import { EarningActionsController } from './earning-actions.controller';
import { MEMBER_COMMAND_HANDLERS } from './member-commands';
import { MemberImportsController } from './member-imports.controller';
import { MemberQueriesController } from './member-queries.controller';
import { MEMBER_QUERY_HANDLERS } from './member-queries';
import { SpendingController } from './spending.controller';

/** The members context over HTTP: activation, earning actions, spending, balance, roster uploads. */
@Module({
  controllers: [ActivationController, EarningActionsController, SpendingController, MemberQueriesController, MemberImportsController],
  providers: [...MEMBER_COMMAND_HANDLERS, ...MEMBER_QUERY_HANDLERS],
})
export class MembersModule {}
