import { Module } from '@nestjs/common';
import { ImportOrganisationsHandler } from './org-commands';
import { OrgImportsController } from './org-imports.controller';
import { GetOrgTreeHandler, OrgTreeController } from './org-tree';

/** The organisations context over HTTP: uploads of the union tree. */
@Module({
  controllers: [OrgImportsController, OrgTreeController],
  providers: [ImportOrganisationsHandler, GetOrgTreeHandler],
})
export class OrgsModule {}
