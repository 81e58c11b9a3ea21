import { Module } from '@nestjs/common';
import { CAMPAIGNS_COMMAND_HANDLERS } from './campaigns-commands';
import { CAMPAIGNS_QUERY_HANDLERS } from './campaigns-queries';
import { CampaignsController } from './campaigns.controller';

/** The campaigns context over HTTP: campaigns, targets, progress, weekly reports. */
@Module({
  controllers: [CampaignsController],
  providers: [...CAMPAIGNS_COMMAND_HANDLERS, ...CAMPAIGNS_QUERY_HANDLERS],
})
export class CampaignsModule {}
