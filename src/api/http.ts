import 'reflect-metadata';
import { ConsoleLogger, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import type { UnionLedger } from '../composition-root';
import type { Runtime } from '../infra/runtime';
import { AppModule, type ModuleImport } from './app.module';
import { AllExceptionsFilter } from './common/errors';
import type { RateLimitSettings } from './common/rate-limit';

export interface HttpAppOptions {
  logFormat?: 'text' | 'json';
  /** Request bodies larger than this are refused with 413 before they reach a handler. */
  bodyLimitBytes?: number;
  /** Defaults: 20 requests/s, burst 40, keys under `ul:`. */
  rateLimit?: Partial<RateLimitSettings>;
  /** Modules mounted beside the context modules (tests mount probe controllers of their own this way). */
  extraModules?: ModuleImport[];
}

const UNSAFE_METHODS = ['post', 'put', 'patch', 'delete'] as const;
/** Roster uploads: about 60 bytes a member, so some 500,000 rows; larger rosters go through the CLI. */
export const CSV_BODY_LIMIT_BYTES = 32 * 1024 * 1024;

/** Declares the Idempotency-Key header on every state-changing operation, as the interceptor requires it. */
function withIdempotencyHeader(document: OpenAPIObject): OpenAPIObject {
  for (const item of Object.values(document.paths)) {
    for (const method of UNSAFE_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      operation.parameters = [
        ...(operation.parameters ?? []),
        {
          name: 'Idempotency-Key',
          in: 'header',
          required: true,
          description: 'Same key and body: the original response again (Idempotent-Replay: true). Same key, other body: 409.',
          schema: { type: 'string', pattern: '^[A-Za-z0-9_\\-:.]{1,200}$' },
        },
      ];
    }
  }
  return document;
}

/** Builds the HTTP application over the composition root's ledger and its runtime; tests use it with listen(0). */
export async function createHttpApp(ledger: UnionLedger, runtime: Runtime, options: HttpAppOptions): Promise<INestApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: options.bodyLimitBytes ?? 1024 * 1024, trustProxy: false });
  const settings = {
    auth: { tokens: ledger.identity.tokens },
    rateLimit: { perSecond: 20, burst: 40, keyPrefix: 'ul:', ...options.rateLimit },
  };
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forLedger(ledger, runtime, settings, options.extraModules), adapter, {
    logger: new ConsoleLogger({ json: options.logFormat === 'json', prefix: 'union-ledger' }),
    bufferLogs: false,
  });
  // Also covers what Fastify raises before routing (malformed JSON, 413, 415) and unknown routes.
  app.useGlobalFilters(new AllExceptionsFilter());

  // Roster uploads arrive as text/csv, kept as bytes for the importer's streaming CSV reader;
  // they get a larger limit than JSON bodies, and only the import routes accept them.
  app
    .getHttpAdapter()
    .getInstance()
    .addContentTypeParser('text/csv', { parseAs: 'buffer', bodyLimit: CSV_BODY_LIMIT_BYTES }, (_request, body, done) => done(null, body));

  // The OpenAPI document at /docs-json and its UI at /docs; both public (served outside Nest's guards).
  const config = new DocumentBuilder()
    .setTitle('Union Ledger')
    .setDescription(
      'Event-sourced points and benefits ledger. Errors are { code, message, details }. Every POST, PUT, PATCH ' +
        'and DELETE needs an Idempotency-Key header. Requests are limited per token subject (429 RATE_LIMITED, Retry-After).',
    )
    .setVersion('1')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' }, 'bearer')
    .addSecurityRequirements('bearer')
    .build();
  SwaggerModule.setup('docs', app, () => withIdempotencyHeader(SwaggerModule.createDocument(app, config)), {
    jsonDocumentUrl: 'docs-json',
    yamlDocumentUrl: 'docs-yaml',
  });
  return app;
}
