/** The audit context over HTTP. */
export { AuditModule } from './audit.module';
