import { Module } from '@nestjs/common';
import { AuditController } from './audit.controller';
import { AUDIT_QUERY_HANDLERS } from './audit-queries';

/** The audit context over HTTP: read-only routes for auditors, each access logged. */
@Module({
  controllers: [AuditController],
  providers: [...AUDIT_QUERY_HANDLERS],
})
export class AuditModule {}
