/** The orgs context over HTTP. */
export { OrgsModule } from './orgs.module';
