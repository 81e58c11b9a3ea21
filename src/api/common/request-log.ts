import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Params } from 'nestjs-pino';
import type { Logger } from '../../infra/logging';
import { UNMATCHED_ROUTE } from '../../infra/metrics';

/**
 * One JSON line per request through nestjs-pino (pino-http): the request id, method, route
 * template, status and duration, and nothing else of the request. Headers (the bearer token, the
 * dashboard's session cookie), the query string and the body are never logged, so personal data a
 * client sends (a national ID at activation, a phone number) cannot reach the log by this path;
 * the logger's redaction (src/infra/logging.ts) covers anything logged by other paths.
 */

/** A request id a caller (a gateway, a load balancer) may hand in and see again in our logs. */
const INCOMING_REQUEST_ID = /^[A-Za-z0-9._:-]{8,64}$/;
export const REQUEST_ID_HEADER = 'x-request-id';

type RawRequest = IncomingMessage & { id?: unknown };

/**
 * Fastify's genReqId: the caller's X-Request-Id when it is well formed, else a random UUID. Kept on
 * the raw request too, where pino-http reads it, so that the log line, the error bodies (which
 * quote Fastify's request.id) and the X-Request-Id answer carry one id.
 */
export function requestIdOf(raw: IncomingMessage): string {
  const own = (raw as RawRequest).id;
  if (typeof own === 'string') return own;
  const given = raw.headers[REQUEST_ID_HEADER];
  const id = typeof given === 'string' && INCOMING_REQUEST_ID.test(given) ? given : randomUUID();
  (raw as RawRequest).id = id;
  return id;
}

/** Route templates by raw request, filled by Fastify once it has routed (the raw request alone does not know). */
const routes = new WeakMap<IncomingMessage, string>();

function routeOf(raw: IncomingMessage): string {
  return routes.get(raw) ?? UNMATCHED_ROUTE;
}

/** Records each request's route template and answers its id in X-Request-Id. */
export function trackRequests(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, reply, done) => {
    routes.set(request.raw, request.routeOptions.url ?? UNMATCHED_ROUTE);
    void reply.header(REQUEST_ID_HEADER, request.id);
    done();
  });
}

function line(req: IncomingMessage, res: ServerResponse, durationMs: unknown): Record<string, unknown> {
  return { method: req.method, route: routeOf(req), statusCode: res.statusCode, durationMs };
}

/** LoggerModule.forRoot's parameters over the process's logger. */
export function requestLogParams(logger: Logger): Params {
  return {
    pinoHttp: {
      logger,
      genReqId: (req) => requestIdOf(req),
      // The request-scoped logger (what Nest's Logger writes through during a request) carries
      // the request id only, and the request line is built below: no serializer sees headers.
      quietReqLogger: true,
      quietResLogger: true,
      customAttributeKeys: { reqId: 'reqId', responseTime: 'durationMs' },
      customLogLevel: (_req, res, error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
      customSuccessMessage: () => 'request completed',
      customErrorMessage: () => 'request failed',
      customSuccessObject: (req, res, value: { durationMs?: unknown }) => line(req, res, value.durationMs),
      customErrorObject: (req, res, _error, value: { durationMs?: unknown }) => line(req, res, value.durationMs),
    },
  };
}
