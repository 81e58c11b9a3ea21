import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import type { ImportReport } from '../../application/import-report';
import { countImportRows } from '../../application/imports';
import { importMembers, type MemberCommandResult } from '../../application/members';
import type { UnionLedger } from '../../composition-root';
import type { MemberCommand } from '../../domain/members';
import type { JwtClaims } from '../common/auth';
import { commandMeta } from '../common/commands';
import { AppError } from '../common/errors';
import { subtreeAuthorizer, UPLOAD_LIMITS } from '../common/imports';
import { LEDGER } from '../tokens';

/**
 * The members context's commands as @nestjs/cqrs commands: one class and one handler each, the
 * handler a thin call into the application layer (MemberService decides with the pure decider).
 */

/**
 * A command a member gives about their own account: the caller, their Idempotency-Key and the
 * domain command (typed per class, so a CheckIn carries nothing but a check-in). Requests that
 * create something (a hold, a spend, a comment) are identified by their Idempotency-Key.
 */
abstract class OwnMemberCommand<Type extends MemberCommand['type']> extends Command<MemberCommandResult> {
  constructor(
    readonly user: JwtClaims,
    readonly idempotencyKey: string,
    readonly command: Extract<MemberCommand, { type: Type }>,
    /** The request's digest on routes with EventSourcedIdempotency (see commandMeta). */
    readonly requestHash?: string,
  ) {
    super();
  }
}

export class CheckIn extends OwnMemberCommand<'CheckIn'> {}
export class ReadArticle extends OwnMemberCommand<'ReadArticle'> {}
export class PostComment extends OwnMemberCommand<'PostComment'> {}
export class SubmitEvaluation extends OwnMemberCommand<'SubmitEvaluation'> {}
export class ParticipateActivity extends OwnMemberCommand<'ParticipateActivity'> {}
export class HoldPoints extends OwnMemberCommand<'HoldPoints'> {}
export class SettleHold extends OwnMemberCommand<'PostHold' | 'VoidHold'> {}
export class SpendPoints extends OwnMemberCommand<'SpendPoints'> {}

/** Runs an own-account command for its caller; every handler below is this, one class per command. */
abstract class OwnMemberCommandHandler<C extends { user: JwtClaims; idempotencyKey: string; command: MemberCommand; requestHash?: string }> {
  constructor(@Inject(LEDGER) protected readonly ledger: UnionLedger) {}

  execute({ user, idempotencyKey, command, requestHash }: C): Promise<MemberCommandResult> {
    return this.ledger.members.execute(user.sub, command, commandMeta(user, idempotencyKey, requestHash));
  }
}

@CommandHandler(CheckIn)
export class CheckInHandler extends OwnMemberCommandHandler<CheckIn> implements ICommandHandler<CheckIn> {}

@CommandHandler(ReadArticle)
export class ReadArticleHandler extends OwnMemberCommandHandler<ReadArticle> implements ICommandHandler<ReadArticle> {}

@CommandHandler(PostComment)
export class PostCommentHandler extends OwnMemberCommandHandler<PostComment> implements ICommandHandler<PostComment> {}

@CommandHandler(SubmitEvaluation)
export class SubmitEvaluationHandler extends OwnMemberCommandHandler<SubmitEvaluation> implements ICommandHandler<SubmitEvaluation> {}

@CommandHandler(ParticipateActivity)
export class ParticipateActivityHandler extends OwnMemberCommandHandler<ParticipateActivity> implements ICommandHandler<ParticipateActivity> {}

@CommandHandler(HoldPoints)
export class HoldPointsHandler extends OwnMemberCommandHandler<HoldPoints> implements ICommandHandler<HoldPoints> {}

@CommandHandler(SettleHold)
export class SettleHoldHandler extends OwnMemberCommandHandler<SettleHold> implements ICommandHandler<SettleHold> {}

@CommandHandler(SpendPoints)
export class SpendPointsHandler extends OwnMemberCommandHandler<SpendPoints> implements ICommandHandler<SpendPoints> {}

/** Answers a quiz: the correct answer comes from the earning context's quiz, never from the client. */
export class AnswerQuiz extends Command<{ result: MemberCommandResult; correctAnswer: string }> {
  constructor(
    readonly user: JwtClaims,
    readonly idempotencyKey: string,
    readonly quizId: string,
    readonly answer: string,
    readonly requestHash?: string,
  ) {
    super();
  }
}

@CommandHandler(AnswerQuiz)
export class AnswerQuizHandler implements ICommandHandler<AnswerQuiz> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, idempotencyKey, quizId, answer, requestHash }: AnswerQuiz) {
    const quiz = await this.ledger.quizzes.get(quizId);
    const notFound = (): AppError => AppError.notFound('QUIZ.NOT_FOUND', `no quiz ${quizId}`);
    if (!quiz) throw notFound();
    const result = await this.ledger.members.execute(
      user.sub,
      { type: 'AnswerQuiz', quizId, answer, correctAnswer: quiz.correctAnswer },
      commandMeta(user, idempotencyKey, requestHash),
      // A quiz of another subtree is, for this member, no quiz at all. Checked on the state the
      // command is decided on, so the scope costs no second read of the member's stream.
      async (state) => {
        if (quiz.orgId !== null && (state.status === 'none' || !(await this.ledger.orgAccess.isWithin(state.orgId, quiz.orgId)))) throw notFound();
      },
    );
    return { result, correctAnswer: quiz.correctAnswer };
  }
}

/** An admin's roster upload (CSV), into their own subtree only. */
export class ImportMembers extends Command<MemberUpload> {
  constructor(
    readonly user: JwtClaims,
    readonly csv: Buffer,
  ) {
    super();
  }
}

/** An upload's outcome: the report of a file imported in the request, or the job a larger one became. */
export type MemberUpload = { report: ImportReport } | { job: { importId: string; rowCount: number } };

@CommandHandler(ImportMembers)
export class ImportMembersHandler implements ICommandHandler<ImportMembers> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, csv }: ImportMembers): Promise<MemberUpload> {
    // Read once whole: a file that cannot be read to its end is refused (422) and changes nothing.
    const rowCount = await countImportRows(csv);
    if (rowCount >= this.ledger.importSettings.asyncMinRows) return { job: await this.ledger.rosterImports.request(user, csv, rowCount) };
    const report = await importMembers(
      [csv],
      { memberService: this.ledger.members, orgService: this.ledger.orgs, vault: this.ledger.vault, rules: this.ledger.rules },
      { actor: { type: 'admin', id: user.sub }, authorize: subtreeAuthorizer(this.ledger, user), limits: UPLOAD_LIMITS },
    );
    return { report };
  }
}

export const MEMBER_COMMAND_HANDLERS = [
  CheckInHandler,
  AnswerQuizHandler,
  ReadArticleHandler,
  PostCommentHandler,
  SubmitEvaluationHandler,
  ParticipateActivityHandler,
  HoldPointsHandler,
  SettleHoldHandler,
  SpendPointsHandler,
  ImportMembersHandler,
];
