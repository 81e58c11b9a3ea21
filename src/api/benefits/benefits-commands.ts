import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { readBatchCsv, type Benefits } from '../../application/benefits';
import type { UnionLedger } from '../../composition-root';
import type { FundSource } from '../../domain/benefits';
import { yuanToFen } from '../../domain/shared';
import type { JwtClaims } from '../common/auth';
import { UPLOAD_LIMITS } from '../common/imports';
import { LEDGER } from '../tokens';

/**
 * The benefits context's commands as @nestjs/cqrs commands: one class per use, each handler a
 * thin call into the application layer (Benefits). Yuan text from the request becomes fen here,
 * with decimal.js (domain/shared/money.ts): the application and the domain only see fen.
 */

/** Every benefits command: who is asking, their Idempotency-Key, and the input. */
abstract class BenefitsCommand<Input, Result> extends Command<Result> {
  constructor(
    readonly user: JwtClaims,
    readonly key: string,
    readonly input: Input,
  ) {
    super();
  }
}

/** Runs one command against the benefits service. */
abstract class BenefitsHandler<C extends BenefitsCommand<unknown, unknown>> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}
  protected get benefits(): Benefits {
    return this.ledger.benefits;
  }
  abstract execute(command: C): Promise<unknown>;
}

type Out<M extends keyof Benefits> = Benefits[M] extends (...args: never[]) => Promise<infer R> ? R : never;

export class OpenProgramme extends BenefitsCommand<{ programmeId: string; name: string; year: number; rootOrgId: string }, Out<'openProgramme'>> {}
@CommandHandler(OpenProgramme)
export class OpenProgrammeHandler extends BenefitsHandler<OpenProgramme> implements ICommandHandler<OpenProgramme> {
  execute({ user, key, input }: OpenProgramme) {
    return this.benefits.openProgramme(user, input, key);
  }
}

export class ProposeFunding extends BenefitsCommand<{ programmeId: string; amount: string; source: FundSource; reference: string }, Out<'proposeFunding'>> {}
@CommandHandler(ProposeFunding)
export class ProposeFundingHandler extends BenefitsHandler<ProposeFunding> implements ICommandHandler<ProposeFunding> {
  execute({ user, key, input }: ProposeFunding) {
    return this.benefits.proposeFunding(user, input.programmeId, { amountFen: yuanToFen(input.amount), source: input.source, reference: input.reference }, key);
  }
}

export class ProposeAllocation extends BenefitsCommand<{ programmeId: string; fromOrgId: string; toOrgId: string; amount: string }, Out<'proposeAllocation'>> {}
@CommandHandler(ProposeAllocation)
export class ProposeAllocationHandler extends BenefitsHandler<ProposeAllocation> implements ICommandHandler<ProposeAllocation> {
  execute({ user, key, input }: ProposeAllocation) {
    return this.benefits.proposeAllocation(user, input.programmeId, { fromOrgId: input.fromOrgId, toOrgId: input.toOrgId, amountFen: yuanToFen(input.amount) }, key);
  }
}

export class ReturnBudget extends BenefitsCommand<{ programmeId: string; fromOrgId: string; amount: string }, Out<'returnBudget'>> {}
@CommandHandler(ReturnBudget)
export class ReturnBudgetHandler extends BenefitsHandler<ReturnBudget> implements ICommandHandler<ReturnBudget> {
  execute({ user, key, input }: ReturnBudget) {
    return this.benefits.returnBudget(user, input.programmeId, { fromOrgId: input.fromOrgId, amountFen: yuanToFen(input.amount) }, key);
  }
}

export class CloseProgramme extends BenefitsCommand<{ programmeId: string }, Out<'closeProgramme'>> {}
@CommandHandler(CloseProgramme)
export class CloseProgrammeHandler extends BenefitsHandler<CloseProgramme> implements ICommandHandler<CloseProgramme> {
  execute({ user, key, input }: CloseProgramme) {
    return this.benefits.closeProgramme(user, input.programmeId, key);
  }
}

export interface BatchInput {
  batchId: string;
  kind: 'money' | 'vouchers';
  programmeId: string;
  orgId: string;
  amount?: string | undefined;
  total?: string | undefined;
  members?: Array<{ memberId: string; amount: string }> | undefined;
  voucher?: { category: string; faceValue: string; validFrom: string; validUntil: string } | undefined;
  /** A CSV file of member_id,amount (the upload route). */
  csv?: Buffer | undefined;
}
export class DraftBatch extends BenefitsCommand<BatchInput, Out<'draftBatch'>> {}
@CommandHandler(DraftBatch)
export class DraftBatchHandler extends BenefitsHandler<DraftBatch> implements ICommandHandler<DraftBatch> {
  async execute({ user, key, input }: DraftBatch) {
    const items = input.csv
      ? await readBatchCsv(input.csv, UPLOAD_LIMITS)
      : input.members
        ? input.members.map((member) => ({ memberId: member.memberId, amountFen: yuanToFen(member.amount) }))
        : null;
    const voucher = input.voucher
      ? {
          category: input.voucher.category,
          faceFen: yuanToFen(input.voucher.faceValue),
          validFromMs: Date.parse(input.voucher.validFrom),
          validUntilMs: Date.parse(input.voucher.validUntil),
        }
      : null;
    return this.benefits.draftBatch(
      user,
      {
        batchId: input.batchId,
        kind: input.kind,
        programmeId: input.programmeId,
        orgId: input.orgId,
        amountFen: input.amount === undefined ? null : yuanToFen(input.amount),
        totalFen: input.total === undefined ? null : yuanToFen(input.total),
        items,
        voucher,
      },
      key,
    );
  }
}

