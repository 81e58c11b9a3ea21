import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import type { ImportReport } from '../../application/import-report';
import { importMembers, type MemberCommandResult } from '../../application/members';
import type { UnionLedger } from '../../composition-root';
import { checkNationalId, type MemberCommand } from '../../domain/members';
import type { JwtClaims } from '../common/auth';
import { commandMeta } from '../common/commands';
import { AppError } from '../common/errors';
import { subtreeAuthorizer, UPLOAD_LIMITS } from '../common/imports';
import { LEDGER } from '../tokens';

/**
 * The members context's commands as @nestjs/cqrs commands: one class and one handler each, the
 * handler a thin call into the application layer (MemberService decides with the pure decider).
 */

/** A command a member gives about their own account. */
abstract class OwnMemberCommand extends Command<MemberCommandResult> {
  constructor(
    readonly user: JwtClaims,
    readonly idempotencyKey: string,
  ) {
    super();
  }
  abstract toDomain(): MemberCommand;
}

export class CheckIn extends OwnMemberCommand {
  toDomain(): MemberCommand {
    return { type: 'CheckIn' };
  }
}

export class ReadArticle extends OwnMemberCommand {
  constructor(user: JwtClaims, key: string, readonly articleId: string) {
    super(user, key);
  }
  toDomain(): MemberCommand {
    return { type: 'ReadArticle', articleId: this.articleId };
  }
}

export class PostComment extends OwnMemberCommand {
  constructor(user: JwtClaims, key: string, readonly targetId: string) {
    super(user, key);
  }
  /** The comment is identified by the request's key: its text is not kept by the ledger. */
  toDomain(): MemberCommand {
    return { type: 'PostComment', commentId: this.idempotencyKey, targetId: this.targetId };
  }
}

export class SubmitEvaluation extends OwnMemberCommand {
  constructor(
    user: JwtClaims,
    key: string,
    readonly campaignId: string,
    readonly overall: number,
    readonly items: Record<string, number>,
    readonly suggestion: string | null,
  ) {
    super(user, key);
  }
  toDomain(): MemberCommand {
    return { type: 'SubmitEvaluation', campaignId: this.campaignId, overall: this.overall, items: this.items, suggestion: this.suggestion };
  }
}

export class ParticipateActivity extends OwnMemberCommand {
  constructor(user: JwtClaims, key: string, readonly activityId: string) {
    super(user, key);
  }
  toDomain(): MemberCommand {
    return { type: 'ParticipateActivity', activityId: this.activityId };
  }
}

export class HoldPoints extends OwnMemberCommand {
  constructor(user: JwtClaims, key: string, readonly points: number, readonly purpose: string, readonly expiresAtMs: number) {
    super(user, key);
  }
  /** The hold is identified by the request's key. */
  toDomain(): MemberCommand {
    return { type: 'HoldPoints', holdId: this.idempotencyKey, points: this.points, purpose: this.purpose, expiresAtMs: this.expiresAtMs };
  }
}

export class SettleHold extends OwnMemberCommand {
  constructor(user: JwtClaims, key: string, readonly holdId: string, readonly outcome: 'post' | 'void') {
    super(user, key);
  }
  toDomain(): MemberCommand {
    return { type: this.outcome === 'post' ? 'PostHold' : 'VoidHold', holdId: this.holdId };
  }
}

export class SpendPoints extends OwnMemberCommand {
  constructor(user: JwtClaims, key: string, readonly points: number, readonly purpose: string) {
    super(user, key);
  }
  /** The spend is identified by the request's key. */
  toDomain(): MemberCommand {
    return { type: 'SpendPoints', spendId: this.idempotencyKey, points: this.points, purpose: this.purpose };
  }
}

/** Runs an own-account command for its caller; every member command handler below is this. */
abstract class OwnMemberCommandHandler<C extends OwnMemberCommand> {
  constructor(@Inject(LEDGER) protected readonly ledger: UnionLedger) {}

  execute(command: C): Promise<MemberCommandResult> {
    return this.ledger.members.execute(command.user.sub, command.toDomain(), commandMeta(command.user, command.idempotencyKey));
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
  ) {
    super();
  }
}

@CommandHandler(AnswerQuiz)
export class AnswerQuizHandler implements ICommandHandler<AnswerQuiz> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, idempotencyKey, quizId, answer }: AnswerQuiz) {
    const quiz = await this.ledger.quizzes.get(quizId);
    if (!quiz) throw AppError.notFound('QUIZ.NOT_FOUND', `no quiz ${quizId}`);
    const result = await this.ledger.members.execute(
      user.sub,
      { type: 'AnswerQuiz', quizId, answer, correctAnswer: quiz.correctAnswer },
      commandMeta(user, idempotencyKey),
    );
    return { result, correctAnswer: quiz.correctAnswer };
  }
}

/** Activation by national ID number and name: the member is found by the HMAC of the number. */
export class ActivateMember extends Command<{ memberId: string; result: MemberCommandResult }> {
  constructor(
    readonly user: JwtClaims,
    readonly idempotencyKey: string,
    readonly nationalId: string,
    readonly name: string,
  ) {
    super();
  }
}

@CommandHandler(ActivateMember)
export class ActivateMemberHandler implements ICommandHandler<ActivateMember> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, idempotencyKey, nationalId, name }: ActivateMember) {
    const checked = checkNationalId(nationalId);
    if (!checked.ok) throw AppError.badRequest('VALIDATION.FAILED', 'the national ID number is not valid', { issues: [{ path: 'nationalId', reason: checked.code }] });
    const memberId = this.ledger.vault.memberIdFor(this.ledger.vault.idHmac(checked.value));
    const result = await this.ledger.members.execute(memberId, { type: 'ActivateMember', name }, commandMeta(user, idempotencyKey));
    return { memberId, result };
  }
}

/** An admin's roster upload (CSV), into their own subtree only. */
export class ImportMembers extends Command<ImportReport> {
  constructor(
    readonly user: JwtClaims,
    readonly csv: Buffer,
  ) {
    super();
  }
}

@CommandHandler(ImportMembers)
export class ImportMembersHandler implements ICommandHandler<ImportMembers> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  execute({ user, csv }: ImportMembers): Promise<ImportReport> {
    return importMembers(
      [csv],
      { memberService: this.ledger.members, orgService: this.ledger.orgs, vault: this.ledger.vault, rules: this.ledger.rules },
      { actor: { type: 'admin', id: user.sub }, authorize: subtreeAuthorizer(this.ledger, user), limits: UPLOAD_LIMITS },
    );
  }
}

export const MEMBER_COMMAND_HANDLERS = [
  ActivateMemberHandler,
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
