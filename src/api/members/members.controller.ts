import { Body, Controller, Get, HttpCode, Inject, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { Ledger } from '../../application/ledger';
import type { CommandResult } from '../../application/member-service';
import { memberStream, type MemberCommand, type PointsGrantedData } from '../../domain/member/member';
import { periodsOf } from '../../domain/shared/calendar';
import { checkNationalId } from '../../domain/identity/national-id';
import { LEADERBOARD_PERIODS, LEADERBOARD_TOP_MAX, type LeaderboardPeriod } from '../../projections';
import { AUTH_SETTINGS, CurrentUser, Roles, signJwt, type AuthSettings, type JwtClaims } from '../common/auth';
import { AppError } from '../common/errors';
import { IdempotencyKey } from '../common/idempotency';
import { int, object, oneOf, optional, parseBody, str, toJsonSchema } from '../common/validation';
import { LEDGER } from '../tokens';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
const MEMBER_TOKEN_TTL_SECONDS = 7 * 24 * 3600;
const STATEMENT_PAGE_MAX = 100;

const activationSchema = object({ nationalId: str({ min: 15, max: 20 }), name: str({ min: 1, max: 50 }) });
const quizSchema = object({ quizId: str({ min: 1, max: 64, pattern: ID }), answer: str({ min: 1, max: 16 }) });
const articleSchema = object({ articleId: str({ min: 1, max: 64, pattern: ID }) });
const commentSchema = object({ targetId: str({ min: 1, max: 64, pattern: ID }), text: str({ min: 1, max: 500 }) });
const activitySchema = object({ activityId: str({ min: 1, max: 64, pattern: ID }) });
const rating = int({ min: 1, max: 5 });
const evaluationSchema = object({
  campaignId: str({ min: 1, max: 64, pattern: ID }),
  overall: rating,
  // Nine optional item ratings, item1 ... item9.
  items: optional(object(Object.fromEntries(Array.from({ length: 9 }, (_unused, index) => [`item${index + 1}`, optional(rating)])))),
  suggestion: optional(str({ max: 500 })),
});
const holdSchema = object({
  points: int({ min: 1, max: 10_000_000 }),
  purpose: str({ min: 1, max: 64, pattern: ID }),
  expiresInSeconds: int({ min: 1, max: 30 * 24 * 3600 }),
});
const spendSchema = object({ points: int({ min: 1, max: 10_000_000 }), purpose: str({ min: 1, max: 64, pattern: ID }) });
const periodSchema = oneOf(LEADERBOARD_PERIODS);

function grantsOf(events: Array<{ type: string; data: unknown }>): number {
  return events
    .filter((event) => event.type === 'PointsGranted')
    .reduce((sum, event) => sum + (event.data as PointsGrantedData).points, 0);
}

@ApiTags('members')
@ApiBearerAuth()
@Controller('v1')
export class MembersController {
  constructor(
    @Inject(LEDGER) private readonly ledger: Ledger,
    @Inject(AUTH_SETTINGS) private readonly auth: AuthSettings,
  ) {}

  private async run(user: JwtClaims, key: string, command: MemberCommand, memberId = user.sub) {
    return this.present(memberId, await this.execute(user, key, command, memberId));
  }

  private execute(user: JwtClaims, key: string, command: MemberCommand, memberId = user.sub): Promise<CommandResult> {
    return this.ledger.members.execute(memberId, command, { commandId: `${user.sub}:${key}`, actor: { type: user.role, id: user.sub } });
  }

  private present(memberId: string, result: CommandResult) {
    return {
      memberId,
      pointsGranted: grantsOf(result.events),
      balance: { availablePoints: result.state.available, heldPoints: result.state.held, lifetimeEarnedPoints: result.state.lifetimeEarned },
      events: result.events.map((event) => ({ type: event.type, revision: event.revision.toString() })),
    };
  }

  @Post('activation')
  @HttpCode(200)
  @Roles('member')
  @ApiOperation({ summary: 'Activate a member by national ID number and name; returns a member token' })
  @ApiBody({ schema: toJsonSchema(activationSchema) })
  async activate(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown) {
    const input = parseBody(activationSchema, body);
    const checked = checkNationalId(input.nationalId);
    if (!checked.ok) throw AppError.badRequest('VALIDATION.FAILED', 'the national ID number is not valid', { issues: [{ path: 'nationalId', reason: checked.code }] });
    const memberId = this.ledger.vault.memberIdFor(this.ledger.vault.idHmac(checked.value));
    const result = await this.execute(user, key, { type: 'ActivateMember', name: input.name }, memberId);
    const token = signJwt({ sub: memberId, role: 'member', org: result.state.orgId }, this.auth.jwtSecret, { ttlSeconds: MEMBER_TOKEN_TTL_SECONDS });
    return { ...this.present(memberId, result), orgId: result.state.orgId, token };
  }

  @Post('me/check-ins')
  @Roles('member')
  @ApiOperation({ summary: 'Daily check-in (once per natural day in Asia/Shanghai)' })
  async checkIn(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string) {
    const result = await this.execute(user, key, { type: 'CheckIn' });
    return { ...this.present(user.sub, result), day: result.state.lastCheckInDay, streak: result.state.streak };
  }

  @Post('me/quiz-answers')
  @Roles('member')
  @ApiBody({ schema: toJsonSchema(quizSchema) })
  @ApiOperation({ summary: 'Answer a quiz (one attempt per quiz; points only if correct)' })
  async answerQuiz(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown) {
    const input = parseBody(quizSchema, body);
    const quiz = await this.ledger.quizzes.get(input.quizId);
    if (!quiz) throw AppError.notFound('QUIZ.NOT_FOUND', `no quiz ${input.quizId}`);
    const result = await this.run(user, key, { type: 'AnswerQuiz', quizId: input.quizId, answer: input.answer, correctAnswer: quiz.correctAnswer });
    const answered = result.events.find((event) => event.type === 'QuizAnswered');
    return { ...result, answered: Boolean(answered), correct: result.pointsGranted > 0 || input.answer === quiz.correctAnswer };
  }

  @Post('me/article-reads')
  @Roles('member')
  @ApiBody({ schema: toJsonSchema(articleSchema) })
  @ApiOperation({ summary: 'Record reading an article (points once per article)' })
  async readArticle(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown) {
    const input = parseBody(articleSchema, body);
    return this.run(user, key, { type: 'ReadArticle', articleId: input.articleId });
  }

  @Post('me/comments')
  @Roles('member')
  @ApiBody({ schema: toJsonSchema(commentSchema) })
  @ApiOperation({ summary: 'Record a comment (its text is not kept by the ledger)' })
  async comment(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown) {
    const input = parseBody(commentSchema, body);
    return this.run(user, key, { type: 'PostComment', commentId: key, targetId: input.targetId });
  }

  @Post('me/evaluations')
  @Roles('member')
  @ApiBody({ schema: toJsonSchema(evaluationSchema) })
  @ApiOperation({ summary: 'Online evaluation (网上评议) of the member’s union: once per campaign' })
  async evaluate(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown) {
    const input = parseBody(evaluationSchema, body);
    const items: Record<string, number> = {};
    for (const [item, value] of Object.entries(input.items ?? {})) if (typeof value === 'number') items[item] = value;
    return this.run(user, key, {
      type: 'SubmitEvaluation',
      campaignId: input.campaignId,
      overall: input.overall,
      items,
      suggestion: input.suggestion ?? null,
    });
  }

  @Get('me/evaluations')
  @Roles('member')
  @ApiOperation({ summary: 'The member’s past evaluations, newest first' })
  async evaluations(@CurrentUser() user: JwtClaims) {
    const events = await this.ledger.store.readStream(memberStream(user.sub), { direction: 'backwards' });
    return {
      evaluations: events
        .filter((event) => event.type === 'EvaluationSubmitted')
        .map((event) => ({ ...event.data, submittedAt: event.metadata.occurredAt })),
    };
  }

  @Post('me/activities')
  @Roles('member')
  @ApiBody({ schema: toJsonSchema(activitySchema) })
  @ApiOperation({ summary: 'Record participation in an activity (once per activity)' })
  async participate(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown) {
    const input = parseBody(activitySchema, body);
    return this.run(user, key, { type: 'ParticipateActivity', activityId: input.activityId });
  }

  @Post('me/holds')
  @Roles('member')
  @ApiBody({ schema: toJsonSchema(holdSchema) })
  @ApiOperation({ summary: 'Hold points (two-phase spending); post or void the hold later' })
  async hold(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown) {
    const input = parseBody(holdSchema, body);
    const result = await this.run(user, key, {
      type: 'HoldPoints',
      holdId: key,
      points: input.points,
      purpose: input.purpose,
      expiresAtMs: Date.now() + input.expiresInSeconds * 1000,
    });
    return { ...result, holdId: key };
  }

  @Post('me/holds/:holdId/post')
  @HttpCode(200)
  @Roles('member')
  @ApiOperation({ summary: 'Post a hold: the held points are spent' })
  async postHold(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param('holdId') holdId: string) {
    return this.run(user, key, { type: 'PostHold', holdId });
  }

  @Post('me/holds/:holdId/void')
  @HttpCode(200)
  @Roles('member')
  @ApiOperation({ summary: 'Void a hold: the held points return to the available balance' })
  async voidHold(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Param('holdId') holdId: string) {
    return this.run(user, key, { type: 'VoidHold', holdId });
  }

  @Post('me/spends')
  @Roles('member')
  @ApiBody({ schema: toJsonSchema(spendSchema) })
  @ApiOperation({ summary: 'Spend points directly' })
  async spend(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @Body() body: unknown) {
    const input = parseBody(spendSchema, body);
    return this.run(user, key, { type: 'SpendPoints', spendId: key, points: input.points, purpose: input.purpose });
  }

  @Get('me/balance')
  @Roles('member')
  @ApiOperation({ summary: 'Available, held and lifetime-earned points, as of the latest event' })
  async balance(@CurrentUser() user: JwtClaims) {
    const { state, revision } = await this.ledger.members.load(user.sub);
    if (state.status === 'none') throw AppError.notFound('MEMBER.NOT_FOUND', 'no such member');
    return {
      memberId: user.sub,
      status: state.status,
      availablePoints: state.available,
      heldPoints: state.held,
      lifetimeEarnedPoints: state.lifetimeEarned,
      streak: state.streak,
      lastCheckInDay: state.lastCheckInDay,
      asOfRevision: revision.toString(),
    };
  }

  @Get('me/statement')
  @Roles('member')
  @ApiOperation({ summary: 'Statement lines, newest first, paginated by cursor' })
  async statement(@CurrentUser() user: JwtClaims, @Query('cursor') cursor?: string, @Query('limit') limitText?: string) {
    const limit = limitText === undefined ? 20 : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > STATEMENT_PAGE_MAX) {
      throw AppError.badRequest('VALIDATION.FAILED', `limit must be an integer from 1 to ${STATEMENT_PAGE_MAX}`);
    }
    if (cursor !== undefined && !/^\d{1,18}$/.test(cursor)) throw AppError.badRequest('VALIDATION.FAILED', 'cursor is not valid');
    const rows = await this.ledger.db.any<{
      revision: string;
      occurred_at: Date;
      kind: string;
      rule_id: string | null;
      rule_version: number | null;
      reference: string | null;
      delta_available: string;
      delta_held: string;
      available_after: string;
      held_after: string;
    }>(
      `SELECT revision, occurred_at, kind, rule_id, rule_version, reference, delta_available, delta_held, available_after, held_after
         FROM ul_statement WHERE member_id = $1 AND ($2::bigint IS NULL OR revision < $2::bigint)
        ORDER BY revision DESC LIMIT $3`,
      [user.sub, cursor ?? null, limit + 1],
    );
    const page = rows.slice(0, limit);
    return {
      lines: page.map((row) => ({
        revision: row.revision,
        occurredAt: row.occurred_at.toISOString(),
        reason: row.kind,
        ruleId: row.rule_id,
        ruleVersion: row.rule_version,
        reference: row.reference,
        deltaAvailablePoints: Number(row.delta_available),
        deltaHeldPoints: Number(row.delta_held),
        availableAfterPoints: Number(row.available_after),
        heldAfterPoints: Number(row.held_after),
      })),
      nextCursor: rows.length > limit ? page[page.length - 1]!.revision : null,
    };
  }

  @Get('leaderboards/:orgId')
  @ApiOperation({ summary: 'Top N of an organisation (the member’s own unit or an ancestor; admins: their subtree)' })
  async leaderboard(
    @CurrentUser() user: JwtClaims,
    @Param('orgId') orgId: string,
    @Query('period') periodText = 'week',
    @Query('top') topText = '100',
  ) {
    const period = parseBody(periodSchema, periodText) as LeaderboardPeriod;
    const top = Number(topText);
    if (!Number.isInteger(top) || top < 1 || top > LEADERBOARD_TOP_MAX) {
      throw AppError.badRequest('VALIDATION.FAILED', `top must be an integer from 1 to ${LEADERBOARD_TOP_MAX}`);
    }
    await this.ledger.orgAccess.assertCanView(user, orgId);
    const periodKey = period === 'all' ? '' : periodsOf(new Date())[period];
    const entries = await this.ledger.leaderboards.top(orgId, period, periodKey, top);
    const names = await this.ledger.db.any<{ member_id: string; name: string }>('SELECT member_id, name FROM ul_members WHERE member_id = ANY($1)', [
      entries.map((entry) => entry.memberId),
    ]);
    const nameOf = new Map(names.map((row) => [row.member_id, row.name]));
    return { orgId, period, periodKey: periodKey || null, entries: entries.map((entry) => ({ ...entry, name: nameOf.get(entry.memberId) ?? null })) };
  }

  @Get('me/rank')
  @Roles('member')
  @ApiOperation({ summary: 'The member’s rank in one of their organisations' })
  async rank(@CurrentUser() user: JwtClaims, @Query('orgId') orgIdText?: string, @Query('period') periodText = 'week') {
    const period = parseBody(periodSchema, periodText) as LeaderboardPeriod;
    const orgId = orgIdText ?? user.org;
    await this.ledger.orgAccess.assertCanView(user, orgId);
    const periodKey = period === 'all' ? '' : periodsOf(new Date())[period];
    return { orgId, period, periodKey: periodKey || null, ...(await this.ledger.leaderboards.rankOf(orgId, period, periodKey, user.sub)) };
  }
}
