/** The campaigns context over HTTP. */
export { CampaignsModule } from './campaigns.module';
