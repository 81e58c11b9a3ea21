import { Body, Controller, Get, HttpCode, Put, Post, Query } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, NoQuery, parseBody, parseQuery } from '../common/validation';
import { PublishEarningRules, PublishQuiz } from './earning-commands';
import { GetEarningRules } from './earning-queries';
import { publishRulesSchema, quizSchema } from './schemas';

/** Admins' side of earning: the versioned earning rules and quizzes. */
@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin')
export class EarningRulesController {
  constructor(
    private readonly commands: CommandBus,
    private readonly queries: QueryBus,
  ) {}

  @Get('earning-rules')
  @Roles('admin', 'auditor')
  @ApiOperation({ summary: 'The current earning rules and their version' })
  async currentRules(@Query() query: unknown) {
    parseQuery(NoQuery, query);
    return this.queries.execute(new GetEarningRules());
  }

  @Put('earning-rules')
  @HttpCode(200)
  @Roles('admin')
  @ApiBodySchema(publishRulesSchema)
  @ApiOperation({ summary: 'Publish a new version of the earning rules (province-level admins only)' })
  async publishRules(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    // The body is checked against publishRulesSchema by the handler, once the caller's right to publish is.
    return this.commands.execute(new PublishEarningRules(user, key, body));
  }

  @Post('quizzes')
  @Roles('admin')
  @ApiBodySchema(quizSchema)
  @ApiOperation({ summary: "Publish a quiz for an organisation of the admin's subtree (default: their own); its members answer it once" })
  async publishQuiz(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = parseBody(quizSchema, body);
    const quiz = { ...input, orgId: input.orgId ?? user.org };
    const outcome = await this.commands.execute(new PublishQuiz(user, key, quiz));
    return { quizId: quiz.quizId, outcome };
  }
}
