import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { UnionLedger } from '../../composition-root';
import type { JwtClaims } from '../common/auth';
import { LEDGER } from '../tokens';

/**
 * The benefits context's queries as @nestjs/cqrs queries. Figures that decide something (budgets,
 * a wallet, a batch's progress, a proposal) come from the aggregates, so they never lag; long
 * lists (statements, batch results, inboxes, merchant ledgers) come from the read models.
 */

abstract class BenefitsQuery<Input, Result> extends Query<Result> {
  constructor(
    readonly user: JwtClaims,
    readonly input: Input,
  ) {
    super();
  }
}

abstract class BenefitsQueryHandler {
  constructor(@Inject(LEDGER) protected readonly ledger: UnionLedger) {}
}

type Out<M extends keyof UnionLedger['benefits']> = UnionLedger['benefits'][M] extends (...args: never[]) => Promise<infer R> ? R : never;

export class GetProgramme extends BenefitsQuery<{ programmeId: string }, { state: Out<'readProgramme'>; visible: string[] | null }> {}
@QueryHandler(GetProgramme)
export class GetProgrammeHandler extends BenefitsQueryHandler implements IQueryHandler<GetProgramme> {
  async execute({ user, input }: GetProgramme) {
    const state = await this.ledger.benefits.readProgramme(user, input.programmeId);
    return { state, visible: await this.ledger.benefits.visibleBudgetOrgs(user, input.programmeId) };
  }
}

export class GetProposal extends BenefitsQuery<{ proposalId: string }, Out<'readProposal'>> {}
@QueryHandler(GetProposal)
export class GetProposalHandler extends BenefitsQueryHandler implements IQueryHandler<GetProposal> {
  execute({ user, input }: GetProposal) {
    return this.ledger.benefits.readProposal(user, input.proposalId);
  }
}

export class ListProposals extends BenefitsQuery<{ status?: string | undefined; before?: string | undefined; limit?: number | undefined }, Out<'listProposals'>> {}
@QueryHandler(ListProposals)
export class ListProposalsHandler extends BenefitsQueryHandler implements IQueryHandler<ListProposals> {
  execute({ user, input }: ListProposals) {
    return this.ledger.benefits.listProposals(user, input);
  }
}

export class GetBatch extends BenefitsQuery<{ batchId: string }, Out<'readBatch'>> {}
@QueryHandler(GetBatch)
export class GetBatchHandler extends BenefitsQueryHandler implements IQueryHandler<GetBatch> {
  execute({ user, input }: GetBatch) {
    return this.ledger.benefits.readBatch(user, input.batchId);
  }
}

export class ListBatches extends BenefitsQuery<{ status?: string | undefined; before?: string | undefined; limit?: number | undefined }, Out<'listBatches'>> {}
@QueryHandler(ListBatches)
export class ListBatchesHandler extends BenefitsQueryHandler implements IQueryHandler<ListBatches> {
  execute({ user, input }: ListBatches) {
    return this.ledger.benefits.listBatches(user, input);
  }
}

export class GetBatchResults extends BenefitsQuery<{ batchId: string; result?: string | undefined; afterSeq?: number | undefined; limit?: number | undefined }, Out<'batchResults'>> {}
@QueryHandler(GetBatchResults)
export class GetBatchResultsHandler extends BenefitsQueryHandler implements IQueryHandler<GetBatchResults> {
  execute({ user, input }: GetBatchResults) {
    return this.ledger.benefits.batchResults(user, input.batchId, input);
  }
}

export class GetWallet extends BenefitsQuery<Record<string, never>, Out<'wallet'>> {}
@QueryHandler(GetWallet)
export class GetWalletHandler extends BenefitsQueryHandler implements IQueryHandler<GetWallet> {
  execute({ user }: GetWallet) {
    return this.ledger.benefits.wallet(user.sub);
  }
}

export class GetWalletStatement extends BenefitsQuery<{ before?: string | undefined; limit?: number | undefined }, Out<'walletStatement'>> {}
@QueryHandler(GetWalletStatement)
export class GetWalletStatementHandler extends BenefitsQueryHandler implements IQueryHandler<GetWalletStatement> {
  execute({ user, input }: GetWalletStatement) {
    return this.ledger.benefits.walletStatement(user, input);
  }
}

export class ListMerchants extends BenefitsQuery<{ after?: string | undefined; limit?: number | undefined }, Out<'listMerchants'>> {}
@QueryHandler(ListMerchants)
export class ListMerchantsHandler extends BenefitsQueryHandler implements IQueryHandler<ListMerchants> {
  execute({ user, input }: ListMerchants) {
    return this.ledger.benefits.listMerchants(user, input);
  }
}

export class GetMerchant extends BenefitsQuery<{ merchantId: string }, Out<'readMerchant'>> {}
@QueryHandler(GetMerchant)
export class GetMerchantHandler extends BenefitsQueryHandler implements IQueryHandler<GetMerchant> {
  execute({ user, input }: GetMerchant) {
    return this.ledger.benefits.readMerchant(user, input.merchantId);
  }
}

export class GetMerchantLedger extends BenefitsQuery<{ merchantId: string; part: 'lines' | 'settlements' | 'payments'; before?: string | undefined; limit?: number | undefined }, Out<'merchantLedger'>> {}
@QueryHandler(GetMerchantLedger)
export class GetMerchantLedgerHandler extends BenefitsQueryHandler implements IQueryHandler<GetMerchantLedger> {
  execute({ user, input }: GetMerchantLedger) {
    return this.ledger.benefits.merchantLedger(user, input.merchantId, input.part, input);
  }
}

export class GetPayment extends BenefitsQuery<{ paymentId: string }, Out<'readPayment'>> {}
@QueryHandler(GetPayment)
export class GetPaymentHandler extends BenefitsQueryHandler implements IQueryHandler<GetPayment> {
  execute({ user, input }: GetPayment) {
    return this.ledger.benefits.readPayment(user, input.paymentId);
  }
}

export const BENEFITS_QUERY_HANDLERS = [
  GetProgrammeHandler,
  GetProposalHandler,
  ListProposalsHandler,
  GetBatchHandler,
  GetBatchResultsHandler,
  ListBatchesHandler,
  GetWalletHandler,
  GetWalletStatementHandler,
  ListMerchantsHandler,
  GetMerchantHandler,
  GetMerchantLedgerHandler,
  GetPaymentHandler,
];
