import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import type { CreateCampaignInput, TargetsReport } from '../../application/campaigns';
import type { UnionLedger } from '../../composition-root';
import type { CampaignTerms } from '../../domain/campaigns';
import type { JwtClaims } from '../common/auth';
import { AppError } from '../common/errors';
import { LEDGER } from '../tokens';

/** The campaigns context's commands as @nestjs/cqrs commands: each handler one call into the application layer. */

abstract class CampaignsCommand<Input, Result> extends Command<Result> {
  constructor(
    readonly user: JwtClaims,
    readonly key: string,
    readonly input: Input,
  ) {
    super();
  }
}

abstract class CampaignsHandler {
  constructor(@Inject(LEDGER) protected readonly ledger: UnionLedger) {}
}

/** An instant the schema let through but the calendar does not know (2027-02-30T...). */
function ms(text: string, field: string): number {
  const value = Date.parse(text);
  if (Number.isNaN(value)) throw AppError.badRequest('VALIDATION.FAILED', `${field} is not a real instant`, { issues: [{ path: `/${field}`, reason: 'is not a real instant' }] });
  return value;
}

/** The create body: the application's input with instants and milestone days as the API writes them. */
export type CampaignInput = Omit<CreateCampaignInput, 'startsAtMs' | 'endsAtMs' | 'milestones'> & {
  startsAt: string;
  endsAt: string;
  milestones: Array<{ percent: number; by: string }>;
};

export class CreateCampaign extends CampaignsCommand<CampaignInput, CampaignTerms> {}
@CommandHandler(CreateCampaign)
export class CreateCampaignHandler extends CampaignsHandler implements ICommandHandler<CreateCampaign> {
  execute({ user, key, input }: CreateCampaign): Promise<CampaignTerms> {
    return this.ledger.campaigns.create(
      user,
      {
        campaignId: input.campaignId,
        name: input.name,
        rootOrgId: input.rootOrgId,
        measure: input.measure,
        evaluationCampaignId: input.evaluationCampaignId,
        programmeId: input.programmeId,
        startsAtMs: ms(input.startsAt, 'startsAt'),
        endsAtMs: ms(input.endsAt, 'endsAt'),
        milestones: input.milestones.map((milestone) => ({ percent: milestone.percent, byDay: milestone.by })),
      },
      key,
    );
  }
}

export class ImportTargets extends CampaignsCommand<{ campaignId: string; csv: Buffer }, TargetsReport> {}
@CommandHandler(ImportTargets)
export class ImportTargetsHandler extends CampaignsHandler implements ICommandHandler<ImportTargets> {
  execute({ user, key, input }: ImportTargets): Promise<TargetsReport> {
    return this.ledger.campaigns.importTargets(user, input.campaignId, input.csv, key);
  }
}

export const CAMPAIGNS_COMMAND_HANDLERS = [CreateCampaignHandler, ImportTargetsHandler];
