/** The payouts context over HTTP. */
export { PayoutsModule } from './payouts.module';
