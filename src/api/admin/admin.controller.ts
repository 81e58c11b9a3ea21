import { Body, Controller, Get, HttpCode, Inject, Put, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Ledger } from '../../application/ledger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { AppError } from '../common/errors';
import { IdempotencyKey } from '../common/idempotency';
import { array, int, object, parseBody, str, toJsonSchema } from '../common/validation';
import { LEDGER } from '../tokens';

const quizSchema = object({
  quizId: str({ min: 1, max: 64, pattern: /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/ }),
  question: str({ min: 1, max: 500 }),
  options: array(str({ min: 1, max: 16 }), { min: 2, max: 10 }),
  correctAnswer: str({ min: 1, max: 16 }),
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
const expectedVersionSchema = int({ min: 1, max: 1_000_000 });

@ApiTags('admin')
@ApiBearerAuth()
@Controller('v1/admin')
export class AdminController {
  constructor(@Inject(LEDGER) private readonly ledger: Ledger) {}

  @Get('earning-rules')
  @Roles('admin', 'auditor')
  @ApiOperation({ summary: 'The current earning rules and their version' })
  async currentRules() {
    return this.ledger.rules.currentRules();
  }

  @Put('earning-rules')
  @HttpCode(200)
  @Roles('admin')
  @ApiBody({ schema: rulesSchemaDoc })
  @ApiOperation({ summary: 'Publish a new version of the earning rules (province-level admins only)' })
  async publishRules(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown) {
    if (!(await this.ledger.orgAccess.isRootAdmin(user))) {
      throw AppError.forbidden('AUTH.FORBIDDEN', 'only an admin of a root organisation may change the earning rules');
    }
    const candidate = (body ?? {}) as { expectedVersion?: unknown; rules?: unknown; streakBonus?: unknown };
    const expectedVersion = parseBody(expectedVersionSchema, candidate.expectedVersion);
    return this.ledger.rules.publish({ rules: candidate.rules, streakBonus: candidate.streakBonus ?? null }, expectedVersion, { type: 'admin', id: user.sub }, `${user.sub}:${key}`);
  }

  @Post('quizzes')
  @Roles('admin')
  @ApiBody({ schema: toJsonSchema(quizSchema) })
  @ApiOperation({ summary: 'Publish a quiz; members answer it once' })
  async publishQuiz(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown) {
    const quiz = parseBody(quizSchema, body);
    const outcome = await this.ledger.quizzes.publish(quiz, { type: 'admin', id: user.sub }, `${user.sub}:${key}`);
    return { quizId: quiz.quizId, outcome };
  }

  @Get('projections')
  @Roles('admin', 'auditor')
  @ApiOperation({ summary: 'Projection checkpoints and lag (p50/p99 over recent events)' })
  async projections() {
    const checkpoints = await this.ledger.db.any<{ name: string; position: string }>('SELECT name, position FROM ul_checkpoints ORDER BY name');
    return {
      checkpoints: Object.fromEntries(checkpoints.map((row) => [row.name, row.position])),
      leaderboardCheckpoint: (await this.ledger.leaderboards.loadCheckpoint()).toString(),
      lag: Object.fromEntries(Object.entries(this.ledger.lag).map(([name, tracker]) => [name, tracker.summary()])),
    };
  }
}
