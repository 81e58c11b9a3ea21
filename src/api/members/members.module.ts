import { Module } from '@nestjs/common';
import { EarningActionsController } from './earning-actions.controller';
import { LifecycleController } from './lifecycle.controller';
import { LIFECYCLE_HANDLERS } from './lifecycle';
import { MEMBER_COMMAND_HANDLERS } from './member-commands';
import { MemberImportsController } from './member-imports.controller';
import { MemberQueriesController } from './member-queries.controller';
import { MemberSearchController, SearchMembersHandler } from './member-search';
import { MEMBER_QUERY_HANDLERS } from './member-queries';
import { SpendingController } from './spending.controller';

/** The members context over HTTP: earning actions, spending, balance, roster uploads. */
@Module({
  controllers: [EarningActionsController, SpendingController, MemberQueriesController, MemberImportsController, LifecycleController, MemberSearchController],
  providers: [...MEMBER_COMMAND_HANDLERS, ...MEMBER_QUERY_HANDLERS, ...LIFECYCLE_HANDLERS, SearchMembersHandler],
})
export class MembersModule {}
