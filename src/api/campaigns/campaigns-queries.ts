import { Inject } from '@nestjs/common';
import { Query, QueryHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { ProgressView, ReportFile, ReportFormat, ReportSummary } from '../../application/campaigns';
import type { UnionLedger } from '../../composition-root';
import type { CampaignState, CampaignTerms } from '../../domain/campaigns';
import type { CampaignRow } from '../../projections/campaigns';
import type { JwtClaims } from '../common/auth';
import { LEDGER } from '../tokens';

/** The campaigns context's queries: campaigns, progress. */

abstract class CampaignsQueryHandler {
  constructor(@Inject(LEDGER) protected readonly ledger: UnionLedger) {}
}

export class ListCampaigns extends Query<CampaignRow[]> {
  constructor(
    readonly user: JwtClaims,
    readonly page: { orgId?: string | undefined; after: string | null; limit: number },
  ) {
    super();
  }
}
@QueryHandler(ListCampaigns)
export class ListCampaignsHandler extends CampaignsQueryHandler implements IQueryHandler<ListCampaigns> {
  execute({ user, page }: ListCampaigns): Promise<CampaignRow[]> {
    return this.ledger.campaigns.list(user, page);
  }
}

export class GetCampaign extends Query<{ terms: CampaignTerms; row: CampaignRow | null; state: CampaignState }> {
  constructor(
    readonly user: JwtClaims,
    readonly campaignId: string,
  ) {
    super();
  }
}
@QueryHandler(GetCampaign)
export class GetCampaignHandler extends CampaignsQueryHandler implements IQueryHandler<GetCampaign> {
  execute({ user, campaignId }: GetCampaign) {
    return this.ledger.campaigns.summary(user, campaignId);
  }
}

export class GetProgress extends Query<ProgressView> {
  constructor(
    readonly user: JwtClaims,
    readonly campaignId: string,
    readonly orgId: string | undefined,
  ) {
    super();
  }
}
@QueryHandler(GetProgress)
export class GetProgressHandler extends CampaignsQueryHandler implements IQueryHandler<GetProgress> {
  execute({ user, campaignId, orgId }: GetProgress): Promise<ProgressView> {
    return this.ledger.campaigns.progress(user, campaignId, orgId);
  }
}

export class ListReports extends Query<ReportSummary[]> {
  constructor(
    readonly user: JwtClaims,
    readonly campaignId: string,
  ) {
    super();
  }
}
@QueryHandler(ListReports)
export class ListReportsHandler extends CampaignsQueryHandler implements IQueryHandler<ListReports> {
  execute({ user, campaignId }: ListReports): Promise<ReportSummary[]> {
    return this.ledger.campaigns.reports.list(user, campaignId);
  }
}

export class GetReportFile extends Query<ReportFile> {
  constructor(
    readonly user: JwtClaims,
    readonly campaignId: string,
    readonly reportId: string,
    readonly format: ReportFormat,
    readonly orgId: string | undefined,
  ) {
    super();
  }
}
@QueryHandler(GetReportFile)
export class GetReportFileHandler extends CampaignsQueryHandler implements IQueryHandler<GetReportFile> {
  execute({ user, campaignId, reportId, format, orgId }: GetReportFile): Promise<ReportFile> {
    return this.ledger.campaigns.reports.file(user, campaignId, reportId, format, orgId);
  }
}

export const CAMPAIGNS_QUERY_HANDLERS = [ListCampaignsHandler, GetCampaignHandler, GetProgressHandler, ListReportsHandler, GetReportFileHandler];
