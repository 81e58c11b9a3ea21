import { Module, type DynamicModule, type ForwardReference, type Type } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import type { Runtime } from '../infra/runtime';
import { AUTH_SETTINGS, AuthGuard, type AuthSettings } from './common/auth';
import { IdempotencyInterceptor } from './common/idempotency';
import { RATE_LIMIT_SETTINGS, RateLimitGuard, type RateLimitSettings } from './common/rate-limit';
import { HealthController } from './health/health.controller';
import { RUNTIME } from './tokens';

export type ModuleImport = Type | DynamicModule | Promise<DynamicModule> | ForwardReference;

/**
 * The service's feature modules (members, admin ...): add each one here. A feature module lists its
 * controllers and providers; RUNTIME, AUTH_SETTINGS and RATE_LIMIT_SETTINGS are injectable in it
 * because AppModule is global. Authentication, rate limiting, idempotency and error rendering
 * apply to its routes without further wiring.
 */
const FEATURE_MODULES: ModuleImport[] = [];

export interface AppSettings {
  auth: AuthSettings;
  rateLimit: RateLimitSettings;
}

@Module({})
export class AppModule {
  /** `extraModules` are added after FEATURE_MODULES; tests use it to mount controllers of their own. */
  static forRuntime(runtime: Runtime, settings: AppSettings, extraModules: ModuleImport[] = []): DynamicModule {
    return {
      module: AppModule,
      global: true,
      imports: [...FEATURE_MODULES, ...extraModules],
      controllers: [HealthController],
      providers: [
        { provide: RUNTIME, useValue: runtime },
        { provide: AUTH_SETTINGS, useValue: settings.auth },
        { provide: RATE_LIMIT_SETTINGS, useValue: settings.rateLimit },
        // Global guards run in this order: authentication first, so the rate limit keys on the subject.
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
        { provide: APP_INTERCEPTOR, useClass: IdempotencyInterceptor },
      ],
      exports: [RUNTIME, AUTH_SETTINGS, RATE_LIMIT_SETTINGS],
    };
  }
}