export class ApproveProposal extends BenefitsCommand<{ proposalId: string }, Out<'approve'>> {}
@CommandHandler(ApproveProposal)
export class ApproveProposalHandler extends BenefitsHandler<ApproveProposal> implements ICommandHandler<ApproveProposal> {
  execute({ user, key, input }: ApproveProposal) {
    return this.benefits.approve(user, input.proposalId, key);
  }
}

export class RejectProposal extends BenefitsCommand<{ proposalId: string; reason: string }, Out<'reject'>> {}
@CommandHandler(RejectProposal)
export class RejectProposalHandler extends BenefitsHandler<RejectProposal> implements ICommandHandler<RejectProposal> {
  execute({ user, key, input }: RejectProposal) {
    return this.benefits.reject(user, input.proposalId, input.reason, key);
  }
}

export class ApplyMerchant extends BenefitsCommand<{ merchantId: string; name: string; category: string; signingOrgId: string; bankCard: string }, Out<'applyMerchant'>> {}
@CommandHandler(ApplyMerchant)
export class ApplyMerchantHandler extends BenefitsHandler<ApplyMerchant> implements ICommandHandler<ApplyMerchant> {
  execute({ user, key, input }: ApplyMerchant) {
    return this.benefits.applyMerchant(user, input, key);
  }
}

export class ProposeSuspension extends BenefitsCommand<{ merchantId: string; reason: string }, Out<'proposeSuspension'>> {}
@CommandHandler(ProposeSuspension)
export class ProposeSuspensionHandler extends BenefitsHandler<ProposeSuspension> implements ICommandHandler<ProposeSuspension> {
  execute({ user, key, input }: ProposeSuspension) {
    return this.benefits.proposeSuspension(user, input.merchantId, input.reason, key);
  }
}

export class ReinstateMerchant extends BenefitsCommand<{ merchantId: string }, Out<'reinstate'>> {}
@CommandHandler(ReinstateMerchant)
export class ReinstateMerchantHandler extends BenefitsHandler<ReinstateMerchant> implements ICommandHandler<ReinstateMerchant> {
  execute({ user, key, input }: ReinstateMerchant) {
    return this.benefits.reinstate(user, input.merchantId, key);
  }
}

export class SettleMerchantDay extends BenefitsCommand<{ merchantId: string; day: string }, Out<'settle'>> {}
@CommandHandler(SettleMerchantDay)
export class SettleMerchantDayHandler extends BenefitsHandler<SettleMerchantDay> implements ICommandHandler<SettleMerchantDay> {
  execute({ user, key, input }: SettleMerchantDay) {
    return this.benefits.settle(user, input.merchantId, input.day, key);
  }
}

export class BindCard extends BenefitsCommand<{ cardNumber: string }, Out<'bindCard'>> {}
@CommandHandler(BindCard)
export class BindCardHandler extends BenefitsHandler<BindCard> implements ICommandHandler<BindCard> {
  execute({ user, key, input }: BindCard) {
    return this.benefits.bindCard(user, input.cardNumber, key);
  }
}

export class IssuePaymentCode extends BenefitsCommand<Record<string, never>, Out<'issuePaymentCode'>> {}
@CommandHandler(IssuePaymentCode)
export class IssuePaymentCodeHandler extends BenefitsHandler<IssuePaymentCode> implements ICommandHandler<IssuePaymentCode> {
  execute({ user }: IssuePaymentCode) {
    return this.benefits.issuePaymentCode(user);
  }
}

export class AuthorisePayment extends BenefitsCommand<{ paymentCode: string; amount: string }, Out<'authorise'>> {}
@CommandHandler(AuthorisePayment)
export class AuthorisePaymentHandler extends BenefitsHandler<AuthorisePayment> implements ICommandHandler<AuthorisePayment> {
  execute({ user, key, input }: AuthorisePayment) {
    return this.benefits.authorise(user, { paymentCode: input.paymentCode, amountFen: yuanToFen(input.amount) }, key);
  }
}

export class CapturePayment extends BenefitsCommand<{ paymentId: string; amount: string }, Out<'capture'>> {}
@CommandHandler(CapturePayment)
export class CapturePaymentHandler extends BenefitsHandler<CapturePayment> implements ICommandHandler<CapturePayment> {
  execute({ user, key, input }: CapturePayment) {
    return this.benefits.capture(user, input.paymentId, yuanToFen(input.amount), key);
  }
}

export class VoidPayment extends BenefitsCommand<{ paymentId: string }, Out<'void'>> {}
@CommandHandler(VoidPayment)
export class VoidPaymentHandler extends BenefitsHandler<VoidPayment> implements ICommandHandler<VoidPayment> {
  execute({ user, key, input }: VoidPayment) {
    return this.benefits.void(user, input.paymentId, key);
  }
}

export class RefundPayment extends BenefitsCommand<{ paymentId: string; amount: string }, Out<'refund'>> {}
@CommandHandler(RefundPayment)
export class RefundPaymentHandler extends BenefitsHandler<RefundPayment> implements ICommandHandler<RefundPayment> {
  execute({ user, key, input }: RefundPayment) {
    return this.benefits.refund(user, input.paymentId, yuanToFen(input.amount), key);
  }
}

export const BENEFITS_COMMAND_HANDLERS = [
  OpenProgrammeHandler,
  ProposeFundingHandler,
  ProposeAllocationHandler,
  ReturnBudgetHandler,
  CloseProgrammeHandler,
  DraftBatchHandler,
  ApproveProposalHandler,
  RejectProposalHandler,
  ApplyMerchantHandler,
  ProposeSuspensionHandler,
  ReinstateMerchantHandler,
  SettleMerchantDayHandler,
  BindCardHandler,
  IssuePaymentCodeHandler,
  AuthorisePaymentHandler,
  CapturePaymentHandler,
  VoidPaymentHandler,
  RefundPaymentHandler,
];
