import { AuditModule } from './audit';
import { Module, type DynamicModule, type ForwardReference, type Type } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { CqrsModule } from '@nestjs/cqrs';
import { LoggerModule, type Params as RequestLogParams } from 'nestjs-pino';
import type { UnionLedger } from '../composition-root';
import type { ServiceMetrics } from '../infra/metrics';
import type { Runtime } from '../infra/runtime';
import { AUTH_SETTINGS, AuthGuard, type AuthSettings } from './common/auth';
import { UploadBodyInterceptor } from './common/http-limits';
import { IdempotencyInterceptor } from './common/idempotency';
import { RATE_LIMIT_SETTINGS, RateLimitGuard, type RateLimitSettings } from './common/rate-limit';
import { ReadRoutingInterceptor } from './common/read-routing';
import { ScopeGuard } from './common/scope';
import { BenefitsModule } from './benefits';
import { ClaimsModule } from './claims';
import { CampaignsModule } from './campaigns';
import { EarningModule } from './earning';
import { HealthController } from './health/health.controller';
import { MetricsController } from './health/metrics.controller';
import { IdentityModule } from './identity';
import { JobsModule } from './jobs';
import { LedgerModule } from './ledger';
import { MallModule } from './mall';
import { MembersModule } from './members';
import { OrgsModule } from './orgs';
import { PayoutsModule } from './payouts';
import { ImportsModule } from './imports';
import { LEDGER, METRICS, RUNTIME } from './tokens';

export type ModuleImport = Type | DynamicModule | Promise<DynamicModule> | ForwardReference;

/**
 * One module per bounded context: a new context adds its module here. A context module lists
 * its controllers and its command and query handlers (@nestjs/cqrs); LEDGER, RUNTIME,
 * AUTH_SETTINGS and RATE_LIMIT_SETTINGS are injectable in it because AppModule is global.
 * Authentication, rate limiting, idempotency and error rendering apply to its routes without
 * further wiring. CqrsModule is used for dispatch only: its in-memory EventBus carries nothing,
 * since projections and workers read the stored event log.
 */
const CONTEXT_MODULES: ModuleImport[] = [IdentityModule, OrgsModule, MembersModule, EarningModule, LedgerModule, BenefitsModule, JobsModule, PayoutsModule, ImportsModule, MallModule, ClaimsModule, AuditModule, CampaignsModule];

export interface AppSettings {
  auth: AuthSettings;
  rateLimit: RateLimitSettings;
  /** This app's metrics, rendered at GET /metrics. */
  metrics: ServiceMetrics;
  /** nestjs-pino over the process's logger: one line per request (common/request-log.ts). */
  requestLog: RequestLogParams;
}

@Module({})
export class AppModule {
  /** `extraModules` are mounted beside the context modules (tests mount probe controllers this way). */
  static forLedger(ledger: UnionLedger, runtime: Runtime, settings: AppSettings, extraModules: ModuleImport[] = []): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [CqrsModule.forRoot(), LoggerModule.forRoot(settings.requestLog), ...CONTEXT_MODULES, ...extraModules],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: LEDGER, useValue: ledger },
        { provide: RUNTIME, useValue: runtime },
        { provide: METRICS, useValue: settings.metrics },
        { provide: AUTH_SETTINGS, useValue: settings.auth },
        { provide: RATE_LIMIT_SETTINGS, useValue: settings.rateLimit },
        // Global guards run in this order: authentication first, so the rate limit keys on the subject.
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: ScopeGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        // Global interceptors run in this order: an upload's body is read (after the guards) before
        // the idempotency interceptor hashes it.
        { provide: APP_INTERCEPTOR, useClass: UploadBodyInterceptor },
        { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
        // Innermost: a read's database is chosen right before its handler; a write's position is remembered right after it.
        { provide: APP_INTERCEPTOR, useClass: ReadRoutingInterceptor },
      ],
      exports: [LEDGER, RUNTIME, AUTH_SETTINGS, RATE_LIMIT_SETTINGS],
    };
  }
}
