/** The imports context over HTTP. */
export { ImportsModule } from './imports.module';
