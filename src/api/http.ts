import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject } from '@nestjs/swagger';
import helmet from '@fastify/helmet';
import underPressure from '@fastify/under-pressure';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import type { UnionLedger } from '../composition-root';
import { DEFAULT_HTTP_LIMITS, type HttpLimits } from '../config/config';
import { silentLogger, type Logger } from '../infra/logging';
import { ServiceMetrics, UNMATCHED_ROUTE, type LagReading } from '../infra/metrics';
import type { Runtime } from '../infra/runtime';
import { AppModule, type ModuleImport } from './app.module';
import { UNRECORDED_EXTENSION } from './common/unrecorded';
import { AllExceptionsFilter } from './common/errors';
import { applyHttpLimits, fastifyLimitOptions } from './common/http-limits';
import { requestIdOf, requestLogParams, trackRequests } from './common/request-log';
import type { RateLimitSettings } from './common/rate-limit';
import { mountQueueDashboard } from './jobs';
import { defaultConsoleDir, mountConsole } from './common/console-static';

export interface HttpAppOptions {
  /**
   * The process's pino logger (src/infra/logging.ts): a JSON line per request and Nest's own
   * lines go through it (nestjs-pino). Default: silent, so tests print nothing unless they ask.
   */
  logger?: Logger;
  /** Bodies, timeouts, connections, overload (src/api/common/http-limits.ts); defaults: DEFAULT_HTTP_LIMITS. */
  limits?: Partial<HttpLimits>;
  /** JSON bodies larger than this are refused with 413 before they reach a handler (same as limits.bodyLimitBytes). */
  bodyLimitBytes?: number;
  /** Defaults: 20 requests/s, burst 40, keys under `ul:`. */
  rateLimit?: Partial<RateLimitSettings>;
  /**
   * The metrics GET /metrics renders (one registry per app). Default: HTTP, projection lag and
   * process metrics, without queue depths or job outcomes (the service wires those: src/main.ts).
   */
  metrics?: ServiceMetrics;
  /** METRICS_TOKEN: the bearer token Prometheus scrapes with; unset, admin and auditor tokens only. */
  metricsToken?: string | undefined;
  /** The queues the dashboard at /admin/queues shows (root admins only, api/jobs/queue-dashboard.ts); absent: no dashboard. */
  queueDashboard?: { queues: readonly Queue[] };
  /** Modules mounted beside the context modules (tests mount probe controllers of their own this way). */
  extraModules?: ModuleImport[];
  /** The built web console served at /console (default: dist/console of the project); null: none. */
  consoleDir?: string | null;
}

const UNSAFE_METHODS = ['post', 'put', 'patch', 'delete'] as const;
/** What an overloaded service tells clients to wait before retrying. */
const OVERLOAD_RETRY_AFTER_SECONDS = 10;

/** What @fastify/under-pressure throws when the service is overloaded; rendered like every coded error (503, Retry-After). */
class OverloadedError extends Error {
  readonly code = 'SERVICE.UNAVAILABLE';
  readonly httpStatus = 503;
  readonly details = { reason: 'overloaded', retryAfterSeconds: OVERLOAD_RETRY_AFTER_SECONDS };

  constructor() {
    super('the service is overloaded; retry shortly');
    this.name = 'OverloadedError';
  }
}

/** Declares the Idempotency-Key header on every state-changing operation, as the interceptor requires it. */
function withIdempotencyHeader(document: OpenAPIObject): OpenAPIObject {
  for (const item of Object.values(document.paths)) {
    for (const method of UNSAFE_METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const unrecorded = (operation as unknown as Record<string, unknown>)[UNRECORDED_EXTENSION] === true;
      operation.parameters = [
        ...(operation.parameters ?? []),
        {
          name: 'Idempotency-Key',
          in: 'header',
          required: !unrecorded,
          description: unrecorded
            ? 'Optional and never recorded: this route answers tokens, which no table may keep. A retry runs again.'
            : 'Same key and body: the original response again (Idempotent-Replay: true). Same key, other body: 409.',
          schema: { type: 'string', pattern: '^[A-Za-z0-9_\\-:.]{1,200}$' },
        },
      ];
    }
  }
  return document;
}

