import { Module } from '@nestjs/common';
import { EARNING_COMMAND_HANDLERS } from './earning-commands';
import { EARNING_QUERY_HANDLERS } from './earning-queries';
import { EarningRulesController } from './earning-rules.controller';
import { LeaderboardsController } from './leaderboards.controller';
import { RuleVersionsController } from './rule-versions.controller';

/** The earning context over HTTP: earning rules, quizzes, leaderboards and ranks. */
@Module({
  controllers: [EarningRulesController, LeaderboardsController, RuleVersionsController],
  providers: [...EARNING_COMMAND_HANDLERS, ...EARNING_QUERY_HANDLERS],
})
export class EarningModule {}
