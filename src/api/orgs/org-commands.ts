import { Inject } from '@nestjs/common';
import { Command, CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { refuseUnreadableCsv, type ImportReport } from '../../application/import-report';
import { importOrganisations, ORG_COLUMNS } from '../../application/orgs';
import type { UnionLedger } from '../../composition-root';
import type { JwtClaims } from '../common/auth';
import { subtreeAuthorizer, UPLOAD_LIMITS } from '../common/imports';
import { LEDGER } from '../tokens';

/** An admin's upload of organisations (CSV), under their own subtree only. */
export class ImportOrganisations extends Command<ImportReport> {
  constructor(
    readonly user: JwtClaims,
    readonly csv: Buffer,
  ) {
    super();
  }
}

@CommandHandler(ImportOrganisations)
export class ImportOrganisationsHandler implements ICommandHandler<ImportOrganisations> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ user, csv }: ImportOrganisations): Promise<ImportReport> {
    await refuseUnreadableCsv([csv], ORG_COLUMNS, UPLOAD_LIMITS);
    return importOrganisations([csv], { orgService: this.ledger.orgs }, {
      actor: { type: 'admin', id: user.sub },
      authorize: subtreeAuthorizer(this.ledger, user),
      limits: UPLOAD_LIMITS,
    });
  }
}
