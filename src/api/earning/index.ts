/** The earning context over HTTP. */
export { EarningModule } from './earning.module';
