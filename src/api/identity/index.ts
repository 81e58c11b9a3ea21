/** The identity context over HTTP. */
export { IdentityModule } from './identity.module';
