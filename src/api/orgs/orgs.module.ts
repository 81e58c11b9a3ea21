import { Module } from '@nestjs/common';
import { ImportOrganisationsHandler } from './org-commands';
import { OrgChangesController } from './org-changes.controller';
import { ORG_CHANGE_HANDLERS } from './org-changes';
import { OrgImportsController } from './org-imports.controller';

/** The organisations context over HTTP: uploads of the union tree, and changes to it. */
@Module({
  controllers: [OrgImportsController, OrgChangesController],
  providers: [ImportOrganisationsHandler, ...ORG_CHANGE_HANDLERS],
})
export class OrgsModule {}
