import { Body, Controller, Post, Query } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Roles, type JwtClaims } from '../common/auth';
import { EventSourcedIdempotency, IdempotencyDigest, IdempotencyKey } from '../common/idempotency';
import { ApiBodySchema, NoQuery, parseBody, parseNoBody, parseQuery } from '../common/validation';
import { AnswerQuiz, CheckIn, ParticipateActivity, PostComment, ReadArticle, SubmitEvaluation } from './member-commands';
import { presentMemberResult } from './present';
import { activitySchema, articleSchema, commentSchema, evaluationSchema, quizAnswerSchema } from './schemas';

/** What a member does to earn points by the current rules (caps per day / week / year). */
@ApiTags('members')
@ApiBearerAuth()
@Controller('v1/me')
export class EarningActionsController {
  constructor(private readonly commands: CommandBus) {}

  @Post('check-ins')
  @Roles('member')
  @ApiOperation({ summary: 'Daily check-in (once per natural day in Asia/Shanghai)' })
  @EventSourcedIdempotency()
  async checkIn(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @IdempotencyDigest() digest: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    parseNoBody(body);
    const result = await this.commands.execute(new CheckIn(user, key, { type: 'CheckIn' }, digest));
    return { ...presentMemberResult(user.sub, result), day: result.state.lastCheckInDay, streak: result.state.streak };
  }

  @Post('quiz-answers')
  @Roles('member')
  @ApiBodySchema(quizAnswerSchema)
  @ApiOperation({ summary: 'Answer a quiz (one attempt per quiz; points only if correct)' })
  @EventSourcedIdempotency()
  async answerQuiz(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @IdempotencyDigest() digest: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = parseBody(quizAnswerSchema, body);
    const { result, correctAnswer } = await this.commands.execute(new AnswerQuiz(user, key, input.quizId, input.answer, digest));
    const presented = presentMemberResult(user.sub, result);
    const answered = result.events.some((event) => event.type === 'QuizAnswered');
    return { ...presented, answered, correct: presented.pointsGranted > 0 || input.answer === correctAnswer };
  }

  @Post('article-reads')
  @Roles('member')
  @ApiBodySchema(articleSchema)
  @ApiOperation({ summary: 'Record reading an article (points once per article)' })
  @EventSourcedIdempotency()
  async readArticle(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @IdempotencyDigest() digest: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = parseBody(articleSchema, body);
    return presentMemberResult(user.sub, await this.commands.execute(new ReadArticle(user, key, { type: 'ReadArticle', articleId: input.articleId }, digest)));
  }

  @Post('comments')
  @Roles('member')
  @ApiBodySchema(commentSchema)
  @ApiOperation({ summary: 'Record a comment (its text is not kept by the ledger)' })
  @EventSourcedIdempotency()
  async comment(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @IdempotencyDigest() digest: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = parseBody(commentSchema, body);
    // The comment is identified by the request's key: its text is not kept by the ledger.
    const command = new PostComment(user, key, { type: 'PostComment', commentId: key, targetId: input.targetId }, digest);
    return presentMemberResult(user.sub, await this.commands.execute(command));
  }

  @Post('evaluations')
  @Roles('member')
  @ApiBodySchema(evaluationSchema)
  @ApiOperation({ summary: 'Online evaluation (网上评议) of the member’s union: once per campaign' })
  @EventSourcedIdempotency()
  async evaluate(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @IdempotencyDigest() digest: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = parseBody(evaluationSchema, body);
    const items: Record<string, number> = {};
    for (const [item, value] of Object.entries(input.items ?? {})) if (typeof value === 'number') items[item] = value;
    const command = new SubmitEvaluation(user, key, {
      type: 'SubmitEvaluation',
      campaignId: input.campaignId,
      overall: input.overall,
      items,
      suggestion: input.suggestion ?? null,
    }, digest);
    return presentMemberResult(user.sub, await this.commands.execute(command));
  }

  @Post('activities')
  @Roles('member')
  @ApiBodySchema(activitySchema)
  @ApiOperation({ summary: 'Record participation in an activity (once per activity)' })
  @EventSourcedIdempotency()
  async participate(@CurrentUser() user: JwtClaims, @IdempotencyKey() key: string, @IdempotencyDigest() digest: string, @Body() body: unknown, @Query() query: unknown) {
    parseQuery(NoQuery, query);
    const input = parseBody(activitySchema, body);
    return presentMemberResult(user.sub, await this.commands.execute(new ParticipateActivity(user, key, { type: 'ParticipateActivity', activityId: input.activityId }, digest)));
  }
}
