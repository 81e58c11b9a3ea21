/** The benefits context over HTTP. */
export { BenefitsModule } from './benefits.module';
