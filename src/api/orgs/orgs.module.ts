import { Module } from '@nestjs/common';
import { ImportOrganisationsHandler } from './org-commands';
import { OrgChangesController } from './org-changes.controller';
import { ORG_CHANGE_HANDLERS } from './org-changes';
import { OrgImportsController } from './org-imports.controller';
import { GetOrgTreeHandler, OrgTreeController } from './org-tree';

/** The organisations context over HTTP: uploads of the union tree, and changes to it. */
@Module({
  controllers: [OrgImportsController, OrgChangesController, OrgTreeController],
  providers: [ImportOrganisationsHandler, ...ORG_CHANGE_HANDLERS, GetOrgTreeHandler],
})
export class OrgsModule {}
