import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import type { ServiceMetrics } from './metrics';

/**
 * The Prometheus endpoint of a process without the HTTP API (`union-ledger worker`): GET /metrics
 * on a port of its own (WORKER_METRICS_PORT), for METRICS_TOKEN only, since nothing else about a
 * worker process has users to authenticate. Fastify (already the API's server) rather than a bare
 * node:http server, for its timeouts and connection limits without writing them again.
 */

export interface MetricsServer {
  /** http://host:port, with the port actually bound (WORKER_METRICS_PORT=0 takes a free one). */
  url: string;
  close(): Promise<void>;
}

/** Compared as digests so that neither the length nor a common prefix leaks through timing. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function refuse(code: string, message: string): { code: string; message: string; details: Record<string, never> } {
  return { code, message, details: {} };
}

export async function startMetricsServer(options: { metrics: ServiceMetrics; token: string; host: string; port: number }): Promise<MetricsServer> {
  const server: FastifyInstance = Fastify({
    logger: false,
    // A scrape is one small GET: anything slow or large is not Prometheus.
    requestTimeout: 10_000,
    connectionTimeout: 10_000,
    bodyLimit: 1024,
    maxRequestsPerSocket: 1_000,
  });
  server.get('/metrics', async (request, reply) => {
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer +(\S+)\s*$/i.exec(header);
    if (!match) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="union-ledger-worker"').send(refuse('AUTH.MISSING_TOKEN', 'METRICS_TOKEN is required as the bearer token'));
    }
    if (!sameSecret(match[1]!, options.token)) {
      return reply.code(401).header('www-authenticate', 'Bearer realm="union-ledger-worker", error="invalid_token"').send(refuse('AUTH.INVALID_TOKEN', 'not the metrics token'));
    }
    const { contentType, body } = await options.metrics.scrape();
    return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
  });
  server.setNotFoundHandler((_request, reply) => reply.code(404).send(refuse('HTTP.NOT_FOUND', 'only GET /metrics is served here')));
  await server.listen({ host: options.host, port: options.port });
  const address = server.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return { url: `http://${host}:${port}`, close: () => server.close() };
}
