import { Module, type DynamicModule } from '@nestjs/common';
import type { Runtime } from '../infra/runtime';
import { HealthController } from './health/health.controller';
import { RUNTIME } from './tokens';

@Module({})
export class AppModule {
  static forRuntime(runtime: Runtime): DynamicModule {
    return {
      module: AppModule,
      controllers: [HealthController],
      providers: [{ provide: RUNTIME, useValue: runtime }],
    };
  }
}
