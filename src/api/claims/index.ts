/** The claims context over HTTP. */
export { ClaimsModule } from './claims.module';
