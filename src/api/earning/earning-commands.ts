import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import type { UnionLedger } from '../../composition-root';
import type { Quiz, RuleSet } from '../../domain/earning';
import type { JwtClaims } from '../common/auth';
import { commandMeta } from '../common/commands';
import { AppError } from '../common/errors';
import { parseBody } from '../common/validation';
import { LEDGER } from '../tokens';
import { publishRulesSchema } from './schemas';

/** The earning context's commands as @nestjs/cqrs commands: one class and one handler each. */

/** The body as sent: the caller's right to publish is checked before anything in it is looked at. */
export class PublishEarningRules extends Command<RuleSet> {
  constructor(
    readonly user: JwtClaims,
    readonly idempotencyKey: string,
    readonly body: unknown,
  ) {
    super();
  }
}

@CommandHandler(PublishEarningRules)
export class PublishEarningRulesHandler implements ICommandHandler<PublishEarningRules> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, idempotencyKey, body }: PublishEarningRules): Promise<RuleSet> {
    if (!(await this.ledger.orgAccess.isRootAdmin(user))) {
      throw AppError.forbidden('AUTH.FORBIDDEN', 'only an admin of a root organisation may change the earning rules');
    }
    // Every action, cap and the streak bonus, with unknown properties refused by path (a typo like
    // `maxCont` or `streakbonus` would otherwise publish a version that silently lacks them).
    const { expectedVersion, rules, streakBonus } = parseBody(publishRulesSchema, body);
    const { commandId, actor } = commandMeta(user, idempotencyKey);
    return this.ledger.rules.publish({ rules, streakBonus: streakBonus ?? null }, expectedVersion, actor, commandId);
  }
}

export class PublishQuiz extends Command<'applied' | 'unchanged'> {
  constructor(
    readonly user: JwtClaims,
    readonly idempotencyKey: string,
    readonly quiz: Quiz,
  ) {
    super();
  }
}

@CommandHandler(PublishQuiz)
export class PublishQuizHandler implements ICommandHandler<PublishQuiz> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, idempotencyKey, quiz }: PublishQuiz): Promise<'applied' | 'unchanged'> {
    // Quizzes, like every rule and campaign, belong to a subtree the admin administers.
    if (quiz.orgId === null || !(await this.ledger.orgAccess.isWithin(quiz.orgId, user.org))) {
      throw AppError.forbidden('ORG.FORBIDDEN', `organisation ${quiz.orgId ?? '(none)'} is outside your part of the union tree`);
    }
    const { commandId, actor } = commandMeta(user, idempotencyKey);
    return this.ledger.quizzes.publish(quiz, actor, commandId);
  }
}

export const EARNING_COMMAND_HANDLERS = [PublishEarningRulesHandler, PublishQuizHandler];
