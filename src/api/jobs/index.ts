/** The jobs context over HTTP. */
export { JobsModule } from './jobs.module';
