import { Body, Controller, Get, HttpCode, Put, Post } from '@nestjs/common';
import { CommandBus, QueryBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { IdempotencyKey } from '../common/idempotency';
import { array, object, optional, parseBody, str, toJsonSchema } from '../common/validation';
import { PublishEarningRules, PublishQuiz } from './earning-commands';
import { GetEarningRules } from './earning-queries';

const quizSchema = object({
  quizId: str({ min: 1, max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/ }),
  question: str({ min: 1, max: 500 }),
  options: array(str({ min: 1, max: 16 }), { min: 2, max: 10 }),
  correctAnswer: str({ min: 1, max: 16 }),
  /** The subtree whose members may answer; defaults to the admin's own organisation. */
  orgId: optional(str({ min: 1, max: 64 })),
});
const rulesSchemaDoc = {
  type: 'object',
  required: ['expectedVersion', 'rules'],
  properties: {
    expectedVersion: { type: 'integer', minimum: 1 },
    rules: { type: 'object', description: 'points and caps per action: activation, checkin, quiz, article, comment, evaluation, activity' },
    streakBonus: { type: 'object', nullable: true, properties: { everyDays: { type: 'integer' }, points: { type: 'integer' } } },
  },
};

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
  async currentRules() {
    return this.queries.execute(new GetEarningRules());
  }

  @Put('earning-rules')
  @HttpCode(200)
  @Roles('admin')
  @ApiBody({ schema: rulesSchemaDoc })
  @ApiOperation({ summary: 'Publish a new version of the earning rules (province-level admins only)' })
  async publishRules(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown) {
    return this.commands.execute(new PublishEarningRules(user, key, (body ?? {}) as { expectedVersion?: unknown; rules?: unknown; streakBonus?: unknown }));
  }

  @Post('quizzes')
  @Roles('admin')
  @ApiBody({ schema: toJsonSchema(quizSchema) })
  @ApiOperation({ summary: "Publish a quiz for an organisation of the admin's subtree (default: their own); its members answer it once" })
  async publishQuiz(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown) {
    const input = parseBody(quizSchema, body);
    const quiz = { ...input, orgId: input.orgId ?? user.org };
    const outcome = await this.commands.execute(new PublishQuiz(user, key, quiz));
    return { quizId: quiz.quizId, outcome };
  }
}
