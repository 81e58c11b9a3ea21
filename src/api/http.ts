import 'reflect-metadata';
import { ConsoleLogger, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Runtime } from '../infra/runtime';
import { AppModule } from './app.module';

export interface HttpAppOptions {
  logFormat?: 'text' | 'json';
  /** Request bodies larger than this are refused with 413 before they reach a handler. */
  bodyLimitBytes?: number;
}

/** Builds the HTTP application over an already started runtime; tests use it with listen(0). */
export async function createHttpApp(runtime: Runtime, options: HttpAppOptions = {}): Promise<INestApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: options.bodyLimitBytes ?? 1024 * 1024, trustProxy: false });
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forRuntime(runtime), adapter, {
    logger: new ConsoleLogger({ json: options.logFormat === 'json', prefix: 'union-ledger' }),
    bufferLogs: false,
  });
  return app;
}
