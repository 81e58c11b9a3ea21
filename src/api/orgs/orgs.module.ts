import { Module } from '@nestjs/common';
import { ImportOrganisationsHandler } from './org-commands';
import { OrgImportsController } from './org-imports.controller';

/** The organisations context over HTTP: uploads of the union tree. */
@Module({
  controllers: [OrgImportsController],
  providers: [ImportOrganisationsHandler],
})
export class OrgsModule {}