/** Lag per projection as the metrics read it (the same trackers GET /v1/admin/projections reports). */
export function lagReadings(ledger: UnionLedger): Record<string, LagReading> {
  return Object.fromEntries(Object.entries(ledger.lag).map(([name, tracker]) => [name, tracker.summary()]));
}

/** Builds the HTTP application over the composition root's ledger and its runtime; tests use it with listen(0). */
export async function createHttpApp(ledger: UnionLedger, runtime: Runtime, options: HttpAppOptions): Promise<INestApplication> {
  const limits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...options.limits, ...(options.bodyLimitBytes ? { bodyLimitBytes: options.bodyLimitBytes } : {}) };
  // A hold is named by the Idempotency-Key that created it (up to 200 characters) and is posted
  // or voided at /v1/me/holds/:holdId/...: Fastify's default of 100 characters per path
  // parameter would leave such a hold unreachable.
  const adapter = new FastifyAdapter({ ...fastifyLimitOptions(limits), trustProxy: false, maxParamLength: 256, genReqId: requestIdOf });
  const metrics = options.metrics ?? new ServiceMetrics({ lag: () => lagReadings(ledger) });
  // Access tokens of ended sessions are refused from the first request on (the first read of the list is awaited); sealed successors past their window are erased.
  const logger = options.logger;
  await ledger.identity.sessions.start((line) => logger?.warn(line));
  const settings = {
    auth: { tokens: ledger.identity.tokens, metricsToken: options.metricsToken, sessionEnded: (sessionId: string | undefined) => ledger.identity.revocations.isEnded(sessionId) },
    rateLimit: { perSecond: 20, burst: 40, keyPrefix: 'ul:', ...options.rateLimit },
    metrics,
    requestLog: requestLogParams(options.logger ?? silentLogger()),
  };
  // Nest's start-up lines wait for the pino logger, which exists once the module is built.
  const app = await NestFactory.create<NestFastifyApplication>(AppModule.forLedger(ledger, runtime, settings, options.extraModules), adapter, { bufferLogs: true });
  app.useLogger(app.get(PinoNestLogger));
  // Also covers what Fastify raises before routing (malformed JSON, 413, 415) and unknown routes.
  app.useGlobalFilters(new AllExceptionsFilter());

  // Roster uploads arrive as text/csv, only on the routes marked @CsvUpload(), and are read after
  // authentication; timeouts, the connection cap and the draining of refused bodies (http-limits.ts).
  const fastify = app.getHttpAdapter().getInstance();
  applyHttpLimits(fastify, limits);
  trackRequests(fastify);
  // Every answer, labelled by the route's template (/v1/admin/programmes/:programmeId), never by
  // the URL asked for, so that the number of series stays bounded whatever clients send.
  fastify.addHook('onResponse', (request, reply, done) => {
    metrics.observeHttp(request.method, request.routeOptions.url ?? UNMATCHED_ROUTE, reply.statusCode, reply.elapsedTime);
    done();
  });
  // Security headers on every answer. The defaults suit a JSON API; the Swagger UI at /docs loads
  // its scripts from here and uses inline styles, which the default policy allows.
  await fastify.register(helmet);
  // After helmet, so its headers (and its content security policy, which the dashboard's page
  // keeps to: its scripts and styles are files from the same origin) cover the dashboard too.
  if (options.queueDashboard) {
    await mountQueueDashboard(fastify, {
      queues: options.queueDashboard.queues,
      access: {
        tokens: ledger.identity.tokens,
        isRootAdmin: (claims) => ledger.orgAccess.isRootAdmin(claims),
        sessionEnded: (sessionId) => ledger.identity.revocations.isEnded(sessionId),
      },
    });
  }
  // The web console's files, after helmet too (its security headers cover the console).
  if (options.consoleDir !== null) await mountConsole(fastify, options.consoleDir ?? defaultConsoleDir());
  // Overload: when the event loop lags this far behind, requests are answered 503 at once instead
  // of queueing until every client times out.
  if (limits.maxEventLoopDelayMs > 0) {
    await fastify.register(underPressure, { maxEventLoopDelay: limits.maxEventLoopDelayMs, retryAfter: OVERLOAD_RETRY_AFTER_SECONDS, customError: OverloadedError });
  }

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
