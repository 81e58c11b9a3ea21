import { Inject } from '@nestjs/common';
import { Command, CommandHandler, Query, QueryHandler, type ICommandHandler, type IQueryHandler } from '@nestjs/cqrs';
import type { UnionLedger } from '../../composition-root';
import type { OrgSummary } from '../../projections/orgs';
import type { JwtClaims } from '../common/auth';
import { commandMeta } from '../common/commands';
import { LEDGER } from '../tokens';

/** Changes to the union tree as @nestjs/cqrs commands (one class and one handler each) and the organisation's summary as a query. */

abstract class OrgChange<Input> extends Command<Record<string, unknown>> {
  constructor(
    readonly admin: JwtClaims,
    readonly idempotencyKey: string,
    readonly orgId: string,
    readonly input: Input,
  ) {
    super();
  }
}

export class RenameOrganisation extends OrgChange<{ name: string }> {}
export class MoveOrganisation extends OrgChange<{ parentId: string }> {}
export class MergeOrganisation extends OrgChange<{ intoOrgId: string }> {}
export class CloseOrganisation extends OrgChange<{ reason: string }> {}

const view = (state: { orgId: string; name: string; parentId: string | null; level: string | null; closed: boolean; mergedInto: string | null }) => ({
  orgId: state.orgId,
  name: state.name,
  parentId: state.parentId,
  level: state.level,
  closed: state.closed,
  mergedInto: state.mergedInto,
});

@CommandHandler(RenameOrganisation)
export class RenameOrganisationHandler implements ICommandHandler<RenameOrganisation> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ admin, idempotencyKey, orgId, input }: RenameOrganisation) {
    return view(await this.ledger.orgChanges.rename(admin, orgId, input.name, commandMeta(admin, idempotencyKey)));
  }
}

@CommandHandler(MoveOrganisation)
export class MoveOrganisationHandler implements ICommandHandler<MoveOrganisation> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  execute({ admin, idempotencyKey, orgId, input }: MoveOrganisation) {
    return this.ledger.orgChanges.move(admin, orgId, input.parentId, commandMeta(admin, idempotencyKey));
  }
}

@CommandHandler(MergeOrganisation)
export class MergeOrganisationHandler implements ICommandHandler<MergeOrganisation> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  execute({ admin, idempotencyKey, orgId, input }: MergeOrganisation) {
    return this.ledger.orgChanges.merge(admin, orgId, input.intoOrgId, commandMeta(admin, idempotencyKey));
  }
}

@CommandHandler(CloseOrganisation)
export class CloseOrganisationHandler implements ICommandHandler<CloseOrganisation> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  async execute({ admin, idempotencyKey, orgId, input }: CloseOrganisation) {
    return view(await this.ledger.orgChanges.close(admin, orgId, input.reason, commandMeta(admin, idempotencyKey)));
  }
}

export class GetOrganisation extends Query<OrgSummary> {
  constructor(
    readonly user: JwtClaims,
    readonly orgId: string,
  ) {
    super();
  }
}

@QueryHandler(GetOrganisation)
export class GetOrganisationHandler implements IQueryHandler<GetOrganisation> {
  constructor(@Inject(LEDGER) private readonly ledger: UnionLedger) {}

  execute({ user, orgId }: GetOrganisation) {
    return this.ledger.orgChanges.summary(user, orgId);
  }
}

export const ORG_CHANGE_HANDLERS = [RenameOrganisationHandler, MoveOrganisationHandler, MergeOrganisationHandler, CloseOrganisationHandler, GetOrganisationHandler];
